#!/usr/bin/env python3
"""qcow2ref benchmarks: qcow2ref next to qemu-img, measured side by side.

  bazel run -c opt //tools:bench -- [--quick] [--repeats N] [--scratch DIR]
                                    [--json FILE] [--only CASE,...] [--no-conformance]
                                    [--rounds N] [--round-gap MIN] [--history FILE]

Builds its images with qemu-img in a scratch folder outside the repository
(default /tmp/qcow2ref-bench; 512 MiB images, 64 MiB with --quick; reused by
later runs), runs every case several times, alternating which program goes
first, and prints the medians and ratios as a Markdown table (also written as
JSON, default SCRATCH/bench.json). Ratios are "how many times faster qcow2ref
is" (reference time / qcow2ref time), so >= 1 means qcow2ref wins.

Cases: read to raw (plain, zlib, legacy AES, LUKS xts, LUKS cbc-essiv),
raw -> LUKS convert, compressed convert (text, noise, zeros, a mix: time and
image size), info/map/check/read/convert of an empty 2 PiB image, the in-process
Crypto++ cipher ceiling, LUKS unlock vs the PBKDF2 floor, check and map on a
sparse 1 TiB and a fully allocated 4 GiB image, and the conformance suite.

Every run (each round of --rounds) is one sitting, appended to a history
file (tools/bench/sittings.py); the report ends with every ratio's spread
over all sittings in it, flagging a target the spread crosses.
Python 3 standard library only.
"""
import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sittings  # noqa: E402  (tools/bench/sittings.py)

HERE = os.path.dirname(os.path.abspath(__file__))
TMP = "/tmp"  # set to the scratch folder in main()
PASSPHRASE = b"benchmark"
MIB = 1 << 20


# --- running and timing ------------------------------------------------------

def timed(cmd, stdout=subprocess.DEVNULL, env=None, cwd=None, check=True):
    """Runs cmd; returns {wall, cpu, rss_mib, rc}. Raises on a non-zero exit
    when check."""
    # Peak RSS comes from /usr/bin/time: a child forked from this (large)
    # Python process would report Python's peak as its own.
    for attempt in range(3):
        try:
            return _timed_once(cmd, stdout, env, cwd, check)
        except FlakeError:
            log("bench: qemu-img flake (Unable to get accurate CPU usage), retrying")
    return _timed_once(cmd, stdout, env, cwd, check)


class FlakeError(RuntimeError):
    """qemu-img's LUKS creation failing while it times PBKDF2."""


def _timed_once(cmd, stdout, env, cwd, check):
    rss_file = os.path.join(TMP, "rss")
    prefix = ["/usr/bin/time", "-f", "%M", "-o", rss_file] if os.path.exists("/usr/bin/time") else []
    t0 = time.perf_counter()
    p = subprocess.Popen(prefix + cmd, stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if check and p.returncode != 0 and "Unable to get accurate CPU usage" in err:
        raise FlakeError(err)
    if check and p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), p.returncode, err.strip()[-500:]))
    rss_kib = ru.ru_maxrss
    if prefix:
        with open(rss_file) as f:
            rss_kib = int(f.read().split()[-1])
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mib": rss_kib / 1024,
            "rc": p.returncode}


def summarize(samples):
    walls = [s["wall"] for s in samples]
    med = statistics.median(walls)
    return {
        "median_s": med,
        "min_s": min(walls),
        "max_s": max(walls),
        "spread_pct": 100 * (max(walls) - min(walls)) / med if med else 0,
        "cpu_s": statistics.median(s["cpu"] for s in samples),
        "rss_mib": max(s["rss_mib"] for s in samples),
        "runs": len(walls),
    }


def side_by_side(ours, theirs, repeats, before=None):
    """Runs two thunks alternately `repeats` times; returns their summaries."""
    a, b = [], []
    for i in range(repeats):
        for which in ((0, 1) if i % 2 == 0 else (1, 0)):
            if before:
                before()
            (a if which == 0 else b).append((ours, theirs)[which]())
    return summarize(a), summarize(b)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --- images ------------------------------------------------------------------

