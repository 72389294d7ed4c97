"""Scoring one vector from adapter invocations (conformance/PROTOCOL.md, Scoring).

Pure logic: `score_vector(vector, sut, invoke, options)` calls
`invoke(command, args, secret, cap, keep)` (an Executor bound to the vector,
or a fake in the unit tests) and returns the Result (qcow2ref_py.model).
This is the one statement of the rules: the C++ suites read what a reader
must do from `reader_plan` (below) instead of keeping a copy.

- valid: whole read (when guest_sha256 is given) must exit 0 with exactly
  virtual_size bytes hashing to guest_sha256; every reads[] slice; every
  other passphrase reads the same bytes; snapshots (if the adapter declares
  the `snapshots` feature); the map (if the adapter has `map`), compared
  with qemu-img's (zero is compared only where there is no data: qemu
  refines data ranges by host-file holes).
- invalid: the whole read must be refused; `access` faults: every bad_reads[]
  slice and the faulty snapshot must be refused too; `check` faults: the read
  may be refused or must return expect.readable, and `check` (when the adapter
  has it) must report the fault.
- acceptable: refused => PASS (REJECT); accepted => the content must be
  one of its acceptable readings, else if_accepted (PASS (ACCEPT)), or FAIL.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from typing import Any, Callable, Dict, List, Optional

import qct_protocol
from qct_protocol import Status
from qcow2ref_py.model import (BAD_OUTCOMES, OUTCOMES, IOutcome, Outcome, Result, Stage,
                               Vector, Verdict)

PASS, FAIL, SKIP, CRASH, TIMEOUT, ERROR = (Outcome.PASS, Outcome.FAIL, Outcome.SKIP,
                                           Outcome.CRASH, Outcome.TIMEOUT, Outcome.ERROR)
XFAIL, UNEXPECTED_PASS = Outcome.XFAIL, Outcome.UNEXPECTED_PASS
ACCEPT, REJECT = IOutcome.ACCEPT, IOutcome.REJECT
__all__ = ["BAD_OUTCOMES", "OUTCOMES", "Result"]

INVALID_READ_CAP = 256 << 20    # Output cap for images with no known size.
MAP_CAP = 64 << 20
INFO_CAP = 1 << 20

SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
                7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE",
                15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ", 31: "SIGSYS"}

_ERR_RE = re.compile(r"^\s*[^:\s]+:\s*([A-Za-z0-9_.\-]+)\s*:")


DIFF_KEEP = 64 << 20            # Whole reads up to this size are kept for content diffs.


@dataclasses.dataclass
class Options:
    # n_/i_ vectors: "unsupported" is a refusal, like any rejection in the
    # in-process suite; with this flag it is SKIP.
    unsupported_is_skip: bool = False
    # Run the informational `info` comparison.
    check_info: bool = True
    # expected_bytes(vector, args, secret) -> bytes or None: the expected
    # output of a read, for the content diff of a failure. Only used after
    # its sha256 has been checked against the vector.
    expected_bytes: Optional[Callable[[Any, List[Any], Optional[bytes]], Optional[bytes]]] = None


class Sut(object):
    def __init__(self, caps, minus=(), plus=(), assumed=()):
        """`assumed`: features every adapter has unless `minus` removes them
        (vectors/features.json)."""
        self.caps = caps or {}
        self.name = self.caps.get("name", "?")
        self.version = self.caps.get("version", "?")
        self.commands = set(self.caps.get("commands", []))
        self.features = ((set(self.caps.get("features", [])) | set(assumed)) - set(minus)) \
            | set(plus)
        p = self.caps.get("protocol")
        self.protocol = p if p in qct_protocol.SUPPORTED else qct_protocol.CURRENT


def qct_as_limit_mib():
    try:
        import qct_exec
        return qct_exec.AS_LIMIT_BYTES >> 20
    except ImportError:
        return 2560


def error_token(line):
    """`qcow2ref: Q2.HDR.magic: msg` -> Q2.HDR.magic; `error: header: msg` ->
    header. None when the line has no such token."""
    m = _ERR_RE.match(line or "")
    return m.group(1) if m else None


def signal_name(n):
    return SIGNAL_NAMES.get(n, "signal %d" % n)


def crash_hint(sig, stderr):
    """What the stderr of a process killed by `sig` says about why. "oom" only
    with evidence: an allocation failure in stderr."""
    oom = qct_protocol.oom_evidence(stderr)
    if oom:
        return " (out of memory: stderr says %r; RLIMIT_AS is %d MiB)" % (oom, qct_as_limit_mib())
    if "Assertion" in stderr or "assert" in stderr:
        return " (assertion failed)"
    what = qct_protocol.crash_signature(stderr)
    if what:
        return " (%s)" % what
    if sig == 9:
        return " (SIGKILL not sent by the runner)"
    return ""


class _Stop(Exception):
    def __init__(self, outcome, detail):
        Exception.__init__(self, detail)
        self.outcome = outcome
        self.detail = detail


class _Scorer(object):
    def __init__(self, v, sut, invoke, opts):
        self.v, self.sut, self.invoke_fn, self.opts = v, sut, invoke, opts
        self.n = 0
        self.duration = 0
        self.last = None
        self.reject_inv = None
        self.checks = {}

    def run(self, what, command, args=(), secret=None, cap=None, keep=0):
        inv = self.invoke_fn(command, list(args), secret, cap, keep)
        self.n += 1
        self.duration += inv.duration_ms
        self.last = inv
        if inv.harness_error:
            raise _Stop(ERROR, "%s: %s" % (what, inv.harness_error))
        if inv.modified:
            raise _Stop(FAIL, "%s: modified its read-only input: %s" % (what, ", ".join(inv.modified)))
        if inv.timed_out:
            raise _Stop(TIMEOUT, "%s: no exit within the time limit (%d ms)" % (what, inv.duration_ms))
        if inv.signal is not None:
            raise _Stop(CRASH, "%s: killed by %s%s" % (what, signal_name(inv.signal),
                                                       crash_hint(inv.signal, inv.stderr_text())))
        if inv.stdout_capped:
            return inv
        if inv.status is None and inv.exit_code is not None:
            inv.status, inv.status_hint = qct_protocol.classify(
                self.sut.protocol, inv.exit_code,
                (inv.stderr_head + inv.stderr_tail).decode("utf-8", "replace"))
        if inv.status is Status.USAGE:
            raise _Stop(ERROR, "%s: adapter usage error (exit %d): %s"
                        % (what, inv.exit_code, inv.first_stderr_line()))
        if inv.status is Status.CRASH:
            raise _Stop(CRASH, "%s: exit code %s%s: %s" % (
                what, inv.exit_code, " (%s)" % inv.status_hint if inv.status_hint else "",
                inv.first_stderr_line()))
        return inv

    def expect_bytes(self, inv, what, size, sha, args=(), secret=None, base=0):
        if inv.stdout_capped:
            raise _Stop(FAIL, "%s: output longer than %d bytes" % (what, size))
        if inv.stdout_len != size:
            raise _Stop(FAIL, "%s: %d bytes, expected %d" % (what, inv.stdout_len, size))
        if inv.stdout_sha256 != sha:
            raise _Stop(FAIL, "%s: wrong content: %s" % (what, self.content_diff(
                inv, size, sha, args, secret, base)))

    def content_diff(self, inv, size, sha, args, secret, base):
        """Where the output differs: the first differing offset and the
        differing extents (of expect.map, else 64 KiB windows)."""
        if len(inv.stdout) != size:
            return "sha256 %s, expected %s" % (inv.stdout_sha256[:16], sha[:16])
        got = inv.stdout
        want = None
        if got is not None and self.opts.expected_bytes is not None:
            try:
                want = self.opts.expected_bytes(self.v, list(args), secret)
            except Exception:  # A diagnostic only: never a verdict.
                want = None
            if want is not None and (len(want) != size
                                     or hashlib.sha256(want).hexdigest() != sha):
                want = None
        qmap = None if "--snapshot" in [str(a) for a in args] else self.v.expect.get("map")
        self.checks["content"] = diff = content_diff(got, want, base, size, qmap)
        if not diff["extents"] and diff.get("first_difference") is None:
            return "sha256 %s, expected %s" % (inv.stdout_sha256[:16], sha[:16])
        return diff["summary"]

    def valid_read(self, what, args, secret, size, sha, base=0):
        keep = size if size <= DIFF_KEEP else 0
        inv = self.run(what, "read", args, secret, cap=size + 1, keep=keep)
        if inv.stdout_capped:
            self.expect_bytes(inv, what, size, sha)
        if inv.status is Status.REJECTED:
            raise _Stop(FAIL, "%s: rejected a valid image: %s" % (what, inv.first_stderr_line()))
        if inv.status is Status.UNSUPPORTED:
            raise _Stop(SKIP, "%s: adapter reports unsupported (exit %d): %s"
                        % (what, inv.exit_code, inv.first_stderr_line()))
        self.expect_bytes(inv, what, size, sha, args, secret, base)


def _extents(qemu_map, base, size):
    """(start, end, label) pieces of [base, base+size) by expect.map, else
    64 KiB windows; label says what the expected map has there."""
    out = []
    if qemu_map:
        for e in qemu_map:
            a, b = int(e["start"]), int(e["start"]) + int(e["length"])
            a, b = max(a, base), min(b, base + size)
            if a < b:
                what = "data" if e.get("data") else ("zero" if e.get("zero") else "hole")
                out.append((a, b, "%s, depth %s" % (what, e.get("depth", 0))))
    if not out:
        step = 64 << 10
        out = [(a, min(a + step, base + size), "window") for a in range(base, base + size, step)]
    return out


def _looks(b):
    if not b.strip(b"\0"):
        return "zeros"
    return "sha256 %s" % hashlib.sha256(b).hexdigest()[:12]


def content_diff(got, want, base, size, qemu_map=None, limit=4):
    """Describes how `got` (the adapter's bytes for [base, base+size)) differs
    from `want` (the expected bytes, or None when only the hash is known).
    Returns {"first_difference", "extents": [{start, length, map, expected,
    got}], "summary"}."""
    out = {"first_difference": None, "extents": [], "summary": ""}
    if got is None:
        out["summary"] = "output not kept (larger than %d bytes)" % DIFF_KEEP
        return out
    if want is not None:
        i = next((k for k in range(0, size, 4096) if got[k:k + 4096] != want[k:k + 4096]), None)
        if i is not None:
            i = next(k for k in range(i, min(i + 4096, size)) if got[k] != want[k])
            out["first_difference"] = base + i
    bad = []
    for a, b, label in _extents(qemu_map, base, size):
        g = got[a - base:b - base]
        if want is not None:
            w = want[a - base:b - base]
            if g != w:
                bad.append({"start": a, "length": b - a, "map": label, "expected": _looks(w),
                            "got": _looks(g)})
        elif label.startswith("zero") or label.startswith("hole"):
            if g.strip(b"\0"):
                bad.append({"start": a, "length": b - a, "map": label, "expected": "zeros",
                            "got": _looks(g)})
    out["extents"] = bad[:limit]
    parts = []
    if out["first_difference"] is not None:
        k = out["first_difference"] - base
        parts.append("first difference at offset %d (expected 0x%02x, got 0x%02x)"
                     % (out["first_difference"], want[k], got[k]))
    if bad:
        parts.append("%d extent(s) differ: %s%s" % (len(bad), "; ".join(
            "[%d, +%d) %s: expected %s, got %s" % (x["start"], x["length"], x["map"],
                                                   x["expected"], x["got"])
            for x in bad[:limit]), "; ..." if len(bad) > limit else ""))
    out["summary"] = ", ".join(parts)
    return out


def map_differences(ours, qemu):
    """Compares an adapter's map with qemu-img's (expect.map) over every
    byte; returns the first difference as text, or None."""
    segs = []
    for e in qemu:
        s = {"start": int(e["start"]), "depth": int(e["depth"]), "present": bool(e["present"]),
             "zero": bool(e["zero"]), "data": bool(e["data"]), "has_offset": "offset" in e}
        s["end"] = s["start"] + int(e["length"])
        s["delta"] = int(e["offset"]) - s["start"] if "offset" in e else 0
        segs.append(s)
    if not isinstance(ours, list):
        return "not a JSON array"
    want_end = max((s["end"] for s in segs), default=0)
    qi = 0
    covered = 0
    for m in ours:
        try:
            start, length = int(m["start"]), int(m["length"])
            depth = int(m.get("depth", 0))
            present, zero, data = bool(m.get("present")), bool(m.get("zero")), bool(m.get("data"))
            has_off = m.get("offset") is not None
            off = int(m["offset"]) if has_off else None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            return "malformed map entry %r (%s)" % (m, e)
        if start != covered:
            return ("entry at %d, expected one at %d (entries must cover the disk in order, "
                    "without gaps or overlaps)" % (start, covered))
        if length <= 0:
            return "entry at %d has length %d" % (start, length)
        covered = start + length
        pos = start
        while pos < start + length:
            while qi < len(segs) and segs[qi]["end"] <= pos:
                qi += 1
            if qi >= len(segs):
                return "map extends past the expected map at %d" % pos
            s = segs[qi]
            end = min(start + length, s["end"])
            for name, a, b in (("depth", depth, s["depth"]), ("present", present, s["present"]),
                               ("data", data, s["data"])):
                if a != b:
                    return "%s at %d: %s, expected %s" % (name, pos, a, b)
            if not data and zero != s["zero"]:
                return "zero at %d: %s, expected %s" % (pos, zero, s["zero"])
            if has_off != s["has_offset"]:
                return "offset at %d: %s, expected %s" % (
                    pos, "present" if has_off else "absent", "present" if s["has_offset"] else "absent")
            if has_off and s["has_offset"] and off - start != s["delta"]:
                return "offset at %d: host %d, expected %d" % (pos, off - start + pos, s["delta"] + pos)
            pos = end
    if covered < want_end:
        return ("map covers %d bytes (%d entries), the expected map covers %d"
                % (covered, len(ours), want_end))
    return None


def normalize_info(j):
    """Adapter info JSON (qemu-img info vocabulary or flat manifest keys) ->
    the manifest's expect.info keys."""
    out = {}
    if not isinstance(j, dict):
        return out
    data = (j.get("format-specific") or {}).get("data") or {}
    compat = data.get("compat")
    if "version" in j:
        out["version"] = j["version"]
    elif compat is not None:
        out["version"] = {"0.10": 2, "1.1": 3}.get(compat, compat)
    for flat, qemu, src in (("cluster_size", "cluster-size", j),
                            ("refcount_bits", "refcount-bits", data),
                            ("compression_type", "compression-type", data),
                            ("extended_l2", "extended-l2", data),
                            ("backing_filename", "backing-filename", j),
                            ("data_file", "data-file", data)):
        if flat in j:
            out[flat] = j[flat]
        elif qemu in src:
            out[flat] = src[qemu]
    if "encrypt_format" in j:
        out["encrypt_format"] = j["encrypt_format"]
    elif isinstance(data.get("encrypt"), dict) and "format" in data["encrypt"]:
        out["encrypt_format"] = data["encrypt"]["format"]
    if "virtual_size" in j:
        out["virtual_size"] = j["virtual_size"]
    elif "virtual-size" in j:
        out["virtual_size"] = j["virtual-size"]
    return out


# ------------------------------------------------------------ the rules as data
# What reading a vector must give, stated once: the scorer below follows these,
# and `run.py reader-plan` writes them for the C++ suites
# (conformance/reference_vectors_test.cc reads them instead of the manifests).


@dataclasses.dataclass
class ExpectedRead:
    """One read a valid vector requires: exactly `size` bytes hashing to `sha256`."""
    group: str            # The checks entry it counts for: read, reads, passphrases, snapshots.
    what: str             # How a failure names it.
    offset: Optional[int]  # A slice (--offset/--length), or None for the whole view.
    length: Optional[int]
    snapshot: Optional[str]  # A snapshot's view (--snapshot), or None for the active one.
    passphrase: int       # Index into the vector's passphrases (0 when it has none).
    size: int
    sha256: str

    @property
    def args(self) -> List[Any]:
        if self.snapshot is not None:
            return ["--snapshot", self.snapshot]
        if self.offset is not None:
            return ["--offset", self.offset, "--length", self.length]
        return []

    @property
    def base(self) -> int:
        return int(self.offset) if self.offset is not None and self.group == "reads" else 0


def valid_reads(v: Vector) -> List[ExpectedRead]:
    """The reads a valid vector requires, in the order they are made: the
    whole view (when guest_sha256 is given), every reads[] slice, the same
    with every other passphrase (the whole view, else the first slice), and
    every snapshot's view."""
    e = v.expect
    size = int(e["virtual_size"])
    sha = e.get("guest_sha256")
    out = []
    if sha is not None:
        out.append(ExpectedRead("read", "read", None, None, None, 0, size, sha))
    for r in e.get("reads", []) or []:
        out.append(ExpectedRead("reads", "read %d+%d" % (r["offset"], r["length"]), r["offset"],
                                r["length"], None, 0, int(r["length"]), r["sha256"]))
    for i in range(1, len(v.passphrases)):
        if sha is not None:
            out.append(ExpectedRead("passphrases", "passphrase #%d" % i, None, None, None, i,
                                    size, sha))
        else:
            r = e["reads"][0]
            out.append(ExpectedRead("passphrases", "passphrase #%d read" % i, r["offset"],
                                    r["length"], None, i, int(r["length"]), r["sha256"]))
    for s in e.get("snapshots") or []:
        out.append(ExpectedRead("snapshots", "snapshot %s" % s["name"], None, None, s["name"], 0,
                                int(s.get("virtual_size", size)), s["guest_sha256"]))
    return out


def refusal_tokens(v: Vector) -> List[str]:
    """What a refusal of an invalid or acceptable vector may name to count as
    naming its fault (--strict-errors): an n_ vector's primary clause or
    error class; any clause an i_ vector lists, or its if_rejected class or
    clause."""
    e = v.expect
    if v.verdict == Verdict.INVALID:
        out = [v.primary_clause, e.get("error_class")]
    else:
        rej = e.get("if_rejected") or {}
        out = list(v.clauses) + [rej.get("error_class"), rej.get("clause")]
    return [t for t in out if t is not None]


def accepted_readings(v: Vector) -> List[Dict[str, Any]]:
    """The contents an accepted read of an i_ vector may return
    ({name, virtual_size, guest_sha256, grade?, why?}; without guest_sha256:
    any content): its acceptable readings (vectors/lists), else if_accepted;
    for a stage-check n_ vector, expect.readable."""
    if v.verdict == Verdict.INVALID:
        r = v.expect.get("readable")
        return [dict(r, name="readable")] if r else []
    if v.readings is not None:
        return list(v.readings.get("accepted", []))
    r = v.expect.get("if_accepted")
    return [dict(r, name="if_accepted")] if r else [{"name": "any"}]


def reader_plan(root: str, vectors: List[Vector]) -> Dict[str, Any]:
    """The rules above for every image vector, as the C++ suites read them
    (`run.py reader-plan`; conformance/vector_manifest.h): where its files
    are, its passphrases, and what a reader must do: `reads` that must
    succeed (valid vectors), else whether a refusal is `required` (or only
    allowed), what it may name (`tokens`), and the contents an accepted read
    may return (`accepted`)."""
    out = []
    for v in vectors:
        p: Dict[str, Any] = {
            "id": v.id, "verdict": v.verdict, "stage": v.stage, "manifest": v.manifest,
            "image": os.path.relpath(v.image, root),
            "chain": [os.path.relpath(c, root) for c in v.chain],
            "passphrases_hex": [x.hex() for x in v.passphrases],
            "clauses": v.clauses, "finding": v.expect.get("finding")}
        if v.verdict == Verdict.VALID:
            p["reads"] = [{"what": r.what, "offset": r.offset, "length": r.length,
                           "snapshot": r.snapshot, "passphrase": r.passphrase, "size": r.size,
                           "sha256": r.sha256} for r in valid_reads(v)]
        else:
            p["refusal"] = {"required": v.verdict == Verdict.INVALID and v.stage != Stage.CHECK,
                            "tokens": refusal_tokens(v)}
            p["accepted"] = [{k: r[k] for k in ("name", "virtual_size", "guest_sha256") if k in r}
                             for r in accepted_readings(v)]
        out.append(p)
    return {"schema": "reader_plan_v1",
            "source": "conformance/runner/run.py reader-plan (the scorer's rules, qct_score.py)",
            "vectors": out}


def _score_valid(sc):
    v, sut = sc.v, sc.sut
    e = v.expect
    size = int(e["virtual_size"])
    if e.get("guest_sha256") is None and not e.get("reads"):
        raise _Stop(ERROR, "vector gives neither guest_sha256 nor reads")
    group = None
    for r in valid_reads(v):
        if r.group != group and group is not None:
            sc.checks[group] = PASS
        group = r.group
        if group == "snapshots" and "snapshots" not in sut.features:
            sc.checks[group] = SKIP
            group = None
            break
        secret = v.passphrases[r.passphrase] if v.passphrases else None
        sc.valid_read(r.what, r.args, secret, r.size, r.sha256, base=r.base)
    if group is not None:
        sc.checks[group] = PASS
    if "map" in e:
        if "map" in sut.commands:
            inv = sc.run("map", "map", [], secret, cap=MAP_CAP, keep=MAP_CAP)
            if inv.stdout_capped:
                raise _Stop(FAIL, "map: output larger than %d bytes" % MAP_CAP)
            if inv.status is Status.UNSUPPORTED:
                sc.checks["map"] = SKIP
            elif inv.status is not Status.OK:
                raise _Stop(FAIL, "map: rejected a valid image: %s" % inv.first_stderr_line())
            else:
                try:
                    ours = json.loads(inv.stdout.decode("utf-8"))
                    if not isinstance(ours, list):
                        raise ValueError("not a JSON array")
                except ValueError as err:
                    raise _Stop(FAIL, "map: output is not a JSON array (%s)" % err)
                diff = map_differences(ours, e["map"])
                if diff:
                    raise _Stop(FAIL, "map: " + diff)
                sc.checks["map"] = PASS
    if "info" in e and sc.opts.check_info and "info" in sut.commands:
        # Informational: recorded in checks.info, never changes the outcome.
        inv = sc.run("info", "info", [], secret, cap=INFO_CAP, keep=INFO_CAP)
        if inv.exit_code != 0 or inv.stdout_capped:
            sc.checks["info"] = SKIP if inv.status is Status.UNSUPPORTED else FAIL
            sc.checks["info_detail"] = "info: exit %s: %s" % (inv.exit_code, inv.first_stderr_line())
        else:
            try:
                got = normalize_info(json.loads(inv.stdout.decode("utf-8")))
            except ValueError:
                got = None
            if got is None:
                sc.checks["info"] = FAIL
                sc.checks["info_detail"] = "info: not JSON"
            else:
                want = dict(e["info"])
                want["virtual_size"] = size
                bad = ["%s=%r (expected %r)" % (k, got[k], want[k])
                       for k in sorted(want) if k in got and got[k] != want[k]]
                sc.checks["info"] = FAIL if bad else PASS
                if bad:
                    sc.checks["info_detail"] = "info: " + "; ".join(bad)
    return PASS, None, "read exactly as expected"


def _refused(sc, inv):
    if inv.status in (Status.REJECTED, Status.UNSUPPORTED):
        if sc.reject_inv is None:
            sc.reject_inv = inv
        if inv.status is Status.UNSUPPORTED and sc.opts.unsupported_is_skip:
            raise _Stop(SKIP, "adapter reports unsupported (exit %d): %s"
                        % (inv.exit_code, inv.first_stderr_line()))
        return True
    return False


def _score_checker_only(sc):
    """Stage check: reading is the reader's choice (refuse, or return exactly
    expect.readable); an adapter with `check` must report the fault: a
    corruption (or check error), or for finding=warning a warning when its
    JSON counts warnings."""
    v, e = sc.v, sc.v.expect
    secret = v.passphrases[0] if v.passphrases else None
    readable = next(iter(accepted_readings(v)), None)
    sc.checks["read"] = _read_or_refuse(sc, readable, secret)[0]
    sc.reject_inv = None  # a refusal here is not the verdict
    if "check" not in sc.sut.commands:
        sc.checks["check"] = SKIP
        return PASS, None, ("read as a reader may (%s); the fault needs a checker and the "
                            "adapter has no `check`" % sc.checks["read"].lower())
    inv = sc.run("check", "check", [], secret, cap=INFO_CAP, keep=INFO_CAP)
    if inv.status is Status.REJECTED and not inv.stdout_capped:
        # The checker refuses the image: the fault did not pass unnoticed.
        sc.checks["check"] = PASS
        return PASS, None, "check refuses the image: %s" % inv.first_stderr_line()
    if inv.status is not Status.OK or inv.stdout_capped:
        if inv.status is Status.UNSUPPORTED and sc.opts.unsupported_is_skip:
            raise _Stop(SKIP, "check: adapter reports unsupported (exit %d)" % inv.exit_code)
        raise _Stop(FAIL, "check: exit %s: %s" % (inv.exit_code, inv.first_stderr_line()))
    try:
        j = json.loads(inv.stdout.decode("utf-8"))
        if not isinstance(j, dict):
            raise ValueError("not a JSON object")
    except ValueError as err:
        raise _Stop(FAIL, "check: output is not a JSON object (%s)" % err)
    clauses = {f.get("clause") for f in j.get("findings") or [] if isinstance(f, dict)}
    if e.get("finding") == "warning":
        if "warnings" not in j:
            sc.checks["check"] = SKIP
            return PASS, None, "check: the fault is a warning and the adapter counts none"
        flagged = int(j.get("warnings") or 0) > 0
    else:
        flagged = int(j.get("corruptions") or 0) > 0 or bool(j.get("check-errors"))
    if not flagged:
        raise _Stop(FAIL, "check: reported no %s for %s" % (e.get("finding", "corruption"),
                                                           v.primary_clause))
    sc.checks["check"] = PASS
    if clauses:
        sc.checks["check_clause"] = v.primary_clause in clauses
    return PASS, None, "check reports it (read: %s)" % sc.checks["read"].lower()


def _score_invalid(sc):
    v, e = sc.v, sc.v.expect
    if e.get("stage") == Stage.CHECK:
        return _score_checker_only(sc)
    secret = v.passphrases[0] if v.passphrases else None
    inv = sc.run("read", "read", [], secret, cap=INVALID_READ_CAP)
    if inv.stdout_capped:
        raise _Stop(FAIL, "accepted invalid image: read produced more than %d bytes"
                    % INVALID_READ_CAP)
    stage = e.get("stage", Stage.OPEN)
    bad_reads = e.get("bad_reads") or []
    snap = e.get("snapshot")
    if not _refused(sc, inv):
        if stage != Stage.ACCESS or not (bad_reads or snap):
            raise _Stop(FAIL, "accepted invalid image (read exit 0, %d bytes)" % inv.stdout_len)
        if bad_reads:
            first = bad_reads[0]
            if inv.stdout_len >= int(first["offset"]) + int(first["length"]):
                raise _Stop(FAIL, "accepted invalid image: the whole-disk read returned %d "
                            "bytes, including the faulty range %d+%d"
                            % (inv.stdout_len, first["offset"], first["length"]))
            raise _Stop(FAIL, "accepted invalid image: the whole-disk read exited 0 with %d "
                        "bytes, short of the faulty range %d+%d (a short read is not a refusal)"
                        % (inv.stdout_len, first["offset"], first["length"]))
    for r in bad_reads:
        what = "read %d+%d" % (r["offset"], r["length"])
        inv = sc.run(what, "read", ["--offset", r["offset"], "--length", r["length"]],
                     secret, cap=int(r["length"]) + 1)
        if not _refused(sc, inv):
            raise _Stop(FAIL, "%s: returned data for the faulty range" % what)
    if snap and sc.reject_inv is None:
        if "snapshots" not in sc.sut.features:
            raise _Stop(SKIP, "the fault is in snapshot %s; adapter lacks `snapshots`" % snap)
        what = "snapshot %s" % snap
        inv = sc.run(what, "read", ["--snapshot", snap], secret, cap=INVALID_READ_CAP)
        if inv.stdout_capped or not _refused(sc, inv):
            raise _Stop(FAIL, "%s: returned data for the faulty snapshot" % what)
    how = "rejected"
    if sc.reject_inv is not None and sc.reject_inv.status is Status.UNSUPPORTED:
        how = "rejected as unsupported (exit %d)" % sc.reject_inv.exit_code
    return PASS, None, how


def _read_or_refuse(sc, content, secret):
    """Whole read where refusing is allowed: ("REJECT", how) or ("ACCEPT",
    how); an accepted read must return exactly `content` when it is given."""
    cap = int(content["virtual_size"]) + 1 if content else INVALID_READ_CAP
    inv = sc.run("read", "read", [], secret, cap=cap)
    if not inv.stdout_capped and _refused(sc, inv):
        return REJECT, ("rejected" if inv.status is Status.REJECTED
                          else "rejected as unsupported (exit %d)" % inv.exit_code)
    if content:
        sc.expect_bytes(inv, "accepted, but read", int(content["virtual_size"]),
                        content["guest_sha256"])
        return ACCEPT, "accepted with the expected content"
    return ACCEPT, "accepted (the vector gives no content to compare)"


def _score_acceptable(sc):
    """Refused: PASS (REJECT). Accepted: the bytes must be one of the vector's
    acceptable readings (vectors/lists/acceptable_readings.json; without an
    entry, expect.if_accepted): PASS (ACCEPT) for a reading of grade `pass`,
    PASS with a warning for grade `warn` (e.g. content read from a host file
    outside the image's directory)."""
    v, e = sc.v, sc.v.expect
    secret = v.passphrases[0] if v.passphrases else None
    if v.readings is None:
        return (PASS,) + _read_or_refuse(sc, e.get("if_accepted"), secret)
    readings = accepted_readings(v)
    sized = [r for r in readings if "guest_sha256" in r]
    cap = max([int(r["virtual_size"]) for r in sized] + [0]) + 1 if sized else INVALID_READ_CAP
    inv = sc.run("read", "read", [], secret, cap=cap, keep=min(cap, DIFF_KEEP))
    if not inv.stdout_capped and _refused(sc, inv):
        return PASS, REJECT, ("rejected" if inv.status is Status.REJECTED
                                else "rejected as unsupported (exit %d)" % inv.exit_code)
    for r in readings:
        if "guest_sha256" in r:
            ok = (not inv.stdout_capped and inv.stdout_len == int(r["virtual_size"])
                  and inv.stdout_sha256 == r["guest_sha256"])
        else:
            ok = True  # Any content: a reading the vector cannot pin down.
        if ok:
            if r.get("grade") == "warn":
                sc.checks["warning"] = r["why"]
                return PASS, ACCEPT, "accepted (%s): WARNING: %s" % (r["name"], r["why"])
            return PASS, ACCEPT, "accepted with the %s reading" % r["name"]
    names = ", ".join("%s (%s bytes)" % (r["name"], r.get("virtual_size", "?"))
                      for r in readings)
    raise _Stop(FAIL, "accepted, but read %d bytes (sha256 %s) matching no acceptable reading: %s"
                % (inv.stdout_len, (inv.stdout_sha256 or "")[:16], names or "none"))


def strict_match(v, token):
    """Does the error token name the vector's primary clause or class?"""
    if token is None:
        return False
    if v.verdict in (Verdict.INVALID, Verdict.ACCEPTABLE):
        return token in refusal_tokens(v)
    return True


def score_vector(v: Vector, sut: Sut, invoke, opts: Optional[Options] = None) -> Result:
    opts = opts or Options()
    res = Result(id=v.id, verdict=v.verdict, clauses=v.clauses, importance=v.importance,
                 features=v.features, area=v.area,
                 extra={"kind": v.kind, "stage": v.stage, "impl_limit": bool(v.impl_limit)})
    missing = [f for f in v.features if f not in sut.features]
    if missing:
        res.outcome = SKIP
        res.detail = "adapter lacks feature(s): " + ", ".join(missing)
        return res
    sc = _Scorer(v, sut, invoke, opts)
    try:
        if v.verdict == Verdict.VALID:
            outcome, i_outcome, detail = _score_valid(sc)
        elif v.verdict == Verdict.INVALID:
            outcome, i_outcome, detail = _score_invalid(sc)
        elif v.verdict == Verdict.ACCEPTABLE:
            outcome, i_outcome, detail = _score_acceptable(sc)
        else:
            outcome, i_outcome, detail = ERROR, None, "unknown verdict %r" % v.verdict
    except _Stop as s:
        outcome, i_outcome, detail = s.outcome, None, s.detail
        if v.verdict == Verdict.ACCEPTABLE and s.outcome == FAIL:
            i_outcome = ACCEPT
    res.update(outcome=outcome, i_outcome=i_outcome, detail=detail,
               duration_ms=sc.duration, invocations=sc.n, checks=sc.checks)
    if "warning" in sc.checks:
        res["warning"] = sc.checks["warning"]
    shown = sc.reject_inv or sc.last
    if shown is not None:
        res.exit_code = shown.exit_code
        res.signal = shown.signal
        res.stderr_tail = shown.stderr_text()[-1000:]
        res.error_line = shown.first_stderr_line() or None
    if sc.reject_inv is not None and outcome == PASS and v.verdict in (Verdict.INVALID,
                                                                       Verdict.ACCEPTABLE):
        # Applies to a refusal that is the verdict: n_ rejections, i_ REJECT.
        res.error_token = error_token(sc.reject_inv.first_stderr_line())
        res.error_match = strict_match(v, res.error_token)
    return res


# ---------------------------------------------------------------- expectations

def parse_expectations(text):
    """`id: FAIL  # reason` lines (several statuses: `id: FAIL, CRASH`), or a
    JSON object {id: {"expected": "FAIL"|[...], "reason": "..."}} /
    {id: "FAIL"}. Returns {id: {"expected": [..], "reason": str}}."""
    text_s = text.strip()
    out = {}
    if text_s.startswith("{"):
        for k, val in json.loads(text_s).items():
            if isinstance(val, str):
                val = {"expected": val}
            exp = val.get("expected", "FAIL")
            out[k] = {"expected": [exp] if isinstance(exp, str) else list(exp),
                      "reason": val.get("reason", "")}
        return out
    for n, line in enumerate(text.splitlines(), 1):
        body, _, reason = line.partition("#")
        body = body.strip()
        if not body:
            continue
        if ":" not in body:
            raise ValueError("expectations line %d: want `id: STATUS  # reason`" % n)
        vid, _, st = body.partition(":")
        statuses = [s.strip().upper() for s in st.split(",") if s.strip()] or ["FAIL"]
        for s in statuses:
            if s not in OUTCOMES:
                raise ValueError("expectations line %d: unknown status %r" % (n, s))
        out[vid.strip()] = {"expected": statuses, "reason": reason.strip()}
    return out


def apply_expectations(res, expectations):
    e = expectations.get(res["id"])
    if e is None:
        return res
    res["expected"] = e["expected"]
    if res["outcome"] == PASS:
        res["outcome"] = UNEXPECTED_PASS
        res["detail"] = "listed as %s (%s), but passes" % ("/".join(e["expected"]), e["reason"]
                                                         or "no reason given")
    elif res["outcome"] in e["expected"]:
        res["detail"] = "expected %s: %s [%s]" % (res["outcome"], res["detail"], e["reason"])
        res["outcome"] = XFAIL
    elif res["outcome"] != SKIP:
        res["detail"] = "expected %s, got %s: %s" % ("/".join(e["expected"]), res["outcome"],
                                                     res["detail"])
    return res


def emit_expectations(results, sut_name):
    lines = ["# Known failures of %s (conformance/runner/run.py --emit-expectations)." % sut_name,
             "# Format: `id: STATUS[, STATUS]  # reason / bug link`."]
    for r in results:
        st = r["outcome"]
        if st == XFAIL:
            st = r.get("expected", ["FAIL"])[0] if len(r.get("expected", [])) == 1 else None
            st = st or "FAIL"
            reason = r["detail"].rsplit("[", 1)[-1].rstrip("]") if "[" in r["detail"] else r["detail"]
        elif st in (FAIL, CRASH, TIMEOUT, ERROR):
            reason = r["detail"]
        else:
            continue
        lines.append("%s: %s  # %s" % (r["id"], st, reason.replace("\n", " ")[:200]))
    return "\n".join(lines) + "\n"


def summarize(results):
    s = {k: 0 for k in ("pass", "fail", "skip", "crash", "timeout", "error", "xfail",
                        "unexpected_pass", "i_accept", "i_reject", "strict_error_mismatch",
                        "info_mismatch", "warn", "impl_limit_bad", "total")}
    for r in results:
        s["total"] += 1
        s[r["outcome"].lower()] += 1
        if r.get("warning"):
            s["warn"] += 1
        if r.get("impl_limit") and r["outcome"] in (FAIL, CRASH, TIMEOUT, ERROR):
            s["impl_limit_bad"] += 1
        if r.get("i_outcome") == ACCEPT and r["outcome"] == PASS:
            s["i_accept"] += 1
        if r.get("i_outcome") == REJECT and r["outcome"] == PASS:
            s["i_reject"] += 1
        if r.get("error_match") is False:
            s["strict_error_mismatch"] += 1
        if (r.get("checks") or {}).get("info") == FAIL:
            s["info_mismatch"] += 1
    return s
