"""Differential fuzzing of any adapter against the reference (`run.py fuzz`).

Each round takes a single-file, unencrypted vector, mutates it with the
structure-aware mutator (`fuzz:qcow2_mutate`, deterministic for a seed),
reads the result with the reference adapter and with the adapter under test
through the protocol, and classifies what they do:

  agree                 both refuse, or both read the same bytes
  not_compared          the adapter says unsupported, or the reference needs
                        more than the image (a passphrase)
  reference_failed      the reference crashed or timed out: a finding about
                        us, reported as such
  peer_accepts_invalid  the reference refuses (keyed by its clause), the
                        adapter reads
  peer_refuses_valid    the reference reads, the adapter refuses (keyed by
                        the adapter's first stderr line, digits folded)
  bytes_differ          both read, the bytes or the length differ (keyed by
                        the vector's area)
  peer_crash            the adapter crashed (exit status outside the
                        protocol, or a signal)
  peer_timeout          the adapter did not answer in time

The first input of each (class, key) is minimized (bytes that differ from the
vector are put back while the class and key stay the same) and written as a
repro bundle: the image, the command lines, both verdicts and the first
differing offset. Deterministic with --seed; a progress line every few
seconds; stops after --seconds or --rounds.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import qct_exec
from qct_protocol import Status

READ_CAP = 64 << 20     # Largest guest read compared byte for byte.
MINIMIZE_BUDGET = 48    # Adapter pairs spent minimizing one finding.


class Outcome(enum.Enum):
    AGREE = "agree"
    NOT_COMPARED = "not_compared"
    PEER_ACCEPTS_INVALID = "peer_accepts_invalid"
    PEER_REFUSES_VALID = "peer_refuses_valid"
    BYTES_DIFFER = "bytes_differ"
    PEER_CRASH = "peer_crash"
    PEER_TIMEOUT = "peer_timeout"
    REFERENCE_FAILED = "reference_failed"


@dataclasses.dataclass(frozen=True)
class Read:
    """What one adapter's whole read of one image did."""
    status: Optional[Status]   # None: killed (signal or time-out).
    timed_out: bool
    capped: bool               # Read more than READ_CAP: killed at the cap.
    signal: Optional[int]
    length: int
    sha256: Optional[str]
    data: bytes                # The bytes, when at most READ_CAP.
    first_stderr: str
    argv: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    key: str = ""
    detail: str = ""
    first_difference: Optional[int] = None


@dataclasses.dataclass
class Finding:
    outcome: Outcome
    key: str
    count: int
    bundle: str


class _FileVector(object):
    """The minimum of qcow2ref_py.model.Vector that Executor.invoke needs."""

    def __init__(self, path: str):
        self.image = path
        self.chain: List[str] = []
        self.timeout_class = None

    def files(self):
        return [(self.image, os.path.basename(self.image))]


def read_with(ex: qct_exec.Executor, image: str) -> Read:
    inv = ex.invoke(_FileVector(image), "read", cap=READ_CAP + 1, keep=READ_CAP)
    if inv.stdout_capped:
        # A disk larger than the cap (a 1 TiB image reads as 1 TiB of bytes):
        # the first READ_CAP bytes are what is compared.
        data = inv.stdout[:READ_CAP]
        return Read(status=Status.OK, timed_out=False, capped=True, signal=None,
                    length=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data,
                    first_stderr="", argv=tuple(inv.argv))
    status = None if (inv.timed_out or inv.signal is not None) else inv.status
    return Read(status=status, timed_out=inv.timed_out, capped=False, signal=inv.signal,
                length=inv.stdout_len, sha256=inv.stdout_sha256,
                data=inv.stdout if inv.stdout_len <= READ_CAP else b"",
                first_stderr=inv.first_stderr_line(), argv=tuple(inv.argv))


CLAUSE_RE = re.compile(r"\b((?:Q2|L1|QX)\.[A-Za-z0-9_.]+[A-Za-z0-9_])")


def first_difference(a: bytes, b: bytes, n: int) -> int:
    """The first index below n where a and b differ (n when none): compared
    block by block, so a 64 MiB read costs slices, not a Python loop."""
    block = 1 << 16
    for start in range(0, n, block):
        end = min(n, start + block)
        if a[start:end] != b[start:end]:
            return next(i for i in range(start, end) if a[i] != b[i])
    return n


