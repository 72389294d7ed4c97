#!/usr/bin/env python3
"""qcow2_edit.py - change exactly ONE thing in a qcow2 image (vector-corpus editing tool).

Standalone (python3 stdlib only). It parses the qcow2 header itself (big-endian, struct) and
never uses the project's C++ reader. Every sub-command edits the file in place.

Usage:  qcow2_edit.py IMAGE COMMAND [ARGS...]

Commands (numbers accept decimal or 0x-hex):
  show                                   print the parsed header, extensions, L1 summary
  set-field NAME VALUE                   set a header field (see HEADER_FIELDS)
  set-bit {incompat|compat|autoclear} BIT {0|1}
                                         set or clear one feature bit
  write-bytes OFFSET HEX                 write raw bytes at a file offset
  write-u32 OFFSET VALUE / write-u64 OFFSET VALUE
                                         write a big-endian integer at a file offset
  set-l1 I VALUE                         set active L1 entry I (raw 64-bit value)
  set-l2 I J VALUE [BITMAP]              set entry J of the L2 table named by L1 entry I;
                                         BITMAP = 64-bit subcluster bitmap (extended L2 only)
  set-l2-bitmap I J BITMAP               set only the subcluster bitmap (extended L2)
  set-reftable I VALUE                   set refcount table entry I
  ext-add TYPE HEX [DECLARED_LEN]        append a header extension (before the end marker);
                                         DECLARED_LEN overrides the length field (for faults)
  ext-remove TYPE [NTH]                  remove the NTH (default 0) extension of TYPE
  ext-replace TYPE HEX [NTH]             replace the data of the NTH extension of TYPE
  ext-set-length TYPE LEN [NTH]          overwrite only the length field of an extension
  set-backing-name NAME                  store a new backing file name (after the extensions)
  set-snapshot-field INDEX FIELD VALUE   set a field of snapshot table entry INDEX
  set-bitmap-field INDEX FIELD VALUE     set a field of bitmap directory entry INDEX
  write-guest-host GUEST_OFFSET HEX [REL]
                                         write raw bytes at the host location that stores the
                                         guest cluster containing GUEST_OFFSET (+REL bytes);
                                         works for standard and compressed clusters
  truncate LENGTH                        truncate / extend the file
  set-compressed-sectors I J N           set the additional-sector count of a compressed entry
  ext-patch TYPE REL HEX [NTH]           overwrite bytes inside an extension's data
  ext-truncate TYPE LEN [NTH]            keep only the first LEN data bytes of an extension

VALUE arguments of set-field, set-l1, set-l2, set-l2-bitmap, set-reftable, set-snapshot-field
and set-bitmap-field may be relative: "+N" adds to the current value, "|N" sets bits,
"&~N" clears bits, "^N" flips bits.

Extension rewriting keeps the order of the other extensions, writes an 8-byte end marker and
moves the backing file name (if any) right after it, updating backing_file_offset.
"""
import json
import os
import struct
import sys

# name -> (offset, struct format)
HEADER_FIELDS = {
    "magic": (0, ">I"),
    "version": (4, ">I"),
    "backing_file_offset": (8, ">Q"),
    "backing_file_size": (16, ">I"),
    "cluster_bits": (20, ">I"),
    "size": (24, ">Q"),
    "crypt_method": (32, ">I"),
    "l1_size": (36, ">I"),
    "l1_table_offset": (40, ">Q"),
    "refcount_table_offset": (48, ">Q"),
    "refcount_table_clusters": (56, ">I"),
    "nb_snapshots": (60, ">I"),
    "snapshots_offset": (64, ">Q"),
    "incompatible_features": (72, ">Q"),
    "compatible_features": (80, ">Q"),
    "autoclear_features": (88, ">Q"),
    "refcount_order": (96, ">I"),
    "header_length": (100, ">I"),
    "compression_type": (104, ">B"),
}
FEATURE_FIELD = {"incompat": "incompatible_features", "compat": "compatible_features",
                 "autoclear": "autoclear_features"}

# Snapshot table entry: fixed part (40 bytes) + standard extra data fields.
SNAPSHOT_FIELDS = {
    "l1_table_offset": (0, ">Q"), "l1_size": (8, ">I"), "id_str_size": (12, ">H"),
    "name_size": (14, ">H"), "date_sec": (16, ">I"), "date_nsec": (20, ">I"),
    "vm_clock_nsec": (24, ">Q"), "vm_state_size": (32, ">I"), "extra_data_size": (36, ">I"),
    "vm_state_size_large": (40, ">Q"), "disk_size": (48, ">Q"), "icount": (56, ">Q"),
}
# Bitmap directory entry fixed part (24 bytes).
BITMAP_FIELDS = {
    "bitmap_table_offset": (0, ">Q"), "bitmap_table_size": (8, ">I"), "flags": (12, ">I"),
    "type": (16, ">B"), "granularity_bits": (17, ">B"), "name_size": (18, ">H"),
    "extra_data_size": (20, ">I"),
}

