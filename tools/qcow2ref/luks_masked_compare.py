"""Compares two qcow2 images with a LUKS area byte for byte, except what a
LUKS1 creation draws at random or from timing.

Masked in the LUKS header (offsets from the LUKS1 on-disk format): the
master key digest, salt and iteration count and the UUID (bytes 112-207),
each key slot's iteration count and salt, and the key material of active
slots. Everything else - the qcow2 header, extensions, tables, the LUKS
cipher name, mode, hash spec, payload offset, key size, slot states, key
material offsets and stripes - must be equal.

Usage: luks_masked_compare.py OURS THEIRS
Exit 0 when equal over the shorter file (the longer one's rest must be zero).
"""

import struct
import sys
from dataclasses import dataclass

FDE_EXTENSION = 0x0537BE77
SLOT_ACTIVE = 0x00AC71F3


@dataclass(frozen=True)
class Area:
    offset: int
    length: int


def luks_area(img: bytes) -> Area:
    version = struct.unpack(">I", img[4:8])[0]
    pos = struct.unpack(">I", img[100:104])[0] if version >= 3 else 72
    while pos + 8 <= len(img):
        kind, length = struct.unpack(">II", img[pos:pos + 8])
        if kind == 0:
            break
        if kind == FDE_EXTENSION:
            offset, size = struct.unpack(">QQ", img[pos + 8:pos + 24])
            return Area(offset, size)
        pos += 8 + (length + 7) // 8 * 8
    raise SystemExit("no full disk encryption header extension")


def masked(img: bytes) -> bytearray:
    out = bytearray(img)
    base = luks_area(img).offset

    def blank(start: int, end: int) -> None:
        out[base + start:base + end] = bytes(end - start)

    blank(112, 208)
    key_bytes = struct.unpack(">I", img[base + 108:base + 112])[0]
    for slot in range(8):
        s = 208 + 48 * slot
        (active,) = struct.unpack(">I", img[base + s:base + s + 4])
        blank(s + 4, s + 40)
        if active == SLOT_ACTIVE:
            km, stripes = struct.unpack(">II", img[base + s + 40:base + s + 48])
            sectors = -(-key_bytes * stripes // 512)
            blank(km * 512, (km + sectors) * 512)
    return out


def main(argv: list) -> int:
    ours, theirs = (open(p, "rb").read() for p in argv[1:3])
    n = min(len(ours), len(theirs))
    a, b = masked(ours), masked(theirs)
    for i in range(n):
        if a[i] != b[i]:
            print("first difference at byte %d: %02x vs %02x" % (i, a[i], b[i]))
            return 1
    if any(a[n:]) or any(b[n:]):
        print("the longer file has non-zero bytes past %d" % n)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
