#!/usr/bin/env bash
# Test roles: writer
# Images written by qcow2ref, judged by peers: for every create option
# combination, `qemu-img check` is clean, `qemu-img convert -O raw` equals
# our own read and the data written, and our checker is clean; LUKS areas
# extracted with dd are accepted by `cryptsetup luksDump` and
# `cryptsetup open --test-passphrase`. Also the reverse: an image written by
# qemu-io and then modified by us (and again by qemu-io) stays consistent.
# Fails (does not skip) when qemu-img is missing: tools/setup.sh installs it.
# Clauses: QCOW2_SPEC("QX.WRITE.validate_first")
#          QCOW2_SPEC("QX.WRITE.compressed_dense")
#          QCOW2_SPEC("QX.WRITE.copy_zeros_over_backing")
#          QCOW2_SPEC("Q2.HDRV3.autoclear.unknown_ignore") QCOW2_SPEC("QX.WRITE.copy_any_length")
# Data we encrypt is read back by qemu-img and our LUKS areas are unlocked by
# cryptsetup and qemu-img for every suite below; neither would be possible
# if our writer broke the key derivation, the anti-forensic split, the key
# material or the per-sector IVs:
#   QCOW2_SPEC("L1.AF.split") QCOW2_SPEC("L1.AF.hash") QCOW2_SPEC("L1.AF.diffuse_h1")
#   QCOW2_SPEC("L1.AF.not_h2") QCOW2_SPEC("L1.MKD.digest_size") QCOW2_SPEC("L1.PBKDF2.algorithm")
#   QCOW2_SPEC("L1.PBKDF2.slot_key") QCOW2_SPEC("L1.OPS.key_material_cipher")
#   QCOW2_SPEC("L1.OPS.iv_zero_start") QCOW2_SPEC("L1.OPS.payload_master_key")
#   QCOW2_SPEC("L1.OPS.sector_size") QCOW2_SPEC("L1.OPS.cbc_per_sector")
#   QCOW2_SPEC("L1.OPS.iv_essiv") QCOW2_SPEC("QX.LUKS.essiv_cipher") (luks_cbc)
#   QCOW2_SPEC("L1.OPS.iv_plain") (luks_twofish) QCOW2_SPEC("L1.OPS.iv_plain64")
#   QCOW2_SPEC("Q2.ENC.luks.algorithms") QCOW2_SPEC("QX.ENC.sector_unit")
#   QCOW2_SPEC("Q2.ENC.aes.cbc") (aes) QCOW2_SPEC("Q2.ENC.metadata_plain") (qemu-img check)
#   QCOW2_SPEC("Q2.ENC.with_xdf") (luks_xdf: IVs from the data file's sectors)
# and qemu-img reads our compressed clusters, so their descriptors count
# sectors as QEMU does: QCOW2_SPEC("Q2.CMP.sector_count_history")
set -uo pipefail
q=$PWD/tools/qcow2ref/qcow2ref
tmp=${TEST_TMPDIR:-$(mktemp -d)}
if ! command -v qemu-img >/dev/null || ! command -v qemu-io >/dev/null; then
  echo "FAIL: qemu-img/qemu-io not installed (bash tools/setup.sh installs them)"
  echo "writer_interop_test: 0 passed, 1 failed"
  exit 1
fi
cd "$tmp"
pass=0
fails=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
printf 'interop-pass' >pw
python3 -c 'import random; random.seed(7); open("data.bin","wb").write(bytes(random.getrandbits(8) for _ in range(300000)))'
qemu-img create -q -f qcow2 base.qcow2 4M
qemu-io -c "write -P 0x42 0 4M" base.qcow2 >/dev/null

qimg_args() {  # qimg_args IMAGE ENCRYPTED
  if [ "$2" = 1 ]; then
    echo "--object secret,id=s0,file=pw --image-opts driver=qcow2,encrypt.key-secret=s0,file.filename=$1"
  else
    echo "$1"
  fi
}

case_() {  # case_ NAME [create options...]
  local name=$1
  shift
  local enc=0 s=""
  case "$*" in *--encrypt*) enc=1; s="--secret-file pw" ;; esac
  rm -f "$name".qcow2 "$name".data
  if ! $q create "$name.qcow2" --size 4M "$@" $s 2>err; then
    bad "$name: create: $(cat err)"
    return
  fi
  $q write "$name.qcow2" --offset 70000 --input data.bin $s 2>err || bad "$name: write: $(cat err)"
  $q zero "$name.qcow2" --offset 1M --length 200000 $s 2>err || bad "$name: zero: $(cat err)"
  $q discard "$name.qcow2" --offset 3M --length 65536 $s 2>err || bad "$name: discard: $(cat err)"
  # shellcheck disable=SC2046
  if qemu-img check --output=json $(qimg_args "$name.qcow2" $enc) >qc.json 2>qerr; then
    ok
  else
    bad "$name: qemu-img check: $(cat qc.json qerr | head -c 400)"
  fi
  # shellcheck disable=SC2046
  qemu-img convert -O raw $(qimg_args "$name.qcow2" $enc) qemu.raw 2>qerr || bad "$name: qemu-img convert: $(cat qerr)"
  $q read "$name.qcow2" $s >ours.raw 2>err || bad "$name: read: $(cat err)"
  if cmp -s qemu.raw ours.raw; then ok; else bad "$name: qemu-img and qcow2ref read different bytes"; fi
  python3 - "$@" <<'PY' && ok || bad "$name: content differs from what was written"
