#!/usr/bin/env bash
# Test roles: writer
# Persistent dirty bitmaps kept by qcow2ref, judged by QEMU itself
# (QX.WRITE.bitmaps_kept, QX.WRITE.enabled_bitmap_refused): images with
# bitmaps made by qemu-img (granularity 512 B, 64 KiB, 2 MiB; one disabled)
# and written by qemu-io are then written, zeroed, discarded and compressed
# into by qcow2ref. The dirty bits QEMU exports for each bitmap
# (`qemu-nbd -B NAME` read by `nbdinfo --map=qemu:dirty-bitmap:NAME`, a
# qemu-nbd on a unix socket in the test's temp dir) must be exactly the
# granules that the script's own list of writes touches; the disabled bitmap
# stays clean; `qemu-img info` shows no bitmap left in use and
# `qemu-img check` is clean. A bitmap flagged in use (a writer died with it
# open) stops guest changes, bytes unchanged; snapshot apply is refused
# while a bitmap is enabled, as qemu-img refuses it.
# Clauses: QCOW2_SPEC("QX.WRITE.bitmaps_kept") QCOW2_SPEC("QX.WRITE.enabled_bitmap_refused")
# Fails (does not skip) when a judge is missing: tools/setup.sh installs them.
set -uo pipefail
q=$PWD/tools/qcow2ref/qcow2ref
tmp=${TEST_TMPDIR:-$(mktemp -d)}
for tool in qemu-img qemu-io qemu-nbd nbdinfo; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is not installed (bash tools/setup.sh installs it)"
    echo "bitmap_interop_test: 0 passed, 1 failed"
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


# expected GRANULARITY SIZE RANGES...: the dirty extents the ranges
# ("start:length") make at that granularity, merged as nbdinfo prints them.
expected() {
  python3 - "$@" <<'PY'
import sys
g, size = int(sys.argv[1]), int(sys.argv[2])
bits = set()
for r in sys.argv[3:]:
    s, n = (int(x) for x in r.split(":"))
    e = min(s + n, size)
    bits.update(range(s // g, (e - 1) // g + 1))
out, run = [], None
for k in sorted(bits):
    if run and run[1] == k:
        run[1] = k + 1
    else:
        if run: out.append(run)
        run = [k, k + 1]
if run: out.append(run)
for a, b in out:
    print(a * g, min(b * g, size) - a * g)
PY
}

size=$((8 << 20))
rm -f bm.qcow2
qemu-img create -q -f qcow2 bm.qcow2 "$size"
qemu-img bitmap --add -g 512 bm.qcow2 fine
qemu-img bitmap --add bm.qcow2 mid
qemu-img bitmap --add -g 2M bm.qcow2 coarse
qemu-img bitmap --add --disable bm.qcow2 off
qemu-io -c "write -P 0x11 100k 10k" bm.qcow2 >/dev/null
ranges=(102400:10240)
head -c 70001 /dev/urandom >w.bin
printf 'qcow2ref compressible %.0s' {1..8000} | head -c 131072 >c.bin
$q write bm.qcow2 --offset 1000000 --input w.bin 2>err && ok || bad "write: $(cat err)"
ranges+=(1000000:70001)
$q zero bm.qcow2 --offset 3000000 --length 1000 2>err && ok || bad "zero: $(cat err)"
ranges+=(3000000:1000)
$q discard bm.qcow2 --offset $((5 << 20)) --length 65536 2>err && ok || bad "discard: $(cat err)"
ranges+=($((5 << 20)):65536)
$q write bm.qcow2 --offset $((7 << 20)) --input c.bin --compress 2>err && ok || bad "compressed write: $(cat err)"
ranges+=($((7 << 20)):131072)
# The last byte of the disk, through a partial last granule of the coarse one.
printf 'z' >z.bin
$q write bm.qcow2 --offset $((size - 1)) --input z.bin 2>err && ok || bad "write at the end: $(cat err)"
ranges+=($((size - 1)):1)

for spec in fine:512 mid:65536 coarse:2097152; do
  name=${spec%%:*} g=${spec##*:}
  got=$(nbd_dirty bm.qcow2 "$name")
  want=$(expected "$g" "$size" "${ranges[@]}")
  [ "$got" = "$want" ] && ok || bad "bitmap $name: QEMU exports
$got
want
$want"
done
[ -z "$(nbd_dirty bm.qcow2 off)" ] && ok || bad "the disabled bitmap got dirty bits"
qemu-img check bm.qcow2 >out 2>&1 && ok || bad "qemu-img check: $(head -c 400 out)"
$q check bm.qcow2 >out 2>&1 && ok || bad "qcow2ref check: $(head -c 400 out)"
qemu-img info --output=json bm.qcow2 | python3 -c '
import json, sys
b = {x["name"]: x["flags"] for x in json.load(sys.stdin)["format-specific"]["data"]["bitmaps"]}
want = {"fine": ["auto"], "mid": ["auto"], "coarse": ["auto"], "off": []}
sys.exit(0 if b == want else "flags: %r" % b)' 2>err && ok || bad "bitmap flags after our writes: $(cat err)"
# QEMU writes on top of ours, and reads back all data as written.
qemu-io -c "write -P 0x22 6M 4k" bm.qcow2 >/dev/null 2>&1 && ok || bad "qemu-io cannot write after us"
ranges+=($((6 << 20)):4096)
got=$(nbd_dirty bm.qcow2 mid)
[ "$got" = "$(expected 65536 "$size" "${ranges[@]}")" ] && ok || bad "bitmap mid after qemu-io: $got"

# Snapshot apply with an enabled bitmap: refused, as qemu-img refuses it.
qemu-img create -q -f qcow2 sn.qcow2 1M
qemu-img snapshot -c s1 sn.qcow2
qemu-img bitmap --add sn.qcow2 b
before=$(sha256sum <sn.qcow2)
$q snapshot apply sn.qcow2 s1 2>err
rc=$?
[ "$rc" = 2 ] && grep -q QX.WRITE.enabled_bitmap_refused err && ok || bad "snapshot apply with a bitmap: exit $rc: $(cat err)"
[ "$(sha256sum <sn.qcow2)" = "$before" ] && ok || bad "a refused snapshot apply changed the image"

# A bitmap left in use (flag set, as a crash leaves it): guest changes refused.
cp bm.qcow2 inuse.qcow2
python3 - inuse.qcow2 <<'PY'
import struct, sys
p = sys.argv[1]
with open(p, "r+b") as f:
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
before=$(sha256sum <inuse.qcow2)
$q write inuse.qcow2 --offset 0 --input z.bin 2>err
rc=$?
[ "$rc" = 2 ] && grep -q QX.WRITE.enabled_bitmap_refused err && ok || bad "in-use bitmap: exit $rc: $(cat err)"
[ "$(sha256sum <inuse.qcow2)" = "$before" ] && ok || bad "a refused write changed an image with an in-use bitmap"

echo "bitmap_interop_test: $pass passed, $fails failed"
[ "$fails" = 0 ]
