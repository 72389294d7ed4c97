#!/usr/bin/env python3
"""ops_model.py - the independent oracle for op-script vectors (python3 stdlib only).

An op script (vectors/ops/*_ops_test.json, schema ops_test_v1) creates an empty qcow2 image
and applies guest writes to it. Its expected guest content is computed here, on a plain
byte array, never with qcow2ref:

  data sources   {"prng": "sha256ctr", "seed": HEX}: SHA-256(seed || BE32(0)) ||
                 SHA-256(seed || BE32(1)) || ..., the first `length` bytes
                 {"fill": B}: `length` bytes of value B (0..255)
  write          guest[offset:offset+length] = data
  compressed     the same as write (offset and length are whole clusters)
  zero, discard  guest[offset:offset+length] = 0   (a discarded range reads as zeros)
  reopen         nothing (the writer closes and reopens the image)

The accumulated vector (vectors/ops/accumulated_ops_v1.json) is a generator of N scripts,
described in vectors/README.md and implemented by generate_script() below; its published
digest is SHA-256 over the concatenated raw 32-byte guest digests of scripts 0..N-1.

Usage:
  ops_model.py expand ACCUMULATED.json INDEX       print generated script INDEX as JSON
  ops_model.py digest ACCUMULATED.json             recompute the accumulated digest
  ops_model.py fill MANIFEST.json                  (re)compute expect.guest_sha256 in place
  ops_model.py verify MANIFEST.json|ACCUMULATED.json  exit 1 on a mismatch
  ops_model.py qemu-replay MANIFEST.json [ID...]   replay with qemu-img/qemu-io, compare
"""
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

OPS = ("write", "compressed", "zero", "discard", "reopen")


def sha256ctr(seed, length):
    out = bytearray()
    i = 0
    while len(out) < length:
        out += hashlib.sha256(seed + struct.pack(">I", i)).digest()
        i += 1
    return bytes(out[:length])


def op_data(op):
    d = op["data"]
    n = op["length"]
    if "fill" in d:
        return bytes([d["fill"]]) * n
    if d.get("prng") == "sha256ctr":
        return sha256ctr(bytes.fromhex(d["seed"]), n)
    raise ValueError("unknown data source %r" % (d,))


def _is_hex(x):
    try:
        bytes.fromhex(x)
        return len(x) % 2 == 0 and x == x.lower()
    except ValueError:
        return False


def validate(script):
    """Problems with a script's create options and ops (a list of strings)."""
    bad = []
    c = script.get("create", {})
    size = c.get("size")
    cb = c.get("cluster_bits")
    if not isinstance(size, int) or size <= 0:
        bad.append("create.size must be a positive integer")
        return bad
    if c.get("version") not in (2, 3):
        bad.append("create.version must be 2 or 3")
    if not isinstance(cb, int) or not 9 <= cb <= 21:
        bad.append("create.cluster_bits must be 9..21")
        return bad
    if c.get("refcount_order") not in range(7):
        bad.append("create.refcount_order must be 0..6")
    if c.get("version") == 2 and c.get("refcount_order") != 4:
        bad.append("version 2 needs refcount_order 4")
    if c.get("extended_l2") and (c.get("version") != 3 or cb < 14):
        bad.append("extended_l2 needs version 3 and cluster_bits >= 14")
    if c.get("compression") not in ("zlib", "zstd"):
        bad.append("create.compression must be zlib or zstd")
    if c.get("compression") == "zstd" and c.get("version") != 3:
        bad.append("zstd needs version 3")
    if c.get("encrypt") not in (None, "aes", "luks"):
        bad.append("create.encrypt must be null, aes or luks")
    if c.get("encrypt") and "passphrase_hex" not in (script.get("secrets") or {}):
        bad.append("encrypted script without secrets.passphrase_hex")
    cs = 1 << cb
    for i, op in enumerate(script.get("ops", [])):
        k = op.get("op")
        if k not in OPS:
            bad.append("ops[%d]: unknown op %r" % (i, k))
            continue
        if k == "reopen":
            continue
        off, n = op.get("offset"), op.get("length")
        if not isinstance(off, int) or not isinstance(n, int) or off < 0 or n <= 0 \
                or off + n > size:
            bad.append("ops[%d]: range %r+%r outside the disk" % (i, off, n))
        if k in ("write", "compressed"):
            d = op.get("data")
            ok = isinstance(d, dict) and (
                (set(d) == {"fill"} and d["fill"] in range(256)) or
                (set(d) == {"prng", "seed"} and d["prng"] == "sha256ctr" and
                 isinstance(d["seed"], str) and _is_hex(d["seed"])))
            if not ok:
                bad.append("ops[%d]: %s needs data {fill: 0..255} or {prng: sha256ctr, seed: HEX}"
                           % (i, k))
        if k == "compressed":
            if off % cs or n % cs:
                bad.append("ops[%d]: compressed range is not whole clusters" % i)
            if c.get("encrypt"):
                bad.append("ops[%d]: compressed write on an encrypted image" % i)
    return bad


