#!/usr/bin/env bash
# make_valid.sh - regenerate every qemu-made y_ image of the qcow2ref vector corpus.
#
# Needs qemu-img / qemu-io 7.2 (Debian qemu-utils) and python3. Run from any directory:
#     vectors/tools/make_valid.sh
# Images go to vectors/images/<area>/. Each image is created inside its own area directory so
# that backing-file and data-file names stored in the images are relative names.
# Content is deterministic (qemu-io "-P" patterns, a generated text pattern file, zero writes,
# discards, compressed writes). Snapshot timestamps are zeroed afterwards with qcow2_edit.py so
# that re-running gives byte-identical files. Only the LUKS image (fde) contains random salts
# and keys, so it is not byte-reproducible.
set -euo pipefail

VEC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMG="$VEC/images"
EDIT="python3 $VEC/tools/qcow2_edit.py"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Deterministic, compressible-but-not-trivial pattern files for compressed writes.
python3 - "$TMP" <<'EOF'
import sys
d = sys.argv[1]
with open(d + "/text.bin", "wb") as f:
    out = b""
    i = 0
    while len(out) < 1 << 21:
        out += b"qcow2ref vector line %08d: the quick brown fox %d\n" % (i, (i * 7919) % 1000)
        i += 1
    f.write(out[: 1 << 21])
# Mixed: LCG noise in the low nibble (compresses, but much worse than text)
with open(d + "/mixed.bin", "wb") as f:
    x = 12345
    b = bytearray()
    for _ in range(1 << 21):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        b.append(0x40 | ((x >> 16) & 0x0F))
    f.write(bytes(b))
EOF
TEXT="$TMP/text.bin"
MIXED="$TMP/mixed.bin"

area() { mkdir -p "$IMG/$1"; cd "$IMG/$1"; }
mk() {  # mk NAME SIZE OPTIONS [extra qemu-img create args...]
  local name=$1 size=$2 opts=$3; shift 3
  rm -f "$name"
  qemu-img create -q -f qcow2 -o "$opts" "$@" "$name" "$size"
}
io() {  # io [-f FMT] FILE CMD...   (fails if any qemu-io command reports an error)
  local fmt=qcow2
  if [ "$1" = "-f" ]; then fmt=$2; shift 2; fi
  local file=$1; shift
  local args=() c
  for c in "$@"; do args+=(-c "$c"); done
  local out
  out=$(qemu-io -f "$fmt" "${args[@]}" "$file" 2>&1)
  if grep -qiE 'fail|error|invalid' <<<"$out"; then
    echo "qemu-io on $file: $out" >&2
    exit 1
  fi
}
zero_snapshot_dates() {  # make snapshot entries deterministic
  local f=$1 n=$2 i
  for ((i = 0; i < n; i++)); do
    $EDIT "$f" set-snapshot-field "$i" date_sec 0
    $EDIT "$f" set-snapshot-field "$i" date_nsec 0
  done
}

# ------------------------------------------------------------------------------------ hdr
area hdr
basic_writes() {
  io "$1" "write -P 0x11 0 64k" "write -P 0x22 1M 4k" "write -P 0x33 0x300200 1k"
}
mk y_hdr_v2_c64k_basic.qcow2 4M compat=0.10,cluster_size=64k
basic_writes y_hdr_v2_c64k_basic.qcow2
mk y_hdr_v2_c4k_basic.qcow2 4M compat=0.10,cluster_size=4k
basic_writes y_hdr_v2_c4k_basic.qcow2
mk y_hdr_v3_c64k_basic.qcow2 4M compat=1.1,cluster_size=64k
basic_writes y_hdr_v3_c64k_basic.qcow2
mk y_hdr_v3_c512_basic.qcow2 1M compat=1.1,cluster_size=512
io y_hdr_v3_c512_basic.qcow2 "write -P 0x11 0 4k" "write -P 0x22 0x80000 512" "write -P 0x33 0xffe00 512"
mk y_hdr_v3_c4k_basic.qcow2 4M compat=1.1,cluster_size=4k
basic_writes y_hdr_v3_c4k_basic.qcow2
mk y_hdr_v3_c8k_basic.qcow2 4M compat=1.1,cluster_size=8k
basic_writes y_hdr_v3_c8k_basic.qcow2
mk y_hdr_v3_c1m_basic.qcow2 2M compat=1.1,cluster_size=1M
io y_hdr_v3_c1m_basic.qcow2 "write -P 0x11 0x100000 4k" "write -P 0x22 0x1ff000 4k"
# 2 MiB clusters: ~14 MiB file; built only with MAKE_C2M=1 (keeps vectors/ under 30 MiB).
rm -f y_hdr_v3_c2m_basic.qcow2
if [ "${MAKE_C2M:-0}" = 1 ]; then
  mk y_hdr_v3_c2m_basic.qcow2 4M compat=1.1,cluster_size=2M
  io y_hdr_v3_c2m_basic.qcow2 "write -P 0x11 0 4k" "write -P 0x22 0x200000 4k"
