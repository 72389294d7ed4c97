#!/usr/bin/env bash
# Test roles: writer
# qcow2ref bitmap add|remove|clear|enable|disable|merge|list, judged by QEMU
# itself: after each command `qemu-img info --output=json` must list the
# expected names, flags (auto, in-use) and granularities, `qemu-img check`
# and our checker must call the image clean, and the dirty bits QEMU exports
# (`qemu-nbd -B NAME` read by `nbdinfo --map=qemu:dirty-bitmap:NAME`, on a
# unix socket in a short temp dir) must be what the command means: a new
# bitmap is empty and then records our writes, clear empties, merge ORs the
# source into the target, a disabled bitmap records nothing. qemu-made
# bitmaps are edited by us and ours by `qemu-img bitmap`; the first bitmap
# adds the extension (backing name kept), the last one removed drops it and
# autoclear bit 0. Refusals (duplicate or unknown name, bad granularity or
# name, version 2, a bitmap in use) exit 1, 2 or 3 with their clause and
# leave the image's sha256 unchanged.
# Clauses: QCOW2_SPEC("QX.WRITE.bitmap_edit_order") QCOW2_SPEC("QX.WRITE.bitmap_add")
# QCOW2_SPEC("QX.WRITE.bitmap_names") QCOW2_SPEC("QX.WRITE.bitmap_clear_merge")
# QCOW2_SPEC("QX.WRITE.bitmap_in_use_refused") QCOW2_SPEC("QX.CLI.bitmap_list_read_only")
# Fails (does not skip) when a judge is missing: tools/setup.sh installs them.
set -uo pipefail
q=${QCOW2REF:-$PWD/tools/qcow2ref/qcow2ref}
tmp=${TEST_TMPDIR:-$(mktemp -d)}
for tool in qemu-img qemu-io qemu-nbd nbdinfo; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is not installed (bash tools/setup.sh installs it)"
    echo "bitmap_cmd_test: 0 passed, 1 failed"
    exit 1
  fi
done
# shellcheck source=tools/qcow2ref/nbd_dirty.sh
source "$PWD/tools/qcow2ref/nbd_dirty.sh"
cd "$tmp" || exit 1
pass=0
fails=0
ok() { pass=$((pass + 1)); }
bad() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

# expect_dirty IMAGE BITMAP WANT (newline-separated "start length", or "").
expect_dirty() {
  local got
  got=$(nbd_dirty "$1" "$2")
  [ "$got" = "$3" ] && ok || bad "$1 bitmap $2: QEMU exports [$got], want [$3]"
}
# bitmaps IMAGE: "name granularity flags,..." per bitmap, as qemu-img info sees them.
bitmaps() {
  qemu-img info --output=json "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)["format-specific"]["data"]
for b in d.get("bitmaps", []):
    print(b["name"], b["granularity"], ",".join(b["flags"]) or "-")'
}
expect_bitmaps() {
  local got
  got=$(bitmaps "$1")
  [ "$got" = "$2" ] && ok || bad "$1: qemu-img info bitmaps [$got], want [$2]"
}
clean() {
  qemu-img check "$1" >out 2>&1 && ok || bad "$1: qemu-img check: $(head -c 400 out)"
  $q check "$1" >out 2>&1 && ok || bad "$1: qcow2ref check: $(head -c 400 out)"
}
run() { "$@" 2>err && ok || bad "$*: exit $?: $(cat err)"; }
# refused RC CLAUSE IMAGE ARGS...: exit RC, the clause on stderr, bytes unchanged.
refused() {
  local want=$1 clause=$2 img=$3 before rc
  shift 3
  before=$(sha256sum <"$img")
  "$q" "$@" 2>err
  rc=$?
  [ "$rc" = "$want" ] && grep -q "^qcow2ref: $clause: " err && ok ||
    bad "$*: exit $rc (want $want, $clause): $(cat err)"
  [ "$(sha256sum <"$img")" = "$before" ] && ok || bad "$*: a refused command changed the image"
}
autoclear() { od -An -tx1 -j95 -N1 "$1" | tr -d ' '; }

M=$((1 << 20))
head -c 70000 /dev/urandom >w.bin

# --- add: qemu-img's default granularity (cluster size clamped to 4K..64K).
for cs in 512 65536 2M; do
  qemu-img create -q -f qcow2 -o cluster_size=$cs g$cs.qcow2 8M
  run $q bitmap add g$cs.qcow2 d
done
expect_bitmaps g512.qcow2 "d 4096 auto"
expect_bitmaps g65536.qcow2 "d 65536 auto"
expect_bitmaps g2M.qcow2 "d 65536 auto"
[ "$(autoclear g512.qcow2)" = 01 ] && ok || bad "autoclear bit 0 not set by the first add"
clean g512.qcow2
clean g2M.qcow2