class Images:
    def __init__(self, scratch, size_mib):
        self.dir = scratch
        self.size_mib = size_mib
        os.makedirs(scratch, exist_ok=True)
        self.secret = os.path.join(scratch, "passphrase")
        with open(self.secret, "wb") as f:
            f.write(PASSPHRASE)

    def path(self, name):
        return os.path.join(self.dir, name)

    def make(self, name, build):
        """Builds scratch/name with build(tmp_path) unless it exists."""
        out = self.path(name)
        if not os.path.exists(out):
            log("bench: making %s" % out)
            tmp = out + ".tmp"
            # qemu-img's LUKS creation sometimes fails ("Unable to get
            # accurate CPU usage" while timing PBKDF2): retry.
            for attempt in range(3):
                if os.path.exists(tmp):
                    os.remove(tmp)
                try:
                    build(tmp)
                    break
                except subprocess.CalledProcessError:
                    if attempt == 2:
                        raise
                    log("bench: retrying %s" % out)
            os.rename(tmp, out)
        return out

    def source(self):
        """SIZE MiB of raw data, no zero sectors, each 64 KiB half random and
        half text (so zlib compresses clusters to about half)."""
        def build(tmp):
            rng = random.Random(20261125)
            with open(tmp, "wb") as f:
                for c in range(self.size_mib * 16):
                    text = (b"qcow2ref benchmark cluster %08d " % c) * 1024
                    f.write(rng.randbytes(32768) + text[:32768])
        return self.make("source-%dm.raw" % self.size_mib, build)

    def secret_object(self):
        return "secret,id=sec0,file=%s" % self.secret

    def qcow2(self, kind):
        """plain, zlib, aes, luks-xts, luks-cbc-essiv: the source as qcow2."""
        src = self.source()
        opts = {
            "plain": [],
            "zlib": ["-c", "-o", "compression_type=zlib"],
            "aes": ["-o", "encrypt.format=aes,encrypt.key-secret=sec0"],
            "luks-xts": ["-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10,"
                         "encrypt.cipher-alg=aes-256,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain64"],
            "luks-cbc-essiv": ["-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10,"
                               "encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,"
                               "encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=sha256"],
        }[kind]
        return self.make("%s-%dm.qcow2" % (kind, self.size_mib), lambda tmp: subprocess.run(
            ["qemu-img", "convert", "--object", self.secret_object(), "-f", "raw", "-O", "qcow2"]
            + opts + [src, tmp], check=True))

    def luks_default(self):
        """A small LUKS image with QEMU's default unlock cost (iter-time 2 s)."""
        return self.make("luks-default.qcow2", lambda tmp: subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "--object", self.secret_object(),
             "-o", "encrypt.format=luks,encrypt.key-secret=sec0", tmp, "16M"], check=True))

    def sparse_1t(self):
        """1 TiB, 64 KiB clusters, one 64 KiB write every 64 GiB (16 L2 tables)."""
        def build(tmp):
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536",
                            tmp, "1T"], check=True)
            cmds = []
            for i in range(16):
                cmds += ["-c", "write -P 0x%02x %dG 64k" % (i + 1, 64 * i)]
            subprocess.run(["qemu-io", "-f", "qcow2"] + cmds + [tmp], check=True,
                           stdout=subprocess.DEVNULL)
        return self.make("sparse-1t.qcow2", build)

    def full_4g(self):
        """4 GiB, 64 KiB clusters, every cluster allocated (preallocation=metadata)."""
        return self.make("full-4g.qcow2", lambda tmp: subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2",
             "-o", "cluster_size=65536,preallocation=metadata", tmp, "4G"], check=True))


