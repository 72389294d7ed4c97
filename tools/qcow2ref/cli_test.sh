#!/usr/bin/env bash
# Test roles: reader, writer, checker
# End-to-end checks of the qcow2ref CLI contract: exit codes, the one-line
# error format (QX.CLI.one_line_error), and the untrusted-image policy
# (QX.BK.no_follow, QX.BK.path_policy, QX.BK.loop). Expected values are the
# documented contract (README "The CLI") and vector manifests made by qemu-img.
set -uo pipefail
# Clauses covered: QCOW2_SPEC("QX.CLI.one_line_error") QCOW2_SPEC("QX.BK.no_follow")
# QCOW2_SPEC("QX.BK.path_policy") QCOW2_SPEC("QX.BK.loop")
# QCOW2_SPEC("QX.ENC.secret_bytes") QCOW2_SPEC("QX.ENC.secret_hygiene")
# QCOW2_SPEC("Q2.ENC.payload") QCOW2_SPEC("Q2.RC.no_leaks")
# QCOW2_SPEC("QX.CHECK.repair_leaks_only") QCOW2_SPEC("QX.LUKS.keep_last_slot")
# QCOW2_SPEC("QX.LUKS.key_order") QCOW2_SPEC("QX.CLI.json_bytes")
# QCOW2_SPEC("QX.CLI.control_escape") QCOW2_SPEC("QX.CLI.svg_well_formed")
# QCOW2_SPEC("QX.ENC.secret_file") QCOW2_SPEC("QX.ENC.aes.no_key_check")
# QCOW2_SPEC("QX.LUKS.no_active_slot")
q=tools/qcow2ref/qcow2ref
v=vectors/images
tmp=${TEST_TMPDIR:-$(mktemp -d)}
# Runfiles are symlinks out of their directory, which referenced files may
# not be (QX.BK.resolve_beneath): backing chains are read from a copy.
bk=$tmp/bk
cp -rL $v/bk "$bk"
fails=0
pass=0

expect_exit() {  # expect_exit WANT DESCRIPTION -- command...
  local want=$1 what=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, want $want; stderr: $(cat "$tmp/err")"
    fails=$((fails + 1))
  else
    pass=$((pass + 1))
  fi
}

expect_stderr() {  # expect_stderr REGEX DESCRIPTION
  if ! grep -Eq "$1" "$tmp/err" || [ "$(wc -l <"$tmp/err")" != 1 ]; then
    echo "FAIL: $2: stderr was: $(cat "$tmp/err")"
    fails=$((fails + 1))
  else
    pass=$((pass + 1))
  fi
}

sha_of() {  # sha_of MANIFEST ID
  python3 -c 'import json,sys
for t in json.load(open(sys.argv[1]))["tests"]:
    if t["id"] == sys.argv[2]: print(t["expect"]["guest_sha256"])' "$1" "$2"
}

# 0: a valid image.
expect_exit 0 "info on a valid image" -- $q info $v/hdr/y_hdr_v3_c64k_basic.qcow2
expect_exit 0 "info --json" -- $q info --json $v/hdr/y_hdr_v3_c64k_basic.qcow2
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["format"]=="qcow2" and d["cluster-size"]==65536' "$tmp/out" ||
  { echo "FAIL: info --json fields"; fails=$((fails + 1)); }

# 1: rejected, with exactly one line naming the clause and the offset.
expect_exit 1 "bad magic" -- $q info $v/hdr/n_hdr_bad_magic.qcow2
expect_stderr '^qcow2ref: Q2\.HDR\.magic: .* \(at byte 0\)$' "bad magic message"
expect_exit 1 "bad magic (read)" -- $q read $v/hdr/n_hdr_bad_magic.qcow2
expect_stderr '^qcow2ref: Q2\.HDR\.magic: ' "bad magic message (read)"

# 2: unsupported (unknown incompatible feature bit).
expect_exit 2 "unknown incompatible bit" -- $q info $v/hdrv3/n_hdrv3_incompat_bit5.qcow2
expect_stderr '^qcow2ref: Q2\.HDRV3\.incompat\.unknown_fail: .*bit 5' "unknown bit message"

# 3: usage errors.
expect_exit 3 "no command" -- $q
expect_exit 3 "unknown command" -- $q frobnicate
expect_exit 3 "unknown option" -- $q info --bogus $v/hdr/y_hdr_v3_c64k_basic.qcow2
expect_exit 3 "missing image" -- $q read
expect_exit 3 "range past the end" -- $q read --offset 1G $v/hdr/y_hdr_v3_c64k_basic.qcow2

# A missing file is an I/O error: rejected, one line.
expect_exit 1 "missing file" -- $q info "$tmp/does-not-exist.qcow2"
expect_stderr '^qcow2ref: .*cannot open' "missing file message"

