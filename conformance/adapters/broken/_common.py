"""Shared bits of the deliberately broken adapters (self-test only)."""
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(os.path.dirname(HERE), "qcow2ref")
ALL_FEATURES = ["v2", "v3", "zstd", "compressed", "xl2", "backing", "xdf", "snapshots",
                "bitmaps", "aes", "luks"] + ["refcount_order_%d" % i for i in range(7)]


def capabilities(name):
    print(json.dumps({"protocol": 1, "name": name, "version": "self-test",
                      "commands": ["capabilities", "read"], "features": ALL_FEATURES}))
    return 0


def parse(argv):
    """`read --image I [--offset N --length L] [--snapshot S] [--secret-file F]`."""
    if not argv:
        sys.stderr.write("error: usage: no command\n")
        sys.exit(3)
    cmd, opts, i = argv[0], {}, 1
    while i < len(argv):
        if argv[i] not in ("--image", "--offset", "--length", "--snapshot", "--secret-file") \
                or i + 1 >= len(argv):
            sys.stderr.write("error: usage: bad option %s\n" % argv[i])
            sys.exit(3)
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


def run_reference(argv):
    """Runs the reference adapter; returns (exit code, stdout bytes, stderr)."""
    p = subprocess.run([REFERENCE] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout, p.stderr


def passthrough(argv):
    os.execv(REFERENCE, [REFERENCE] + argv)


def emit(data):
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        pass