def classify(ref: Read, peer: Read, area: str) -> Verdict:
    if ref.status == Status.USAGE:
        # The mutation asked for something a read cannot be given here, e.g.
        # a passphrase (crypt_method changed): neither side is judged.
        return Verdict(Outcome.NOT_COMPARED, "reference needs more",
                       "the reference: %s" % ref.first_stderr)
    if ref.status is None or ref.status == Status.CRASH:
        return Verdict(Outcome.REFERENCE_FAILED, "reference",
                       "the reference %s: %s" % (
                           "timed out" if ref.timed_out else "failed", ref.first_stderr))
    if peer.timed_out:
        return Verdict(Outcome.PEER_TIMEOUT, area, "no answer in time")
    if peer.status is None or peer.status == Status.CRASH:
        how = "signal %s" % peer.signal if peer.signal is not None else "exit outside the protocol"
        return Verdict(Outcome.PEER_CRASH, area, "%s: %s" % (how, peer.first_stderr))
    if peer.status in (Status.UNSUPPORTED, Status.USAGE):
        return Verdict(Outcome.NOT_COMPARED, "unsupported")
    ref_reads = ref.status == Status.OK
    peer_reads = peer.status == Status.OK
    if not ref_reads and not peer_reads:
        return Verdict(Outcome.AGREE)
    if not ref_reads:
        m = CLAUSE_RE.search(ref.first_stderr)
        return Verdict(Outcome.PEER_ACCEPTS_INVALID, m.group(1) if m else "(no clause)",
                       "the reference refuses (%s); the adapter reads %d bytes"
                       % (ref.first_stderr, peer.length))
    if not peer_reads:
        key = re.sub(r"\d+", "N", peer.first_stderr)[:120]
        return Verdict(Outcome.PEER_REFUSES_VALID, key,
                       "the reference reads %d bytes; the adapter: %s"
                       % (ref.length, peer.first_stderr))
    if ref.capped != peer.capped:
        # One side read more than the cap, the other less: lengths differ.
        pass
    elif ref.length == peer.length and ref.sha256 == peer.sha256:
        return Verdict(Outcome.AGREE)
    first = None
    if ref.data and peer.data:
        n = min(len(ref.data), len(peer.data))
        first = first_difference(ref.data, peer.data, n)
    return Verdict(Outcome.BYTES_DIFFER, area,
                   "the reference reads %d bytes, the adapter %d; first difference at %s"
                   % (ref.length, peer.length, "?" if first is None else first), first)