fi
mk y_hdr_v3_size_1t.qcow2 1T compat=1.1,cluster_size=64k
io y_hdr_v3_size_1t.qcow2 "write -P 0x44 0 4k" "write -P 0x55 0xffffff0000 64k"
# An empty disk: size 0, so l1_size 0 and l1_table_offset 0 (what qemu-img create writes).
mk y_hdr_v3_size_0.qcow2 0 compat=1.1,cluster_size=64k

# ---------------------------------------------------------------------------------- hdrv3
area hdrv3
mk y_hdrv3_lazy_refcounts.qcow2 4M compat=1.1,cluster_size=4k,lazy_refcounts=on
basic_writes y_hdrv3_lazy_refcounts.qcow2

# ------------------------------------------------------------------------------------- rc
area rc
for bits in 1 2 4 8 16 32 64; do
  f=y_rc_bits${bits}.qcow2
  mk "$f" 4M compat=1.1,cluster_size=4k,refcount_bits=$bits
  io "$f" "write -P 0x$((bits + 16)) 0 12k" "write -P 0x77 0x200000 4k" "write -P 0x78 0x3ff000 4k"
done

# ------------------------------------------------------------------------------------ map
area map
mk y_map_v3_zero_clusters.qcow2 4M compat=1.1,cluster_size=4k
io y_map_v3_zero_clusters.qcow2 "write -P 0x41 0 64k" "write -z 8k 8k" "write -z -u 32k 4k" \
   "write -z 1M 16k" "write -P 0x42 0x180000 4k" "write -z 0x180800 1k"
mk y_map_partial_clusters.qcow2 2M compat=1.1,cluster_size=64k
io y_map_partial_clusters.qcow2 "write -P 0x51 100 1000" "write -P 0x52 65000 1000" \
   "write -P 0x53 0x1ffe00 0x200" "write -P 0x54 0x100001 3"
mk y_map_l2_boundary_c512.qcow2 1M compat=1.1,cluster_size=512
io y_map_l2_boundary_c512.qcow2 "write -P 0x61 0x7e00 0x400" "write -P 0x62 0xfc00 0x800" \
   "write -P 0x63 0x17f00 0x200"
mk y_map_l2_boundary_c4k.qcow2 8M compat=1.1,cluster_size=4k
io y_map_l2_boundary_c4k.qcow2 "write -P 0x64 0x1ff000 0x2000" "write -P 0x65 0x3ff800 0x1000" \
   "write -P 0x66 0x5ffe00 0x400"
mk y_map_discard.qcow2 4M compat=1.1,cluster_size=4k
io y_map_discard.qcow2 "write -P 0x67 0 128k" "discard 16k 16k" "discard 64k 4k" "discard 100k 2k"
mk y_map_v2_data.qcow2 4M compat=0.10,cluster_size=4k
io y_map_v2_data.qcow2 "write -P 0x68 0 32k" "write -z 8k 4k" "write -P 0x69 0x1ff000 0x2000" \
   "write -z 0x300000 8k"

# ------------------------------------------------------------------------------------ cmp
area cmp
cmp_writes() {
  io "$1" "write -c -s $TEXT 0 64k" "write -P 0x71 64k 64k" "write -c -s $MIXED 128k 64k" \
     "write -c -P 0x72 256k 64k" "write -P 0x73 320k 4k" "write -c -s $TEXT 512k 64k"
}
mk y_cmp_deflate_c64k.qcow2 1M compat=1.1,cluster_size=64k
cmp_writes y_cmp_deflate_c64k.qcow2
mk y_cmp_zstd_c64k.qcow2 1M compat=1.1,cluster_size=64k,compression_type=zstd
cmp_writes y_cmp_zstd_c64k.qcow2
mk y_cmp_deflate_v2.qcow2 1M compat=0.10,cluster_size=64k
cmp_writes y_cmp_deflate_v2.qcow2
mk y_cmp_deflate_c4k.qcow2 256k compat=1.1,cluster_size=4k
io y_cmp_deflate_c4k.qcow2 "write -c -s $TEXT 0 4k" "write -c -s $MIXED 4k 4k" \
   "write -c -s $TEXT 8k 4k" "write -P 0x74 12k 4k" "write -c -P 0x75 16k 4k" "write -c -s $MIXED 0x3f000 4k"
