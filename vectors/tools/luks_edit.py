#!/usr/bin/env python3
"""luks_edit.py - read and change ONE field of the LUKS1 header inside a qcow2 image.

Standalone (python3 stdlib only, plus qcow2_edit.py from this directory to find the FDE
header pointer extension). Never uses the project's C++ reader. Edits are in place.

Usage:  luks_edit.py IMAGE show
        luks_edit.py IMAGE set-phdr FIELD VALUE        (strings: text; "hex:..." for raw bytes)
        luks_edit.py IMAGE set-slot SLOT FIELD VALUE
Numbers accept decimal or 0x-hex and the relative forms of qcow2_edit.py (+N, ^N, ...).
Any field also takes "hex:HEX" (overwrite the first bytes) or "xor:HEX" (flip bits of the
first bytes).

LUKS1 phdr fields (byte offset in the LUKS area, size):
  magic 0/6, version 6/2, cipher_name 8/32, cipher_mode 40/32, hash_spec 72/32,
  payload_offset 104/4, key_bytes 108/4, mk_digest 112/20, mk_digest_salt 132/32,
  mk_digest_iter 164/4, uuid 168/40; key slot k at 208 + 48*k:
  active +0/4, iterations +4/4, salt +8/32, key_material_offset +40/4, stripes +44/4.
All integers big-endian.
"""
import json
import struct
import sys

import qcow2_edit

FDE_EXT = 0x0537BE77
# name -> (offset, size, kind) kind: "u16" "u32" "str" "bytes"
PHDR = {
    "magic": (0, 6, "bytes"),
    "version": (6, 2, "u16"),
    "cipher_name": (8, 32, "str"),
    "cipher_mode": (40, 32, "str"),
    "hash_spec": (72, 32, "str"),
    "payload_offset": (104, 4, "u32"),
    "key_bytes": (108, 4, "u32"),
    "mk_digest": (112, 20, "bytes"),
    "mk_digest_salt": (132, 32, "bytes"),
    "mk_digest_iter": (164, 4, "u32"),
    "uuid": (168, 40, "str"),
}
SLOT = {
    "active": (0, 4, "u32"),
    "iterations": (4, 4, "u32"),
    "salt": (8, 32, "bytes"),
    "key_material_offset": (40, 4, "u32"),
    "stripes": (44, 4, "u32"),
}
SLOT_BASE, SLOT_SIZE, NSLOTS = 208, 48, 8
ACTIVE, DISABLED = 0x00AC71F3, 0x0000DEAD


def fde_pointer(img):
    """(offset, length) of the LUKS area from the FDE header pointer extension."""
    for _, t, _, data in img.extensions():
        if t == FDE_EXT and len(data) >= 16:
            return struct.unpack(">QQ", data[:16])
    raise SystemExit("no FDE header pointer extension")


def _get(buf, off, size, kind):
    raw = buf[off:off + size]
    if kind == "u16":
        return struct.unpack(">H", raw)[0]
    if kind == "u32":
        return struct.unpack(">I", raw)[0]
    if kind == "str":
        return raw.split(b"\0", 1)[0].decode("latin-1")
    return raw.hex()


def parse_phdr(buf):
    """dict of every phdr field and the 8 slots from 592 bytes."""
    d = {k: _get(buf, o, s, kd) for k, (o, s, kd) in PHDR.items()}
    d["slots"] = []
    for k in range(NSLOTS):
        base = SLOT_BASE + SLOT_SIZE * k
        d["slots"].append({f: _get(buf, base + o, s, kd) for f, (o, s, kd) in SLOT.items()})
    return d


def read_phdr(path):
    with qcow2_edit.Image(path) as img:
        off, ln = fde_pointer(img)
        return off, ln, parse_phdr(img.read(off, 592))


def _encode(old_raw, size, kind, value):
    if isinstance(value, str) and value.startswith("xor:"):
        mask = bytes.fromhex(value[4:])
        return bytes(a ^ b for a, b in zip(old_raw, mask)) + old_raw[len(mask):]
    if isinstance(value, str) and value.startswith("hex:"):
        raw = bytes.fromhex(value[4:])
        return raw + old_raw[len(raw):]  # overwrite a prefix, keep the rest
    if kind in ("u16", "u32"):
        fmt = ">H" if kind == "u16" else ">I"
        old = struct.unpack(fmt, old_raw)[0]
        return struct.pack(fmt, qcow2_edit.relval(old, value, 8 * size))
    if kind == "str":
        raw = value.encode("latin-1")
        if len(raw) > size:
            raise SystemExit("string longer than the field")
        return raw + b"\0" * (size - len(raw))
    raise SystemExit("field of kind %s needs a hex:... value" % kind)


def set_phdr(path, field, value):
    off, size, kind = PHDR[field]
    with qcow2_edit.Image(path) as img:
        base, _ = fde_pointer(img)
        img.write(base + off, _encode(img.read(base + off, size), size, kind, value))


def set_slot(path, slot, field, value):
    off, size, kind = SLOT[field]
    with qcow2_edit.Image(path) as img:
        base, _ = fde_pointer(img)
        a = base + SLOT_BASE + SLOT_SIZE * int(slot) + off
        img.write(a, _encode(img.read(a, size), size, kind, value))


def copy_slot(path, src, dst):
    """Copy the 48-byte slot descriptor src over dst."""
    with qcow2_edit.Image(path) as img:
        base, _ = fde_pointer(img)
        d = img.read(base + SLOT_BASE + SLOT_SIZE * int(src), SLOT_SIZE)
        img.write(base + SLOT_BASE + SLOT_SIZE * int(dst), d)


def apply_op(path, op):
    """LUKS ops for recipes: luks_set_phdr, luks_set_slot, luks_copy_slot; everything else is
    passed to qcow2_edit.apply_op."""
    kind = op["op"]
    if kind == "luks_set_phdr":
        set_phdr(path, op["field"], op["value"])
    elif kind == "luks_set_slot":
        set_slot(path, op["slot"], op["field"], op["value"])
    elif kind == "luks_copy_slot":
        copy_slot(path, op["src"], op["dst"])
    else:
        qcow2_edit.apply_op(path, op)


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) > 1 else 2
    path, cmd, a = argv[1], argv[2].replace("_", "-"), argv[3:]
    if cmd == "show":
        off, ln, d = read_phdr(path)
        print(json.dumps({"fde_offset": off, "fde_length": ln, "phdr": d}, indent=2))
    elif cmd == "set-phdr" and len(a) == 2:
        set_phdr(path, a[0], a[1])
    elif cmd == "set-slot" and len(a) == 3:
        set_slot(path, a[0], a[1], a[2])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