import sys
base = "--backing" in sys.argv
d = open("qemu.raw", "rb").read()
w = open("data.bin", "rb").read()
exp = bytearray(b"\x42" * (4 << 20) if base else bytes(4 << 20))
exp[70000:70000 + len(w)] = w
exp[1 << 20:(1 << 20) + 200000] = bytes(200000)
exp[3 << 20:(3 << 20) + 65536] = bytes(65536)
sys.exit(0 if d == bytes(exp) else 1)
PY
  $q check "$name.qcow2" $s >chk 2>&1 && ok || bad "$name: qcow2ref check: $(head -3 chk)"
  # cryptsetup checks AES suites only: it needs the kernel crypto API for
  # serpent, twofish and cast5, which a sandbox may not offer.
  if [ $enc = 1 ] && grep -q luks <<<"$*" && ! grep -Eq 'serpent|twofish|cast5' <<<"$*" &&
    command -v cryptsetup >/dev/null; then
    read -r off len < <($q info --json "$name.qcow2" | python3 -c 'import json,sys
d=json.load(sys.stdin)
e=[x for x in d["qcow2ref"]["extensions"] if x["name"].startswith("full disk")][0]
print(e["offset"], e["length"])')
    dd if="$name.qcow2" of=area bs=512 skip=$((off / 512)) count=$((len / 512)) status=none
    cryptsetup luksDump area >/dev/null 2>&1 && ok || bad "$name: cryptsetup luksDump refused the LUKS area"
    cryptsetup open --test-passphrase --key-file pw area 2>/dev/null && ok || bad "$name: cryptsetup rejects the passphrase"
  fi
}

case_ v3
case_ v2 --version 2
case_ c512 --cluster-size 512
case_ c2m --cluster-size 2M
for b in 1 2 4 8 32 64; do case_ rc$b --refcount-bits $b; done
case_ xl2 --extended-l2
case_ xl2c16k --extended-l2 --cluster-size 16k
case_ zstd --compression-type zstd
case_ lazy --lazy-refcounts
case_ bk --backing base.qcow2 --backing-format qcow2
case_ bkv2 --version 2 --backing base.qcow2
case_ xdf --data-file xdf.data
case_ xdfraw --data-file xdfraw.data --data-file-raw
case_ aes --encrypt aes
case_ luks --encrypt luks --luks-iterations 1000
case_ luks_cbc --encrypt luks --luks-cipher aes-128-cbc-essiv:sha256 --luks-hash sha1 --luks-iterations 1000
case_ luks_serpent --encrypt luks --luks-cipher serpent-256-xts-plain64 --luks-iterations 1000
case_ luks_twofish --encrypt luks --luks-cipher twofish-128-cbc-plain --luks-hash sha512 --luks-iterations 1000
case_ luks_cast5 --encrypt luks --luks-cipher cast5-128-ctr-plain64 --luks-hash ripemd160 --luks-iterations 1000 --cluster-size 4k
case_ luks_xl2 --encrypt luks --extended-l2 --luks-iterations 1000
case_ luks_xdf --encrypt luks --data-file luks_xdf.data --luks-iterations 1000

# Compressed writes and convert, checked by qemu-img.
python3 -c 'open("text.bin","wb").write((b"compressible " * 40330)[:524288])'
$q create cmp.qcow2 --size 4M && $q write cmp.qcow2 --offset 0 --input text.bin --compress 2>err ||
  bad "compressed write: $(cat err)"
qemu-img check cmp.qcow2 >/dev/null 2>&1 && ok || bad "qemu-img check of compressed clusters"
qemu-img map --output=json cmp.qcow2 | grep -q '"data": true' && ok || bad "compressed map"
qemu-img convert -O raw cmp.qcow2 cmp.raw && cmp -s <(head -c 524288 cmp.raw) text.bin && ok || bad "compressed content"
$q convert base.qcow2 conv.qcow2 --encrypt luks --luks-iterations 1000 --secret-file pw 2>err || bad "convert: $(cat err)"
qemu-img convert -O raw $(qimg_args conv.qcow2 1) conv.raw 2>/dev/null && qemu-img convert -O raw base.qcow2 base.raw &&
  cmp -s conv.raw base.raw && ok || bad "convert to LUKS changes content"