# --- add, then our writes are recorded; a disabled one records nothing.
qemu-img create -q -f qcow2 a.qcow2 16M
run $q bitmap add a.qcow2 b1
run $q bitmap add a.qcow2 b2 --granularity 512 --disable
run $q bitmap add a.qcow2 b3 --granularity 2M
expect_bitmaps a.qcow2 "b1 65536 auto
b2 512 -
b3 2097152 auto"
clean a.qcow2
expect_dirty a.qcow2 b1 ""
run $q write a.qcow2 --offset $((M + 100)) --input w.bin
expect_dirty a.qcow2 b1 "$((M)) 131072"
expect_dirty a.qcow2 b3 "0 $((2 * M))"
expect_dirty a.qcow2 b2 ""
# list: the reader's view, the same names, granularities and flags.
$q bitmap list a.qcow2 >list.txt 2>err && ok || bad "bitmap list: $(cat err)"
[ "$(awk 'NR > 1 {print $1, $2, $3}' list.txt)" = "$(bitmaps a.qcow2)" ] && ok ||
  bad "bitmap list: $(cat list.txt)"

# --- merge: b1 (64K granules) into the disabled b2 (512 B granules).
run $q bitmap merge a.qcow2 b2 --source b1
expect_dirty a.qcow2 b2 "$((M)) 131072"
expect_bitmaps a.qcow2 "b1 65536 auto
b2 512 -
b3 2097152 auto"
clean a.qcow2
# merge ORs: b2 keeps its bits and gains b3's.
run $q bitmap merge a.qcow2 b2 --source b3
expect_dirty a.qcow2 b2 "0 $((2 * M))"

# --- clear empties only the named bitmap.
run $q bitmap clear a.qcow2 b1
expect_dirty a.qcow2 b1 ""
expect_dirty a.qcow2 b2 "0 $((2 * M))"
clean a.qcow2

# --- disable stops recording, enable starts it again.
run $q bitmap disable a.qcow2 b1
expect_bitmaps a.qcow2 "b1 65536 -
b2 512 -
b3 2097152 auto"
run $q write a.qcow2 --offset $((4 * M)) --input w.bin
expect_dirty a.qcow2 b1 ""
run $q bitmap enable a.qcow2 b1
expect_bitmaps a.qcow2 "b1 65536 auto
b2 512 -
b3 2097152 auto"
run $q write a.qcow2 --offset $((8 * M)) --input w.bin
expect_dirty a.qcow2 b1 "$((8 * M)) 131072"
# QEMU writes into bitmaps we made and edited.
qemu-io -c "write -P 0x33 $((12 * M)) 4k" a.qcow2 >/dev/null 2>&1 && ok || bad "qemu-io write"
expect_dirty a.qcow2 b1 "$((8 * M)) 131072
$((12 * M)) 65536"
clean a.qcow2

# --- remove, down to the last: the extension and autoclear bit 0 go.
run $q bitmap remove a.qcow2 b2
expect_bitmaps a.qcow2 "b1 65536 auto
b3 2097152 auto"
clean a.qcow2
run $q bitmap remove a.qcow2 b1
run $q bitmap remove a.qcow2 b3
expect_bitmaps a.qcow2 ""
[ "$(autoclear a.qcow2)" = 00 ] && ok || bad "autoclear bit 0 left set after the last remove"
clean a.qcow2
qemu-img bitmap --add a.qcow2 again && ok || bad "qemu-img cannot add after our last remove"
clean a.qcow2

# --- qemu-made bitmaps edited by us.
qemu-img create -q -f qcow2 qm.qcow2 4M
qemu-img bitmap --add qm.qcow2 qa
qemu-img bitmap --add -g 4096 --disable qm.qcow2 qd
qemu-io -c "write -P 0x44 64k 8k" qm.qcow2 >/dev/null 2>&1
expect_dirty qm.qcow2 qa "65536 65536"
run $q bitmap merge qm.qcow2 qd --source qa
expect_dirty qm.qcow2 qd "65536 65536"
run $q bitmap clear qm.qcow2 qa
expect_dirty qm.qcow2 qa ""
run $q bitmap enable qm.qcow2 qd
run $q bitmap add qm.qcow2 ours --granularity 8192
run $q bitmap remove qm.qcow2 qa
expect_bitmaps qm.qcow2 "qd 4096 auto
ours 8192 auto"
clean qm.qcow2
qemu-io -c "write -P 0x45 1m 4k" qm.qcow2 >/dev/null 2>&1
expect_dirty qm.qcow2 ours "$((M)) 8192"
expect_dirty qm.qcow2 qd "65536 65536
$((M)) 4096"

# --- ours edited by qemu-img bitmap.
qemu-img create -q -f qcow2 ou.qcow2 4M
run $q bitmap add ou.qcow2 x --granularity 4096
run $q write ou.qcow2 --offset 8192 --input w.bin
qemu-img bitmap --add ou.qcow2 y && ok || bad "qemu-img bitmap --add"
qemu-img bitmap --merge x ou.qcow2 y && ok || bad "qemu-img bitmap --merge"
expect_dirty ou.qcow2 y "0 131072"
qemu-img bitmap --disable ou.qcow2 x && ok || bad "qemu-img bitmap --disable"
qemu-img bitmap --clear ou.qcow2 y && ok || bad "qemu-img bitmap --clear"
expect_dirty ou.qcow2 y ""
expect_dirty ou.qcow2 x "8192 73728"
qemu-img bitmap --remove ou.qcow2 x && ok || bad "qemu-img bitmap --remove"
expect_bitmaps ou.qcow2 "y 65536 auto"
clean ou.qcow2

