#!/usr/bin/env bash
# Test roles: reader, writer, checker
# Amplification: small hostile files whose naive processing costs far more
# than their size (issue 13). Each image is built here by patching one made
# by `qcow2ref create` (tools/qcow2ref/hostile_images.py, stdlib only); each
# case runs under `prlimit --as` and `timeout` with limits ~100x above what
# the bounded code needs, and asserts the exit code, the one-line refusal
# naming its clause (or the correct result), that the image is unchanged
# (sha256) and that no signal ended the command.
# Clauses covered: QCOW2_SPEC("QX.LIMIT.map_stream")
# QCOW2_SPEC("QX.LIMIT.map_entries") QCOW2_SPEC("QX.LIMIT.pbkdf2_open_budget")
# QCOW2_SPEC("QX.LIMIT.pbkdf2_iterations_cap")
# QCOW2_SPEC("QX.LIMIT.snapshot_distinct_tables")
# QCOW2_SPEC("QX.LIMIT.check_tables_once") QCOW2_SPEC("QX.LIMIT.check_findings")
set -uo pipefail
q=${QCOW2REF_BIN:-$PWD/tools/qcow2ref/qcow2ref}
gen=${HOSTILE_GEN:-$PWD/tools/qcow2ref/hostile_images.py}
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/hostile_budget.XXXXXX")
cd "$tmp" || exit 1
fails=0
pass=0

fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

