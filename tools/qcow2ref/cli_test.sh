#!/usr/bin/env bash
# End-to-end checks of the qcow2ref CLI contract: exit codes, the one-line
# error format (QX.CLI.one_line_error), and the untrusted-image policy
# (QX.BK.no_follow, QX.BK.path_policy, QX.BK.loop). Expected values are the
# documented contract (README "The CLI") and vector manifests made by qemu-img.
set -uo pipefail
# Clauses covered: QCOW2_SPEC("QX.CLI.one_line_error") QCOW2_SPEC("QX.BK.no_follow")
# QCOW2_SPEC("QX.BK.path_policy") QCOW2_SPEC("QX.BK.loop")
q=tools/qcow2ref/qcow2ref
v=vectors/images
tmp=${TEST_TMPDIR:-$(mktemp -d)}
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
expect_exit 0 "info does not follow an absolute backing path" -- $q info $v/bk/i_bk_absolute_path.qcow2
expect_exit 0 "map does not follow an absolute backing path" -- $q map --json $v/bk/i_bk_absolute_path.qcow2
expect_exit 1 "read refuses an absolute backing path" -- $q read $v/bk/i_bk_absolute_path.qcow2
expect_stderr '^qcow2ref: QX\.BK\.path_policy: ' "path policy message"
expect_exit 0 "info on a backing loop" -- $q info $v/bk/n_bk_self_loop.qcow2
expect_exit 1 "read refuses a backing loop" -- $q read $v/bk/n_bk_self_loop.qcow2
expect_stderr '^qcow2ref: QX\.BK\.loop: ' "loop message"

# map without following: the chain's top layer only (depth 0 everywhere).
expect_exit 0 "map top layer only" -- $q map --json $v/bk/y_bk_chain3.qcow2
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert all(e["depth"]==0 for e in m), m' "$tmp/out" ||
  { echo "FAIL: map without --follow-references left the top layer"; fails=$((fails + 1)); }
expect_exit 0 "map follows with the flag" -- $q map --json --follow-references $v/bk/y_bk_chain3.qcow2
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert max(e["depth"] for e in m)==2, m' "$tmp/out" ||
  { echo "FAIL: map --follow-references did not reach depth 2"; fails=$((fails + 1)); }

# read: whole disk, --output, and a slice, against qemu-img's sha256.
want=$(sha_of vectors/qcow2_bk_test.json y_bk_chain3)
got=$($q read $v/bk/y_bk_chain3.qcow2 | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && pass=$((pass + 1)) || { echo "FAIL: read sha $got != $want"; fails=$((fails + 1)); }
expect_exit 0 "read --output" -- $q read --output "$tmp/disk.raw" $v/bk/y_bk_chain3.qcow2
got=$(sha256sum <"$tmp/disk.raw" | cut -d' ' -f1)
[ "$got" = "$want" ] && pass=$((pass + 1)) || { echo "FAIL: read --output sha"; fails=$((fails + 1)); }
size=$(stat -c %s "$tmp/disk.raw")
expect_exit 0 "read slice" -- $q read --offset 65536 --length 4096 $v/bk/y_bk_chain3.qcow2
cmp -s "$tmp/out" <(tail -c +65537 "$tmp/disk.raw" | head -c 4096) && pass=$((pass + 1)) ||
  { echo "FAIL: slice differs from the whole-disk bytes"; fails=$((fails + 1)); }
[ "$size" -gt 0 ] || { echo "FAIL: empty disk"; fails=$((fails + 1)); }

echo "cli_test: ${pass} passed, ${fails} failed"
[ "$fails" = 0 ]