$q convert base.qcow2 convc.qcow2 --compress --compression-type zstd 2>err || bad "convert --compress: $(cat err)"
qemu-img check convc.qcow2 >/dev/null 2>&1 && qemu-img convert -O raw convc.qcow2 convc.raw && cmp -s convc.raw base.raw && ok ||
  bad "convert --compress zstd"
# Dense compression (QX.WRITE.compressed_dense): packed as qemu-img packs,
# so the image is at most 2% larger than `qemu-img convert -c`'s, and
# qemu-img checks and reads it identically, for text, noise, zeros and a mix.
python3 - <<'PY'
import random
r = random.Random(5)
words = [bytes(r.choice(b"abcdefghijklmnop") for _ in range(r.randint(2, 9))) for _ in range(3000)]
text = b" ".join(r.choice(words) for _ in range(2 << 20))[: 6 << 20]
noise = r.randbytes(2 << 20)
open("dense_text.raw", "wb").write(text)
open("dense_mix.raw", "wb").write(text[: 2 << 20] + noise + bytes(1 << 20) + text[-3000000:] + b"tail")
PY
for src in dense_text.raw dense_mix.raw; do
  for cs in 4k 64k 2M; do
    rm -f dense_ours.qcow2 dense_qemu.qcow2
    $q convert "$src" dense_ours.qcow2 --compress --cluster-size "$cs" 2>err || bad "dense $src $cs: $(cat err)"
    qemu-img convert -c -O qcow2 -o cluster_size="$cs" "$src" dense_qemu.qcow2
    ours=$(stat -c %s dense_ours.qcow2)
    theirs=$(stat -c %s dense_qemu.qcow2)
    [ $((ours * 100)) -le $((theirs * 102)) ] && ok || bad "dense $src $cs: $ours bytes, qemu-img convert -c $theirs"
    qemu-img check dense_ours.qcow2 >/dev/null 2>&1 && ok || bad "dense $src $cs: qemu-img check"
    qemu-img compare -f raw -F qcow2 "$src" dense_ours.qcow2 >/dev/null 2>&1 && ok || bad "dense $src $cs: content"
  done
done

# Copies over a backing file (QX.WRITE.copy_zeros_over_backing): the source's
# holes, zero bytes and zero clusters read as zeros in the copy, never as the
# backing file's bytes, as with qemu-img convert -B.
qemu-img create -q -f qcow2 bkbase.qcow2 1M
qemu-io -c "write -P 0xbb 0 1M" bkbase.qcow2 >/dev/null
python3 -c "f=open('holes.raw','wb'); f.truncate(1<<20); f.seek(4096); f.write(b'A'*4096); f.seek(300000); f.write(bytes(70000))"
qemu-img create -q -f qcow2 -b bkbase.qcow2 -F qcow2 zc.qcow2
qemu-io -c "write -z 0 64k" -c "write -P 5 64k 64k" zc.qcow2 >/dev/null
for src in holes.raw zc.qcow2; do
  for extra in "" "--compress"; do
    rm -f bkout.qcow2
    # shellcheck disable=SC2086
    $q convert "$src" bkout.qcow2 --backing bkbase.qcow2 --backing-format qcow2 $extra 2>err ||
      bad "convert $src over a backing file $extra: $(cat err)"
    qemu-img compare "$src" bkout.qcow2 >out 2>&1 && ok || bad "convert $src over a backing file $extra: $(cat out)"
    qemu-img check bkout.qcow2 >/dev/null 2>&1 && ok || bad "convert $src over a backing file $extra: qemu-img check"
  done
done
rm -f bkout.qcow2
$q create bkout.qcow2 --size 1M --from holes.raw --backing bkbase.qcow2 --backing-format qcow2 2>err ||
  bad "create --from over a backing file: $(cat err)"
qemu-img compare holes.raw bkout.qcow2 >out 2>&1 && ok || bad "create --from over a backing file: $(cat out)"
rm -f bkout.qcow2
$q convert holes.raw bkout.qcow2 --version 2 --backing bkbase.qcow2 --backing-format qcow2 2>err ||
  bad "v2 convert over a backing file: $(cat err)"
qemu-img compare holes.raw bkout.qcow2 >out 2>&1 && ok || bad "v2 convert over a backing file: $(cat out)"

