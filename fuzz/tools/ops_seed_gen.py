#!/usr/bin/env python3
"""Writes the hand-made seeds of ops_fuzzer (op scripts) into a directory.

    python3 fuzz/tools/ops_seed_gen.py OUT_DIR

The encoding is the one ops_fuzzer.cc decodes:
  options  a: bit 0 version 2, bits 1-3 cluster_bits - 9, bits 4-5
              encryption (3 AES, 2 LUKS when bit 6 and b bit 7 are set),
              bit 7 lazy
           b: bits 0-2 refcount_order, bit 3 extended L2, bit 4 zstd,
              bits 5-6 LUKS cipher, bit 7 (with a) LUKS
           16-bit little endian: bits 0-12 virtual size in sectors - 1,
              modulo 2^(6 + bits 13-15) sectors and 2048 clusters
  ops      one byte, low nibble the op, high nibble its flags:
           0-4 write     flags = shape; offset u24, length u24, mode/seed u8
           5-6 zeroes    shape; offset u24, length u24
           7   discard   shape; offset u24, length u24
           8-9 compressed  flags (count-1, unaligned, skew start);
                         first cluster u16, mode/seed u8
           10 flush, 11 snapshot create (name u8), 12 delete (bit 0 by id;
           name u8), 13 apply (same), 14 reopen, 15 verify
  shape:   bits 0-1 alignment (byte, sector, cluster, subcluster),
           bits 2-3 length class (16 B, 4 clusters, 256 KiB, whole disk)
  mode/seed: mode = bits 0-1 (constant, offset pattern, random, random),
           seed = value >> 2; values 0xf0..0xff make a write go past the end
"""
import os
import struct
import sys


def options(cluster_bits=16, version=3, refcount_order=4, xl2=False,
            zstd=False, lazy=False, enc=None, cipher=0, size=1 << 20):
    a = (1 if version == 2 else 0) | ((cluster_bits - 9) << 1)
    if enc == "aes":
        a |= 0x30
    elif enc == "luks":
        a |= 0x60
    if lazy:
        a |= 0x80
    b = refcount_order | (0x08 if xl2 else 0) | (0x10 if zstd else 0)
    b |= cipher << 5
    if enc == "luks":
        b |= 0x80
    n = size // 512 - 1
    scale = 0
    while (64 << scale) <= n:
        scale += 1
    assert scale <= 7 and n < 8192
    return bytes([a, b]) + struct.pack("<H", scale << 13 | n)


def u24(v):
    return struct.pack("<I", v)[:3]


def write(off, length, mode=1, seed=5, shape=0xc):
    return bytes([0 | shape << 4]) + u24(off) + u24(length) + \
        bytes([(seed << 2 | mode) & 0xff])


def zeroes(off, length, shape=0xc, discard=False):
    return bytes([(7 if discard else 5) | shape << 4]) + u24(off) + u24(length)


def compressed(first, count=1, mode=0, seed=3, unaligned=False, skew=False):
    flags = (count - 1) | (4 if unaligned else 0) | (8 if skew else 0)
    return bytes([8 | flags << 4]) + struct.pack("<H", first) + \
        bytes([(seed << 2 | mode) & 0xff])


def flush():
    return b"\x0a"


def snap(op, name, by_id=False):
    code = {"create": 11, "delete": 12, "apply": 13}[op]
    return bytes([code | (0x10 if by_id else 0), name])


def reopen():
    return b"\x0e"


def verify():
    return b"\x0f"


