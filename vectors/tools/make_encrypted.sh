#!/usr/bin/env bash
# make_encrypted.sh - make the qemu-made encrypted y_ images of the qcow2ref vector corpus:
#   images/enc/   legacy AES (crypt_method 1)
#   images/luks/  LUKS1 in qcow2 (crypt_method 2)
#
# Needs qemu-img / qemu-io 7.2 (Debian qemu-utils). Run from any directory:
#     vectors/tools/make_encrypted.sh [NAME...]      (default: every image)
# Guest content is written through the secret with qemu-io patterns. Passphrases are short
# ASCII strings, one per image; they are listed in PASS below and recorded (hex) in the
# manifests by build_encrypted_manifests.py, which imports this table by parsing it.
#
# LUKS images contain random master keys, salts and UUIDs and QEMU benchmarks PBKDF2 (we
# pass encrypt.iter-time=10 so iteration counts stay small, >= 1000): they are NOT
# byte-reproducible; the guest content is. Legacy AES images are byte-reproducible.
# qemu-img sometimes fails LUKS creation with "Unable to get accurate CPU usage" (PBKDF2
# benchmark); qimg retries such failures up to 5 times.
set -euo pipefail

VEC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMG="$VEC/images"

# ---- passphrases (name -> passphrase); extra slots use NAME#slotN ----------------------
declare -A PASS=(
  [y_enc_aes_basic]="aes-basic-pw"
  [y_enc_aes_long_passphrase]="only-16-bytes-count-here"
  [y_enc_aes_backing]="aes-over-base"
  [y_enc_aes_v2]="aes-v2-pw"
  [y_luks_default]="luks-default"
  [y_luks_multislot]="slot0-pw"
  [y_luks_multislot#slot1]="slot1-pw"
  [y_luks_multislot#slot3]="slot3-pw"
  [y_luks_xl2]="xl2-pw"
  [y_luks_backing]="luks-over-base"
  [y_luks_xdf]="luks-xdf"
  [y_luks_compressed]="cmp-plain"
  [y_luks_aes128_ecb_plain]="ecb-pw"
  [y_luks_aes128_xts_essiv_md5]="xts-essiv"
  [y_luks_aes192_xts]="aes192xts"
  [y_luks_serpent192_xts]="serpent192"
  [y_luks_twofish192_xts]="twofish192"
  [y_luks_serpent256_cbc_essiv]="serpent256"
  [y_luks_twofish256_ecb]="twofish256"
  [y_luks_cast5_ctr_essiv]="cast5-ctr"
  [y_luks_plain64_ivhash]="ivhash-pw"
  [y_luks_small_c4k]="small-src"
)

WANT=("$@")
want() {
  [ ${#WANT[@]} -eq 0 ] && return 0
  local w; for w in "${WANT[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1
}

qimg() {  # qemu-img with retries for the PBKDF2 benchmark failure
  local i out
  for i in 1 2 3 4 5; do
    if out=$(qemu-img "$@" 2>&1); then return 0; fi
    if grep -q "Unable to get accurate CPU usage" <<<"$out"; then
      echo "qemu-img: retry $i ($out)" >&2; sleep 1; continue
    fi
    echo "qemu-img $*: $out" >&2; return 1
  done
  echo "qemu-img $*: gave up after 5 tries: $out" >&2; return 1
}

sec() { echo "secret,id=$1,data=$2"; }

eio() {  # eio FILE PASS CMD...   qemu-io through the secret; fails on any error
  local file=$1 pass=$2; shift 2
  local args=() c out
  for c in "$@"; do args+=(-c "$c"); done
  out=$(qemu-io --object "$(sec sec0 "$pass")" --image-opts \
        "driver=qcow2,encrypt.key-secret=sec0,file.filename=$file" "${args[@]}" 2>&1)
  if grep -qiE 'fail|error|invalid' <<<"$out"; then
    echo "qemu-io on $file: $out" >&2; exit 1
  fi
}

pio() {  # plain qemu-io (unencrypted base images)
  local file=$1; shift
  local args=() c out
  for c in "$@"; do args+=(-c "$c"); done
  out=$(qemu-io -f qcow2 "${args[@]}" "$file" 2>&1)
  if grep -qiE 'fail|error|invalid' <<<"$out"; then
    echo "qemu-io on $file: $out" >&2; exit 1
  fi
}

mkaes() {  # mkaes NAME SIZE EXTRA_OPTS [create args...]
  local name=$1 size=$2 extra=$3; shift 3
  rm -f "$name.qcow2"
  qimg create -q -f qcow2 --object "$(sec sec0 "${PASS[$name]}")" \
    -o "encrypt.format=aes,encrypt.key-secret=sec0${extra:+,$extra}" "$@" "$name.qcow2" "$size"
}

mkluks() {  # mkluks NAME SIZE EXTRA_OPTS [create args...]
  local name=$1 size=$2 extra=$3; shift 3
  rm -f "$name.qcow2"
  qimg create -q -f qcow2 --object "$(sec sec0 "${PASS[$name]}")" \
    -o "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10${extra:+,$extra}" \
    "$@" "$name.qcow2" "$size"
}

# The standard content: several clusters, an unaligned write, data at 1 MiB, last sector.
std_writes() {  # std_writes NAME [SIZE_MIB]
  local name=$1 last=$(( ${2:-2} * 1048576 - 512 ))
  eio "$name.qcow2" "${PASS[$name]}" \
    'write -P 0x5a 0 64k' 'write -P 0xa5 196608 4096' 'write -P 0x3c 300001 1000' \
    'write -P 0xc3 1M 64k' "write -P 0x7e $last 512"
}

# ------------------------------------------------------------------------------------------
mkdir -p "$IMG/enc" "$IMG/luks"
cd "$IMG/enc"

if want y_enc_aes_basic; then
  mkaes y_enc_aes_basic 2M ""
  std_writes y_enc_aes_basic
fi
if want y_enc_aes_long_passphrase; then
  # only the first 16 bytes ("only-16-bytes-co") of the passphrase key AES-128
  mkaes y_enc_aes_long_passphrase 2M ""
  std_writes y_enc_aes_long_passphrase
fi
if want y_enc_aes_backing; then
  rm -f y_enc_aes_backing_base.qcow2
  qimg create -q -f qcow2 y_enc_aes_backing_base.qcow2 2M
  pio y_enc_aes_backing_base.qcow2 'write -P 0x61 0 192k' 'write -P 0x62 1M 128k'
  mkaes y_enc_aes_backing 2M "" -b y_enc_aes_backing_base.qcow2 -F qcow2
  # partial-cluster writes: the rest of the cluster is copied from the base (COW) and encrypted
  eio y_enc_aes_backing.qcow2 "${PASS[y_enc_aes_backing]}" \
    'write -P 0xe1 4096 4096' 'write -P 0xe2 1M 64k' 'write -z 256k 64k' 'write -P 0xe3 1600k 512'
fi
if want y_enc_aes_v2; then
  mkaes y_enc_aes_v2 2M "compat=0.10"
  std_writes y_enc_aes_v2
fi

cd "$IMG/luks"
if want y_luks_default; then
  # defaults: aes-256 xts plain64, hash sha256 (key-bytes 64, LUKS area 2068480 bytes)
  mkluks y_luks_default 2M ""
  std_writes y_luks_default
fi
if want y_luks_multislot; then
  mkluks y_luks_multislot 2M \
    "encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=sha256,encrypt.hash-alg=sha1"
  for s in 1 3; do
    qimg amend --object "$(sec sec0 "${PASS[y_luks_multislot]}")" \
      --object "$(sec sec1 "${PASS[y_luks_multislot#slot$s]}")" \
      --image-opts "driver=qcow2,encrypt.key-secret=sec0,file.filename=y_luks_multislot.qcow2" \
      -o "encrypt.keyslot=$s,encrypt.state=active,encrypt.new-secret=sec1,encrypt.iter-time=10"
  done
  std_writes y_luks_multislot
fi
if want y_luks_xl2; then
  mkluks y_luks_xl2 2M \
    "encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain64,encrypt.hash-alg=sha512,extended_l2=on"
  eio y_luks_xl2.qcow2 "${PASS[y_luks_xl2]}" \
    'write -P 0x5a 0 64k' 'write -P 0x11 67584 2048' 'write -P 0x12 71680 512' \
    'write -z 4096 2048' 'write -P 0x13 1M 6144' 'write -z 1050624 2048' 'write -P 0x7e 2096640 512'
fi
if want y_luks_backing; then
  rm -f y_luks_backing_base.qcow2
  qimg create -q -f qcow2 y_luks_backing_base.qcow2 2M
  pio y_luks_backing_base.qcow2 'write -P 0x61 0 192k' 'write -P 0x62 1M 128k'
  mkluks y_luks_backing 2M \
    "encrypt.cipher-alg=serpent-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain,encrypt.hash-alg=sha224" \
    -b y_luks_backing_base.qcow2 -F qcow2
  eio y_luks_backing.qcow2 "${PASS[y_luks_backing]}" \
    'write -P 0xe1 4096 4096' 'write -P 0xe2 1M 64k' 'write -z 256k 64k' 'write -P 0xe3 1600k 512'
fi
if want y_luks_xdf; then
  rm -f y_luks_xdf_data.raw
  mkluks y_luks_xdf 2M \
    "encrypt.cipher-alg=twofish-128,encrypt.cipher-mode=ctr,encrypt.ivgen-alg=plain64,encrypt.hash-alg=sha384,data_file=y_luks_xdf_data.raw"
  std_writes y_luks_xdf
fi
if want y_luks_compressed; then
  mkluks y_luks_compressed 2M \
    "encrypt.cipher-alg=cast5-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain64,encrypt.hash-alg=md5"
  # compressed clusters are stored as plain deflate (never encrypted); the others are encrypted
  eio y_luks_compressed.qcow2 "${PASS[y_luks_compressed]}" \
    'write -c -P 0x5a 0 64k' 'write -P 0xa5 64k 64k' 'write -c -P 0x3c 1M 64k' 'write -P 0x7e 2096640 512'
fi
if want y_luks_aes128_ecb_plain; then
  mkluks y_luks_aes128_ecb_plain 2M \
    "encrypt.cipher-alg=aes-128,encrypt.cipher-mode=ecb,encrypt.ivgen-alg=plain,encrypt.hash-alg=ripemd160"
  std_writes y_luks_aes128_ecb_plain
fi
if want y_luks_aes128_xts_essiv_md5; then
  mkluks y_luks_aes128_xts_essiv_md5 2M \
    "encrypt.cipher-alg=aes-128,encrypt.cipher-mode=xts,encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=md5,encrypt.hash-alg=sha256"
  std_writes y_luks_aes128_xts_essiv_md5
fi
if want y_luks_aes192_xts; then
  mkluks y_luks_aes192_xts 2M \
    "encrypt.cipher-alg=aes-192,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain64,encrypt.hash-alg=sha512"
  std_writes y_luks_aes192_xts
fi
if want y_luks_serpent192_xts; then
  mkluks y_luks_serpent192_xts 2M \
    "encrypt.cipher-alg=serpent-192,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain64,encrypt.hash-alg=sha1"
  std_writes y_luks_serpent192_xts
fi
if want y_luks_twofish192_xts; then
  mkluks y_luks_twofish192_xts 2M \
    "encrypt.cipher-alg=twofish-192,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain,encrypt.hash-alg=ripemd160"
  std_writes y_luks_twofish192_xts
fi
if want y_luks_serpent256_cbc_essiv; then
  mkluks y_luks_serpent256_cbc_essiv 2M \
    "encrypt.cipher-alg=serpent-256,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=sha256,encrypt.hash-alg=sha224"
  std_writes y_luks_serpent256_cbc_essiv
fi
if want y_luks_twofish256_ecb; then
  mkluks y_luks_twofish256_ecb 2M \
    "encrypt.cipher-alg=twofish-256,encrypt.cipher-mode=ecb,encrypt.ivgen-alg=plain64,encrypt.hash-alg=md5"
  std_writes y_luks_twofish256_ecb
fi
if want y_luks_cast5_ctr_essiv; then
  mkluks y_luks_cast5_ctr_essiv 2M \
    "encrypt.cipher-alg=cast5-128,encrypt.cipher-mode=ctr,encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=md5,encrypt.hash-alg=sha384"
  std_writes y_luks_cast5_ctr_essiv
fi
if want y_luks_plain64_ivhash; then
  # ivgen-hash-alg given with plain64: QEMU writes "cbc-plain64:sha256" and ignores the hash
  mkluks y_luks_plain64_ivhash 2M \
    "encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain64,encrypt.ivgen-hash-alg=sha256,encrypt.hash-alg=sha256"
  std_writes y_luks_plain64_ivhash
fi
if want y_luks_small_c4k; then
  # the source of the n_/i_ LUKS edits: smallest LUKS area (key-bytes 16), 4 KiB clusters
  mkluks y_luks_small_c4k 1M \
    "encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain64,encrypt.hash-alg=sha256,cluster_size=4k"
  eio y_luks_small_c4k.qcow2 "${PASS[y_luks_small_c4k]}" \
    'write -P 0x5a 0 8k' 'write -P 0xa5 512k 4k' 'write -P 0x7e 1048064 512'
fi
echo "make_encrypted.sh: done"