def mutate(tool: str, src: str, dst: str, seed: int, rounds: int) -> bool:
    p = subprocess.run([tool, src, dst, str(seed), str(rounds)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return p.returncode == 0


def minimize(original: bytes, mutated: bytes, same: Callable[[bytes], bool],
             budget: int = MINIMIZE_BUDGET) -> bytes:
    """Puts bytes of `original` back into `mutated` while `same` holds,
    halving the chunks as delta debugging does; the length is tried first."""
    cur = bytearray(mutated)
    spent = 0
    if len(cur) != len(original):
        cand = cur[:len(original)] + original[len(cur):]
        spent += 1
        if same(bytes(cand)):
            cur = bytearray(cand)
    diffs = [i for i in range(min(len(cur), len(original))) if cur[i] != original[i]]
    chunk = max(1, len(diffs) // 2)
    while diffs and spent < budget:
        kept: List[int] = []
        i = 0
        while i < len(diffs) and spent < budget:
            part = diffs[i:i + chunk]
            cand = bytearray(cur)
            for j in part:
                cand[j] = original[j]
            spent += 1
            if same(bytes(cand)):
                cur = cand
            else:
                kept.extend(part)
            i += chunk
        kept.extend(diffs[i:])
        diffs = kept
        if chunk == 1:
            break
        chunk = max(1, chunk // 2)
    return bytes(cur)


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def write_bundle(out: str, n: int, vector_id: str, seed: int, rounds: int,
                 image: bytes, verdict: Verdict, ref: Read, peer: Read,
                 adapter: str, reference: str) -> str:
    d = os.path.join(out, "%03d-%s" % (n, verdict.outcome.value))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "image.qcow2"), "wb") as f:
        f.write(image)

    def side(r: Read) -> Dict[str, object]:
        return {"status": r.status.value if r.status else None, "timed_out": r.timed_out,
                "capped_at": READ_CAP if r.capped else None,
                "signal": r.signal, "length": r.length, "sha256": r.sha256,
                "first_stderr_line": r.first_stderr}

    info = {"class": verdict.outcome.value, "key": verdict.key, "detail": verdict.detail,
            "vector": vector_id, "seed": seed, "rounds": rounds,
            "image_sha256": _sha(image), "first_difference": verdict.first_difference,
            "reference": side(ref), "adapter": side(peer)}
    with open(os.path.join(d, "finding.json"), "w") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(d, "repro.sh"), "w") as f:
        f.write("#!/bin/sh\n# %s: %s\ncd \"$(dirname \"$0\")\"\n" % (verdict.outcome.value,
                                                                       verdict.detail))
        f.write("%s read --image image.qcow2 > reference.raw; echo \"reference: $?\"\n"
                % reference)
        f.write("%s read --image image.qcow2 > adapter.raw; echo \"adapter: $?\"\n" % adapter)
        f.write("cmp reference.raw adapter.raw\n")
    os.chmod(os.path.join(d, "repro.sh"), 0o755)
    return d


def eligible(vectors) -> list:
    """Single-file, unencrypted image vectors (the mutator changes one file)."""
    return [v for v in vectors if not getattr(v, "chain", None)
            and not getattr(v, "passphrases", None) and hasattr(v, "image")
            and str(v.image).endswith(".qcow2")]


def run(vectors, adapter: str, reference: str, mutator: str, out: str, seed: int,
        seconds: float, rounds_limit: Optional[int], timeout_scale: float,
        progress: Callable[[str], None]) -> Dict[str, object]:
    pool = sorted(eligible(vectors), key=lambda v: v.id)
    if not pool:
        raise SystemExit("run.py fuzz: no eligible vectors")
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="qct-fuzz-")
    peer_ex = qct_exec.Executor(adapter, tmp_root=tmp, timeout_scale=timeout_scale)
    ref_ex = qct_exec.Executor(reference, tmp_root=tmp, timeout_scale=timeout_scale)
    peer_ex.capabilities()
    ref_ex.capabilities()
    counts: Dict[str, int] = {}
    findings: Dict[Tuple[str, str], Finding] = {}
    start = time.monotonic()
    last = start
    n = 0
    try:
        while True:
            now = time.monotonic()
            if now - start >= seconds or (rounds_limit is not None and n >= rounds_limit):
                break
            rng = random.Random(seed * 1000003 + n)
            v = rng.choice(pool)
            rounds = rng.randint(1, 4)
            mseed = rng.getrandbits(31)
            name = os.path.basename(v.image)
            work = os.path.join(tmp, "in")
            os.makedirs(work, exist_ok=True)
            img = os.path.join(work, name)
            n += 1
            if not mutate(mutator, v.image, img, mseed, rounds):
                counts["mutator_failed"] = counts.get("mutator_failed", 0) + 1
                continue
            ref = read_with(ref_ex, img)
            peer = read_with(peer_ex, img)
            verdict = classify(ref, peer, v.area)
            counts[verdict.outcome.value] = counts.get(verdict.outcome.value, 0) + 1
            if verdict.outcome in (Outcome.AGREE, Outcome.NOT_COMPARED):
                pass
            else:
                k = (verdict.outcome.value, verdict.key)
                if k in findings:
                    findings[k].count += 1
                else:
                    with open(v.image, "rb") as f:
                        original = f.read()
                    with open(img, "rb") as f:
                        mutated = f.read()

                    def same(candidate: bytes) -> bool:
                        with open(img, "wb") as f:
                            f.write(candidate)
                        r2, p2 = read_with(ref_ex, img), read_with(peer_ex, img)
                        v2 = classify(r2, p2, v.area)
                        return (v2.outcome, v2.key) == (verdict.outcome, verdict.key)

                    small = minimize(original, mutated, same)
                    with open(img, "wb") as f:
                        f.write(small)
                    ref, peer = read_with(ref_ex, img), read_with(peer_ex, img)
                    final = classify(ref, peer, v.area)
                    if (final.outcome, final.key) != (verdict.outcome, verdict.key):
                        small, final = mutated, verdict  # Not reproducible smaller.
                    bundle = write_bundle(out, len(findings) + 1, v.id, mseed, rounds, small,
                                          final, ref, peer, adapter, reference)
                    findings[k] = Finding(verdict.outcome, verdict.key, 1, bundle)
                    progress("fuzz: new %s [%s] from %s (%d bytes differ from the vector): %s"
                             % (verdict.outcome.value, verdict.key[:80], v.id,
                                sum(1 for a, b in zip(original, small) if a != b)
                                + abs(len(original) - len(small)), bundle))
            if time.monotonic() - last >= 5:
                last = time.monotonic()
                progress("fuzz: %.0fs, %d rounds, %d findings in %d classes; %s"
                         % (last - start, n, sum(f.count for f in findings.values()),
                            len(findings), ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {"seed": seed, "seconds": round(time.monotonic() - start, 1), "rounds": n,
               "counts": counts,
               "findings": [{"class": f.outcome.value, "key": f.key, "count": f.count,
                             "bundle": os.path.relpath(f.bundle, out)}
                            for f in sorted(findings.values(),
                                            key=lambda f: (f.outcome.value, f.key))]}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
        f.write("\n")
    return summary