# --- cases -------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.q = args.qcow2ref
        self.cb = args.cipher_bench
        self.img = Images(args.scratch, 64 if args.quick else 512)
        self.rows = []      # Markdown rows
        self.results = {}   # JSON

    def add(self, case, ours, ref, ratio, target, met, note=""):
        self.rows.append((case, ours, ref, ratio, target, met, note))

    def skip(self, case, reason):
        log("bench: skipping %s: %s" % (case, reason))
        self.results[case] = {"skipped": reason}
        self.add(case, "-", "-", "-", "-", "skipped", reason)

    def out_path(self):
        return self.img.path("out.raw")

    def remove_out(self):
        if os.path.exists(self.out_path()):
            os.remove(self.out_path())

    def qemu_image_opts(self, path, encrypted):
        if not encrypted:
            return ["-f", "qcow2", path]
        return ["--object", self.img.secret_object(), "--image-opts",
                "driver=qcow2,encrypt.key-secret=sec0,file.filename=%s" % path]

    def read_case(self, kind, target):
        encrypted = kind not in ("plain", "zlib")
        image = self.img.qcow2(kind)
        size = self.img.size_mib * MIB
        out = self.out_path()
        ours_cmd = [self.q, "read", image, "--output", out]
        if encrypted:
            ours_cmd += ["--secret-file", self.img.secret]
        qemu_cmd = ["qemu-img", "convert"] + self.qemu_image_opts(image, encrypted) + ["-O", "raw", out]
        # Same bytes as qemu-img, once.
        timed(qemu_cmd)
        want = self.img.path("want.raw")
        os.replace(out, want)
        timed(ours_cmd)
        same = _same_file(out, want)
        os.remove(want)
        if not same:
            raise RuntimeError("qcow2ref read of %s differs from qemu-img convert" % image)
        ours, ref = side_by_side(lambda: timed(ours_cmd), lambda: timed(qemu_cmd),
                                 self.args.repeats, before=self.remove_out)
        self.remove_out()
        ratio = ref["median_s"] / ours["median_s"]
        cpu_ratio = ref["cpu_s"] / ours["cpu_s"]
        case = "read %s (%d MiB)" % (kind, self.img.size_mib)
        self.results[case] = {"ours": ours, "qemu-img": ref, "ratio": ratio, "cpu_ratio": cpu_ratio,
                              "ours_mbps": size / ours["median_s"] / 1e6,
                              "ours_mbps_per_cpu_s": size / ours["cpu_s"] / 1e6,
                              "qemu_mbps": size / ref["median_s"] / 1e6, "target": target}
        self.add(case, _mbps(size, ours), _mbps(size, ref), "%.2fx (cpu %.2fx)" % (ratio, cpu_ratio),
                 ">= %.1fx" % target if target else "-", _yes(ratio >= target) if target else "-",
                 "spread %s" % _spreads(ours, ref))
        if kind == "plain":
            self.copy_ceiling_case(image, size, ours)
        return self.results[case]

    def copy_ceiling_case(self, image, size, ours):
        """The kernel's own file-to-file copy of the same bytes (cp, which
        uses copy_file_range): no reader of a plain image can write its raw
        output faster than this."""
        out = self.out_path()
        cp = shutil.which("cp")
        samples = []
        for _ in range(self.args.repeats):
            self.remove_out()
            samples.append(timed([cp, "--reflink=never", image, out]))
        self.remove_out()
        c = summarize(samples)
        frac = c["median_s"] / ours["median_s"]
        self.results["plain read vs cp"] = {"cp": c, "fraction": frac}
        self.add("  kernel copy ceiling: cp of the image file itself", _mbps(size, ours),
                 _mbps(size, c) + " (cp)", "%.0f%% of cp's speed" % (100 * frac), "-", "-",
                 "spread %.0f%%" % c["spread_pct"])

    def convert_case(self, target):
        case = "convert raw -> LUKS xts (%d MiB)" % self.img.size_mib
        usage = subprocess.run([self.q, "--help"], capture_output=True, text=True)
        if "convert" not in usage.stdout + usage.stderr:
            return self.skip(case, "`qcow2ref convert` does not exist yet")
        src = self.img.source()
        out = self.img.path("out.qcow2")
        ours_cmd = [self.q, "convert", src, out, "--encrypt", "luks",
                    "--luks-cipher", "aes-256-xts-plain64", "--luks-iter-time", "10",
                    "--secret-file", self.img.secret]
        qemu_cmd = ["qemu-img", "convert", "--object", self.img.secret_object(), "-f", "raw",
                    "-O", "qcow2", "-o", "encrypt.format=luks,encrypt.key-secret=sec0,"
                    "encrypt.iter-time=10", src, out]

        def clean():
            if os.path.exists(out):
                os.remove(out)
        try:
            clean()
            timed(ours_cmd)
        except RuntimeError as e:
            return self.skip(case, "qcow2ref convert failed: %s" % e)
        ours, ref = side_by_side(lambda: timed(ours_cmd), lambda: timed(qemu_cmd),
                                 self.args.repeats, before=clean)
        clean()
        size = self.img.size_mib * MIB
        ratio = ref["median_s"] / ours["median_s"]
        cpu_ratio = ref["cpu_s"] / ours["cpu_s"]
        self.results[case] = {"ours": ours, "qemu-img": ref, "ratio": ratio, "cpu_ratio": cpu_ratio,
                              "target": target}
        self.add(case, _mbps(size, ours) + " (cpu %.2f s)" % ours["cpu_s"],
                 _mbps(size, ref) + " (cpu %.2f s)" % ref["cpu_s"],
                 "%.2fx (cpu %.2fx)" % (ratio, cpu_ratio), ">= %.1fx" % target,
                 _yes(ratio >= target), "spread %s" % _spreads(ours, ref))

    def compress_inputs(self):
        """Raw inputs for compressed convert: text, noise, zeros and a mix."""
        size = self.img.size_mib * MIB

        def text(tmp):
            r = random.Random(3)
            words = [bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(2, 9)))
                     for _ in range(5000)]
            with open(tmp, "wb") as f:
                done = 0
                while done < size:
                    chunk = b" ".join(r.choice(words) for _ in range(1 << 16))[: size - done]
                    f.write(chunk)
                    done += len(chunk)

        def noise(tmp):
            with open(tmp, "wb") as f:
                r = random.Random(4)
                for _ in range(0, size, 16 * MIB):
                    f.write(r.randbytes(min(16 * MIB, size)))

        def zeros(tmp):
            with open(tmp, "wb") as f:
                f.truncate(size)

        def mix(tmp):
            with open(self.img.path("cmp-text.raw"), "rb") as t, \
                    open(self.img.path("cmp-noise.raw"), "rb") as n, open(tmp, "wb") as f:
                quarter = size // 4
                f.write(t.read(quarter) + n.read(quarter) + bytes(quarter) + t.read(size - 3 * quarter))

        out = {}
        for name, build in (("text", text), ("noise", noise), ("zeros", zeros), ("mix", mix)):
            out[name] = self.img.make("cmp-%s.raw" % name, build)
        return out

    def compress_case(self):
        """Compressed convert next to `qemu-img convert -c`: size and time."""
        out = self.img.path("out.qcow2")

        def clean():
            if os.path.exists(out):
                os.remove(out)
        for name, src in self.compress_inputs().items():
            case = "convert --compress, %s (%d MiB)" % (name, self.img.size_mib)
            ours_cmd = [self.q, "convert", "--compress", src, out]
            qemu_cmd = ["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", src, out]
            clean()
            timed(qemu_cmd)
            theirs_size = os.path.getsize(out)
            clean()
            timed(ours_cmd)
            ours_size = os.path.getsize(out)
            ours, ref = side_by_side(lambda: timed(ours_cmd), lambda: timed(qemu_cmd),
                                     self.args.repeats, before=clean)
            clean()
            ratio = ref["median_s"] / ours["median_s"]
            size_ratio = ours_size / theirs_size
            self.results[case] = {"ours": ours, "qemu-img": ref, "ratio": ratio,
                                  "cpu_ratio": ref["cpu_s"] / ours["cpu_s"],
                                  "target": 1.0 if name != "zeros" else None,
                                  "size_ratio": ours_size / theirs_size,
                                  "size": ours_size, "qemu_size": theirs_size}
            # An all-zero input copies nothing (both take milliseconds): only
            # its size has a target.
            timed_target = name != "zeros"
            met = (ratio >= 1.0 or not timed_target) and size_ratio <= 1.02
            self.add(case, "%.3f s, %d bytes" % (ours["median_s"], ours_size),
                     "%.3f s, %d bytes" % (ref["median_s"], theirs_size),
                     "%.2fx speed, %.3fx size" % (ratio, size_ratio),
                     ">= 1.0x, <= 1.02x size" if timed_target else "<= 1.02x size",
                     _yes(met), "spread %s" % _spreads(ours, ref))

    def huge_cases(self):
        """An empty 2 PiB image: info, map, check, read of its first MiB and
        convert must cost what its metadata costs (a 32 MiB L1 table), never
        what its virtual size would."""
        src = self.img.make("empty-2p.qcow2", lambda tmp: subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", tmp, "2P"], check=True))
        out = self.img.path("out.qcow2")

        def clean():
            if os.path.exists(out):
                os.remove(out)
        cases = (
            ("info", [self.q, "info", src], ["qemu-img", "info", "-f", "qcow2", src]),
            ("map", [self.q, "map", src], ["qemu-img", "map", "-f", "qcow2", "--output=json", src]),
            ("check", [self.q, "check", src], ["qemu-img", "check", "-f", "qcow2", src]),
            ("read of the first MiB", [self.q, "read", src, "--length", "1M", "--output", "/dev/null"],
             ["qemu-io", "-r", "-f", "qcow2", "-c", "read 0 1M", src]),
            ("convert", [self.q, "convert", src, out], ["qemu-img", "convert", "-O", "qcow2", src, out]),
        )
        for what, ours_cmd, qemu_cmd in cases:
            case = "%s, empty 2 PiB qcow2" % what
            ours, ref = side_by_side(lambda: timed(ours_cmd), lambda: timed(qemu_cmd),
                                     self.args.repeats, before=clean)
            clean()
            ratio = ref["median_s"] / ours["median_s"]
            self.results[case] = {"ours": ours, "qemu-img": ref, "ratio": ratio,
                                  "cpu_ratio": ref["cpu_s"] / max(ours["cpu_s"], 1e-3)}
            self.add(case, "%.3f s (cpu %.2f s, %.0f MiB RSS)" % (ours["median_s"], ours["cpu_s"],
                                                                 ours["rss_mib"]),
                     "%.3f s (cpu %.2f s, %.0f MiB RSS)" % (ref["median_s"], ref["cpu_s"],
                                                           ref["rss_mib"]),
                     "%.1fx" % ratio, "< 1 s cpu", _yes(ours["cpu_s"] < 1.0),
                     "spread %s" % _spreads(ours, ref))

    def cipher_ceiling(self, luks_read):
        runs = [json.loads(subprocess.run([self.cb, "ciphers", "64"], check=True,
                                          capture_output=True, text=True).stdout)
                for _ in range(self.args.repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k.endswith("mbps")}
        med["aesni"] = runs[0]["aesni"]
        self.results["cipher ceiling"] = med
        for key, label in (("xts_aes256_plain64", "AES-256-XTS"),
                           ("cbc_aes128_plain64", "AES-128-CBC plain64"),
                           ("cbc_aes128_essiv_sha256", "AES-128-CBC essiv:sha256")):
            ceiling = med[key + "_mbps"]
            ref = med["ref_" + key + "_mbps"]
            self.add("Crypto++ %s, 512 B sectors, in-process" % label, "%.0f MB/s (SectorCipher)" % ref,
                     "%.0f MB/s (raw Crypto++)" % ceiling, "%.0f%%" % (100 * ref / ceiling), "-", "-",
                     "AES-NI %s" % ("yes" if med["aesni"] else "NO"))
        if luks_read:
            two = med["xts_aes256_plain64_two_core_wall_mbps"]
            frac2 = luks_read["ours_mbps"] / two
            self.results["luks xts read / two-core xts ceiling"] = {
                "fraction": frac2, "ceiling_mbps": two, "ratio": frac2, "target": 0.80}
            self.add("LUKS xts read vs the two-core XTS ceiling (wall)",
                     "%.0f MB/s" % luks_read["ours_mbps"], "%.0f MB/s (2 threads, raw Crypto++)" % two,
                     "%.0f%%" % (100 * frac2), ">= 80%", _yes(frac2 >= 0.80),
                     "whole process: open, unlock, pread, decrypt, write")
            # The same read with an output that costs nothing: what the
            # pipeline itself reaches (the kernel's page-cache writes of a
            # regular output file are the difference).
            image = self.img.qcow2("luks-xts")
            cmd = [self.q, "read", image, "--output", "/dev/null", "--secret-file", self.img.secret]
            null = summarize([timed(cmd) for _ in range(self.args.repeats)])
            size = self.img.size_mib * MIB
            frac3 = size / null["median_s"] / 1e6 / two
            self.results["luks xts read to /dev/null / two-core xts ceiling"] = {
                "fraction": frac3, "ours": null, "ratio": frac3, "target": 0.80}
            self.add("  the same read to /dev/null vs the two-core ceiling", _mbps(size, null),
                     "%.0f MB/s" % two, "%.0f%%" % (100 * frac3), ">= 80%", _yes(frac3 >= 0.80),
                     "spread %.0f%%" % null["spread_pct"])
            # The ceiling is one core's raw Crypto++ XTS (process CPU clock).
            # Our read against it per wall second (what the reader delivers,
            # on two threads) and per CPU second (what it costs).
            ceiling = med["xts_aes256_plain64_mbps"]
            frac = luks_read["ours_mbps"] / ceiling
            frac_cpu = luks_read["ours_mbps_per_cpu_s"] / ceiling
            self.results["luks read / xts ceiling"] = {"wall": frac, "cpu": frac_cpu}
            self.add("LUKS xts read vs one core's XTS ceiling (wall; per CPU second)",
                     "%.0f MB/s; %.0f MB/CPU-s" % (luks_read["ours_mbps"],
                                                    luks_read["ours_mbps_per_cpu_s"]),
                     "%.0f MB/s" % ceiling, "%.0f%% (cpu %.0f%%)" % (100 * frac, 100 * frac_cpu),
                     "-", "-",
                     "whole process: open, unlock, pread, decrypt, write")

    def unlock_case(self):
        image = self.img.luks_default()
        floor = json.loads(subprocess.run([self.cb, "pbkdf2", image], check=True,
                                          capture_output=True, text=True).stdout)
        ours_cmd = [self.q, "read", image, "--length", "512", "--output", "/dev/null",
                    "--secret-file", self.img.secret]
        qemu_cmd = ["qemu-io"] + self.qemu_image_opts(image, True) + ["-c", "read 0 512"]
        ours, ref = side_by_side(lambda: timed(ours_cmd), lambda: timed(qemu_cmd),
                                 max(3, self.args.repeats // 2))
        ratio = ref["median_s"] / ours["median_s"]
        floor_s = floor["ref_slot_s"] + floor["ref_digest_s"]
        cpu_ratio = ref["cpu_s"] / ours["cpu_s"]
        self.results["unlock"] = {"ours": ours, "qemu-io": ref, "ratio": ratio,
                                  "cpu_ratio": cpu_ratio, "target": 1.0, "cpu_target": 1.0,
                                  "pbkdf2": floor}
        self.add("LUKS unlock, default image (%s, %d + %d iterations, %d-byte key): open + read 512 B"
                 % (floor["hash"], floor["slot_iterations"], floor["digest_iterations"],
                    floor["key_bytes"]),
                 "%.2f s (cpu %.2f)" % (ours["median_s"], ours["cpu_s"]),
                 "%.2f s (cpu %.2f, qemu-io)" % (ref["median_s"], ref["cpu_s"]),
                 "%.2fx (cpu %.2fx)" % (ratio, cpu_ratio), ">= 1.0x wall and cpu",
                 _yes(ratio >= 1.0 and cpu_ratio >= 1.0), "spread %s" % _spreads(ours, ref))
        stock = ""
        if "stock_slot_s" in floor:
            stock = "; stock Crypto++ PKCS5_PBKDF2_HMAC %.2f s" % (
                floor["stock_slot_s"] + floor["stock_digest_s"])
        self.add("  PBKDF2 floor (slot + digest, in-process CPU)", "%.2f s" % floor_s, "-",
                 "%.0f%% of unlock CPU" % (100 * floor_s / ours["cpu_s"]), "-", "-", stock.lstrip("; "))

    def metadata_case(self, what, image, label, target_s=None):
        ours_cmd = [self.q, what, image]
        qemu_cmd = ["qemu-img", what, "-f", "qcow2", image] + (["--output=json"] if what == "map" else [])
        ours, ref = side_by_side(lambda: timed(ours_cmd), lambda: timed(qemu_cmd), self.args.repeats)
        ratio = ref["median_s"] / ours["median_s"]
        case = "%s %s" % (what, label)
        self.results[case] = {"ours": ours, "qemu-img": ref, "ratio": ratio,
                              "cpu_ratio": ref["cpu_s"] / max(ours["cpu_s"], 1e-3)}
        target = "< %.0f s" % target_s if target_s else "-"
        met = _yes(ours["median_s"] < target_s) if target_s else "-"
        self.add(case, "%.3f s, %.0f MiB RSS" % (ours["median_s"], ours["rss_mib"]),
                 "%.3f s, %.0f MiB RSS" % (ref["median_s"], ref["rss_mib"]), "%.2fx" % ratio,
                 target, met, "spread %s" % _spreads(ours, ref))

    def conformance_case(self):
        ws = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
        case = "bazel test //conformance/... (warm, --nocache_test_results)"
        if not ws:
            return self.skip(case, "not started with bazel run (no BUILD_WORKSPACE_DIRECTORY)")
        if self.args.no_conformance:
            return self.skip(case, "--no-conformance")
        bazel = ["bazel", "test", "//conformance/..."]
        subprocess.run(bazel, cwd=ws, check=True, capture_output=True)  # warm the build
        samples = [timed(bazel + ["--nocache_test_results"], cwd=ws)
                   for _ in range(1 if self.args.quick else 3)]
        s = summarize(samples)
        self.results[case] = s
        self.add(case, "%.1f s" % s["median_s"], "-", "-", "< 60 s", _yes(s["median_s"] < 60),
                 "spread %.0f%%, %d runs" % (s["spread_pct"], s["runs"]))

        case = "conformance runner, per vector (bazel run //conformance:run)"
        q = subprocess.run(["bazel", "query", "//conformance:run"], cwd=ws, capture_output=True)
        if q.returncode != 0:
            return self.skip(case, "//conformance:run does not exist yet")
        vectors = [f for _, _, files in os.walk(os.path.join(ws, "vectors", "images"))
                   for f in files if f.endswith(".qcow2")]
        run = ["bazel", "run", "//conformance:run", "--", "--adapter",
               os.path.join(ws, "conformance", "adapters", "qcow2ref"), "-j", "1"]
        subprocess.run(run, cwd=ws, capture_output=True)  # build it
        sample = timed(run, cwd=ws, check=False)  # exit 1 = some vector scored badly
        s = summarize([sample])
        per = s["median_s"] / max(1, len(vectors))
        self.results[case] = dict(s, vectors=len(vectors), per_vector_s=per, exit=sample["rc"])
        self.add(case, "%.0f ms/vector" % (1000 * per), "-", "-", "-", "-",
                 "%.1f s for %d images, -j 1, exit %d" % (s["median_s"], len(vectors), sample["rc"]))

    def run(self):
        only = set(self.args.only.split(",")) if self.args.only else None

        def want(name):
            return only is None or name in only

        reads = {}
        for kind, target in (("plain", 1.5), ("zlib", None), ("aes", 2.0), ("luks-xts", 2.0),
                             ("luks-cbc-essiv", 2.0)):
            if want("read") or want("read-" + kind):
                reads[kind] = self.read_case(kind, target)
        if want("convert"):
            self.convert_case(2.0)
        if want("compress"):
            self.compress_case()
        if want("sparse-convert") or want("huge"):
            self.huge_cases()
        if want("cipher"):
            self.cipher_ceiling(reads.get("luks-xts"))
        if want("unlock"):
            self.unlock_case()
        if want("metadata"):
            sparse, full = self.img.sparse_1t(), self.img.full_4g()
            self.metadata_case("check", sparse, "sparse 1 TiB (16 L2 tables)", 2.0)
            self.metadata_case("map", sparse, "sparse 1 TiB (16 L2 tables)")
            self.metadata_case("check", full, "fully allocated 4 GiB")
            self.metadata_case("map", full, "fully allocated 4 GiB")
        if want("conformance"):
            self.conformance_case()


def _same_file(a, b):
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(MIB << 3), fb.read(MIB << 3)
            if x != y:
                return False
            if not x:
                return True


def _mbps(size, s):
    return "%.0f MB/s (%.3f s, cpu %.2f s)" % (size / s["median_s"] / 1e6, s["median_s"], s["cpu_s"])


def _spreads(ours, ref):
    return "%.0f%% / %.0f%%" % (ours["spread_pct"], ref["spread_pct"])


def _yes(ok):
    return "yes" if ok else "**NO**"


def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    qemu = subprocess.run(["qemu-img", "--version"], capture_output=True, text=True).stdout
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "qemu-img": qemu.splitlines()[0] if qemu else "?",
            "load_before": os.getloadavg()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="64 MiB images, 3 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="runs per case (default 5, quick 3)")
    ap.add_argument("--scratch", default="/tmp/qcow2ref-bench")
    ap.add_argument("--json", default=None, help="default SCRATCH/bench.json")
    ap.add_argument("--only", default=None,
                    help="comma list: read, read-<kind>, convert, compress, huge, cipher, "
                         "unlock, metadata, conformance")
    ap.add_argument("--no-conformance", action="store_true")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run the selected cases this many times, each round one sitting")
    ap.add_argument("--round-gap", type=float, default=0,
                    help="minutes to wait between rounds (spread sittings over a longer window)")
    ap.add_argument("--history", default=None,
                    help="sittings file to append to and summarize (default SCRATCH/sittings.jsonl)")
    ap.add_argument("--label", default="", help="a note stored with each sitting")
    ap.add_argument("--qcow2ref", default=os.path.join(HERE, "..", "qcow2ref", "qcow2ref"))
    ap.add_argument("--cipher-bench", default=os.path.join(HERE, "cipher_bench"))
    args = ap.parse_args()
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    for tool in ("qemu-img", "qemu-io"):
        if shutil.which(tool) is None:
            sys.exit("bench: %s is needed (apt-get install qemu-utils)" % tool)
    args.scratch = os.path.abspath(args.scratch)
    ws = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
    if ws and os.path.commonpath([args.scratch, os.path.abspath(ws)]) == os.path.abspath(ws):
        sys.exit("bench: the scratch folder must be outside the repository")

    global TMP
    os.makedirs(args.scratch, exist_ok=True)
    TMP = args.scratch
    history = args.history or os.path.join(args.scratch, "sittings.jsonl")
    for round_no in range(args.rounds):
        if round_no > 0 and args.round_gap > 0:
            log("bench: waiting %.0f min before round %d" % (args.round_gap, round_no + 1))
            time.sleep(60 * args.round_gap)
        bench = Bench(args)
        info = machine()
        t0 = time.time()
        bench.run()
        info["load_after"] = os.getloadavg()
        info["bench_seconds"] = time.time() - t0
        report(args, bench, info)
        sittings.record(history, info, bench.results, args.label)
    print("\n## Across sittings (%s)\n" % history)
    print(sittings.table(sittings.load(history)))


def report(args, bench, info):
    print("Machine: %s, %d cores, kernel %s, %s; load average %.1f before, %.1f after; "
          "%d runs per case, medians; ratio = qemu-img time / qcow2ref time (wall; cpu = user+sys).\n"
          % (info["cpu"], info["cores"], info["kernel"], info["qemu-img"],
             info["load_before"][0], info["load_after"][0], args.repeats))
    print("| case | qcow2ref | reference | ratio | target | met | notes |")
    print("|---|---|---|---|---|---|---|")
    for row in bench.rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    path = args.json or os.path.join(args.scratch, "bench.json")
    with open(path, "w") as f:
        json.dump({"machine": info, "quick": args.quick, "repeats": args.repeats,
                   "results": bench.results}, f, indent=2)
    print("\nJSON: %s" % path)


if __name__ == "__main__":
    main()