EXT_END = 0x00000000
EXT_BACKING_FORMAT = 0xE2792ACA
EXT_FEATURE_TABLE = 0x6803F857
EXT_BITMAPS = 0x23852875
EXT_FDE = 0x0537BE77
EXT_DATA_FILE = 0x44415441

L1E_OFFSET_MASK = 0x00FFFFFFFFFFFE00
L2E_OFFSET_MASK = 0x00FFFFFFFFFFFE00
COMPRESSED_BIT = 1 << 62


def num(v):
    """Accept int, decimal string or 0x-hex string."""
    if isinstance(v, int):
        return v
    return int(str(v), 0)


def relval(old, v, bits=64):
    """Value relative to the current one: "+N" adds, "|N" sets bits, "&~N" clears bits,
    "^N" flips bits; anything else is an absolute value."""
    mask = (1 << bits) - 1
    if isinstance(v, str):
        if v.startswith("+"):
            return (old + num(v[1:])) & mask
        if v.startswith("|"):
            return old | num(v[1:])
        if v.startswith("&~"):
            return old & ~num(v[2:]) & mask
        if v.startswith("^"):
            return old ^ num(v[1:])
    return num(v)


def _bits(fmt):
    return 8 * struct.calcsize(fmt)


class Image:
    """Minimal qcow2 view over a file opened read/write."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "r+b")
        self.reload()

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # -- raw access --------------------------------------------------------------------------
    def read(self, off, n):
        self.f.seek(off)
        data = self.f.read(n)
        return data + b"\0" * (n - len(data))

    def write(self, off, data):
        self.f.seek(off)
        self.f.write(data)

    def u(self, off, fmt):
        return struct.unpack(fmt, self.read(off, struct.calcsize(fmt)))[0]

    def put(self, off, fmt, value):
        self.write(off, struct.pack(fmt, value))

    # -- header ------------------------------------------------------------------------------
    def reload(self):
        self.h = {}
        for name, (off, fmt) in HEADER_FIELDS.items():
            self.h[name] = self.u(off, fmt)
        if self.h["version"] < 3:
            # v2: version-3 fields take their defaults
            for k in ("incompatible_features", "compatible_features", "autoclear_features",
                      "compression_type"):
                self.h[k] = 0
            self.h["refcount_order"] = 4
            self.h["header_length"] = 72
        elif self.h["header_length"] <= 104:
            self.h["compression_type"] = 0
        self.cluster_size = 1 << min(self.h["cluster_bits"], 62)

    @property
    def extended_l2(self):
        return bool(self.h["incompatible_features"] & (1 << 4))

    def set_field(self, name, value):
        off, fmt = HEADER_FIELDS[name]
        self.put(off, fmt, relval(self.u(off, fmt), value, _bits(fmt)))
        self.reload()

    def set_bit(self, kind, bit, on):
        field = FEATURE_FIELD[kind]
        off, fmt = HEADER_FIELDS[field]
        v = self.u(off, fmt)
        v = (v | (1 << num(bit))) if num(on) else (v & ~(1 << num(bit)))
        self.put(off, fmt, v)
        self.reload()

    # -- extensions --------------------------------------------------------------------------
    def ext_area(self):
        start = self.h["header_length"]
        bfo = self.h["backing_file_offset"]
        end = bfo if bfo else self.cluster_size
        return start, end

    def extensions(self):
        """List of (offset, type, declared_len, data) up to (not including) the end marker."""
        start, end = self.ext_area()
        out = []
        off = start
        while off + 8 <= end:
            t, ln = struct.unpack(">II", self.read(off, 8))
            if t == EXT_END:
                break
            data = self.read(off + 8, min(ln, max(0, end - off - 8)))
            out.append((off, t, ln, data))
            off += 8 + ((ln + 7) & ~7)
        return out

    def backing_name(self):
        if not self.h["backing_file_offset"]:
            return None
        return self.read(self.h["backing_file_offset"], self.h["backing_file_size"])

    def write_extensions(self, exts, backing=None):
        """exts: list of (type, data, declared_len or None). Rewrites the whole ext area."""
        start = self.h["header_length"]
        if backing is None:
            backing = self.backing_name()
        old_end = self.cluster_size
        buf = b""
        for t, data, declared in exts:
            ln = len(data) if declared is None else declared
            buf += struct.pack(">II", t, ln) + data + b"\0" * ((8 - len(data) % 8) % 8)
        buf += b"\0" * 8  # end marker
        bfo = 0
        if backing is not None:
            bfo = start + len(buf)
            buf += backing
        if start + len(buf) > old_end:
            raise SystemExit("extension area does not fit in cluster 0")
        self.write(start, buf + b"\0" * (old_end - start - len(buf)))
        if backing is not None:
            self.put(8, ">Q", bfo)
            self.put(16, ">I", len(backing))
        self.reload()

    def _ext_list(self):
        return [(t, d, None) for (_, t, _, d) in self.extensions()]

    def ext_add(self, t, data, declared=None):
        exts = self._ext_list()
        exts.append((num(t), data, None if declared is None else num(declared)))
        self.write_extensions(exts)

    def _nth(self, exts, t, nth):
        idx = [i for i, e in enumerate(exts) if e[0] == num(t)]
        if len(idx) <= nth:
            raise SystemExit("extension 0x%08x #%d not found" % (num(t), nth))
        return idx[nth]

    def ext_remove(self, t, nth=0):
        exts = self._ext_list()
        del exts[self._nth(exts, t, num(nth))]
        self.write_extensions(exts)

    def ext_replace(self, t, data, nth=0):
        exts = self._ext_list()
        i = self._nth(exts, t, num(nth))
        exts[i] = (num(t), data, None)
        self.write_extensions(exts)

    def ext_set_length(self, t, ln, nth=0):
        found = [e for e in self.extensions() if e[1] == num(t)]
        if len(found) <= num(nth):
            raise SystemExit("extension not found")
        self.put(found[num(nth)][0] + 4, ">I", num(ln))

    def set_backing_name(self, name):
        self.write_extensions(self._ext_list(), backing=name)

    # -- tables ------------------------------------------------------------------------------
    def l2_entry_size(self):
        return 16 if self.extended_l2 else 8

    def l2_entries(self):
        return self.cluster_size // self.l2_entry_size()

    def l1(self, i):
        return self.u(self.h["l1_table_offset"] + 8 * i, ">Q")

    def set_l1(self, i, value):
        off = self.h["l1_table_offset"] + 8 * num(i)
        self.put(off, ">Q", relval(self.u(off, ">Q"), value))

    def l2_entry_offset(self, i, j):
        l2 = self.l1(num(i)) & L1E_OFFSET_MASK
        if not l2:
            raise SystemExit("L1 entry %d is unallocated" % num(i))
        return l2 + self.l2_entry_size() * num(j)

    def set_l2(self, i, j, value, bitmap=None):
        off = self.l2_entry_offset(i, j)
        self.put(off, ">Q", relval(self.u(off, ">Q"), value))
        if bitmap is not None:
            if not self.extended_l2:
                raise SystemExit("bitmap given but image has no extended L2")
            self.put(off + 8, ">Q", relval(self.u(off + 8, ">Q"), bitmap))

    def set_l2_bitmap(self, i, j, bitmap):
        if not self.extended_l2:
            raise SystemExit("image has no extended L2")
        off = self.l2_entry_offset(i, j) + 8
        self.put(off, ">Q", relval(self.u(off, ">Q"), bitmap))

    def set_compressed_sectors(self, i, j, sectors):
        """Rewrite the additional-sector count of a compressed L2 entry."""
        off = self.l2_entry_offset(i, j)
        e = self.u(off, ">Q")
        if not e & COMPRESSED_BIT:
            raise SystemExit("L2 entry is not compressed")
        x = 62 - (self.h["cluster_bits"] - 8)
        field_mask = ((1 << 62) - 1) & ~((1 << x) - 1)
        e = (e & ~field_mask) | ((num(sectors) << x) & field_mask)
        self.put(off, ">Q", e)

    def ext_patch(self, t, rel, data, nth=0):
        """Overwrite bytes inside the data of an existing extension (rel = offset in its data)."""
        found = [e for e in self.extensions() if e[1] == num(t)]
        if len(found) <= num(nth):
            raise SystemExit("extension not found")
        self.write(found[num(nth)][0] + 8 + num(rel), data)

    def ext_truncate(self, t, length, nth=0):
        """Keep only the first LENGTH bytes of an extension's data (rewrites the area)."""
        exts = self._ext_list()
        i = self._nth(exts, t, num(nth))
        exts[i] = (num(t), exts[i][1][: num(length)], None)
        self.write_extensions(exts)

    def set_reftable(self, i, value):
        off = self.h["refcount_table_offset"] + 8 * num(i)
        self.put(off, ">Q", relval(self.u(off, ">Q"), value))

    def guest_to_host(self, guest):
        """Host byte offset of the (standard or compressed) cluster holding guest offset."""
        cb = self.h["cluster_bits"]
        cl = guest >> cb
        i, j = divmod(cl, self.l2_entries())
        e = self.u(self.l2_entry_offset(i, j), ">Q")
        if e & COMPRESSED_BIT:
            x = 62 - (cb - 8)
            return e & ((1 << x) - 1)
        host = e & L2E_OFFSET_MASK
        if not host:
            raise SystemExit("guest offset %#x is not allocated" % guest)
        return host + (guest & (self.cluster_size - 1))

    # -- snapshots / bitmaps ----------------------------------------------------------------
    def snapshot_offsets(self):
        off = self.h["snapshots_offset"]
        out = []
        for _ in range(self.h["nb_snapshots"]):
            out.append(off)
            extra = self.u(off + 36, ">I")
            ids = self.u(off + 12, ">H")
            nms = self.u(off + 14, ">H")
            ln = 40 + extra + ids + nms
            off += (ln + 7) & ~7
        return out

    def set_snapshot_field(self, index, field, value):
        off, fmt = SNAPSHOT_FIELDS[field]
        off += self.snapshot_offsets()[num(index)]
        self.put(off, fmt, relval(self.u(off, fmt), value, _bits(fmt)))

    def bitmap_offsets(self):
        ext = [e for e in self.extensions() if e[1] == EXT_BITMAPS]
        if not ext:
            raise SystemExit("no bitmaps extension")
        nb, _res, _dsize, doff = struct.unpack(">IIQQ", ext[0][3][:24])
        off = doff
        out = []
        for _ in range(nb):
            out.append(off)
            nsz = self.u(off + 18, ">H")
            extra = self.u(off + 20, ">I")
            off += (24 + extra + nsz + 7) & ~7
        return out

    def set_bitmap_field(self, index, field, value):
        off, fmt = BITMAP_FIELDS[field]
        off += self.bitmap_offsets()[num(index)]
        self.put(off, fmt, relval(self.u(off, fmt), value, _bits(fmt)))

    def truncate(self, length):
        self.f.truncate(num(length))

    def show(self):
        d = dict(self.h)
        d["extensions"] = [{"offset": o, "type": "0x%08x" % t, "length": ln, "data": dat.hex()}
                           for (o, t, ln, dat) in self.extensions()]
        bn = self.backing_name()
        d["backing_name"] = None if bn is None else bn.decode("latin-1")
        n = min(self.h["l1_size"], 16)
        d["l1_head"] = ["0x%016x" % self.l1(i) for i in range(n)]
        return d