mk y_cmp_deflate_c512.qcow2 64k compat=1.1,cluster_size=512
io y_cmp_deflate_c512.qcow2 "write -c -s $TEXT 0 512" "write -c -s $TEXT 512 512" \
   "write -c -P 0x76 1024 512" "write -P 0x77 1536 512" "write -c -s $MIXED 0x8000 512"
mk y_cmp_zstd_c4k.qcow2 256k compat=1.1,cluster_size=4k,compression_type=zstd
io y_cmp_zstd_c4k.qcow2 "write -c -s $TEXT 0 4k" "write -c -s $MIXED 4k 4k" "write -P 0x78 8k 4k"
mk y_cmp_deflate_last_partial.qcow2 1052672 compat=1.1,cluster_size=64k
io y_cmp_deflate_last_partial.qcow2 "write -c -s $TEXT 0 64k" "write -c -s $TEXT 0x100000 0x1000"
mk y_cmp_zstd_last_partial.qcow2 1052672 compat=1.1,cluster_size=64k,compression_type=zstd
io y_cmp_zstd_last_partial.qcow2 "write -c -s $TEXT 0 64k" "write -c -s $MIXED 0x100000 0x1000"

# ------------------------------------------------------------------------------------ xl2
area xl2
mk y_xl2_c64k_subclusters.qcow2 4M compat=1.1,cluster_size=64k,extended_l2=on
io y_xl2_c64k_subclusters.qcow2 "write -P 0x81 0 2k" "write -P 0x82 6k 4k" "write -z 16k 2k" \
   "write -P 0x83 64k 64k" "write -z 66k 2k" "write -z 128k 64k" "write -P 0x84 0x100bb8 100" \
   "write -z 0x200000 6k"
mk y_xl2_c16k_subclusters.qcow2 2M compat=1.1,cluster_size=16k,extended_l2=on
io y_xl2_c16k_subclusters.qcow2 "write -P 0x85 0 512" "write -P 0x86 1536 1k" "write -z 4k 512" \
   "write -P 0x87 16k 16k" "write -z 17k 1k" "write -z 32k 16k" "write -P 0x88 0x100100 10"
mk y_xl2_compressed.qcow2 1M compat=1.1,cluster_size=64k,extended_l2=on
io y_xl2_compressed.qcow2 "write -c -s $TEXT 0 64k" "write -P 0x89 64k 2k" "write -c -s $MIXED 128k 64k"
rm -f y_xl2_backing_base.qcow2
mk y_xl2_backing_base.qcow2 1M compat=1.1,cluster_size=4k
io y_xl2_backing_base.qcow2 "write -P 0x91 0 320k"
mk y_xl2_backing.qcow2 1M compat=1.1,cluster_size=64k,extended_l2=on -b y_xl2_backing_base.qcow2 -F qcow2
io y_xl2_backing.qcow2 "write -P 0x92 2k 2k" "write -z 8k 2k" "write -P 0x93 74k 4k" \
   "write -z 192k 64k"

# ------------------------------------------------------------------------------------- bk
area bk
rm -f y_bk_chain3_base.raw
qemu-img create -q -f raw y_bk_chain3_base.raw 512k
io -f raw y_bk_chain3_base.raw "write -P 0xa1 0 320k"
mk y_bk_chain3_mid.qcow2 1M compat=1.1,cluster_size=64k -b y_bk_chain3_base.raw -F raw
io y_bk_chain3_mid.qcow2 "write -P 0xa2 256k 256k" "write -z 768k 64k"
mk y_bk_chain3.qcow2 1M compat=1.1,cluster_size=64k -b y_bk_chain3_mid.qcow2 -F qcow2
io y_bk_chain3.qcow2 "write -P 0xa3 384k 64k" "write -z 0 64k" "write -P 0xa4 0xf0000 2k"
mk y_bk_short_backing_base.qcow2 512k compat=1.1,cluster_size=4k
io y_bk_short_backing_base.qcow2 "write -P 0xb1 0 512k"
mk y_bk_short_backing.qcow2 2M compat=1.1,cluster_size=8k -b y_bk_short_backing_base.qcow2 -F qcow2
io y_bk_short_backing.qcow2 "write -P 0xb2 1M 4k" "write -P 0xb3 0x7fe00 1k"
rm -f y_bk_short_raw_base.raw
qemu-img create -q -f raw y_bk_short_raw_base.raw 1000448
io -f raw y_bk_short_raw_base.raw "write -P 0xc1 0 1000448"
mk y_bk_short_raw.qcow2 2M compat=1.1,cluster_size=4k -b y_bk_short_raw_base.raw -F raw
io y_bk_short_raw.qcow2 "write -P 0xc2 0 4k"
mk y_bk_v2_backing.qcow2 2M compat=0.10,cluster_size=4k -b y_bk_short_backing_base.qcow2 -F qcow2
io y_bk_v2_backing.qcow2 "write -P 0xc3 64k 4k"

