#!/usr/bin/env bash
# Test roles: writer
# No write into an unsound image (QX.WRITE.sound_before_write). Images made
# by qemu-img/qemu-io are edited so that an L2 entry names the refcount
# block, the L1 table or its own L2 table, an L1 entry is unaligned, or an L2
# table lies inside the LUKS key-slot area. Every writing command (write,
# zero, discard, compressed write, snapshot create, luks add-key) must exit 1
# naming the clause, with the image's bytes unchanged (sha256). The
# independent judge: qemu-io refuses the same data write on a copy
# ("Preventing invalid write on metadata" / an I/O error), and `qemu-img
# check` reports the edited image as corrupt.
# Clauses: QCOW2_SPEC("QX.WRITE.sound_before_write") QCOW2_SPEC("QX.CHECK.overlap")
# Fails (does not skip) when qemu-img is missing: tools/setup.sh installs it.
set -uo pipefail
q=$PWD/tools/qcow2ref/qcow2ref
tmp=${TEST_TMPDIR:-$(mktemp -d)}
if ! command -v qemu-img >/dev/null || ! command -v qemu-io >/dev/null; then
  echo "FAIL: qemu-img/qemu-io are not installed (bash tools/setup.sh installs them)"
  echo "unsound_write_test: 0 passed, 1 failed"
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
printf 'unsound-pass' >pw
head -c 70000 /dev/urandom >data.bin
printf 'qcow2ref\n%.0s' {1..20000} >text.bin

# edit IMAGE WHAT: rewrites one table entry (python3, big-endian fields as
# the qcow2 header lays them out).
edit() {
  python3 - "$1" "$2" <<'PY'
import struct, sys
path, what = sys.argv[1], sys.argv[2]
with open(path, "r+b") as f:
    h = f.read(4096)
    l1 = struct.unpack(">Q", h[40:48])[0]
    rt = struct.unpack(">Q", h[48:56])[0]
    f.seek(l1)
    l1e = struct.unpack(">Q", f.read(8))[0]
    l2 = l1e & 0x00FFFFFFFFFFFE00
    f.seek(rt)
    block = struct.unpack(">Q", f.read(8))[0]
    copied = 1 << 63
    if what == "l2_names_refblock":
        f.seek(l2); f.write(struct.pack(">Q", copied | block))
    elif what == "l2_names_l1":
        f.seek(l2); f.write(struct.pack(">Q", copied | l1))
    elif what == "l2_names_itself":
        f.seek(l2); f.write(struct.pack(">Q", copied | l2))
    elif what == "l1_unaligned":
        f.seek(l1); f.write(struct.pack(">Q", l1e + 512))
    elif what == "l2_in_luks_area":
        # The FDE header pointer extension (0x0537be77) names the area.
        hl = struct.unpack(">I", h[100:104])[0]
        at = hl
        while True:
            t, n = struct.unpack(">II", h[at:at + 8])
            if t == 0x0537BE77:
                area = struct.unpack(">Q", h[at + 8:at + 16])[0]
                break
            if t == 0:
                sys.exit("no FDE extension")
            at += 8 + (n + 7) // 8 * 8
        f.seek(l1); f.write(struct.pack(">Q", copied | area))
    else:
        sys.exit("unknown edit " + what)
PY
}

# refused NAME IMAGE [SECRET...]: every writing command is refused, bytes kept.
refused() {
  local name=$1 img=$2
  shift 2
  local before ops op rc
  before=$(sha256sum <"$img")
  ops=("write $img --offset 0 --input data.bin" "zero $img --offset 0 --length 4096"
    "discard $img --offset 65536 --length 65536" "snapshot create $img s1")
  if [ $# = 0 ]; then
    ops+=("write $img --offset 0 --input text.bin --compress")
  else
    ops+=("luks add-key $img --secret-file pw --new-secret-file pw")
  fi
  for op in "${ops[@]}"; do
    # shellcheck disable=SC2086
    $q $op "$@" >out 2>err
    rc=$?
    if [ "$rc" = 1 ] && grep -q "QX.WRITE.sound_before_write" err && [ "$(wc -l <err)" = 1 ]; then
      ok
    else
      bad "$name: '$op' gave exit $rc: $(cat err)"
    fi
    [ "$(sha256sum <"$img")" = "$before" ] && ok || bad "$name: '$op' changed the image"
  done
}

# Plain images: the judge is qemu-io's own refusal on a copy.
for what in l2_names_refblock l2_names_l1 l2_names_itself l1_unaligned; do
  rm -f "$what.qcow2"
  qemu-img create -q -f qcow2 -o cluster_size=64k "$what.qcow2" 4M
  qemu-io -c "write -P 0x5a 0 64k" "$what.qcow2" >/dev/null
  edit "$what.qcow2" "$what" || bad "$what: edit failed"
  if qemu-img check "$what.qcow2" >/dev/null 2>&1; then
    bad "$what: qemu-img check calls the edited image clean"
  else
    ok
  fi
  cp "$what.qcow2" judge.qcow2
  out=$(qemu-io -c "write -P 0x77 0 4k" judge.qcow2 2>&1)
  if grep -qiE "error|invalid|corrupt|prevent" <<<"$out"; then ok; else bad "$what: qemu-io wrote: $out"; fi
  refused "$what" "$what.qcow2"
done

# LUKS: an L2 table inside the key-slot area.
for try in 1 2 3 4 5; do
  rm -f luks.qcow2
  qemu-img create -q -f qcow2 --object secret,id=s0,file=pw \
    -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10,cluster_size=64k \
    luks.qcow2 4M 2>/dev/null && break
done
qemu-io --object secret,id=s0,file=pw --image-opts \
  "driver=qcow2,encrypt.key-secret=s0,file.filename=luks.qcow2" -c "write -P 0x5a 0 64k" >/dev/null
edit luks.qcow2 l2_in_luks_area || bad "luks: edit failed"
refused "l2_in_luks_area" luks.qcow2 --secret-file pw

# A sound image is still written (the proof does not refuse everything).
qemu-img create -q -f qcow2 sound.qcow2 4M
$q write sound.qcow2 --offset 0 --input data.bin 2>err && ok || bad "sound image refused: $(cat err)"
qemu-img check sound.qcow2 >/dev/null 2>&1 && ok || bad "sound image: qemu-img check after our write"

echo "unsound_write_test: $pass passed, $fails failed"
[ "$fails" = 0 ]
