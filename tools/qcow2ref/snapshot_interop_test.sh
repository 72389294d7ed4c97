#!/usr/bin/env bash
# Test roles: writer, reader
# Internal snapshots interoperate both ways, judged by QEMU.
#  1. Ours -> qemu: snapshots created, deleted and applied by qcow2ref (plain,
#     v2, 4 KiB clusters, LUKS) are listed by `qemu-img snapshot -l`, the
#     image checks clean with `qemu-img check`, and each snapshot's content
#     read by `qemu-img convert -l snapshot.name=N` equals the bytes written
#     before it was taken (the expectation is kept by this script, not read
#     back through qcow2ref).
#  2. qemu -> ours: 12 snapshots made by `qemu-img snapshot -c` between
#     qemu-io writes (the table written last, so its padding is past EOF:
#     errata #27) are listed and read by qcow2ref as qemu-img reads them, and
#     qcow2ref's delete and apply leave an image qemu-img checks clean and
#     reads as expected.
# Clauses: QCOW2_SPEC("Q2.SNAP.table_bounds") QCOW2_SPEC("Q2.SNAP.entry_layout")
#          QCOW2_SPEC("QX.WRITE.cow_l2") QCOW2_SPEC("Q2.SNAP.extra_v3_unenforced")
# Fails (does not skip) when qemu-img is missing: tools/setup.sh installs it.
set -uo pipefail
q=$PWD/tools/qcow2ref/qcow2ref
tmp=${TEST_TMPDIR:-$(mktemp -d)}
if ! command -v qemu-img >/dev/null || ! command -v qemu-io >/dev/null; then
  echo "FAIL: qemu-img/qemu-io are not installed (bash tools/setup.sh installs them)"
  echo "snapshot_interop_test: 0 passed, 1 failed"
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
printf 'snap-pass' >pw

# model FILE OFFSET INPUT: applies a write to the expected disk FILE.
model() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, off, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(src, "rb").read() if src != "zero" else None
with open(path, "r+b") as f:
    if data is None:
        f.seek(off); f.write(bytes(65536))
    else:
        f.seek(off); f.write(data)
PY
}

# qemu_snapshot_raw IMAGE NAME ENCRYPTED OUT: the snapshot as qemu-img reads it.
qemu_snapshot_raw() {
  if [ "$3" = 1 ]; then
    qemu-img convert --object secret,id=s0,file=pw -l "snapshot.name=$2" --image-opts \
      "driver=qcow2,encrypt.key-secret=s0,file.filename=$1" -O raw "$4"
  else
    qemu-img convert -l "snapshot.name=$2" -f qcow2 -O raw "$1" "$4"
  fi
}

qemu_check() {
  if [ "$2" = 1 ]; then
    qemu-img check --object secret,id=s0,file=pw --image-opts \
      "driver=qcow2,encrypt.key-secret=s0,file.filename=$1"
  else
    qemu-img check "$1"
  fi
}

qemu_names() {  # qemu_names IMAGE [ENCRYPTED]
  if [ "${2:-0}" = 1 ]; then
    qemu-img snapshot --object secret,id=s0,file=pw -l --image-opts \
      "driver=qcow2,encrypt.key-secret=s0,file.filename=$1"
  else
    qemu-img snapshot -l "$1"
  fi 2>/dev/null | awk 'NR > 2 {print $2}' | tr '\n' ' '
}