# Untrusted references: info/map never open the backing file.
expect_exit 0 "info does not follow an absolute backing path" -- $q info $bk/i_bk_absolute_path.qcow2
expect_exit 0 "map does not follow an absolute backing path" -- $q map --json $bk/i_bk_absolute_path.qcow2
expect_exit 1 "read refuses an absolute backing path" -- $q read $bk/i_bk_absolute_path.qcow2
expect_stderr '^qcow2ref: QX\.BK\.path_policy: ' "path policy message"
expect_exit 0 "info on a backing loop" -- $q info $bk/n_bk_self_loop.qcow2
expect_exit 1 "read refuses a backing loop" -- $q read $bk/n_bk_self_loop.qcow2
expect_stderr '^qcow2ref: QX\.BK\.loop: ' "loop message"

# map without following: the chain's top layer only (depth 0 everywhere).
expect_exit 0 "map top layer only" -- $q map --json $bk/y_bk_chain3.qcow2
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert all(e["depth"]==0 for e in m), m' "$tmp/out" ||
  { echo "FAIL: map without --follow-references left the top layer"; fails=$((fails + 1)); }
expect_exit 0 "map follows with the flag" -- $q map --json --follow-references $bk/y_bk_chain3.qcow2
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert max(e["depth"] for e in m)==2, m' "$tmp/out" ||
  { echo "FAIL: map --follow-references did not reach depth 2"; fails=$((fails + 1)); }

