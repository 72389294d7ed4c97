#!/usr/bin/env bash
# Vectors written by qcow2ref itself in deterministic mode: every byte comes
# from this recipe (seeded data, --deterministic-seed for LUKS salts, keys
# and UUID, fixed PBKDF2 counts), so running it again must reproduce the
# committed files exactly (//vectors:regen_test). Expected contents in the
# manifest come from qemu-img, not from qcow2ref.
# Usage: make_writer_vectors.sh QCOW2REF_BINARY OUTDIR
set -euo pipefail
q=$1
out=$2
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import hashlib, sys
d = sys.argv[1]
def stream(seed, n):
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
        i += 1
    return out[:n]
open(d + "/a.bin", "wb").write(stream(b"writer-a", 150000))
open(d + "/b.bin", "wb").write(stream(b"writer-b", 70000))
open(d + "/text.bin", "wb").write((b"qcow2ref writer vector " * 12000)[:262144])
open(d + "/pw", "wb").write(b"writer-vector")
PY
rm -f "$out/y_wr_plain_ops.qcow2" "$out/y_wr_luks_seeded.qcow2"
# Plain: 4 KiB clusters, 8-bit refcounts; writes across clusters, an
# in-place rewrite, zeros, compressed clusters.
p="$out/y_wr_plain_ops.qcow2"
"$q" create "$p" --size 4M --cluster-size 4k --refcount-bits 8
"$q" write "$p" --offset 1000 --input "$tmp/a.bin"
"$q" write "$p" --offset 50000 --input "$tmp/b.bin"
"$q" zero "$p" --offset 8192 --length 8192
"$q" write "$p" --offset 1048576 --input "$tmp/text.bin" --compress
"$q" discard "$p" --offset 2097152 --length 4096
# LUKS aes-128-xts with a seeded master key, salts and UUID.
l="$out/y_wr_luks_seeded.qcow2"
"$q" create "$l" --size 2M --cluster-size 16k --encrypt luks \
  --luks-cipher aes-128-xts-plain64 --luks-hash sha256 --luks-iterations 1000 \
  --deterministic-seed 7172636f7732726566 --secret-file "$tmp/pw" 2>/dev/null
"$q" write "$l" --offset 3000 --input "$tmp/a.bin" --secret-file "$tmp/pw"
"$q" zero "$l" --offset 65536 --length 16384 --secret-file "$tmp/pw"
