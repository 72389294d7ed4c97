"""Shared bits of the deliberately broken adapters (self-test only)."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(os.path.dirname(HERE), "qcow2ref")
FEATURES_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))),
                             "vectors", "features.json")
with open(FEATURES_JSON) as _f:
    ALL_FEATURES = [_x["name"] for _x in json.load(_f)["features"]]
# Adapter protocol 2 exit codes (conformance/PROTOCOL.md).
EX_REJECTED, EX_UNSUPPORTED, EX_USAGE = 65, 69, 64


def capabilities(name, commands=("capabilities", "read")):
    print(json.dumps({"protocol": 2, "name": name, "version": "self-test",
                      "commands": list(commands), "features": ALL_FEATURES}))
    return 0


def parse(argv):
    """`read --image I [--offset N --length L] [--snapshot S] [--secret-file F]`."""
    if not argv:
        sys.stderr.write("error: usage: no command\n")
        sys.exit(EX_USAGE)
    cmd, opts, i = argv[0], {}, 1
    while i < len(argv):
        if argv[i] not in ("--image", "--offset", "--length", "--snapshot", "--secret-file") \
                or i + 1 >= len(argv):
            sys.stderr.write("error: usage: bad option %s\n" % argv[i])
            sys.exit(EX_USAGE)
        opts[argv[i][2:]] = argv[i + 1]
        i += 2
    return cmd, opts


def header(path):
    with open(path, "rb") as f:
        h = f.read(4096)
    if len(h) < 72 or h[:4] != b"QFI\xfb":
        return None
    fields = struct.unpack(">4sIQIIQIIQQIIQ", h[:72])
    keys = ["magic", "version", "backing_file_offset", "backing_file_size", "cluster_bits",
            "size", "crypt_method", "l1_size", "l1_table_offset", "refcount_table_offset",
            "refcount_table_clusters", "nb_snapshots", "snapshots_offset"]
    d = dict(zip(keys, fields))
    d["incompatible_features"] = struct.unpack(">Q", h[72:80])[0] if d["version"] >= 3 else 0
    d["header_length"] = struct.unpack(">I", h[100:104])[0] if d["version"] >= 3 else 72
    d["raw"] = h
    return d


def run_reference(argv, cwd=None):
    """Runs the reference adapter; returns (exit code, stdout bytes, stderr)."""
    p = subprocess.run([REFERENCE] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def unparse(cmd, o):
    out = [cmd]
    for k in ("image", "offset", "length", "snapshot", "secret-file"):
        if k in o:
            out += ["--" + k, o[k]]
    return out


def edited_copy(o, edit):
    """Copies the staged files (the cwd: image and chain, flat) into a fresh
    directory under $TMPDIR, calls edit(path of the image copy, header) and
    returns the directory."""
    d = tempfile.mkdtemp(prefix="broken-")
    for n in os.listdir("."):
        if os.path.isfile(n):
            shutil.copyfile(n, os.path.join(d, n))
    img = os.path.join(d, os.path.basename(o["image"]))
    h = header(img)
    if h is not None:
        edit(img, h)
    return d


def l2_entries(path, h):
    """File offsets of the L2 entries of the active L1 table, and the entry size."""
    cs = 1 << h["cluster_bits"]
    xl2 = bool(h["incompatible_features"] & (1 << 4))
    esize = 16 if xl2 else 8
    out = []
    with open(path, "rb") as f:
        f.seek(h["l1_table_offset"])
        l1 = f.read(8 * min(h["l1_size"], 1 << 20))
    for i in range(len(l1) // 8):
        l2 = struct.unpack(">Q", l1[8 * i:8 * i + 8])[0] & 0x00fffffffffffe00
        if l2:
            out += [l2 + j * esize for j in range(cs // esize)]
    return out, esize


def finish_like_reference(rc, out, err):
    sys.stderr.buffer.write(err)
    emit(out)
    sys.exit(rc)


def passthrough(argv):
    os.execv(REFERENCE, [REFERENCE] + argv)


def emit(data):
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        pass
