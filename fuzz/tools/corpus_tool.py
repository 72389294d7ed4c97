#!/usr/bin/env python3
"""Seed extraction for fuzz/make_corpus.sh (python3 stdlib only).

  corpus_tool.py truncate SRC DST MAX          first MAX bytes of SRC
  corpus_tool.py header SRC DST                cluster 0 of a qcow2 file, cut to 4 KiB
  corpus_tool.py luks-area SRC DST             the first 4 KiB (header sectors) of the LUKS
                                               area of a crypt_method 2 image
  corpus_tool.py compressed SRC OUTDIR [MAX]   up to MAX compressed clusters of an image,
                                               each prefixed with decompress_fuzzer's
                                               selector byte (type | (cluster_bits-9) << 1)
"""
import hashlib
import os
import struct
import sys


def be(b, at, n):
    return int.from_bytes(b[at:at + n], "big")


def header(d):
    if len(d) < 72 or d[:4] != b"QFI\xfb":
        return None
    h = {"version": be(d, 4, 4), "backing_offset": be(d, 8, 8), "cluster_bits": be(d, 20, 4),
         "crypt": be(d, 32, 4), "l1_size": be(d, 36, 4), "l1_offset": be(d, 40, 8),
         "incompat": 0, "header_length": 72, "ctype": 0}
    if h["version"] >= 3 and len(d) >= 104:
        h["incompat"] = be(d, 72, 8)
        h["header_length"] = be(d, 100, 4)
        if h["header_length"] > 104 and len(d) > 104:
            h["ctype"] = d[104]
    return h


def extensions(d, h):
    off = h["header_length"]
    end = min(len(d), h["backing_offset"] or (1 << h["cluster_bits"]))
    while off + 8 <= end:
        t, n = be(d, off, 4), be(d, off + 4, 4)
        if t == 0:
            return
        yield t, d[off + 8:off + 8 + n]
        off += 8 + ((n + 7) & ~7)


def cmd_truncate(src, dst, limit):
    with open(src, "rb") as f:
        data = f.read(int(limit))
    with open(dst, "wb") as f:
        f.write(data)


def cmd_header(src, dst):
    with open(src, "rb") as f:
        d = f.read(1 << 21)
    h = header(d)
    n = min(len(d), 4096)
    if h and 9 <= h["cluster_bits"] <= 21:
        n = min(n, 1 << h["cluster_bits"])
    with open(dst, "wb") as f:
        f.write(d[:n])


def cmd_luks_area(src, dst):
    with open(src, "rb") as f:
        d = f.read()
    h = header(d)
    if not h:
        sys.exit("not qcow2: " + src)
    fde = None
    for t, data in extensions(d, h):
        if t == 0x0537BE77 and len(data) == 16:
            fde = struct.unpack(">QQ", data)
    if not fde:
        sys.exit("no LUKS area: " + src)
    # The vectors' PBKDF2 counts exceed the fuzz build's cap, so their key
    # material is never read: the header sectors are enough.
    area = d[fde[0]:fde[0] + min(fde[1], 4096)]
    with open(dst, "wb") as f:
        f.write(area)


def cmd_compressed(src, outdir, limit=8):
    with open(src, "rb") as f:
        d = f.read()
    h = header(d)
    if not h:
        return
    cb = h["cluster_bits"]
    if not 9 <= cb <= 21 or h["crypt"] != 0:
        return
    cs = 1 << cb
    l2_bytes = 16 if h["incompat"] & 16 else 8
    x = 62 - (cb - 8)
    seen = set()
    for i in range(min(h["l1_size"], 4096)):
        l2 = be(d, h["l1_offset"] + 8 * i, 8) & 0x00FFFFFFFFFFFE00
        if not l2 or l2 >= len(d):
            continue
        for j in range(cs // l2_bytes):
            e = be(d, l2 + j * l2_bytes, 8)
            if not e & (1 << 62):
                continue
            off = e & ((1 << x) - 1)
            sectors = ((e >> x) & ((1 << (cb - 8)) - 1)) + 1
            n = sectors * 512 - (off & 511)
            blob = bytes([h["ctype"] | ((cb - 9) << 1)]) + d[off:off + n]
            key = hashlib.sha1(blob).hexdigest()
            if key in seen:
                continue
            seen.add(key)
            name = os.path.join(outdir, os.path.basename(src).rsplit(".", 1)[0] + "_" + key[:8])
            with open(name, "wb") as f:
                f.write(blob)
            if len(seen) >= int(limit):
                return


if __name__ == "__main__":
    cmds = {"truncate": cmd_truncate, "header": cmd_header, "luks-area": cmd_luks_area,
            "compressed": cmd_compressed}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
