#!/usr/bin/env bash
# Test roles: reader, writer
# Files an image names, and files a command writes, judged by what they are,
# not by how they are spelled: symlinks and '..' that leave the image's
# directory, FIFOs, the same file under two names, an output that is an input.
# Every fixture is made here, in the test's temp dir (no special file is
# committed). Each case asserts the exit code, the one-line refusal naming
# its clause (or the correct result when allowed), that no regular file of
# the fixture tree (images, outside victims) changed, and that the command
# ends within `timeout 10` (a FIFO must never hang an open).
# Clauses covered: QCOW2_SPEC("QX.BK.resolve_beneath")
# QCOW2_SPEC("QX.BK.regular_only") QCOW2_SPEC("QX.BK.same_file")
# QCOW2_SPEC("QX.CLI.output_not_input") QCOW2_SPEC("QX.CLI.snapshot_list_read_only")
# QCOW2_SPEC("QX.BK.path_policy")
set -uo pipefail
q=${QCOW2REF_BIN:-$PWD/tools/qcow2ref/qcow2ref}
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/path_safety.XXXXXX")
w=$tmp/w        # the fixture tree: checked for changes after every case
d=$w/d          # the images' directory
o=$w/outside    # files no image may reach
s=$tmp/scratch  # outputs of allowed commands
mkdir -p "$d" "$o" "$s"
fails=0
pass=0

fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

