#!/usr/bin/env python3
"""The `write` command of the adapter protocol (conformance/PROTOCOL.md) for the
adapters in this directory:

  ops_write.py qcow2ref BIN --ops OPS.json --out O [--secret-file F]
  ops_write.py qemu     -   --ops OPS.json --out O [--secret-file F]

OPS.json is one op script (vectors/ops/*.json: create options and ops). The
data of a write is expanded from its source ({"prng": "sha256ctr", "seed":
HEX}: SHA-256(seed || BE32(i)) for i = 0, 1, ... concatenated; {"fill": B})
into a file under $TMPDIR and handed to the tool:

  qcow2ref: `qcow2ref create`, then one `qcow2ref write [--compress]`,
            `zero` or `discard` per op (each one opens and closes the image,
            so `reopen` needs nothing).
  qemu:     `qemu-img create -o ...`, then qemu-io `write -s FILE` (`-c` for
            compressed), `write -z` for zero and discard (qemu-io ignores
            discards of partial clusters), one qemu-io process per run of ops
            between reopens.

Exit codes: 0 written; 1 the tool refused an op; 2 an option the tool does
not support; 3 usage; 128+N when the tool died of signal N.
"""
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile


# Adapter protocol 2 exit codes (conformance/PROTOCOL.md): any other status is a crash.
EX_REJECTED, EX_UNSUPPORTED, EX_USAGE = 65, 69, 64


def usage(msg):
    sys.stderr.write("error: usage: %s\n" % msg)
    sys.exit(EX_USAGE)


def data_of(op):
    d, n = op.get("data") or {}, op["length"]
    if "fill" in d:
        return bytes([d["fill"]]) * n
    if d.get("prng") == "sha256ctr":
        seed, out, i = bytes.fromhex(d["seed"]), bytearray(), 0
        while len(out) < n:
            out += hashlib.sha256(seed + struct.pack(">I", i)).digest()
            i += 1
        return bytes(out[:n])
    sys.stderr.write("error: unsupported: data source %r\n" % (d,))
    sys.exit(EX_UNSUPPORTED)


def run(argv, what):
    # qemu-img 7.2 sometimes fails LUKS creation while timing PBKDF2
    # ("Unable to get accurate CPU usage"): a flake of the judge, retried.
    for _ in range(5):
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if b"Unable to get accurate CPU usage" not in r.stderr:
            break
    if r.returncode < 0:
        sys.stderr.write(r.stderr.decode("utf-8", "replace"))
        sys.exit(128 - r.returncode)
    if r.returncode != 0 or (b"failed" in r.stdout.lower() and argv[0].endswith("qemu-io")):
        first = (r.stderr or r.stdout).decode("utf-8", "replace").strip().splitlines()
        sys.stderr.write("error: %s: %s\n" % (what, first[0] if first else "exit %d" % r.returncode))
        sys.exit(EX_UNSUPPORTED if r.returncode == 2 else EX_REJECTED)
    return r


def write_qcow2ref(binary, script, out, secret, tmp):
    c = script["create"]
    sec = ["--secret-file", secret] if secret else []
    argv = [binary, "create", out, "--size", str(c["size"]), "--version", str(c["version"]),
            "--cluster-size", str(1 << c["cluster_bits"]),
            "--refcount-bits", str(1 << c["refcount_order"]),
            "--compression-type", c.get("compression") or "zlib"]
    if c.get("extended_l2"):
        argv.append("--extended-l2")
    if c.get("encrypt"):
        if not secret:
            usage("encrypted script without --secret-file")
        argv += ["--encrypt", c["encrypt"]] + sec
        if c["encrypt"] == "luks":
            argv += ["--luks-iterations", "1000"]
    run(argv, "create")
    for i, op in enumerate(script["ops"]):
        k = op["op"]
        if k in ("write", "compressed"):
            path = os.path.join(tmp, "data")
            with open(path, "wb") as f:
                f.write(data_of(op))
            argv = [binary, "write", out, "--offset", str(op["offset"]), "--input", path]
            if k == "compressed":
                argv.append("--compress")
            run(argv + sec, "ops[%d] %s" % (i, k))
        elif k in ("zero", "discard"):
            run([binary, k, out, "--offset", str(op["offset"]), "--length", str(op["length"])]
                + sec, "ops[%d] %s" % (i, k))
        elif k != "reopen":
            sys.stderr.write("error: unsupported: op %r\n" % k)
            sys.exit(EX_UNSUPPORTED)


def write_qemu(script, out, secret, tmp):
    c = script["create"]
    opts = ["cluster_size=%d" % (1 << c["cluster_bits"]),
            "compat=%s" % ("0.10" if c["version"] == 2 else "1.1")]
    if c["version"] == 3:
        opts += ["refcount_bits=%d" % (1 << c["refcount_order"]),
                 "compression_type=%s" % (c.get("compression") or "zlib")]
        if c.get("extended_l2"):
            opts.append("extended_l2=on")
    obj, spec, io = [], out, ["-f", "qcow2"]
    if c.get("encrypt"):
        if not secret:
            usage("encrypted script without --secret-file")
        obj = ["--object", "secret,id=s0,file=%s" % secret]
        opts += ["encrypt.format=%s" % c["encrypt"], "encrypt.key-secret=s0"]
        if c["encrypt"] == "luks":
            opts.append("encrypt.iter-time=10")
        spec = "driver=qcow2,file.filename=%s,encrypt.key-secret=s0" % out
        io = ["--image-opts"]
    run(["qemu-img", "create", "-q", "-f", "qcow2"] + obj + ["-o", ",".join(opts), out,
                                                               str(c["size"])], "create")
    batch = []
    for i, op in enumerate(script["ops"] + [{"op": "reopen"}]):
        k = op["op"]
        if k in ("write", "compressed"):
            path = os.path.join(tmp, "d%d" % i)
            with open(path, "wb") as f:
                f.write(data_of(op))
            batch.append("write %s-s %s %d %d" % ("-c " if k == "compressed" else "", path,
                                                  op["offset"], op["length"]))
        elif k in ("zero", "discard"):
            batch.append("write -z %d %d" % (op["offset"], op["length"]))
        elif k == "reopen":
            if batch:
                argv = ["qemu-io"] + obj + io
                for b in batch:
                    argv += ["-c", b]
                run(argv + [spec], "qemu-io")
            batch = []
        else:
            sys.stderr.write("error: unsupported: op %r\n" % k)
            sys.exit(EX_UNSUPPORTED)


def main(argv):
    if len(argv) < 3:
        usage("ops_write.py qcow2ref|qemu BIN --ops F --out O [--secret-file F]")
    backend, binary, opts, i = argv[1], argv[2], {}, 3
    while i < len(argv):
        if argv[i] not in ("--ops", "--out", "--secret-file") or i + 1 >= len(argv):
            usage("bad option %s" % argv[i])
        opts[argv[i][2:]] = argv[i + 1]
        i += 2
    if "ops" not in opts or "out" not in opts:
        usage("write needs --ops and --out")
    try:
        with open(opts["ops"]) as f:
            script = json.load(f)
    except (OSError, ValueError) as e:
        usage("cannot read %s: %s" % (opts["ops"], e))
    secret = opts.get("secret-file")
    out = os.path.abspath(opts["out"])
    if secret:
        secret = os.path.abspath(secret)
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "qcow2ref":
            write_qcow2ref(binary, script, out, secret, tmp)
        elif backend == "qemu":
            write_qemu(script, out, secret, tmp)
        else:
            usage("unknown backend %s" % backend)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