# 1. Ours -> qemu.
ours_case() {  # ours_case NAME ENCRYPTED [create options...]
  local name=$1 enc=$2 s=""
  shift 2
  [ "$enc" = 1 ] && s="--secret-file pw"
  rm -f "$name.qcow2" want*.raw
  # shellcheck disable=SC2086
  $q create "$name.qcow2" --size 4M "$@" $s 2>err || {
    bad "$name: create: $(cat err)"
    return
  }
  truncate -s 4M want.raw
  local i
  for i in 1 2 3; do
    head -c $((30000 * i + 777)) /dev/urandom >in.bin
    local off=$(((i * 1234567) % 3000000))
    # shellcheck disable=SC2086
    $q write "$name.qcow2" --offset "$off" --input in.bin $s 2>err || bad "$name: write: $(cat err)"
    model want.raw "$off" in.bin
    # shellcheck disable=SC2086
    $q snapshot create "$name.qcow2" "snap$i" $s 2>err || bad "$name: snapshot create: $(cat err)"
    cp want.raw "want$i.raw"
  done
  # shellcheck disable=SC2086
  $q zero "$name.qcow2" --offset 0 --length 64k $s 2>err || bad "$name: zero: $(cat err)"
  model want.raw 0 zero
  [ "$(qemu_names "$name.qcow2" "$enc")" = "snap1 snap2 snap3 " ] && ok || bad "$name: qemu-img snapshot -l: $(qemu_names "$name.qcow2" "$enc")"
  # Extra data as the clause's resolution says our writer writes it: 24
  # bytes (VM state size 0, the disk size, icount -1: no record/replay count
  # is known offline), in v2 images too, as qemu-img snapshot -c does.
  python3 - "$name.qcow2" <<'PY' && ok || bad "$name: snapshot extra data"
import struct, sys
img = open(sys.argv[1], "rb").read()
count, pos = struct.unpack(">IQ", img[60:72])
for _ in range(count):
    id_len, name_len = struct.unpack(">HH", img[pos + 12:pos + 16])
    extra = struct.unpack(">I", img[pos + 36:pos + 40])[0]
    if extra != 24:
        sys.exit("extra data size %d, want 24" % extra)
    vm_large, disk, icount = struct.unpack(">QQq", img[pos + 40:pos + 64])
    if (vm_large, disk, icount) != (0, 4 << 20, -1):
        sys.exit("extra data %r" % ((vm_large, disk, icount),))
    pos += (40 + extra + id_len + name_len + 7) // 8 * 8
PY
  qemu_check "$name.qcow2" "$enc" >out 2>&1 && ok || bad "$name: qemu-img check: $(head -c 300 out)"
  for i in 1 2 3; do
    qemu_snapshot_raw "$name.qcow2" "snap$i" "$enc" got.raw 2>err && cmp -s got.raw "want$i.raw" && ok ||
      bad "$name: snapshot snap$i as qemu-img reads it differs from what was written: $(cat err)"
  done
  # shellcheck disable=SC2086
  $q snapshot delete "$name.qcow2" snap2 $s 2>err || bad "$name: delete: $(cat err)"
  [ "$(qemu_names "$name.qcow2" "$enc")" = "snap1 snap3 " ] && ok || bad "$name: after delete: $(qemu_names "$name.qcow2" "$enc")"
  qemu_check "$name.qcow2" "$enc" >out 2>&1 && ok || bad "$name: qemu-img check after delete: $(head -c 300 out)"
  # shellcheck disable=SC2086
  $q snapshot apply "$name.qcow2" snap1 $s 2>err || bad "$name: apply: $(cat err)"
  qemu_check "$name.qcow2" "$enc" >out 2>&1 && ok || bad "$name: qemu-img check after apply: $(head -c 300 out)"
  if [ "$enc" = 1 ]; then
    qemu-img convert --object secret,id=s0,file=pw --image-opts \
      "driver=qcow2,encrypt.key-secret=s0,file.filename=$name.qcow2" -O raw got.raw
  else
    qemu-img convert -f qcow2 -O raw "$name.qcow2" got.raw
  fi
  cmp -s got.raw want1.raw && ok || bad "$name: after apply qemu-img reads other bytes than snap1 held"
  qemu_snapshot_raw "$name.qcow2" snap3 "$enc" got.raw 2>/dev/null && cmp -s got.raw want3.raw && ok ||
    bad "$name: snap3 changed by delete/apply"
}

ours_case plain 0
ours_case v2 0 --version 2
ours_case c4k 0 --cluster-size 4k
ours_case luks 1 --encrypt luks --luks-iterations 1000

# 2. qemu -> ours.
rm -f qs.qcow2 want.raw
qemu-img create -q -f qcow2 qs.qcow2 4M
truncate -s 4M want.raw
for i in $(seq 1 12); do
  qemu-io -c "write -P $((i + 16)) $((i * 200000)) 70000" qs.qcow2 >/dev/null
  python3 -c "
import sys
with open('want.raw', 'r+b') as f:
    f.seek($((i * 200000))); f.write(bytes([$((i + 16))]) * 70000)"
  qemu-img snapshot -c "q$i" qs.qcow2
  cp want.raw "qwant$i.raw"
done
$q info qs.qcow2 >out 2>err && ok || bad "qemu snapshots: info refused: $(cat err)"
$q check qs.qcow2 >out 2>err && ok || bad "qemu snapshots: check: $(cat out err | head -c 300)"
[ "$($q snapshot list qs.qcow2 2>/dev/null | awk 'NR > 1 {print $2}' | tr '\n' ' ')" = "$(seq -f 'q%g' 1 12 | tr '\n' ' ')" ] && ok ||
  bad "qemu snapshots: our list: $($q snapshot list qs.qcow2 2>&1)"
for i in 1 6 12; do
  $q read qs.qcow2 --snapshot "q$i" >got.raw 2>err && cmp -s got.raw "qwant$i.raw" && ok ||
    bad "qemu snapshot q$i read differently: $(cat err)"
done
$q snapshot delete qs.qcow2 q6 2>err || bad "qemu snapshots: delete: $(cat err)"
qemu-img check qs.qcow2 >out 2>&1 && ok || bad "qemu snapshots: qemu-img check after our delete: $(head -c 300 out)"
$q snapshot apply qs.qcow2 q3 2>err || bad "qemu snapshots: apply: $(cat err)"
qemu-img check qs.qcow2 >out 2>&1 && ok || bad "qemu snapshots: qemu-img check after our apply: $(head -c 300 out)"
qemu-img convert -f qcow2 -O raw qs.qcow2 got.raw && cmp -s got.raw qwant3.raw && ok || bad "qemu snapshots: applied q3 reads differently"
qemu_snapshot_raw qs.qcow2 q12 0 got.raw && cmp -s got.raw qwant12.raw && ok || bad "qemu snapshots: q12 changed"
[ "$(qemu_names qs.qcow2 | wc -w)" = 11 ] && ok || bad "qemu snapshots: $(qemu_names qs.qcow2)"

echo "snapshot_interop_test: $pass passed, $fails failed"
[ "$fails" = 0 ]