MIB = 1 << 20
SEEDS = {
    # Plain v3, 64 KiB clusters: every op once.
    "v3_64k_all_ops": options() + write(1000, 70000) + zeroes(0, 512, 0x1) +
    compressed(3, 2) + compressed(5, 1, mode=2) + zeroes(65536, 65536, 0x6) +
    zeroes(131072, 65536, 0x6, discard=True) + flush() + snap("create", 0) +
    write(60000, 10000, seed=9) + snap("create", 1) + compressed(0) +
    snap("apply", 0) + snap("delete", 1, by_id=True) + reopen() + verify(),
    # v2, 512-byte clusters, small disk, writes crossing many L2 tables.
    "v2_512_small": options(cluster_bits=9, version=2, size=192 * 1024) +
    write(100, 150000, mode=1) + zeroes(4096, 8192, 0x5) + snap("create", 2) +
    write(0, 190000, mode=0, seed=7) + snap("apply", 2) + reopen(),
    # Extended L2, zstd: subcluster-aligned writes and zeroes.
    "xl2_zstd_subclusters": options(cluster_bits=16, xl2=True, zstd=True,
                                    size=2 * MIB) +
    write(2048, 2048, shape=0x7) + write(10240, 4096, shape=0x7, seed=1) +
    zeroes(65536 + 2048, 2048, 0x7) + compressed(4, 3) +
    snap("create", 0) + write(2048 + 65536 * 4, 100, seed=2) +
    snap("apply", 0) + verify(),
    # 1-bit refcounts: a snapshot of mapped data is refused (overflow).
    "refcount1_snapshot_refused": options(cluster_bits=12, refcount_order=0,
                                          size=MIB) +
    snap("create", 0) + write(0, 20000) + snap("create", 1) +
    snap("apply", 0) + write(5000, 9000, seed=3) + reopen(),
    # 2-bit refcounts: the third reference overflows half-way.
    "refcount2_overflow": options(cluster_bits=12, refcount_order=1,
                                  size=MIB) +
    write(0, 300000) + snap("create", 0) + snap("create", 1) +
    snap("create", 2) + snap("delete", 0) + snap("create", 2) + verify(),
    # Legacy AES: data, zeroes, snapshots; compressed writes refused.
    "aes_4k": options(cluster_bits=12, enc="aes", size=512 * 1024) +
    write(777, 9000) + compressed(2) + snap("create", 0) +
    write(0, 4096, seed=4, shape=0x6) + snap("apply", 0) + reopen(),
    # LUKS (minimum PBKDF2 count, deterministic keys).
    "luks_xts_small": options(cluster_bits=16, enc="luks", cipher=0,
                              size=256 * 1024) +
    write(512, 70000) + zeroes(65536, 65536, 0x6) + reopen() + verify(),
    # 64-bit refcounts and 512-byte clusters: rewriting the whole disk after
    # a snapshot copies every cluster and grows the refcount table.
    "refcount64_growth": options(cluster_bits=9, refcount_order=6,
                                 size=MIB) +
    write(0, MIB, mode=1) + snap("create", 0) + write(0, MIB, seed=1) +
    zeroes(0, MIB, 0xd) + snap("apply", 0) + reopen(),
    # Requests that must be refused: past the end, unaligned compressed.
    "refusals": options(cluster_bits=13, size=100 * 1024) +
    write(5000, 3000, mode=0xf0) + compressed(1, unaligned=True) +
    compressed(2, unaligned=True, skew=True) + snap("delete", 3) +
    snap("apply", 4) + snap("create", 0) + snap("create", 0),
    # Snapshots interleaved with writes: COW'd tables whose entries are
    # shared with older snapshots, then deleted and applied out of order.
    "snapshot_chain": options(cluster_bits=12, size=MIB) +
    write(0, 200000) + snap("create", 0) + write(0, 100, seed=2) +
    snap("create", 1) + write(150000, 8192, seed=3) + snap("delete", 0) +
    write(4096, 5000, seed=4) + snap("create", 2) + snap("apply", 1) +
    snap("delete", 2, by_id=True) + write(0, 300000, seed=6) + reopen(),
    # Odd size (not a cluster multiple), lazy refcounts: the last partial
    # cluster compressed and zeroed.
    "odd_size_tail": options(cluster_bits=15, lazy=True, size=99 * 1024 + 512) +
    write(0, 101888, mode=1) + compressed(3) + zeroes(98304, 4096, 0xd) +
    compressed(3, mode=1) + reopen(),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