def features_of(script):
    """The reader/writer features (vectors/README.md) a script needs."""
    c = script["create"]
    f = {"v%d" % c["version"]}
    if c.get("extended_l2"):
        f.add("xl2")
    if c.get("compression") == "zstd":
        f.add("zstd")
    if c.get("encrypt"):
        f.add(c["encrypt"])
    if c.get("refcount_order", 4) != 4:
        f.add("refcount_order_%d" % c["refcount_order"])
    if any(o.get("op") == "compressed" for o in script.get("ops", [])):
        f.add("compressed")
    return f


def apply_ops(script):
    """The guest content after the script: a bytearray of create.size bytes."""
    disk = bytearray(script["create"]["size"])
    for op in script["ops"]:
        k = op["op"]
        if k in ("write", "compressed"):
            disk[op["offset"]:op["offset"] + op["length"]] = op_data(op)
        elif k in ("zero", "discard"):
            disk[op["offset"]:op["offset"] + op["length"]] = bytes(op["length"])
    return disk


def guest_sha256(script):
    return hashlib.sha256(apply_ops(script)).hexdigest()


# ------------------------------------------------------------------ accumulated generator

class Draws(object):
    """Draws from the sha256ctr stream with seed key || BE32(script index)."""

    def __init__(self, seed):
        self.seed, self.block, self.buf = seed, 0, b""

    def take(self, n):
        while len(self.buf) < n:
            self.buf += hashlib.sha256(self.seed + struct.pack(">I", self.block)).digest()
            self.block += 1
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def u(self, n):
        """uniform-ish 0..n-1: a big-endian u32 modulo n."""
        return struct.unpack(">I", self.take(4))[0] % n


def generate_script(gen, index):
    """Script `index` of the accumulated generator `gen` (the JSON's "generator")."""
    r = Draws(gen["key"].encode("ascii") + struct.pack(">I", index))
    version = 2 + r.u(2)
    cb = 9 + r.u(8)
    ro = r.u(7)
    xl2 = r.u(4)
    comp = r.u(2)
    size = (1 + r.u(gen["max_size_mib"])) << 20
    if version == 2:
        ro = 4
    create = {"size": size, "version": version, "cluster_bits": cb, "refcount_order": ro,
              "extended_l2": version == 3 and cb >= 14 and xl2 == 0,
              "compression": "zstd" if version == 3 and comp == 1 else "zlib",
              "encrypt": None}
    cs = 1 << cb
    ops = []
    for _ in range(1 + r.u(gen["max_ops"])):
        kind = r.u(16)
        dsel = r.u(4)
        fill = r.u(256)
        seed = r.take(16).hex()
        if kind == 15:
            ops.append({"op": "reopen"})
            continue
        if kind == 14:
            off = r.u(size // cs) * cs
            n = cs
            name = "compressed"
        else:
            n = 1 + r.u(3 * cs)
            off = r.u(size - n + 1)
            name = "write" if kind < 9 else ("zero" if kind < 12 else "discard")
        op = {"op": name, "offset": off, "length": n}
        if name in ("write", "compressed"):
            op["data"] = {"fill": fill} if dsel == 0 else {"prng": "sha256ctr", "seed": seed}
        ops.append(op)
    return {"id": "y_ops_acc_%d" % index, "verdict": "valid", "clauses": gen["clauses"],
            "create": create, "ops": ops}


def accumulated_digest(gen, count=None):
    h = hashlib.sha256()
    per = []
    for i in range(gen["count"] if count is None else count):
        d = hashlib.sha256(apply_ops(generate_script(gen, i))).digest()
        per.append(d.hex())
        h.update(d)
    return h.hexdigest(), per


# ------------------------------------------------------------------ qemu replay

def qemu_replay(script, workdir):
    """Replays a script with qemu-img create + qemu-io; returns the guest sha256 that
    qemu-img convert reads back. Discard is replayed as `write -z` (qemu ignores
    unaligned or non-unmap discards; the op's defined content is zeros)."""
    c = script["create"]
    img = os.path.join(workdir, "q.qcow2")
    opts = ["cluster_size=%d" % (1 << c["cluster_bits"]),
            "compat=%s" % ("0.10" if c["version"] == 2 else "1.1")]
    if c["version"] == 3:
        opts += ["refcount_bits=%d" % (1 << c["refcount_order"]),
                 "compression_type=%s" % c["compression"]]
        if c["extended_l2"]:
            opts.append("extended_l2=on")
    obj, img_spec, io_args = [], img, ["-f", "qcow2"]
    if c["encrypt"]:
        sec = os.path.join(workdir, "secret")
        with open(sec, "wb") as f:
            f.write(bytes.fromhex(script["secrets"]["passphrase_hex"]))
        obj = ["--object", "secret,id=sec0,file=%s" % sec]
        opts += ["encrypt.format=%s" % c["encrypt"], "encrypt.key-secret=sec0"]
        if c["encrypt"] == "luks":
            opts.append("encrypt.iter-time=10")
        img_spec = "driver=qcow2,file.filename=%s,encrypt.key-secret=sec0" % img
        io_args = ["--image-opts"]
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2"] + obj +
                   ["-o", ",".join(opts), img, str(c["size"])], check=True)
    cmds = []
    for i, op in enumerate(script["ops"]):
        k = op["op"]
        if k in ("write", "compressed"):
            dpath = os.path.join(workdir, "d%d" % i)
            with open(dpath, "wb") as f:
                f.write(op_data(op))
            cmds.append("write %s-s %s %d %d" % ("-c " if k == "compressed" else "", dpath,
                                                 op["offset"], op["length"]))
        elif k in ("zero", "discard"):
            cmds.append("write -z %d %d" % (op["offset"], op["length"]))
        else:
            cmds.append(None)
    # One qemu-io process per run of ops between reopens.
    batch = []
    for cmd in cmds + [None]:
        if cmd is not None:
            batch.append(cmd)
            continue
        if batch:
            argv = ["qemu-io"] + obj + io_args
            for b in batch:
                argv += ["-c", b]
            r = subprocess.run(argv + [img_spec], capture_output=True, text=True)
            if r.returncode != 0 or "error" in r.stdout.lower() or "failed" in r.stdout.lower():
                raise RuntimeError("qemu-io failed: %s %s" % (r.stdout, r.stderr))
            batch = []
    raw = os.path.join(workdir, "q.raw")
    conv = ["qemu-img", "convert", "-O", "raw"] + obj
    conv += (["--image-opts", img_spec] if c["encrypt"] else ["-f", "qcow2", img])
    subprocess.run(conv + [raw], check=True)
    chk = ["qemu-img", "check", "--output=json"] + obj
    chk += (["--image-opts", img_spec] if c["encrypt"] else ["-f", "qcow2", img])
    cr = subprocess.run(chk, capture_output=True, text=True)
    with open(raw, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), cr.returncode