# Unknown autoclear bits are cleared by the first write, as qemu-io clears
# them (Q2.HDRV3.autoclear.unknown_ignore).
qemu-img create -q -f qcow2 ac.qcow2 1M
python3 -c 'import struct,sys; f=open(sys.argv[1],"r+b"); f.seek(88); f.write(struct.pack(">Q", 1 << 5))' ac.qcow2
$q write ac.qcow2 --offset 0 --input data.bin 2>err || bad "write with an unknown autoclear bit: $(cat err)"
[ "$(python3 -c 'import struct,sys; print(struct.unpack(">Q", open(sys.argv[1],"rb").read(96)[88:96])[0])' ac.qcow2)" = 0 ] &&
  ok || bad "the unknown autoclear bit survived our write"
qemu-img check ac.qcow2 >/dev/null 2>&1 && ok || bad "autoclear: qemu-img check"
# A --size smaller than the source would drop data: refused, nothing made.
rm -f small.qcow2
$q convert data.bin small.qcow2 --size 4096 2>/dev/null
[ $? = 3 ] && [ ! -e small.qcow2 ] && ok || bad "convert --size smaller than the source was not refused"
$q create small.qcow2 --size 4096 --from data.bin 2>/dev/null
[ $? = 3 ] && [ ! -e small.qcow2 ] && ok || bad "create --size smaller than --from was not refused"
# A create refused after the file was made leaves nothing behind.
$q create absb.qcow2 --size 1M --backing "$PWD/base.qcow2" --backing-format qcow2 2>/dev/null
[ $? = 1 ] && [ ! -e absb.qcow2 ] && ok || bad "a refused create left absb.qcow2 behind"
# ... nor the external data file it had made (qemu-img leaves none either).
$q create absd.qcow2 --size 1M --backing "$PWD/base.qcow2" --backing-format qcow2 --data-file absd.data 2>/dev/null
[ $? = 1 ] && [ ! -e absd.qcow2 ] && [ ! -e absd.data ] && ok || bad "a refused create left absd.qcow2 or absd.data behind"
# An existing data file given with --force is kept when the create fails.
: >kept.data
$q create absk.qcow2 --size 1M --backing "$PWD/base.qcow2" --backing-format qcow2 --data-file kept.data --force 2>/dev/null
[ $? = 1 ] && [ -e kept.data ] && ok || bad "a refused create removed an existing data file"

# Refusals: existing file without --force, compression with encryption.
$q create v3.qcow2 --size 1M 2>/dev/null && bad "overwrote an existing image without --force" || ok
$q convert base.qcow2 bad.qcow2 --compress --encrypt aes --secret-file pw 2>/dev/null && bad "compressed + encrypted convert accepted" || ok
[ ! -e bad.qcow2 ] && ok || bad "a refused convert left a file"

# Mixed writers: qemu-io, then qcow2ref, then qemu-io again.
qemu-img create -q -f qcow2 mixed.qcow2 4M
qemu-io -c "write -P 0x11 0 128k" -c "write -c -P 0x22 1M 64k" mixed.qcow2 >/dev/null
$q write mixed.qcow2 --offset 60000 --input data.bin 2>err || bad "write into a qemu image: $(cat err)"
$q write mixed.qcow2 --offset 1048600 --input text.bin 2>err || bad "write over a compressed cluster: $(cat err)"
qemu-io -c "write -P 0x33 2M 100k" mixed.qcow2 >/dev/null
qemu-img check mixed.qcow2 >/dev/null 2>&1 && ok || bad "mixed image: qemu-img check"
$q check mixed.qcow2 >/dev/null 2>&1 && ok || bad "mixed image: qcow2ref check"
qemu-img convert -O raw mixed.qcow2 m1.raw && $q read mixed.qcow2 >m2.raw && cmp -s m1.raw m2.raw && ok || bad "mixed image: reads differ"

# Persistent bitmaps: a disabled bitmap is kept as it is by our writes
# (qemu-img still lists it, unchanged flags, clean image); enabled ones are
# judged in bitmap_interop_test.
qemu-img create -q -f qcow2 bm.qcow2 4M
qemu-img bitmap --add --disable bm.qcow2 b1
qemu-io -c "write -P 0x44 0 64k" bm.qcow2 >/dev/null
before=$(sha256sum <bm.qcow2)
$q write bm.qcow2 --offset 0 --input data.bin 2>err || bad "disabled bitmap: write refused: $(cat err)"
[ "$(sha256sum <bm.qcow2)" != "$before" ] && ok || bad "disabled bitmap: nothing written"
qemu-img check bm.qcow2 >/dev/null 2>&1 && ok || bad "disabled bitmap: qemu-img check"
qemu-img info --output=json bm.qcow2 | python3 -c '
import json, sys
b = {x["name"]: x["flags"] for x in json.load(sys.stdin)["format-specific"]["data"]["bitmaps"]}
sys.exit(0 if b == {"b1": []} else "bitmaps after the write: %r" % b)' 2>err && ok || bad "disabled bitmap after a write: $(cat err)"

echo "writer_interop_test: ${pass} passed, ${fails} failed"
[ "$fails" = 0 ]
