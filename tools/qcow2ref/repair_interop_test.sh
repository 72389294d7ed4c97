#!/usr/bin/env bash
# Test roles: writer, checker
# Dirty images and the full repair, judged by qemu-img check before and
# after (QX.CHECK.repair_rebuild, QX.WRITE.dirty_refused):
#  - an image left dirty by qemu-io with lazy refcounts (aborted without
#    closing: qemu-img check finds refcount errors) is written by qcow2ref
#    after a rebuild: qemu-img check is clean and qemu-img reads the old
#    bytes plus ours;
#  - `check --repair all` repairs it, and the checker vectors whose only
#    faults are counts or COPIED bits, with qemu-img's reading of the guest
#    unchanged and qemu-img check clean afterwards;
#  - vectors with other faults are refused (exit 1, bytes unchanged).
# Clauses: QCOW2_SPEC("QX.CHECK.repair_rebuild") QCOW2_SPEC("QX.WRITE.dirty_refused")
# Fails (does not skip) when qemu-img is missing: tools/setup.sh installs it.
set -uo pipefail
q=$PWD/tools/qcow2ref/qcow2ref
v=$PWD/vectors/images
tmp=${TEST_TMPDIR:-$(mktemp -d)}
if ! command -v qemu-img >/dev/null || ! command -v qemu-io >/dev/null; then
  echo "FAIL: qemu-img/qemu-io are not installed (bash tools/setup.sh installs them)"
  echo "repair_interop_test: 0 passed, 1 failed"
  exit 1
fi
cd "$tmp" || exit 1
pass=0
fails=0
ok() { pass=$((pass + 1)); }
bad() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

# A dirty image, as a crash with lazy refcounts leaves it.
rm -f dirty.qcow2
qemu-img create -q -f qcow2 -o lazy_refcounts=on,cluster_size=64k dirty.qcow2 8M
qemu-io -c "write -P 0x11 0 200k" -c "write -P 0x22 3M 64k" -c "write -P 0x33 7M 1M" -c abort dirty.qcow2 >/dev/null 2>&1
python3 -c 'import struct,sys; d=open("dirty.qcow2","rb").read(80); sys.exit(0 if struct.unpack(">Q", d[72:80])[0] & 1 else 1)' &&
  ok || bad "the dirty fixture has no dirty bit"
qemu-img check dirty.qcow2 >/dev/null 2>&1 && bad "qemu-img check calls the dirty fixture clean" || ok
qemu-img convert -O raw dirty.qcow2 dirty.raw

# Writing rebuilds first.
cp dirty.qcow2 w.qcow2
head -c 100000 /dev/urandom >in.bin
$q write w.qcow2 --offset 150000 --input in.bin 2>err && ok || bad "write into a dirty image: $(cat err)"
qemu-img check w.qcow2 >out 2>&1 && ok || bad "after our write: qemu-img check: $(head -c 400 out)"
cp dirty.raw want.raw
python3 -c '
with open("want.raw", "r+b") as f:
    f.seek(150000); f.write(open("in.bin", "rb").read())'
qemu-img convert -O raw w.qcow2 got.raw && cmp -s got.raw want.raw && ok || bad "after our write: qemu-img reads other bytes"
python3 -c 'import struct,sys; d=open("w.qcow2","rb").read(80); sys.exit(struct.unpack(">Q", d[72:80])[0] & 1)' &&
  ok || bad "the dirty bit is still set after our write"

# check --repair all on the dirty image and on count/COPIED vectors.
repaired() {  # repaired NAME IMAGE
  local name=$1
  cp "$2" r.qcow2
  qemu-img convert -O raw r.qcow2 before.raw 2>/dev/null
  $q check r.qcow2 >/dev/null 2>&1 && bad "$name: our check calls it clean before repair" || ok
  $q check --repair all r.qcow2 >out 2>&1 && ok || bad "$name: check --repair all: $(cat out)"
  qemu-img check r.qcow2 >out 2>&1 && ok || bad "$name: qemu-img check after repair: $(head -c 400 out)"
  qemu-img convert -O raw r.qcow2 after.raw && cmp -s before.raw after.raw && ok || bad "$name: the repair changed the guest"
}
repaired dirty dirty.qcow2
repaired n_rc_refcount_too_low "$v/rc/n_rc_refcount_too_low.qcow2"
repaired n_map_copied_shared "$v/map/n_map_copied_shared.qcow2"

# A command refused before its first write leaves a dirty image untouched:
# the rebuild waits for the first write.
cp dirty.qcow2 keep.qcow2
before=$(sha256sum <keep.qcow2)
$q write keep.qcow2 --offset 99999999 --input in.bin 2>/dev/null
[ $? = 3 ] && ok || bad "out-of-range write into a dirty image was not a usage error"
[ "$(sha256sum <keep.qcow2)" = "$before" ] && ok || bad "a refused write changed a dirty image"

# Dirty bit with right counts (nothing but the mark to repair), and a corrupt
# mark on a consistent image: --repair all clears both, as qemu-img check -r
# all does.
rm -f xd.qcow2 xd.data
qemu-img create -q -f qcow2 -o lazy_refcounts=on,data_file=xd.data xd.qcow2 1M
qemu-io -c "write -P 7 0 4k" -c flush -c abort xd.qcow2 >/dev/null 2>&1
bits() { python3 -c 'import struct,sys; print(struct.unpack(">Q", open(sys.argv[1],"rb").read(80)[72:80])[0])' "$1"; }
[ "$(bits xd.qcow2)" = 5 ] && ok || bad "fixture: incompatible bits $(bits xd.qcow2), want dirty + data file"
$q check --repair all xd.qcow2 >out 2>&1 && ok || bad "--repair all of a dirty image with right counts: $(cat out)"
[ "$(bits xd.qcow2)" = 4 ] && ok || bad "--repair all left incompatible bits $(bits xd.qcow2)"
qemu-img check xd.qcow2 >/dev/null 2>&1 && ok || bad "qemu-img check after clearing the dirty bit"
qemu-img create -q -f qcow2 cm.qcow2 1M
qemu-io -c "write -P 8 0 64k" cm.qcow2 >/dev/null
python3 -c 'import struct,sys; f=open(sys.argv[1],"r+b"); f.seek(72); f.write(struct.pack(">Q", 2))' cm.qcow2
$q write cm.qcow2 --offset 0 --input in.bin 2>/dev/null && bad "a write into an image marked corrupt" || ok
$q check --repair all cm.qcow2 >out 2>&1 && ok || bad "--repair all of a consistent image marked corrupt: $(cat out)"
[ "$(bits cm.qcow2)" = 0 ] && ok || bad "--repair all left incompatible bits $(bits cm.qcow2)"
qemu-img info --output=json cm.qcow2 | grep -q '"corrupt": false' && ok || bad "qemu-img still sees the corrupt mark"

# Faults that are not counts: refused, nothing written.
for f in rc/n_rc_max_references.qcow2 rc/n_rc_table_entry_reserved.qcow2; do
  cp "$v/$f" x.qcow2
  before=$(sha256sum <x.qcow2)
  $q check --repair all x.qcow2 >out 2>err
  rc=$?
  [ "$rc" = 1 ] && grep -q "QX.CHECK.repair_rebuild" err && ok || bad "$f: --repair all gave exit $rc: $(cat err)"
  [ "$(sha256sum <x.qcow2)" = "$before" ] && ok || bad "$f: a refused repair changed the image"
done

echo "repair_interop_test: $pass passed, $fails failed"
[ "$fails" = 0 ]