# --- the first bitmap moves the backing name; the chain still reads.
qemu-img create -q -f qcow2 base.qcow2 4M
qemu-io -c "write -P 0x55 0 64k" base.qcow2 >/dev/null 2>&1
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2
run $q bitmap add ov.qcow2 bk
expect_bitmaps ov.qcow2 "bk 65536 auto"
[ "$(qemu-img info --output=json ov.qcow2 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["backing-filename"], d["backing-filename-format"])')" = "base.qcow2 qcow2" ] &&
  ok || bad "the backing name or format changed"
qemu-img compare ov.qcow2 base.qcow2 >/dev/null 2>&1 && ok || bad "overlay content changed"
clean ov.qcow2
run $q bitmap remove ov.qcow2 bk
qemu-img compare ov.qcow2 base.qcow2 >/dev/null 2>&1 && ok || bad "overlay content changed after remove"
clean ov.qcow2

# --- refusals: clause, exit code, bytes unchanged.
qemu-img create -q -f qcow2 r.qcow2 4M
qemu-img bitmap --add r.qcow2 have
refused 1 QX.WRITE.bitmap_names r.qcow2 bitmap add r.qcow2 have
refused 1 QX.WRITE.bitmap_names r.qcow2 bitmap remove r.qcow2 none
refused 1 QX.WRITE.bitmap_names r.qcow2 bitmap clear r.qcow2 none
refused 1 QX.WRITE.bitmap_names r.qcow2 bitmap enable r.qcow2 none
refused 1 QX.WRITE.bitmap_names r.qcow2 bitmap merge r.qcow2 have --source none
refused 1 QX.WRITE.bitmap_names r.qcow2 bitmap merge r.qcow2 none --source have
for g in 256 3000 4G 0; do
  refused 3 Q2.BM.granularity r.qcow2 bitmap add r.qcow2 new --granularity $g
done
refused 3 Q2.BM.name_size r.qcow2 bitmap add r.qcow2 ""
refused 3 Q2.BM.name_size r.qcow2 bitmap add r.qcow2 "$(printf 'n%.0s' {1..1024})"
run $q bitmap add r.qcow2 "$(printf 'n%.0s' {1..1023})"
qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 4M
refused 2 QX.WRITE.bitmap_add v2.qcow2 bitmap add v2.qcow2 b
# A bitmap flagged in use (as a crash leaves it): only remove is allowed.
qemu-img create -q -f qcow2 iu.qcow2 4M
qemu-img bitmap --add iu.qcow2 u
qemu-img bitmap --add iu.qcow2 v
python3 - iu.qcow2 <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    h = f.read(65536)
    at = struct.unpack(">I", h[100:104])[0]
    while True:
        t, n = struct.unpack(">II", h[at:at + 8])
        if t == 0x23852875:
            d = struct.unpack(">Q", h[at + 24:at + 32])[0]
            break
        at += 8 + (n + 7) // 8 * 8
    f.seek(d + 12)
    flags = struct.unpack(">I", f.read(4))[0]
    f.seek(d + 12)
    f.write(struct.pack(">I", flags | 1))
PY
expect_bitmaps iu.qcow2 "u 65536 in-use,auto
v 65536 auto"
refused 1 QX.WRITE.bitmap_in_use_refused iu.qcow2 bitmap clear iu.qcow2 u
refused 1 QX.WRITE.bitmap_in_use_refused iu.qcow2 bitmap disable iu.qcow2 u
refused 1 QX.WRITE.bitmap_in_use_refused iu.qcow2 bitmap merge iu.qcow2 v --source u
run $q bitmap remove iu.qcow2 u
expect_bitmaps iu.qcow2 "v 65536 auto"
qemu-img check iu.qcow2 >out 2>&1 && ok || bad "iu.qcow2: qemu-img check: $(head -c 400 out)"

# --- LUKS: bitmaps are metadata; qemu-img keeps them on encrypted images.
printf 'pw' >pw
$q create l.qcow2 --size 4M --encrypt luks --luks-iterations 1000 --secret-file pw 2>err || bad "create luks: $(cat err)"
refused 3 Q2.ENC.payload l.qcow2 bitmap add l.qcow2 e
run $q bitmap add l.qcow2 e --secret-file pw
expect_bitmaps l.qcow2 "e 65536 auto"
$q check l.qcow2 --secret-file pw >out 2>&1 && ok || bad "l.qcow2: qcow2ref check: $(head -c 400 out)"
qemu-img check --object secret,id=s0,file=pw --image-opts \
  driver=qcow2,file.filename=l.qcow2,encrypt.key-secret=s0 >out 2>&1 && ok || bad "l.qcow2: qemu-img check: $(head -c 400 out)"

echo "bitmap_cmd_test: $pass passed, $fails failed"
[ "$fails" = 0 ]