# ------------------------------------------------------------------ CLI

def _load(path):
    with open(path) as f:
        return json.load(f)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, path = argv[1], argv[2]
    doc = _load(path)
    if cmd == "expand":
        print(json.dumps(generate_script(doc["generator"], int(argv[3])), indent=1))
        return 0
    if cmd == "digest":
        print(accumulated_digest(doc["generator"])[0])
        return 0
    if cmd == "fill":
        for t in doc["tests"]:
            probs = validate(t)
            if probs:
                print("%s: %s" % (t["id"], "; ".join(probs)), file=sys.stderr)
                return 1
            t.setdefault("expect", {})["guest_sha256"] = guest_sha256(t)
            t["expect"].setdefault("check", "clean")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print("filled %d tests" % len(doc["tests"]))
        return 0
    if cmd == "verify":
        bad = 0
        if "generator" in doc:
            got, per = accumulated_digest(doc["generator"])
            if got != doc["expect"]["accumulated_sha256"]:
                print("accumulated digest %s != published %s" % (got, doc["expect"]["accumulated_sha256"]))
                bad += 1
            for i, want in enumerate(doc["expect"].get("first_guest_sha256", [])):
                if per[i] != want:
                    print("script %d: %s != %s" % (i, per[i], want))
                    bad += 1
        else:
            for t in doc["tests"]:
                g = guest_sha256(t)
                if g != t["expect"]["guest_sha256"]:
                    print("%s: model %s != manifest %s" % (t["id"], g, t["expect"]["guest_sha256"]))
                    bad += 1
        print("verify: %s" % ("OK" if not bad else "%d mismatch(es)" % bad))
        return 1 if bad else 0
    if cmd == "qemu-replay":
        ids = set(argv[3:])
        if "generator" in doc:
            n = int(argv[3]) if len(argv) > 3 else doc["generator"]["count"]
            tests = [generate_script(doc["generator"], i) for i in range(n)]
            for t in tests:
                t["expect"] = {"guest_sha256": guest_sha256(t)}
            ids = set()
        else:
            tests = doc["tests"]
        bad = 0
        for t in tests:
            if ids and t["id"] not in ids:
                continue
            with tempfile.TemporaryDirectory() as d:
                try:
                    got, rc = qemu_replay(t, d)
                except (RuntimeError, subprocess.CalledProcessError) as e:
                    print("ERROR %s: %s" % (t["id"], e))
                    bad += 1
                    continue
            ok = got == t["expect"]["guest_sha256"] and rc == 0
            bad += not ok
            print("%s %s (qemu %s, check exit %d)" % ("OK  " if ok else "FAIL", t["id"], got[:16], rc))
        return 1 if bad else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