# expect WANT_EXIT CLAUSE SECONDS MEM DESCRIPTION -- command...
# CLAUSE: the clause the one-line error must name ("" when the command must
# succeed). SECONDS: the time limit; MEM: the address-space limit in bytes (prlimit takes no suffix). Every
# *.qcow2 of the directory must keep its sha256.
expect() {
  local want=$1 clause=$2 secs=$3 mem=$4 what=$5
  shift 6
  local before after
  before=$(sha256sum ./*.qcow2)
  # AddressSanitizer reserves terabytes of shadow address space, which an
  # address-space limit forbids: under the sanitizer config (ASAN_OPTIONS
  # set by .bazelrc) the memory bound is ASan's own allocation check and the
  # time limit is tripled; the plain run keeps the prlimit bound.
  if [ -n "${ASAN_OPTIONS:-}" ]; then
    timeout "$((secs * 3))" "$@" >out 2>err
  else
    prlimit --as="$mem" -- timeout "$secs" "$@" >out 2>err
  fi
  local got=$?
  if [ "$got" = 124 ]; then
    fail "$what: timed out after ${secs}s"
    return
  fi
  if [ "$got" -gt 128 ]; then
    fail "$what: killed by signal $((got - 128)); stderr: $(head -c 400 err)"
    return
  fi
  if [ "$got" != "$want" ]; then
    fail "$what: exit $got, want $want; stderr: $(head -c 400 err)"
    return
  fi
  if [ -n "$clause" ]; then
    local re="^qcow2ref: ${clause//./\\.}: .+"
    if ! grep -Eq "$re" err || [ "$(wc -l <err)" != 1 ]; then
      fail "$what: want one line naming $clause; stderr: $(head -c 400 err)"
      return
    fi
  fi
  after=$(sha256sum ./*.qcow2)
  if [ "$after" != "$before" ]; then
    fail "$what: an image changed"
    return
  fi
  pass=$((pass + 1))
}

mk() {  # mk IMAGE KIND [ARG] -- create options...
  local img=$1 kind=$2 arg=$3
  shift 4
  "$q" create "$img" "$@" >/dev/null || fail "fixture: create $img"
  python3 "$gen" "$kind" "$img" $arg || fail "fixture: patch $img"
}

# --- map: one L2 table under every L1 entry (QX.LIMIT.map_stream) -----------
# 20 TiB, 40960 L1 entries naming one L2 table of 8192 compressed entries:
# 335M clusters that merge into one map entry. Before: >120 s and 1 GB RSS;
# bounded: 0.04 s and 9 MB.
mk map_z.qcow2 compressed "" -- --size 20T
expect 0 "" 10 $((256 << 20)) "map: shared L2 table of compressed entries" -- "$q" map map_z.qcow2
if ! grep -Eq '^0x0 +0x140000000000 +- +compressed \(depth 0\)$' out ||
  [ "$(wc -l <out)" != 2 ]; then
  fail "map: shared compressed L2: want one compressed entry; got $(head -c 300 out)"
fi
expect 0 "" 10 $((256 << 20)) "map --json: shared L2 table of compressed entries" -- "$q" map map_z.qcow2 --json
# The same table of plain entries naming one cluster: nothing merges, so the
# cap of 2^20 entries per call ends it (QX.LIMIT.map_entries), printing as it
# goes (before: the cap per 1 TiB window, 1 GB RSS and minutes).
mk map_p.qcow2 plain "" -- --size 20T
expect 1 QX.LIMIT.map_entries 60 $((256 << 20)) "map: shared L2 table of plain entries" -- "$q" map map_p.qcow2
[ "$(wc -l <out)" = 1048577 ] || fail "map: want the header and 2^20 entries before the refusal; got $(wc -l <out) lines"
expect 1 QX.LIMIT.map_entries 60 $((256 << 20)) "map --json: shared L2 table of plain entries" -- "$q" map map_p.qcow2 --json
# A small image with the same sharing: the replayed table maps as qemu-img
# maps it (64 MiB, 4 KiB clusters: 32 L1 entries naming one L2 table).
mk map_s.qcow2 plain "" -- --size 64M --cluster-size 4k
expect 0 "" 10 $((256 << 20)) "map --json: small shared L2 table" -- "$q" map map_s.qcow2 --json
qemu-img map --output=json map_s.qcow2 | tr -d ' ' >want.json
tr -d ' ' <out >got.json
cmp -s want.json got.json || fail "map: small shared L2 table differs from qemu-img map"

# --- check/layout: decompress once, read once, bounded findings -------------
# (QX.LIMIT.check_tables_once) 2 MiB clusters, two L1 entries naming one L2
# table whose 262144 compressed entries name one deflate stream: one
# decompression, not 524288 (or 262144) of 2 MiB each. Bounded: 0.1 s.
mk chk_z.qcow2 compressed "" -- --size 1T --cluster-size 2M
expect 1 "" 20 $((512 << 20)) "check: one compressed stream under 262144 entries" -- "$q" check chk_z.qcow2
grep -q '^2 corruptions, 0 leaks, 0 warnings$' out || fail "check chk_z: want 2 corruptions; got $(tail -1 out)"
expect 0 "" 20 $((512 << 20)) "layout: one compressed stream under 262144 entries" -- "$q" layout chk_z.qcow2 --text
# (QX.LIMIT.check_tables_once, QX.LIMIT.check_findings) an 8 MiB refcount
# table whose 1M entries name one refcount block: the block is read once,
# and of the 1M overlap findings the first 100 are kept, the rest counted
# exactly (bounded: 0.6 s, 50 MB).
mk chk_r.qcow2 refblock 128 -- --size 1M
expect 1 "" 60 $((512 << 20)) "check: 1M refcount-table entries naming one block" -- "$q" check chk_r.qcow2
grep -q '^1048704 corruptions, 1 leaks, 0 warnings$' out || fail "check chk_r: want exact counts; got $(tail -1 out)"
grep -q '^corruption: QX.CHECK.overlap: 1048475 more not listed (QX.LIMIT.check_findings)$' out ||
  fail "check chk_r: want the count of unlisted overlaps"
[ "$(grep -c '^corruption: QX.CHECK.overlap: refcount block overlaps' out)" = 100 ] ||
  fail "check chk_r: want 100 overlap findings listed"
expect 1 "" 60 $((512 << 20)) "check --json: 1M refcount-table entries naming one block" -- "$q" check chk_r.qcow2 --json
python3 - out <<'PY' || fail "check --json chk_r: counters"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["corruptions"] == 1048704 and j["leaks"] == 1, j
per = {}
for f in j["findings"]:
    per[f["clause"]] = per.get(f["clause"], 0) + 1
assert max(per.values()) <= 100, per
om = {o["clause"]: o["count"] for o in j["omitted-findings"]}
assert om["QX.CHECK.overlap"] + per["QX.CHECK.overlap"] == 1048575, om  # all entries but the first
PY

# (QX.LIMIT.check_tables_once) 65536 snapshots whose L1 tables are prefixes
# (1..40960 entries) of one table: read once, each entry counted per view
# that includes it (before: 24 s, one read per snapshot; now 0.3 s: the
# limit is ~50x, not 100x, so that the unbounded code still fails it).
mk chk_s.qcow2 snapshots 65536 -- --size 20T
expect 1 "" 15 $((512 << 20)) "check: 65536 snapshots sharing one L1 table" -- "$q" check chk_s.qcow2
grep -q '^69 corruptions, 0 leaks, 0 warnings$' out || fail "check chk_s: want 69 corruptions; got $(tail -1 out)"
grep -q '^corruption: Q2.RC.covers_references: cluster 9 (snapshot L1 table) has refcount 0 but 49152 references' out ||
  fail "check chk_s: want the references of the shared L1 prefix counted per snapshot"

# --- snapshot create: linear in distinct L2 tables --------------------------
# (QX.LIMIT.snapshot_distinct_tables) 40960 L1 entries naming one L2 table
# whose 8192 entries all name one data cluster, refcounts sound (64-bit):
# 335M references, one table walk. The image is written, so it lives in w/.
mkdir -p w
mk w/snap.qcow2 plain "" -- --size 20T --refcount-bits 64
expect 0 "" 10 $((256 << 20)) "snapshot create: one L2 table under 40960 L1 entries" -- "$q" snapshot create w/snap.qcow2 s1
# qemu-img judges the counts (it walks all 335M references: ~20 s).
qemu-img check w/snap.qcow2 >qcheck 2>&1 || fail "snapshot create: qemu-img check after: $(tail -3 qcheck)"
expect 0 "" 10 $((256 << 20)) "check after snapshot create" -- "$q" check w/snap.qcow2
expect 0 "" 10 $((256 << 20)) "snapshot delete: one L2 table under 40960 L1 entries" -- "$q" snapshot delete w/snap.qcow2 s1
expect 0 "" 10 $((256 << 20)) "check after snapshot delete" -- "$q" check w/snap.qcow2

# --- PBKDF2: one budget per open (QX.LIMIT.pbkdf2_open_budget) --------------
printf 'pw' >pw
# Eight active slots at the per-call cap (2^26, ~14 s each here): 8 x (2^26 +
# digest) is over the 2^27 per open. Before: ~2 min and a wrong-passphrase
# error; now refused before any PBKDF2.
mk luks8.qcow2 luks_slots 67108864 -- --size 1M --encrypt luks --luks-iterations 1000 --secret-file pw
expect 1 QX.LIMIT.pbkdf2_open_budget 10 $((512 << 20)) "read: eight slots at the cap" -- "$q" read luks8.qcow2 --secret-file pw --output o.raw
# Opening for writing spends from the same budget (nothing written).
expect 1 QX.LIMIT.pbkdf2_open_budget 10 $((512 << 20)) "write: eight slots at the cap" -- "$q" write luks8.qcow2 --offset 0 --input pw --secret-file pw
expect 1 QX.LIMIT.pbkdf2_open_budget 10 $((512 << 20)) "luks add-key: eight slots at the cap" -- "$q" luks add-key luks8.qcow2 --secret-file pw --new-secret-file pw
# Eight slots of 1000 iterations: well within the budget, opens.
mk luks8s.qcow2 luks_slots 1000 -- --size 1M --encrypt luks --luks-iterations 1000 --secret-file pw
expect 0 "" 30 $((512 << 20)) "read: eight small slots" -- "$q" read luks8s.qcow2 --secret-file pw --output o.raw
# The writer refuses what the reader would refuse, before spending anything
# (before: ~30 s of PBKDF2, then an image that read refuses).
expect 3 QX.LIMIT.pbkdf2_iterations_cap 10 $((512 << 20)) "create --luks-iterations cap+1" -- "$q" create new.img --size 1M --encrypt luks --luks-iterations 67108865 --secret-file pw
"$q" create one.qcow2 --size 1M --encrypt luks --luks-iterations 1000 --secret-file pw >/dev/null || fail "fixture: one.qcow2"
expect 3 QX.LIMIT.pbkdf2_iterations_cap 10 $((512 << 20)) "luks add-key --luks-iterations cap+1" -- "$q" luks add-key one.qcow2 --secret-file pw --new-secret-file pw --luks-iterations 67108865
expect 3 QX.LIMIT.pbkdf2_iterations_cap 10 $((512 << 20)) "luks change-key --luks-iterations cap+1" -- "$q" luks change-key one.qcow2 --secret-file pw --new-secret-file pw --luks-iterations 67108865

# 60000 bitmaps naming one bitmap table of 4096 entries (a 1 TiB disk,
# 512-byte granularity): check reads and walks the table once
# (QX.LIMIT.check_tables_once); before: 60000 reads and walks, 2.0 s and
# 381 MB; now 0.02 s and 15 MB.
rm -f bm_shared.qcow2
qemu-img create -q -f qcow2 bm_shared.qcow2 1T
qemu-img bitmap --add -g 512 bm_shared.qcow2 b
python3 - bm_shared.qcow2 60000 <<'PY'
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    h = f.read(65536)
    at = struct.unpack(">I", h[100:104])[0]
    while True:
        t, ln = struct.unpack(">II", h[at:at + 8])
        if t == 0x23852875:
            break
        at += 8 + (ln + 7) // 8 * 8
    _, _, dsize, doff = struct.unpack(">IIQQ", h[at + 8:at + 32])
    f.seek(doff)
    entry = f.read(24)
    table, size, flags, typ, gran, _, extra = struct.unpack(">QIIBBHI", entry)
    d = b""
    for i in range(n):
        name = b"b%05d" % i
        e = struct.pack(">QIIBBHI", table, size, flags, typ, gran, len(name), 0) + name
        d += e + bytes((-len(e)) % 8)
    f.seek(0, 2)
    end = (f.tell() + 65535) // 65536 * 65536
    f.seek(end)
    f.write(d)
    f.seek(at + 8)
    f.write(struct.pack(">IIQQ", n, 0, len(d), end))
PY
expect 1 "" 2 $((256 << 20)) "check: 60000 bitmaps naming one table" -- "$q" check bm_shared.qcow2

echo "hostile_budget_test: $pass passed, $fails failed"
[ "$fails" = 0 ]
