#!/usr/bin/env python3
"""Hostile qcow2 images for hostile_budget_test.sh (amplification classes).

Each builder patches an image made by `qcow2ref create` with the standard
library only: small files whose naive processing costs far more than their
size. Usage: hostile_images.py KIND PATH (the image exists already).
"""
import struct
import sys
import zlib


def header(f):
    f.seek(0)
    h = f.read(104)
    (cluster_bits,) = struct.unpack(">I", h[20:24])
    (size,) = struct.unpack(">Q", h[24:32])
    (l1_size,) = struct.unpack(">I", h[36:40])
    (l1_off,) = struct.unpack(">Q", h[40:48])
    (rt_off,) = struct.unpack(">Q", h[48:56])
    (rt_clusters,) = struct.unpack(">I", h[56:60])
    return cluster_bits, size, l1_size, l1_off, rt_off, rt_clusters


def append_cluster(f, cluster, data):
    f.seek(0, 2)
    end = f.tell()
    off = (end + cluster - 1) // cluster * cluster
    f.seek(off)
    f.write(data.ljust(cluster, b"\0"))
    return off


def compressed_entry(cluster_bits, host, nbytes):
    x = 62 - (cluster_bits - 8)
    sectors = (host + nbytes - 1) // 512 - host // 512
    return (1 << 62) | (sectors << x) | host


def shared_l2(path, kind):
    """Every L1 entry names one L2 table: of compressed entries naming one
    deflate stream ("compressed"), or of plain entries ("plain")."""
    with open(path, "r+b") as f:
        cb, _, l1_size, l1_off, _, _ = header(f)
        c = 1 << cb
        if kind == "compressed":
            raw = zlib.compressobj(9, zlib.DEFLATED, -15)
            stream = raw.compress(bytes(c)) + raw.flush()
            data_off = append_cluster(f, c, stream)
            entry = compressed_entry(cb, data_off, len(stream))
        else:
            data_off = append_cluster(f, c, b"\x55" * c)
            entry = data_off
        l2 = struct.pack(">Q", entry) * (c // 8)
        l2_off = append_cluster(f, c, l2)
        f.seek(l1_off)
        f.write(struct.pack(">Q", l2_off) * l1_size)
        if kind == "plain":
            # Sound refcounts (64-bit wide images only): the data cluster is
            # named by every L2 entry under every L1 entry.
            set_refcount64(f, data_off >> cb, l1_size * (c // 8))
            set_refcount64(f, l2_off >> cb, l1_size)


def set_refcount64(f, cluster, count):
    """Sets a refcount in the first refcount block of an image whose
    refcount_order is 6; other widths are left alone."""
    f.seek(96)
    (order,) = struct.unpack(">I", f.read(4))
    if order != 6:
        return
    _, _, _, _, rt_off, _ = header(f)
    f.seek(rt_off)
    (block,) = struct.unpack(">Q", f.read(8))
    f.seek(block + 8 * cluster)
    f.write(struct.pack(">Q", count))


def shared_refblock(path, clusters):
    """A refcount table of `clusters` clusters (8 MiB: 1M entries with 64 KiB
    clusters) whose every entry names the image's first refcount block."""
    with open(path, "r+b") as f:
        cb, _, _, _, rt_off, _ = header(f)
        c = 1 << cb
        f.seek(rt_off)
        (first,) = struct.unpack(">Q", f.read(8))
        table = struct.pack(">Q", first) * (clusters * c // 8)
        off = append_cluster(f, c, table[:c])
        f.seek(off)
        f.write(table)
        f.seek(48)
        f.write(struct.pack(">QI", off, clusters))


def luks_slots(path, iterations):
    """Every LUKS key slot active (a copy of slot 0) at `iterations`."""
    with open(path, "r+b") as f:
        f.seek(0)
        h = f.read(1 << 16)
        (hlen,) = struct.unpack(">I", h[100:104])
        pos = hlen
        area = None
        while pos + 8 <= len(h):
            etype, elen = struct.unpack(">II", h[pos:pos + 8])
            if etype == 0:
                break
            if etype == 0x0537BE77:
                (area,) = struct.unpack(">Q", h[pos + 8:pos + 16])
            pos += 8 + (elen + 7) // 8 * 8
        assert area is not None, "no full-disk-encryption extension"
        f.seek(area + 208)
        slot0 = bytearray(f.read(48))
        struct.pack_into(">II", slot0, 0, 0x00AC71F3, iterations)
        for i in range(8):  # Each keeps its own key material offset.
            f.seek(area + 208 + 48 * i)
            f.write(slot0[:40])


def overlapping_snapshots(path, count):
    """`count` snapshots whose L1 tables are prefixes of one copy of the
    active L1 table (sizes 1, 2, ... cycling up to l1_size)."""
    with open(path, "r+b") as f:
        cb, _, l1_size, l1_off, _, _ = header(f)
        c = 1 << cb
        f.seek(l1_off)
        l1 = f.read(8 * l1_size)
        l1_off = append_cluster(f, c, l1[:c])
        f.seek(l1_off)
        f.write(l1 + bytes(-len(l1) % c))
        table = bytearray()
        for i in range(count):
            size = i % l1_size + 1
            ident = str(i + 1).encode()
            extra = struct.pack(">QQ", 0, size * (c // 8) * c)
            e = struct.pack(">QIHHIIQII", l1_off, size, len(ident), 0, 0, 0,
                            0, 0, len(extra)) + extra + ident
            table += e + bytes(-len(e) % 8)
        f.seek(0, 2)
        off = (f.tell() + c - 1) // c * c
        f.seek(off)
        f.write(bytes(table) + bytes(-len(table) % c))
        f.seek(60)
        f.write(struct.pack(">IQ", count, off))


def main():
    kind, path = sys.argv[1], sys.argv[2]
    if kind in ("compressed", "plain"):
        shared_l2(path, kind)
    elif kind == "luks_slots":
        luks_slots(path, int(sys.argv[3]))
    elif kind == "snapshots":
        overlapping_snapshots(path, int(sys.argv[3]))
    elif kind == "refblock":
        shared_refblock(path, int(sys.argv[3]))
    else:
        sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()