tree_sums() {  # sha256 and name of every regular file of the fixture tree
  (cd "$w" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# expect WANT_EXIT CLAUSE DESCRIPTION -- command...
# CLAUSE: the clause the one-line error must name ("" when the command must
# succeed). The fixture tree must be unchanged.
expect() {
  local want=$1 clause=$2 what=$3
  shift 4
  local before
  before=$(tree_sums)
  (cd "$d" && timeout 10 "$@") >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" = 124 ]; then
    fail "$what: timed out (hung)"
    return
  fi
  if [ "$got" != "$want" ]; then
    fail "$what: exit $got, want $want; stderr: $(head -c 400 "$tmp/err")"
    return
  fi
  if [ -n "$clause" ]; then
    local re="^qcow2ref: ${clause//./\\.}: .+"
    if ! grep -Eq "$re" "$tmp/err" || [ "$(wc -l <"$tmp/err")" != 1 ]; then
      fail "$what: want one line naming $clause; stderr: $(cat "$tmp/err")"
      return
    fi
  fi
  if [ "$(tree_sums)" != "$before" ]; then
    fail "$what: files of the fixture tree changed"
    return
  fi
  pass=$((pass + 1))
}

# --- fixtures ---------------------------------------------------------------
head -c 65536 /dev/urandom >"$o/victim"
printf 'root:x:0:0:secret outside the image directory\n' >"$o/secret"
head -c 65536 /dev/urandom >"$d/base.raw"
head -c 4096 /dev/urandom >"$s/payload"
mk() { "$q" create "$@" >/dev/null || fail "fixture: create $*"; }
mk "$d/base.qcow2" --size 1M
"$q" write "$d/base.qcow2" --offset 0 --input "$d/base.raw" || fail "fixture: write"
mk "$d/plain.qcow2" --size 1M
"$q" write "$d/plain.qcow2" --offset 4096 --input "$s/payload" || fail "fixture: write"

# A qcow2 image whose backing (or data) file name is NAME, then NAME replaced
# by whatever the case needs. The name is stored as given.
with_backing() {  # with_backing IMAGE NAME FORMAT
  cp "$d/base.raw" "$d/$2"
  mk "$d/$1" --size 1M --backing "$2" --backing-format "$3"
  rm "$d/$2"
}
with_data() {  # with_data IMAGE NAME
  mk "$d/$1" --size 1M --data-file "$2"
  rm "$d/$2"
}

# --- 1. a symlink named as backing file that leads out of the directory -----
with_backing link.qcow2 link raw
ln -s ../outside/secret "$d/link"
for cmd in "read link.qcow2 --output $s/o1" "info --follow-references link.qcow2" \
  "map --follow-references link.qcow2"; do
  # shellcheck disable=SC2086
  expect 1 QX.BK.resolve_beneath "backing symlink to a file outside: $cmd" -- $q $cmd
done
expect 0 "" "backing symlink outside, --allow-any-path" -- \
  "$q" read link.qcow2 --allow-any-path --length "$(wc -c <"$o/secret")" --output "$s/o2"
cmp -s "$s/o2" "$o/secret" || fail "--allow-any-path read: wrong bytes"
# An absolute symlink target, and one hidden behind a symlinked directory.
with_backing abs.qcow2 abslink raw
ln -s "$o/secret" "$d/abslink"
expect 1 QX.BK.resolve_beneath "backing symlink with an absolute target" -- "$q" read abs.qcow2
with_backing subdir.qcow2 sub_secret raw
python3 - "$d/subdir.qcow2" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.index(b"sub_secret"); b[i:i + 10] = b"sub/secret"
open(p, "wb").write(b)
EOF
ln -s ../outside "$d/sub"
expect 1 QX.BK.resolve_beneath "backing behind a symlinked directory" -- "$q" read subdir.qcow2
# '..' in the text is refused by the text policy already.
with_backing dots.qcow2 zz_outside_secret raw
python3 - "$d/dots.qcow2" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.index(b"zz_outside_secret"); b[i:i + 17] = b"../outside/secret"
open(p, "wb").write(b)
EOF
expect 1 QX.BK.path_policy "backing name with '..'" -- "$q" read dots.qcow2
# A symlink that stays in the directory: followed by openat2; the O_NOFOLLOW
# walk (kernels without openat2) refuses every symlink.
with_backing inside.qcow2 inlink raw
ln -s base.raw "$d/inlink"
(cd "$d" && timeout 10 "$q" read inside.qcow2 --length 65536 --output "$s/o3") 2>"$tmp/err"
rc=$?
if [ "$rc" = 0 ]; then
  cmp -s "$s/o3" "$d/base.raw" && pass=$((pass + 1)) || fail "inside symlink: wrong bytes"
elif ! grep -q 'QX\.BK\.resolve_beneath' "$tmp/err"; then
  fail "inside symlink: exit $rc: $(cat "$tmp/err")"
fi

# --- 2. an external data file that is a symlink out of the directory --------
with_data xdf.qcow2 dlink
ln -s ../outside/victim "$d/dlink"
expect 1 QX.BK.resolve_beneath "write through a data file symlink" -- \
  "$q" write xdf.qcow2 --offset 0 --input "$s/payload"
expect 1 QX.BK.resolve_beneath "zero through a data file symlink" -- \
  "$q" zero xdf.qcow2 --offset 0 --length 4096
expect 1 QX.BK.resolve_beneath "read through a data file symlink" -- "$q" read xdf.qcow2
expect 1 QX.BK.resolve_beneath "snapshot create through a data file symlink" -- \
  "$q" snapshot create xdf.qcow2 s1

# --- 3. FIFOs as backing and data files: refused at once, never a hang ------
with_backing bfifo.qcow2 bfifo raw
mkfifo "$d/bfifo"
with_data dfifo.qcow2 dfifo
mkfifo "$d/dfifo"
for img in bfifo.qcow2 dfifo.qcow2; do
  expect 1 QX.BK.regular_only "read, FIFO in $img" -- "$q" read "$img" --output "$s/o4"
  expect 1 QX.BK.regular_only "read --allow-any-path, FIFO in $img" -- \
    "$q" read "$img" --allow-any-path --output "$s/o4"
  expect 1 QX.BK.regular_only "info --follow-references, FIFO in $img" -- \
    "$q" info --follow-references "$img"
  expect 1 QX.BK.regular_only "map --follow-references, FIFO in $img" -- \
    "$q" map --follow-references "$img"
  expect 0 "" "snapshot list, FIFO in $img" -- "$q" snapshot list "$img"
done
expect 1 QX.BK.regular_only "write, data file FIFO" -- \
  "$q" write dfifo.qcow2 --offset 0 --input "$s/payload"

# --- 4. a data file that is the image itself, or a file of its chain --------
mk "$d/aa.qcow2" --size 1M --data-file self.qcow2
mv "$d/aa.qcow2" "$d/self.qcow2"  # self.qcow2 now names itself
expect 1 QX.BK.same_file "write, data file is the image" -- \
  "$q" write self.qcow2 --offset 0 --input "$s/payload"
expect 1 QX.BK.same_file "read, data file is the image" -- "$q" read self.qcow2
expect 1 QX.BK.same_file "info --follow-references, data file is the image" -- \
  "$q" info --follow-references self.qcow2
expect 1 "" "check, data file is the image" -- "$q" check self.qcow2
grep -q '^corruption: QX\.BK\.same_file: ' "$tmp/out" || fail "check does not report QX.BK.same_file: $(cat "$tmp/out")"
with_data hard.qcow2 hl
ln "$d/hard.qcow2" "$d/hl"  # the same inode under another name
expect 1 QX.BK.same_file "write, data file is a hard link to the image" -- \
  "$q" write hard.qcow2 --offset 0 --input "$s/payload"
expect 1 "" "check, data file is a hard link to the image" -- "$q" check hard.qcow2
grep -q 'QX\.BK\.same_file' "$tmp/out" || fail "check (hard link) does not report QX.BK.same_file"
with_data soft.qcow2 sl
ln -s soft.qcow2 "$d/sl"
(cd "$d" && timeout 10 "$q" write soft.qcow2 --offset 0 --input "$s/payload") 2>"$tmp/err"
rc=$?
if [ "$rc" != 1 ] || ! grep -Eq 'QX\.BK\.(same_file|resolve_beneath)' "$tmp/err"; then
  fail "write, data file is a symlink to the image: exit $rc: $(cat "$tmp/err")"
else
  pass=$((pass + 1))
fi
# The data file is the backing file.
mk "$d/both.qcow2" --size 1M --backing base.qcow2 --backing-format qcow2 --data-file bd
rm "$d/bd" && ln "$d/base.qcow2" "$d/bd"
expect 1 QX.BK.same_file "read, data file is the backing file" -- "$q" read both.qcow2
expect 1 QX.BK.same_file "write, data file is the backing file" -- \
  "$q" write both.qcow2 --offset 0 --input "$s/payload"

# --- 5. an output that is an input: refused before anything is truncated ----
ln "$d/plain.qcow2" "$d/plain-hard.qcow2"
ln -s plain.qcow2 "$d/plain-link.qcow2"
mk "$d/top.qcow2" --size 1M --backing base.qcow2 --backing-format qcow2
for out in plain.qcow2 plain-hard.qcow2 plain-link.qcow2; do
  expect 3 QX.CLI.output_not_input "read plain.qcow2 --output $out" -- \
    "$q" read plain.qcow2 --output "$out"
  expect 3 QX.CLI.output_not_input "convert plain.qcow2 $out --force" -- \
    "$q" convert plain.qcow2 "$out" --force
done
# Standard output opened read-write on an input (the shell does not truncate
# it): the image itself or its backing file.
for out in top.qcow2 base.qcow2; do
  before=$(tree_sums)
  (cd "$d" && timeout 10 "$q" read top.qcow2 1<>"$out") 2>"$tmp/err"
  got=$?
  if [ "$got" != 3 ] || ! grep -Eq '^qcow2ref: QX\.CLI\.output_not_input: ' "$tmp/err"; then
    fail "read top.qcow2 1<>$out: exit $got; stderr: $(cat "$tmp/err")"
  elif [ "$(tree_sums)" != "$before" ]; then
    fail "read top.qcow2 1<>$out: files of the fixture tree changed"
  else
    pass=$((pass + 1))
  fi
done
expect 3 QX.CLI.output_not_input "read top --output its backing file" -- \
  "$q" read top.qcow2 --output base.qcow2
expect 3 QX.CLI.output_not_input "convert top its-backing --force" -- \
  "$q" convert top.qcow2 base.qcow2 --force
expect 3 QX.CLI.output_not_input "convert, the new data file is the source" -- \
  "$q" convert plain.qcow2 new.qcow2 --data-file plain-hard.qcow2 --force
expect 3 QX.CLI.output_not_input "create --from the target" -- \
  "$q" create base.raw --size 64K --from base.raw --force
expect 3 QX.CLI.output_not_input "create, the target is its own backing file" -- \
  "$q" create base.qcow2 --size 1M --backing base.qcow2 --force
expect 3 QX.CLI.output_not_input "create, the target is its data file" -- \
  "$q" create plain.qcow2 --size 1M --data-file plain-hard.qcow2 --force
# Allowed: a distinct output.
expect 0 "" "read --output a new file" -- "$q" read plain.qcow2 --output "$s/o5"
"$q" read "$d/plain.qcow2" --offset 4096 --length 4096 --output "$s/o6"
cmp -s "$s/o6" "$s/payload" || fail "read --output: wrong bytes"

# --- 6. snapshot list: read-only, no secret, dirty images list --------------
mk "$d/snap.qcow2" --size 1M --lazy-refcounts
"$q" snapshot create "$d/snap.qcow2" first || fail "fixture: snapshot create"
python3 - "$d/snap.qcow2" <<'EOF'
import sys
f = open(sys.argv[1], "r+b"); f.seek(79); b = f.read(1)[0]
f.seek(79); f.write(bytes([b | 1]))  # incompatible bit 0: dirty
EOF
expect 0 "" "snapshot list on a dirty image" -- "$q" snapshot list snap.qcow2
grep -Eq '^1 +first ' "$tmp/out" || fail "snapshot list (dirty): $(cat "$tmp/out")"
printf 'pass' >"$s/key"
mk "$d/enc.qcow2" --size 1M --encrypt luks --luks-iterations 1000 --secret-file "$s/key"
"$q" snapshot create "$d/enc.qcow2" second --secret-file "$s/key" || fail "fixture: snapshot create (luks)"
expect 0 "" "snapshot list on a LUKS image without its passphrase" -- \
  "$q" snapshot list enc.qcow2
grep -Eq '^1 +second ' "$tmp/out" || fail "snapshot list (luks): $(cat "$tmp/out")"

rm -rf "$tmp"
echo "$pass passed, $fails failed"
[ "$fails" = 0 ]