# ------------------------------------------------------------------------------------ xdf
area xdf
rm -f y_xdf_basic_data.raw y_xdf_raw_data.raw
mk y_xdf_basic.qcow2 512k compat=1.1,cluster_size=64k,data_file=y_xdf_basic_data.raw
io y_xdf_basic.qcow2 "write -P 0xd1 0 64k" "write -P 0xd2 0x40200 1k" "write -z 0x60000 64k"
mk y_xdf_raw.qcow2 512k compat=1.1,cluster_size=64k,data_file=y_xdf_raw_data.raw,data_file_raw=on
io y_xdf_raw.qcow2 "write -P 0xd3 0 64k" "write -P 0xd4 0x40200 1k"

# ----------------------------------------------------------------------------------- snap
area snap
mk y_snap_two.qcow2 4M compat=1.1,cluster_size=64k
io y_snap_two.qcow2 "write -P 0xe1 0 128k" "write -P 0xe2 1M 4k"
qemu-img snapshot -c s1 y_snap_two.qcow2
io y_snap_two.qcow2 "write -P 0xe3 64k 128k" "write -z 1M 64k"
qemu-img snapshot -c s2 y_snap_two.qcow2
io y_snap_two.qcow2 "write -P 0xe4 2M 64k"
zero_snapshot_dates y_snap_two.qcow2 2
mk y_snap_v2.qcow2 1M compat=0.10,cluster_size=4k
io y_snap_v2.qcow2 "write -P 0xe5 0 16k"
qemu-img snapshot -c s1 y_snap_v2.qcow2
io y_snap_v2.qcow2 "write -P 0xe6 4k 4k"
zero_snapshot_dates y_snap_v2.qcow2 1
# The snapshot table is written last, so it ends the file: QEMU does not write
# the last entry's alignment padding, which would lie past EOF (errata #27).
mk y_snap_qemu_padding_past_eof.qcow2 1M compat=1.1,cluster_size=64k
io y_snap_qemu_padding_past_eof.qcow2 "write -P 0xe7 0 64k"
qemu-img snapshot -c first y_snap_qemu_padding_past_eof.qcow2
zero_snapshot_dates y_snap_qemu_padding_past_eof.qcow2 1

# ------------------------------------------------------------------------------------- bm
area bm
mk y_bm_basic.qcow2 4M compat=1.1,cluster_size=64k
qemu-img bitmap --add y_bm_basic.qcow2 b0
qemu-img bitmap --add y_bm_basic.qcow2 b1
io y_bm_basic.qcow2 "write -P 0xf1 0 64k" "write -P 0xf2 1M 4k"
qemu-img bitmap --disable y_bm_basic.qcow2 b1
io y_bm_basic.qcow2 "write -P 0xf3 3M 64k"
mk y_bm_granularity.qcow2 4M compat=1.1,cluster_size=4k
qemu-img bitmap --add -g 512 y_bm_granularity.qcow2 g512
qemu-img bitmap --add -g 2M y_bm_granularity.qcow2 g2m
qemu-img bitmap --add -g 2147483648 y_bm_granularity.qcow2 g2g
qemu-img bitmap --add --disable -g 8k y_bm_granularity.qcow2 g8k_disabled
io y_bm_granularity.qcow2 "write -P 0xf4 0 4k" "write -P 0xf5 0x2ff000 8k"
qemu-img bitmap --enable y_bm_granularity.qcow2 g8k_disabled
io y_bm_granularity.qcow2 "write -P 0xf6 0x100000 512"

# ------------------------------------------------------------------------------------ fde
# LUKS (aes-128-cbc-plain64, passphrase "qcow2ref"): random salts/keys, not byte-reproducible.
area fde
rm -f y_fde_luks_aes128_cbc.qcow2
qemu-img create -q -f qcow2 --object secret,id=sec0,data=qcow2ref \
  -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain64,encrypt.iter-time=10,cluster_size=4k \
  y_fde_luks_aes128_cbc.qcow2 1M
qemu-io --object secret,id=sec0,data=qcow2ref \
  --image-opts driver=qcow2,file.filename=y_fde_luks_aes128_cbc.qcow2,encrypt.key-secret=sec0 \
  -c "write -P 0x5a 0 8k" -c "write -P 0x5b 0x80000 4k" >/dev/null

echo "make_valid.sh: done"
