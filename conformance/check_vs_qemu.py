#!/usr/bin/env python3
"""Compares `qcow2ref check` with `qemu-img check` on every image vector.

Each vector gets a verdict from both tools: clean, flagged (corruptions,
leaks or check errors), refused (cannot open) or timeout. Where the two
disagree, the difference must be listed, with its reason, in
conformance/expectations/check_vs_qemu.txt; a new difference, or a listed one
that disappeared, fails. Fails without qemu-img (tools/setup.sh installs it).

Usage: check_vs_qemu.py QCOW2REF_BINARY [--write]   (--write: rewrite the
list of differences, keeping existing reasons)
"""
import concurrent.futures, json, os, shutil, subprocess, sys, tempfile

if __name__ == "__main__":  # run by hand: qcow2ref_py is at the root of this checkout
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from qcow2ref_py import manifests  # noqa: E402

ROOT = os.getcwd()
LIST = os.path.join(ROOT, "conformance/expectations/check_vs_qemu.txt")


def qemu_verdict(path, pw, cwd):
    args = (["--object", "secret,id=s0,file=" + pw, "--image-opts",
             "driver=qcow2,encrypt.key-secret=s0,file.filename=" + path] if pw else [path])
    try:
        r = subprocess.run(["qemu-img", "check", "--output=json"] + args, cwd=cwd,
                           capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return "timeout"
    try:
        j = json.loads(r.stdout)
    except ValueError:
        return "refused"
    bad = j.get("corruptions", 0) + j.get("leaks", 0) + j.get("check-errors", 0)
    return "flagged" if bad or r.returncode != 0 else "clean"


def our_verdict(binary, path, pw):
    r = subprocess.run([binary, "check", "--json", path] + (["--secret-file", pw] if pw else []),
                       capture_output=True, text=True)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        return "refused"
    return "clean" if r.returncode == 0 else ("refused" if j.get("check-errors") else "flagged")


def both_verdicts(binary, t):
    d = tempfile.mkdtemp()
    try:
        for c in t.get("chain", []):
            shutil.copy(os.path.join(ROOT, "vectors", c), d)
        p = shutil.copy(os.path.join(ROOT, "vectors", t["image"]), d)
        pw = None
        if "secrets" in t:
            pw = os.path.join(d, "pw")
            open(pw, "wb").write(bytes.fromhex(t["secrets"]["passphrase_hex"]))
        return qemu_verdict(p, pw, d), our_verdict(binary, p, pw)
    finally:
        shutil.rmtree(d)


def main():
    binary = os.path.abspath(sys.argv[1])
    if shutil.which("qemu-img") is None:
        print("FAIL: qemu-img not installed (bash tools/setup.sh installs it): check not compared")
        print("check_vs_qemu: 0 passed, 1 failed")
        return 1
    tests = [t for _, t in manifests.manifest_tests(os.path.join(ROOT, "vectors"))]
    total = len(tests)
    # Four vectors at a time: the time goes into process start-up and into
    # qemu-img's 5 s time-outs on the three backing loops, which only wait:
    # with four workers the other vectors go on meanwhile.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(lambda t: both_verdicts(binary, t), tests))
    diffs = {t["id"]: "qemu=%s ours=%s" % (q, o)
             for t, (q, o) in zip(tests, verdicts) if (q == "clean") != (o == "clean")}
    listed = {}
    if os.path.exists(LIST):
        for line in open(LIST):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            vid, rest = line.split(None, 1)
            verdicts, _, reason = rest.partition("#")
            listed[vid] = (verdicts.strip(), reason.strip())
    if "--write" in sys.argv:
        with open(LIST, "w") as f:
            f.write("# Vectors where `qcow2ref check` and `qemu-img check` disagree, and why.\n"
                    "# Checked by //conformance:check_vs_qemu_test. Format: ID  qemu=V ours=V  # reason\n")
            for vid in sorted(diffs):
                f.write("%-42s %-30s # %s\n" % (vid, diffs[vid], listed.get(vid, ("", "REASON?"))[1]))
        return 0
    fails = 0
    for vid, v in sorted(diffs.items()):
        if vid not in listed:
            print("FAIL: unexplained difference: %s %s" % (vid, v))
            fails += 1
        elif listed[vid][0] != v:
            print("FAIL: %s: now %s, listed as %s" % (vid, v, listed[vid][0]))
            fails += 1
    for vid in sorted(set(listed) - set(diffs)):
        print("FAIL: listed difference no longer occurs: %s" % vid)
        fails += 1
    print("check_vs_qemu: %d vectors, %d intended differences" % (total, len(diffs)))
    print("check_vs_qemu: %d passed, %d failed" % (total - fails, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