# read: whole disk, --output, and a slice, against qemu-img's sha256.
want=$(sha_of vectors/qcow2_bk_test.json y_bk_chain3)
got=$($q read $bk/y_bk_chain3.qcow2 | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && pass=$((pass + 1)) || { echo "FAIL: read sha $got != $want"; fails=$((fails + 1)); }
expect_exit 0 "read --output" -- $q read --output "$tmp/disk.raw" $bk/y_bk_chain3.qcow2
got=$(sha256sum <"$tmp/disk.raw" | cut -d' ' -f1)
[ "$got" = "$want" ] && pass=$((pass + 1)) || { echo "FAIL: read --output sha"; fails=$((fails + 1)); }
size=$(stat -c %s "$tmp/disk.raw")
expect_exit 0 "read slice" -- $q read --offset 65536 --length 4096 $bk/y_bk_chain3.qcow2
cmp -s "$tmp/out" <(tail -c +65537 "$tmp/disk.raw" | head -c 4096) && pass=$((pass + 1)) ||
  { echo "FAIL: slice differs from the whole-disk bytes"; fails=$((fails + 1)); }
[ "$size" -gt 0 ] || { echo "FAIL: empty disk"; fails=$((fails + 1)); }

# --- Encrypted images: secrets come from a file or the environment only.
luks=$v/luks/y_luks_small_c4k.qcow2
secret_hex=$(python3 -c 'import json
for t in json.load(open("vectors/qcow2_luks_test.json"))["tests"]:
    if t["id"] == "y_luks_small_c4k": print(t["secrets"]["passphrase_hex"])')
python3 -c 'import sys; open(sys.argv[1], "wb").write(bytes.fromhex(sys.argv[2]))' "$tmp/pw" "$secret_hex"
want=$(sha_of vectors/qcow2_luks_test.json y_luks_small_c4k)
got=$($q read --secret-file "$tmp/pw" $luks | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && pass=$((pass + 1)) || { echo "FAIL: LUKS read sha $got != $want"; fails=$((fails + 1)); }
export QCOW2REF_TEST_SECRET
QCOW2REF_TEST_SECRET=$(cat "$tmp/pw")
got=$($q read --secret-env QCOW2REF_TEST_SECRET $luks | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && pass=$((pass + 1)) || { echo "FAIL: --secret-env read"; fails=$((fails + 1)); }
printf 'not-the-passphrase-XyZ' >"$tmp/bad"
expect_exit 1 "wrong passphrase" -- $q read --secret-file "$tmp/bad" $luks
expect_stderr '^qcow2ref: L1\.MKD\.wrong_passphrase: ' "wrong passphrase message"
grep -q 'XyZ' "$tmp/err" && { echo "FAIL: the passphrase was echoed"; fails=$((fails + 1)); }
# A trailing newline is part of the secret (exact bytes): it no longer unlocks.
{ cat "$tmp/pw"; echo; } >"$tmp/pw_nl"
expect_exit 1 "secret file with a newline is a different secret" -- $q read --secret-file "$tmp/pw_nl" $luks
expect_exit 3 "encrypted read without a secret" -- $q read $luks
expect_stderr '^qcow2ref: Q2\.ENC\.payload: ' "missing secret message"
expect_exit 3 "encrypted map without a secret" -- $q map $luks
expect_exit 0 "info without a secret" -- $q info --json $luks
python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["format-specific"]["data"]["encrypt"]; assert e["format"]=="luks" and e["slots"][0]["active"], e' "$tmp/out" ||
  { echo "FAIL: info --json encrypt section"; fails=$((fails + 1)); }
expect_exit 3 "passphrase on argv is not an option" -- $q read --passphrase x $luks
expect_exit 3 "an unbounded secret file is refused" -- $q read --secret-file /dev/zero $luks

# luks-dump agrees with cryptsetup luksDump of the extracted LUKS area.
expect_exit 0 "luks-dump" -- $q luks-dump $luks
cp "$tmp/out" "$tmp/ours.txt"
if command -v cryptsetup >/dev/null; then
  read -r off len < <(python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
e=[x for x in d["qcow2ref"]["extensions"] if x["name"].startswith("full disk")][0]
print(e["offset"], e["length"])' <($q info --json $luks))
  dd if=$luks of="$tmp/area" bs=512 skip=$((off / 512)) count=$((len / 512)) status=none
  cryptsetup luksDump "$tmp/area" >"$tmp/theirs.txt" 2>/dev/null
  if diff <(tail -n +2 "$tmp/ours.txt") <(tail -n +2 "$tmp/theirs.txt") >"$tmp/diff"; then
    pass=$((pass + 1))
  else
    echo "FAIL: luks-dump differs from cryptsetup luksDump:"; cat "$tmp/diff"; fails=$((fails + 1))
  fi
else
  echo "FAIL: cryptsetup not installed (bash tools/setup.sh installs it): luks-dump not compared"
  fails=$((fails + 1))
fi

# --- check and layout.
expect_exit 0 "check a clean image" -- $q check $v/hdr/y_hdr_v3_c64k_basic.qcow2
grep -q 'No errors were found' "$tmp/out" && pass=$((pass + 1)) || { echo "FAIL: check clean message"; fails=$((fails + 1)); }
expect_exit 1 "check a corrupt image" -- $q check --json $v/map/n_map_l2_unaligned_data.qcow2
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["corruptions"]>=1 and any(f["clause"]=="Q2.MAP.l2_entry.aligned" for f in d["findings"]), d' "$tmp/out" ||
  { echo "FAIL: check --json findings"; fails=$((fails + 1)); }
expect_exit 3 "--repair takes leaks or all" -- $q check --repair everything $v/hdr/y_hdr_v3_c64k_basic.qcow2
# A leak made by hand: one more cluster at the end of the file with
# refcount 1 in the (16-bit) refcount block.
cp $v/hdr/y_hdr_v3_c64k_basic.qcow2 "$tmp/leak.qcow2"
chmod u+w "$tmp/leak.qcow2"
python3 - "$tmp/leak.qcow2" <<'PY'
import struct, sys
p = sys.argv[1]
f = open(p, "r+b")
h = f.read(104)
cluster_bits, = struct.unpack(">I", h[20:24])
rt, = struct.unpack(">Q", h[48:56])
cs = 1 << cluster_bits
f.seek(0, 2)
size = f.tell()
n = (size + cs - 1) // cs
f.truncate(n * cs + cs)
f.seek(rt)
block, = struct.unpack(">Q", f.read(8))
f.seek(block + 2 * n)
f.write(struct.pack(">H", 1))
PY
expect_exit 1 "check finds the leak" -- $q check --json "$tmp/leak.qcow2"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["leaks"]==1 and d["corruptions"]==0, d' "$tmp/out" ||
  { echo "FAIL: leak not reported"; fails=$((fails + 1)); }
if command -v qemu-img >/dev/null; then
  qemu-img check --output=json "$tmp/leak.qcow2" >"$tmp/qemu.json" 2>/dev/null
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d.get("leaks")==1, d' "$tmp/qemu.json" &&
    pass=$((pass + 1)) || { echo "FAIL: qemu-img check disagrees on the leak"; fails=$((fails + 1)); }
else
  echo "FAIL: qemu-img not installed (bash tools/setup.sh installs it): leak not cross-checked"
  fails=$((fails + 1))
fi
expect_exit 0 "repair the leak" -- $q check --repair leaks "$tmp/leak.qcow2"
expect_exit 0 "clean after repair" -- $q check "$tmp/leak.qcow2"
expect_exit 0 "layout --svg" -- $q layout --svg "$tmp/l.svg" $v/snap/y_snap_two.qcow2
python3 -c 'import sys, xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); assert r.tag.endswith("svg") and len(r) > 10' "$tmp/l.svg" &&
  pass=$((pass + 1)) || { echo "FAIL: layout SVG is not valid XML"; fails=$((fails + 1)); }
expect_exit 0 "layout --text" -- $q layout --text $v/snap/y_snap_two.qcow2
grep -q 'snapshot table' "$tmp/out" && grep -q 'header' "$tmp/out" && pass=$((pass + 1)) ||
  { echo "FAIL: layout text"; fails=$((fails + 1)); }

# --- Writing: create, write, read back; LUKS key management.
head -c 200000 /dev/urandom >"$tmp/data.bin"
printf 'first' >"$tmp/k1"
printf 'second' >"$tmp/k2"
printf 'third' >"$tmp/k3"
expect_exit 0 "create LUKS" -- $q create "$tmp/k.qcow2" --size 2M --encrypt luks --luks-iterations 1000 --secret-file "$tmp/k1"
expect_exit 3 "create refuses an existing file" -- $q create "$tmp/k.qcow2" --size 2M
expect_exit 3 "create refuses a cluster size that is not a power of two" -- $q create "$tmp/x.qcow2" --size 2M --cluster-size 3000
expect_exit 3 "create refuses size 0" -- $q create "$tmp/x.qcow2" --size 0
expect_exit 3 "create refuses refcount bits > 64" -- $q create "$tmp/x.qcow2" --size 1M --refcount-bits 128
expect_exit 3 "create refuses v2 with v3 features" -- $q create "$tmp/x.qcow2" --size 1M --version 2 --extended-l2
expect_exit 3 "create refuses an unknown cipher" -- $q create "$tmp/x.qcow2" --size 1M --encrypt luks --luks-cipher rot13-128-cbc-plain --secret-file "$tmp/k1"
[ ! -e "$tmp/x.qcow2" ] && pass=$((pass + 1)) || { echo "FAIL: a refused create left a file"; fails=$((fails + 1)); }
expect_exit 0 "write" -- $q write "$tmp/k.qcow2" --offset 1000 --input "$tmp/data.bin" --secret-file "$tmp/k1"
expect_exit 0 "read" -- $q read "$tmp/k.qcow2" --offset 1000 --length 200000 --secret-file "$tmp/k1"
cmp -s "$tmp/out" "$tmp/data.bin" && pass=$((pass + 1)) || { echo "FAIL: written data differs"; fails=$((fails + 1)); }
expect_exit 0 "luks add-key" -- $q luks add-key "$tmp/k.qcow2" --secret-file "$tmp/k1" --new-secret-file "$tmp/k2" --luks-iterations 1000
expect_exit 0 "luks change-key" -- $q luks change-key "$tmp/k.qcow2" --secret-file "$tmp/k2" --new-secret-file "$tmp/k3" --luks-iterations 1000
expect_exit 1 "changed-away key no longer opens" -- $q read "$tmp/k.qcow2" --secret-file "$tmp/k2"
expect_exit 0 "luks remove-key" -- $q luks remove-key "$tmp/k.qcow2" --secret-file "$tmp/k1"
expect_exit 3 "the last key slot is kept" -- $q luks remove-key "$tmp/k.qcow2" --secret-file "$tmp/k3"
expect_exit 0 "the remaining key reads the data" -- $q read "$tmp/k.qcow2" --offset 1000 --length 200000 --secret-file "$tmp/k3"
cmp -s "$tmp/out" "$tmp/data.bin" && pass=$((pass + 1)) || { echo "FAIL: data changed by key management"; fails=$((fails + 1)); }
expect_exit 0 "check after key management" -- $q check "$tmp/k.qcow2" --secret-file "$tmp/k3"

# --- read writes chunk k-1 on another thread while chunk k is read: a
# failing output is still one clear error.
if [ -w /dev/full ]; then
  expect_exit 1 "read to a full device" -- $q read $v/hdr/y_hdr_v3_c64k_basic.qcow2 --output /dev/full
  grep -q 'write error' "$tmp/err" && pass=$((pass + 1)) || { echo "FAIL: no write error message"; fails=$((fails + 1)); }
fi

# --- read's fast path (holes, kernel copies, two decrypting threads) gives
# qemu-img's bytes to a fresh file, a used file, a pipe and stdout, and a
# fresh file is no less sparse than qemu-img's own output.
if command -v qemu-img >/dev/null; then
  img=$tmp/sparse.qcow2
  qemu-img create -q -f qcow2 "$img" 64M
  qemu-io -f qcow2 -c 'write -P 0x5a 1M 3M' -c 'write -z 8M 1M' -c 'write -P 0x11 63M 1M' "$img" >/dev/null
  qemu-img convert -O raw "$img" "$tmp/qemu.raw"
  expect_exit 0 "read sparse --output" -- $q read "$img" --output "$tmp/ours.raw"
  cmp -s "$tmp/qemu.raw" "$tmp/ours.raw" && pass=$((pass + 1)) || { echo "FAIL: read --output differs from qemu-img convert"; fails=$((fails + 1)); }
  ours_kib=$(du -k "$tmp/ours.raw" | cut -f1); qemu_kib=$(du -k "$tmp/qemu.raw" | cut -f1)
  [ "$ours_kib" -le "$qemu_kib" ] && pass=$((pass + 1)) || { echo "FAIL: read --output allocates $ours_kib KiB, qemu-img $qemu_kib KiB"; fails=$((fails + 1)); }
  $q read "$img" | cmp -s - "$tmp/qemu.raw" && pass=$((pass + 1)) || { echo "FAIL: read to a pipe differs"; fails=$((fails + 1)); }
  $q read "$img" >"$tmp/stdout.raw" && cmp -s "$tmp/stdout.raw" "$tmp/qemu.raw" && pass=$((pass + 1)) || { echo "FAIL: read to stdout (a file) differs"; fails=$((fails + 1)); }
  head -c 70M /dev/urandom >"$tmp/used.raw"
  $q read "$img" 1<>"$tmp/used.raw" && cmp -s -n 67108864 "$tmp/used.raw" "$tmp/qemu.raw" && pass=$((pass + 1)) || { echo "FAIL: read into a used file (1<>) shows old bytes"; fails=$((fails + 1)); }
  printf 'head' >"$tmp/append.raw"
  { $q read "$img" --offset 1M --length 2M; } >>"$tmp/append.raw" && [ "$(tail -c +5 "$tmp/append.raw" | cmp -s - <(head -c 3M "$tmp/qemu.raw" | tail -c 2M) && echo same)" = same ] && pass=$((pass + 1)) || { echo "FAIL: read appended to a file (O_APPEND) differs"; fails=$((fails + 1)); }
  # A mapping error in the middle: every byte before the failing cluster is
  # written (its holes too), to a file as to a pipe, and an error line sent
  # to the same file comes after them. Guest cluster 128 (8 MiB) gets an
  # unaligned host offset in its L2 entry (Q2.MAP.l2_entry.aligned).
  bad=$tmp/bad-l2.qcow2
  qemu-img create -q -f qcow2 "$bad" 16M
  qemu-io -f qcow2 -c 'write -P 0x61 0 4k' -c 'write -P 0x62 8M 64k' "$bad" >/dev/null
  qemu-img convert -O raw "$bad" "$tmp/bad-good.raw"
  python3 - "$bad" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(40); l1 = struct.unpack(">Q", f.read(8))[0]
    f.seek(l1); l2 = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
    f.seek(l2 + 128 * 8); e = struct.unpack(">Q", f.read(8))[0]
    f.seek(l2 + 128 * 8); f.write(struct.pack(">Q", e | 0x200))
PY
  expect_exit 1 "read with a bad L2 entry at 8 MiB" -- $q read "$bad" --output "$tmp/bad.raw"
  [ "$(stat -c %s "$tmp/bad.raw")" = 8388608 ] && cmp -s "$tmp/bad.raw" <(head -c 8388608 "$tmp/bad-good.raw") && pass=$((pass + 1)) || { echo "FAIL: --output before a mapping error: $(stat -c %s "$tmp/bad.raw") bytes, want the first 8388608 of qemu-img's"; fails=$((fails + 1)); }
  [ "$($q read "$bad" 2>/dev/null | wc -c)" = 8388608 ] && pass=$((pass + 1)) || { echo "FAIL: pipe before a mapping error"; fails=$((fails + 1)); }
  $q read "$bad" >"$tmp/bad-both" 2>&1
  head -c 8388608 "$tmp/bad-both" | cmp -s - <(head -c 8388608 "$tmp/bad-good.raw") && tail -c +8388609 "$tmp/bad-both" | grep -q '^qcow2ref: Q2\.MAP\.' && pass=$((pass + 1)) || { echo "FAIL: 2>&1 into one file: the error line is not after the data"; fails=$((fails + 1)); }
  # A read-only standard output: one write error, as before any fast path.
  : >"$tmp/ro.raw"
  $q read "$img" 1<"$tmp/ro.raw" 2>"$tmp/err"; got=$?
  [ "$got" = 1 ] && grep -q 'write error: Bad file descriptor' "$tmp/err" && pass=$((pass + 1)) || { echo "FAIL: read-only stdout: exit $got, $(cat "$tmp/err")"; fails=$((fails + 1)); }
  # LUKS: decrypted on two threads, in 1 MiB jobs, written in order.
  printf 'fast-path' >"$tmp/luks.pw"
  for try in 1 2 3; do
    qemu-img create -q -f qcow2 --object secret,id=s0,file="$tmp/luks.pw" -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 "$tmp/luks.qcow2" 16M && break
  done
  qemu-io --object secret,id=s0,file="$tmp/luks.pw" --image-opts "driver=qcow2,file.filename=$tmp/luks.qcow2,encrypt.key-secret=s0" -c 'write -P 0x33 0 5M' -c 'write -P 0x44 7M 2M' >/dev/null
  qemu-img convert --object secret,id=s0,file="$tmp/luks.pw" --image-opts "driver=qcow2,file.filename=$tmp/luks.qcow2,encrypt.key-secret=s0" -O raw "$tmp/luks-qemu.raw"
  expect_exit 0 "read LUKS --output" -- $q read "$tmp/luks.qcow2" --secret-file "$tmp/luks.pw" --output "$tmp/luks-ours.raw"
  cmp -s "$tmp/luks-qemu.raw" "$tmp/luks-ours.raw" && pass=$((pass + 1)) || { echo "FAIL: LUKS read differs from qemu-img"; fails=$((fails + 1)); }
  $q read "$tmp/luks.qcow2" --secret-file "$tmp/luks.pw" | cmp -s - "$tmp/luks-qemu.raw" && pass=$((pass + 1)) || { echo "FAIL: LUKS read to a pipe differs"; fails=$((fails + 1)); }
  if [ -w /dev/full ]; then
    expect_exit 1 "LUKS read to a full device" -- $q read "$tmp/luks.qcow2" --secret-file "$tmp/luks.pw" --output /dev/full
    expect_stderr 'write error' "LUKS read to a full device"
  fi
fi

# --- write --input streams the file in 4 MiB chunks: 9 MiB + 123 bytes spans
# three chunks (plain), and a 9 MiB compressible input three compressed ones.
head -c 9437307 /dev/urandom >"$tmp/big.bin"
expect_exit 0 "create 16M" -- $q create "$tmp/big.qcow2" --size 16M --cluster-size 4K
expect_exit 0 "write a 9 MiB input" -- $q write "$tmp/big.qcow2" --offset 4097 --input "$tmp/big.bin"
expect_exit 0 "read it back" -- $q read "$tmp/big.qcow2" --offset 4097 --length 9437307
cmp -s "$tmp/out" "$tmp/big.bin" && pass=$((pass + 1)) || { echo "FAIL: streamed write differs"; fails=$((fails + 1)); }
expect_exit 3 "write past the end is refused before writing" -- $q write "$tmp/big.qcow2" --offset 8M --input "$tmp/big.bin"
expect_exit 0 "nothing was written past 8M" -- $q read "$tmp/big.qcow2" --offset 8M --length 4096
cmp -s <(tail -c +$((8388608 - 4097 + 1)) "$tmp/big.bin" | head -c 4096) "$tmp/out" && pass=$((pass + 1)) ||
  { echo "FAIL: a refused write changed data"; fails=$((fails + 1)); }
yes qcow2ref | head -c 9437184 >"$tmp/text.bin"
expect_exit 0 "compressed write of a 9 MiB input" -- $q write "$tmp/big.qcow2" --offset 0 --compress --input "$tmp/text.bin"
expect_exit 0 "read compressed back" -- $q read "$tmp/big.qcow2" --length 9437184
cmp -s "$tmp/out" "$tmp/text.bin" && pass=$((pass + 1)) || { echo "FAIL: streamed compressed write differs"; fails=$((fails + 1)); }
head -c 5243000 "$tmp/big.bin" >"$tmp/odd.bin"
expect_exit 3 "a compressed write ending inside a cluster is refused before its first chunk" -- $q write "$tmp/big.qcow2" --offset 0 --compress --input "$tmp/odd.bin"
expect_exit 0 "read after the refused write" -- $q read "$tmp/big.qcow2" --length 9437184
cmp -s "$tmp/out" "$tmp/text.bin" && pass=$((pass + 1)) || { echo "FAIL: a refused compressed write changed data"; fails=$((fails + 1)); }
expect_exit 0 "check after streamed writes" -- $q check "$tmp/big.qcow2"

# --- Hostile names: names are bytes until printed (QX.CLI.json_bytes,
# QX.CLI.control_escape, QX.CLI.svg_well_formed). JSON must parse (python's
# json refuses invalid UTF-8), human output must be UTF-8 without control
# characters, the error line must keep its "(at byte N)", SVG must parse.
json_ok() {  # json_ok FILE DESCRIPTION [PYTHON ASSERTION on d]
  if python3 - "$1" "${3:-True}" <<'PY'; then pass=$((pass + 1)); else echo "FAIL: $2: $(head -c 600 "$1")"; fails=$((fails + 1)); fi
import json, sys
def raw(s):  # Reverses the README's escape: \\ is a backslash, \xHH a byte.
    out, i = bytearray(), 0
    while i < len(s):
        if s.startswith("\\\\", i): out += b"\\"; i += 2
        elif s.startswith("\\x", i): out.append(int(s[i + 2:i + 4], 16)); i += 4
        else: out += s[i].encode(); i += 1
    return bytes(out)
d = json.loads(open(sys.argv[1], "rb").read())
assert eval(sys.argv[2]), sys.argv[2]
PY
}
human_ok() {  # human_ok FILE DESCRIPTION: UTF-8, no control characters
  if python3 -c 'import sys, unicodedata
t = open(sys.argv[1], "rb").read().decode("utf-8")
bad = [c for c in t if c not in "\n\t" and unicodedata.category(c) == "Cc"]
assert not bad, bad' "$1" 2>/dev/null; then pass=$((pass + 1)); else
    echo "FAIL: $2: raw bytes reached the terminal: $(od -c "$1" | head -5)"; fails=$((fails + 1)); fi
}
if command -v qemu-img >/dev/null; then
  # B: a backing name with NUL, 0xff, ^A and ESC; a feature name with 0xff.
  qemu-img create -q -f qcow2 -o lazy_refcounts=on -u -b /BBBBBBBBBBBB -F raw "$tmp/hb.qcow2" 1M
  # S: a snapshot name with 0xff, ^A, NUL and ESC, at a path with 0xff ^A.
  qemu-img create -q -f qcow2 "$tmp/hs.qcow2" 1M
  qemu-img snapshot -c SSSSSSSS "$tmp/hs.qcow2"
  # qemu-img 7.2 ends the file before the last entry's 8-byte padding, which
  # qcow2ref refuses (Q2.SNAP.table_bounds): pad to a whole cluster.
  truncate -s %65536 "$tmp/hs.qcow2"
  python3 - "$tmp/hb.qcow2" "$tmp/hs.qcow2" <<'PY'
import sys
def patch(path, old, new):
    d = open(path, "rb").read()
    assert d.count(old) == 1 and len(old) == len(new), (path, old)
    open(path, "wb").write(d.replace(old, new))
patch(sys.argv[1], b"/BBBBBBBBBBBB", b"/B\x00\xff\x01\x1b[31mB\\B")
patch(sys.argv[1], b"lazy refcounts", b"lazy\xff\x01\x1bref\xc3\xa9ts")
patch(sys.argv[2], b"SSSSSSSS", b"S\xff\x01\x00\x1bS\\S")
PY
  odd="$tmp/"$'\xff\x01'"odd.qcow2"
  cp "$tmp/hs.qcow2" "$odd"
  expect_exit 0 "info --json, hostile backing and feature names" -- $q info --json "$tmp/hb.qcow2"
  json_ok "$tmp/out" "info --json backing/feature names" \
    'raw(d["backing-filename"]) == b"/B\x00\xff\x01\x1b[31mB\\B" and d["backing-filename-escaped"] and raw(d["qcow2ref"]["compatible-features"][0]["name"]) == b"lazy\xff\x01\x1bref\xc3\xa9ts"'
  expect_exit 0 "info, hostile names" -- $q info "$tmp/hb.qcow2"
  human_ok "$tmp/out" "info human output"
  grep -qF 'backing file: /B\x00\xff\x01\x1b[31mB\\B' "$tmp/out" && pass=$((pass + 1)) ||
    { echo "FAIL: info shows the backing name escaped: $(cat "$tmp/out")"; fails=$((fails + 1)); }
  expect_exit 1 "read refuses the hostile absolute backing name" -- $q read "$tmp/hb.qcow2"
  expect_stderr '^qcow2ref: QX\.BK\.path_policy: .*/B\\x00\\xff\\x01\\x1b\[31mB\\\\B.* \(at byte [0-9]+\)$' "a NUL in a name does not cut the error line"
  human_ok "$tmp/err" "error line"
  expect_exit 0 "info --json, hostile snapshot name and path" -- $q info --json "$odd"
  json_ok "$tmp/out" "info --json snapshot name and path" \
    'raw(d["snapshots"][0]["name"]) == b"S\xff\x01\x00\x1bS\\S" and d["snapshots"][0]["name-escaped"] and raw(d["filename"]).endswith(b"/\xff\x01odd.qcow2")'
  expect_exit 0 "info, hostile snapshot name and path" -- $q info "$odd"
  human_ok "$tmp/out" "info human output (snapshot, path)"
  expect_exit 0 "check --json, hostile path" -- $q check --json "$odd"
  json_ok "$tmp/out" "check --json" 'd["filename-escaped"] and d["corruptions"] == 0'
  expect_exit 0 "check, hostile path" -- $q check "$odd"
  human_ok "$tmp/out" "check human output"
  expect_exit 0 "map --json, hostile path" -- $q map --json "$odd"
  json_ok "$tmp/out" "map --json" 'len(d) >= 1'
  expect_exit 0 "snapshot list, hostile snapshot name" -- $q snapshot list "$odd"
  human_ok "$tmp/out" "snapshot list"
  grep -qF 'S\xff\x01\x00\x1bS\\S' "$tmp/out" && pass=$((pass + 1)) ||
    { echo "FAIL: snapshot list shows the name escaped: $(cat "$tmp/out")"; fails=$((fails + 1)); }
  expect_exit 0 "layout --svg, hostile path" -- $q layout --svg "$tmp/odd.svg" "$odd"
  python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
t = [e.text for e in r.iter() if e.tag.endswith("title")][0]
assert t.endswith("\\xff\\x01odd.qcow2"), t' "$tmp/odd.svg" 2>"$tmp/err" &&
    pass=$((pass + 1)) || { echo "FAIL: layout SVG with a hostile path: $(cat "$tmp/err")"; fails=$((fails + 1)); }
else
  echo "FAIL: qemu-img not installed (bash tools/setup.sh installs it): hostile names not built"
  fails=$((fails + 1))
fi
# A LUKS UUID with invalid UTF-8 and control characters.
expect_exit 0 "create LUKS for the UUID" -- $q create "$tmp/hu.qcow2" --size 1M --encrypt luks --luks-iterations 1000 --secret-file "$tmp/k1"
python3 - "$tmp/hu.qcow2" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
ext = int.from_bytes(d[100:104], "big")  # The extensions follow the header.
off = None
while off is None:
    t = int.from_bytes(d[ext:ext + 4], "big"); n = int.from_bytes(d[ext + 4:ext + 8], "big")
    if t == 0x0537BE77: off = int.from_bytes(d[ext + 8:ext + 16], "big")
    assert t != 0, "no FDE extension"
    ext += 8 + (n + 7) // 8 * 8
d[off + 168:off + 172] = b"\xff\x01\x1b\x7f"
open(sys.argv[1], "wb").write(bytes(d))
PY
expect_exit 0 "info --json, hostile LUKS UUID" -- $q info --json "$tmp/hu.qcow2"
json_ok "$tmp/out" "info --json LUKS UUID" \
  'raw(d["format-specific"]["data"]["encrypt"]["uuid"]).startswith(b"\xff\x01\x1b\x7f") and d["format-specific"]["data"]["encrypt"]["uuid-escaped"]'
expect_exit 0 "info, hostile LUKS UUID" -- $q info "$tmp/hu.qcow2"
human_ok "$tmp/out" "info human output (UUID)"
expect_exit 0 "luks-dump, hostile LUKS UUID" -- $q luks-dump "$tmp/hu.qcow2"
human_ok "$tmp/out" "luks-dump"
expect_exit 0 "check --json, hostile LUKS UUID" -- $q check --json "$tmp/hu.qcow2"
json_ok "$tmp/out" "check --json (UUID)"

# --- A secret file must be a regular, readable file (QX.ENC.secret_file):
# never an empty passphrase from a directory, never a hang on a FIFO.
expect_exit 3 "a directory as the secret file" -- $q read --secret-file "$tmp" $luks
expect_stderr '^qcow2ref: QX\.ENC\.secret_file: .*directory' "secret file directory message"
expect_exit 3 "a directory as the new secret file" -- $q luks add-key "$tmp/k.qcow2" --secret-file "$tmp/k3" --new-secret-file "$tmp"
expect_exit 3 "a missing secret file" -- $q read --secret-file "$tmp/no-such-secret" $luks
expect_stderr '^qcow2ref: QX\.ENC\.secret_file: ' "missing secret file message"
mkfifo "$tmp/fifo"
expect_exit 3 "a FIFO as the secret file (no hang)" -- timeout 20 $q read --secret-file "$tmp/fifo" $luks
expect_stderr '^qcow2ref: QX\.ENC\.secret_file: .*not a regular file' "secret file FIFO message"

# --- Legacy AES has no key check (QX.ENC.aes.no_key_check): read says so on
# stderr (exit 0); check warns (a warning: exit 0, still clean).
expect_exit 0 "create AES" -- $q create "$tmp/aes.qcow2" --size 1M --encrypt aes --secret-file "$tmp/k1"
expect_exit 0 "write AES" -- $q write "$tmp/aes.qcow2" --offset 0 --input "$tmp/data.bin" --secret-file "$tmp/k1"
expect_exit 0 "read AES with the right key" -- $q read "$tmp/aes.qcow2" --length 200000 --secret-file "$tmp/k1"
cmp -s "$tmp/out" "$tmp/data.bin" && pass=$((pass + 1)) || { echo "FAIL: AES data differs"; fails=$((fails + 1)); }
expect_stderr '^qcow2ref: note: QX\.ENC\.aes\.no_key_check: .*could not be verified' "AES read note"
expect_exit 0 "read AES with a wrong key (garbage, exit 0)" -- $q read "$tmp/aes.qcow2" --length 200000 --secret-file "$tmp/k2"
cmp -s "$tmp/out" "$tmp/data.bin" && { echo "FAIL: a wrong AES key read the data"; fails=$((fails + 1)); }
expect_stderr '^qcow2ref: note: QX\.ENC\.aes\.no_key_check: .*could not be verified' "AES wrong-key read note"
for s in "--secret-file $tmp/k2" ""; do
  expect_exit 0 "check AES ${s:-without a key}" -- $q check --json "$tmp/aes.qcow2" $s
  json_ok "$tmp/out" "check AES warning ${s:-without a key}" \
    'd["corruptions"] == 0 and d["warnings"] == 1 and any(f["clause"] == "QX.ENC.aes.no_key_check" and f["severity"] == "warning" for f in d["findings"])'
done

# --- A LUKS image without an active key slot says so (QX.LUKS.no_active_slot)
# instead of blaming the passphrase, and check warns.
expect_exit 0 "create LUKS" -- $q create "$tmp/k0.qcow2" --size 1M --encrypt luks --luks-iterations 1000 --secret-file "$tmp/k1"
fde=$($q info --json "$tmp/k0.qcow2" | python3 -c 'import json,sys
print([x for x in json.load(sys.stdin)["qcow2ref"]["extensions"] if x["name"].startswith("full disk")][0]["offset"])')
printf '\x00\x00\xde\xad' | dd of="$tmp/k0.qcow2" bs=1 seek=$((fde + 208)) conv=notrunc status=none
expect_exit 1 "read a LUKS image without an active slot" -- $q read "$tmp/k0.qcow2" --secret-file "$tmp/k1"
expect_stderr "^qcow2ref: QX\.LUKS\.no_active_slot: no LUKS key slot is active.* \(at byte $((fde + 208))\)\$" "no active slot message"
for s in "--secret-file $tmp/k1" ""; do
  expect_exit 0 "check a LUKS image without an active slot ${s:-without a key}" -- $q check --json "$tmp/k0.qcow2" $s
  json_ok "$tmp/out" "no active slot warning ${s:-without a key}" \
    'd["corruptions"] == 0 and any(f["clause"] == "QX.LUKS.no_active_slot" and f["severity"] == "warning" for f in d["findings"])'
done

echo "cli_test: ${pass} passed, ${fails} failed"
[ "$fails" = 0 ]
