#!/usr/bin/env python3
"""lists.py - the published lists of vectors/lists/ (python3 stdlib only).

  impl_limits.json          n_ vectors whose primary clause is of kind IMPL_LIMIT (a limit
                            QEMU chose; another implementation may choose another). Derived
                            from the manifests and spec/clauses/*.json.
  qemu_accepts_invalid.json n_ vectors that qemu-img 7.2 reads anyway (`convert -O raw` exits
                            0), measured with the real qemu-img by --measure.
  acceptable_readings.json  for every i_ vector, each acceptable outcome: refusal, and every
                            reading an implementation may return (name, virtual_size,
                            guest_sha256 when the content does not depend on the host), with a
                            grade: `pass`, or `warn` for readings that should not count as
                            clean (content read from outside the image's directory).

  lists.py --measure [--vectors DIR] [--spec DIR]   run qemu-img 7.2 and write all three
  lists.py --check [--vectors DIR] [--spec DIR]     what lint.py runs: the lists are present,
                                                    impl_limits.json is what the clauses give,
                                                    every n_/i_ id exists, every i_ vector has
                                                    its readings and they include if_accepted
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

if __name__ == "__main__":  # run by hand: qcow2ref_py is at the root of this checkout
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from qcow2ref_py import manifests  # noqa: E402
from qcow2ref_py.model import Vector, Verdict  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = 20
AS_LIMIT = 2 << 30

# Readings an i_ vector allows beyond its manifest's if_accepted (which is QEMU's reading).
# "source": the reading is the unedited source vector's content (the edit touches no guest
# data); "source_prefix": the first virtual_size bytes of the source's content (the size the
# header literally states); "host": the content depends on the host, any acceptance is a warn.
EXTRA_READINGS: Dict[str, List[dict]] = {
    "i_hdr_size_not_sector_multiple": [
        {"name": "spec-literal", "source_prefix": "y_hdr_v3_c4k_basic", "virtual_size": 4194204,
         "why": "the header's size (4194204 bytes) taken literally; QEMU truncates it to a "
                "multiple of 512 (4193792)"}],
    "i_bk_absolute_path": [
        {"name": "host file", "host": True, "grade": "warn",
         "why": "read the backing file named by an absolute host path (/etc/passwd), outside "
                "the image's directory: a reader should refuse it or at least warn"}],
    "i_ext_backing_format_16": [
        {"name": "source", "source": "y_bk_short_backing",
         "why": "the backing format name 'qcow2' with NUL padding, read as 'qcow2'"}],
    "i_hdrv3_header_length_108": [
        {"name": "source", "source": "y_hdr_v3_c8k_basic",
         "why": "the header length is not a multiple of 8; the edit changes no guest data"}],
    "i_hdrv3_raw_without_xdf": [
        {"name": "source", "source": "y_hdr_v3_c4k_basic",
         "why": "autoclear bit 1 ignored (no external data file to apply it to)"}],
}


def load_tests(vec: str) -> Dict[str, Vector]:
    """{id: vector} of the manifests in `vec`."""
    return {v.id: v for v in manifests.read_vectors(vec)}


clause_kinds = manifests.clause_kinds


def impl_limits(tests: Dict[str, Vector], kinds: Dict[str, Optional[str]]) -> dict:
    rows = [{"id": t.id, "clause": t.primary_clause, "stage": t.stage}
            for t in tests.values()
            if t.verdict == Verdict.INVALID and kinds.get(t.primary_clause) == "IMPL_LIMIT"]
    return {"schema": "vector_list_v1", "name": "impl_limits",
            "description": "n_ vectors whose primary clause is an implementation limit (kind "
                           "IMPL_LIMIT in spec/clauses): QEMU's choice, not the format's. The "
                           "runner scores them separately (their failures do not fail a run "
                           "unless --strict-limits) and --skip-impl-limits does not run them.",
            "source": "vectors/tools/lists.py from the manifests and spec/clauses/*.json",
            "vectors": sorted(rows, key=lambda r: r["id"])}


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def qemu_convert(vec: str, t: dict, qemu_img: str = "qemu-img", snapshot: Optional[str] = None):
    """Runs qemu-img convert -O raw on a staged copy of the vector: (result, first error
    line, output bytes or None). result: accepts | rejects | timeout | crash."""
    d = tempfile.mkdtemp(prefix="lists-")
    try:
        for c in t.get("chain", []) + [t["image"]]:
            shutil.copyfile(os.path.join(vec, c), os.path.join(d, os.path.basename(c)))
        img = os.path.basename(t["image"])
        sec = (t.get("secrets") or {}).get("passphrase_hex")
        snap = ["-l", "snapshot.name=" + snapshot] if snapshot else []
        if sec is not None:
            with open(os.path.join(d, "pw"), "wb") as f:
                f.write(bytes.fromhex(sec))
            src = ["--object", "secret,id=s0,file=pw", "--image-opts",
                   "driver=qcow2,file.filename=%s,encrypt.key-secret=s0" % img]
        else:
            src = ["-f", "qcow2", img]
        try:
            p = subprocess.run([qemu_img, "convert", "-O", "raw"] + snap + src + ["out.raw"], cwd=d,
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=TIMEOUT_S, preexec_fn=_limits)
        except subprocess.TimeoutExpired:
            return "timeout", "no exit within %d s" % TIMEOUT_S, None
        err = next((ln.strip() for ln in p.stderr.decode("utf-8", "replace").splitlines()
                    if ln.strip()), "")
        if p.returncode < 0:
            return "crash", "signal %d: %s" % (-p.returncode, err), None
        if p.returncode != 0:
            return "rejects", err, None
        with open(os.path.join(d, "out.raw"), "rb") as f:
            return "accepts", "", f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def measure_qemu(vec: str, tests: Dict[str, Vector]) -> dict:
    v = subprocess.run(["qemu-img", "--version"], capture_output=True, text=True).stdout
    rows = []
    for t in tests.values():
        if t.verdict != Verdict.INVALID:
            continue
        snap = t.raw["expect"].get("snapshot")
        res, err, _ = qemu_convert(vec, t.raw, snapshot=snap)
        if res != "rejects":
            row = {"id": t.id, "stage": t.raw["expect"].get("stage"), "qemu": res,
                   "detail": err}
            if snap:
                row["snapshot"] = snap
            rows.append(row)
    return {"schema": "vector_list_v1", "name": "qemu_accepts_invalid",
            "description": "n_ vectors that qemu-img does not refuse: `qemu-img convert -O raw` "
                           "(with the passphrase when encrypted; of the faulty snapshot, -l "
                           "snapshot.name=NAME, when the fault is in one) exits 0 (qemu: "
                           "accepts), or "
                           "hangs past %d s (timeout) or dies of a signal (crash). Stage check "
                           "vectors are ones a reader may read; the others are QEMU being "
                           "lenient where the format says the image is invalid." % TIMEOUT_S,
            "source": "vectors/tools/lists.py --measure with %s" % v.splitlines()[0],
            "vectors": sorted(rows, key=lambda r: r["id"])}


def readings(vec: str, tests: Dict[str, Vector], measure: bool, old: Optional[dict]) -> dict:
    """acceptable_readings.json; source_prefix hashes need qemu-img (measure) or come from
    the previous file."""
    prev = (old or {}).get("vectors", {})
    out = {}
    for t in sorted(tests.values(), key=lambda x: x.id):
        if t.verdict != Verdict.ACCEPTABLE:
            continue
        e = t.raw["expect"]
        acc = []
        ia = e.get("if_accepted")
        if ia:
            acc.append({"name": "qemu", "virtual_size": ia["virtual_size"],
                        "guest_sha256": ia["guest_sha256"], "grade": "pass",
                        "why": "what qemu-img 7.2 reads (expect.if_accepted)"})
        for x in EXTRA_READINGS.get(t.id, []):
            r = {"name": x["name"], "grade": x.get("grade", "pass"), "why": x["why"]}
            if "source" in x:
                s = tests[x["source"]].raw["expect"]
                r.update(virtual_size=s["virtual_size"], guest_sha256=s["guest_sha256"])
            elif "source_prefix" in x:
                r["virtual_size"] = x["virtual_size"]
                got = next((p for p in prev.get(t.id, {}).get("accepted", [])
                            if p["name"] == x["name"]), None)
                if measure:
                    src = tests[x["source_prefix"]].raw
                    res, err, data = qemu_convert(vec, src)
                    if res != "accepts" or hashlib.sha256(data).hexdigest() != \
                            src["expect"]["guest_sha256"]:
                        raise SystemExit("lists: qemu-img does not reproduce %s: %s %s"
                                         % (src["id"], res, err))
                    r["guest_sha256"] = hashlib.sha256(data[:x["virtual_size"]]).hexdigest()
                elif got:
                    r["guest_sha256"] = got["guest_sha256"]
                r["source"] = ("the first %d bytes of %s's content (qemu-img convert, checked "
                               "against its guest_sha256)" % (x["virtual_size"],
                                                              x["source_prefix"]))
            acc.append(r)
        if not acc:
            acc.append({"name": "unpinned", "grade": "pass",
                        "why": "no reading is pinned: any content"})
        out[t.id] = {"qemu": e.get("qemu"), "refusal": "pass", "accepted": acc}
    return {"schema": "vector_list_v1", "name": "acceptable_readings",
            "description": "Every acceptable outcome of each i_ vector: a refusal passes "
                           "(PASS, i_outcome REJECT); an accepted read must return one of "
                           "`accepted` (PASS, i_outcome ACCEPT; grade warn adds a warning to "
                           "the result). A reading without guest_sha256 matches any content.",
            "source": "vectors/tools/lists.py: expect.if_accepted of the manifests plus the "
                      "readings it documents",
            "vectors": out}


def _load(path: str) -> Optional[dict]:
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def check(vec: str, spec: str) -> List[str]:
    problems = []
    tests = load_tests(vec)
    ldir = os.path.join(vec, "lists")
    il = _load(os.path.join(ldir, "impl_limits.json"))
    if il != impl_limits(tests, clause_kinds(spec)):
        problems.append("lists/impl_limits.json: not what the manifests and clauses give "
                        "(run tools/lists.py --measure)")
    qa = _load(os.path.join(ldir, "qemu_accepts_invalid.json"))
    if qa is None:
        problems.append("lists/qemu_accepts_invalid.json: missing")
    else:
        for r in qa["vectors"]:
            t = tests.get(r["id"])
            if t is None or t.verdict != Verdict.INVALID:
                problems.append("lists/qemu_accepts_invalid.json: %s is not an n_ vector"
                                % r["id"])
    ar = _load(os.path.join(ldir, "acceptable_readings.json"))
    want = readings(vec, tests, False, ar)
    if ar != want:
        problems.append("lists/acceptable_readings.json: not what the manifests give "
                        "(run tools/lists.py --measure)")
    elif any("guest_sha256" not in r and r["name"] != "unpinned" and r["grade"] == "pass"
             for v in ar["vectors"].values() for r in v["accepted"]):
        problems.append("lists/acceptable_readings.json: a pass reading without content")
    return problems


def main(argv: List[str]) -> int:
    vec, spec, mode = os.path.dirname(HERE), None, None
    a = argv[1:]
    while a:
        if a[0] in ("--measure", "--check"):
            mode, a = a[0], a[1:]
        elif a[0] in ("--vectors", "--spec") and len(a) > 1:
            if a[0] == "--vectors":
                vec = a[1]
            else:
                spec = a[1]
            a = a[2:]
        else:
            mode = None
            break
    if mode is None:
        print("usage: lists.py --measure|--check [--vectors DIR] [--spec DIR]", file=sys.stderr)
        return 2
    vec = os.path.abspath(vec)
    spec = spec or os.path.join(os.path.dirname(vec), "spec")
    if mode == "--check":
        problems = check(vec, spec)
        for p in problems:
            print("lists: " + p)
        return 1 if problems else 0
    tests = load_tests(vec)
    ldir = os.path.join(vec, "lists")
    os.makedirs(ldir, exist_ok=True)
    old = _load(os.path.join(ldir, "acceptable_readings.json"))
    docs = {"impl_limits": impl_limits(tests, clause_kinds(spec)),
            "qemu_accepts_invalid": measure_qemu(vec, tests),
            "acceptable_readings": readings(vec, tests, True, old)}
    for name, doc in docs.items():
        with open(os.path.join(ldir, name + ".json"), "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        n = len(doc["vectors"])
        print("lists: wrote lists/%s.json (%d vectors)" % (name, n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