# ---- operation dispatcher shared by the CLI and make_edited.py ----------------------------
def _hex(s):
    return bytes.fromhex(s) if s else b""


def apply_op(path, op):
    """Apply one edit described by a dict {"op": name, ...} (the edits.json vocabulary)."""
    kind = op["op"]
    with Image(path) as img:
        if kind == "set_field":
            img.set_field(op["field"], op["value"])
        elif kind == "set_bit":
            img.set_bit(op["kind"], op["bit"], op.get("on", 1))
        elif kind == "write_bytes":
            img.write(num(op["offset"]), _hex(op["hex"]))
        elif kind == "write_u32":
            img.put(num(op["offset"]), ">I", num(op["value"]))
        elif kind == "write_u64":
            img.put(num(op["offset"]), ">Q", num(op["value"]))
        elif kind == "set_l1":
            img.set_l1(op["index"], op["value"])
        elif kind == "set_l2":
            img.set_l2(op["l1_index"], op["l2_index"], op["value"], op.get("bitmap"))
        elif kind == "set_l2_bitmap":
            img.set_l2_bitmap(op["l1_index"], op["l2_index"], op["bitmap"])
        elif kind == "set_compressed_sectors":
            img.set_compressed_sectors(op["l1_index"], op["l2_index"], op["sectors"])
        elif kind == "ext_patch":
            img.ext_patch(op["type"], op.get("rel", 0), _hex(op["hex"]), op.get("nth", 0))
        elif kind == "ext_truncate":
            img.ext_truncate(op["type"], op["length"], op.get("nth", 0))
        elif kind == "set_reftable":
            img.set_reftable(op["index"], op["value"])
        elif kind == "ext_add":
            img.ext_add(op["type"], _hex(op.get("hex", "")), op.get("declared_length"))
        elif kind == "ext_remove":
            img.ext_remove(op["type"], op.get("nth", 0))
        elif kind == "ext_replace":
            img.ext_replace(op["type"], _hex(op.get("hex", "")), op.get("nth", 0))
        elif kind == "ext_set_length":
            img.ext_set_length(op["type"], op["length"], op.get("nth", 0))
        elif kind == "set_backing_name":
            img.set_backing_name(op["name"].encode())
        elif kind == "set_snapshot_field":
            img.set_snapshot_field(op["index"], op["field"], op["value"])
        elif kind == "set_bitmap_field":
            img.set_bitmap_field(op["index"], op["field"], op["value"])
        elif kind == "write_guest_host":
            host = img.guest_to_host(num(op["guest_offset"])) + num(op.get("rel", 0))
            img.write(host, _hex(op["hex"]))
        elif kind == "truncate":
            img.truncate(op["length"])
        else:
            raise SystemExit("unknown op %r" % kind)


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) > 1 else 2
    path, cmd, a = argv[1], argv[2].replace("_", "-"), argv[3:]
    if cmd == "show":
        with Image(path) as img:
            print(json.dumps(img.show(), indent=2))
        return 0
    table = {
        "set-field": lambda: {"op": "set_field", "field": a[0], "value": a[1]},
        "set-bit": lambda: {"op": "set_bit", "kind": a[0], "bit": a[1], "on": a[2]},
        "write-bytes": lambda: {"op": "write_bytes", "offset": a[0], "hex": a[1]},
        "write-u32": lambda: {"op": "write_u32", "offset": a[0], "value": a[1]},
        "write-u64": lambda: {"op": "write_u64", "offset": a[0], "value": a[1]},
        "set-l1": lambda: {"op": "set_l1", "index": a[0], "value": a[1]},
        "set-l2": lambda: {"op": "set_l2", "l1_index": a[0], "l2_index": a[1], "value": a[2],
                           "bitmap": a[3] if len(a) > 3 else None},
        "set-l2-bitmap": lambda: {"op": "set_l2_bitmap", "l1_index": a[0], "l2_index": a[1],
                                  "bitmap": a[2]},
        "set-reftable": lambda: {"op": "set_reftable", "index": a[0], "value": a[1]},
        "ext-add": lambda: {"op": "ext_add", "type": a[0], "hex": a[1],
                            "declared_length": a[2] if len(a) > 2 else None},
        "ext-remove": lambda: {"op": "ext_remove", "type": a[0], "nth": a[1] if len(a) > 1 else 0},
        "ext-replace": lambda: {"op": "ext_replace", "type": a[0], "hex": a[1],
                                "nth": a[2] if len(a) > 2 else 0},
        "ext-set-length": lambda: {"op": "ext_set_length", "type": a[0], "length": a[1],
                                   "nth": a[2] if len(a) > 2 else 0},
        "set-backing-name": lambda: {"op": "set_backing_name", "name": a[0]},
        "set-snapshot-field": lambda: {"op": "set_snapshot_field", "index": a[0], "field": a[1],
                                       "value": a[2]},
        "set-bitmap-field": lambda: {"op": "set_bitmap_field", "index": a[0], "field": a[1],
                                     "value": a[2]},
        "write-guest-host": lambda: {"op": "write_guest_host", "guest_offset": a[0], "hex": a[1],
                                     "rel": a[2] if len(a) > 2 else 0},
        "truncate": lambda: {"op": "truncate", "length": a[0]},
        "set-compressed-sectors": lambda: {"op": "set_compressed_sectors", "l1_index": a[0],
                                           "l2_index": a[1], "sectors": a[2]},
        "ext-patch": lambda: {"op": "ext_patch", "type": a[0], "rel": a[1], "hex": a[2],
                              "nth": a[3] if len(a) > 3 else 0},
        "ext-truncate": lambda: {"op": "ext_truncate", "type": a[0], "length": a[1],
                                 "nth": a[2] if len(a) > 2 else 0},
    }
    if cmd not in table:
        print("unknown command %s\n" % cmd + __doc__, file=sys.stderr)
        return 2
    try:
        op = table[cmd]()
    except IndexError:
        print("missing arguments for %s" % cmd, file=sys.stderr)
        return 2
    apply_op(path, op)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
