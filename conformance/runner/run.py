#!/usr/bin/env python3
"""qcow2 conformance runner: runs a third-party adapter over the vectors.

  run.py [run] --adapter PATH [--run GLOB]... [--skip GLOB]... [--features -luks,+xdf]
         [--stage S] [--kind K] [--importance I] [--feature F] [--skip-impl-limits]
         [--expectations FILE] [--allow-unexpected-pass] [--emit-expectations FILE]
         [--report DIR] [--keep-failures DIR] [-j N] [--timeout-scale X]
         [--strict-errors] [--self-test]
  run.py self-test [--adapter PATH] [-j N]
  run.py report --out DIR RESULTS.json...
  run.py regress OLD.json NEW.json

The adapter protocol, the scoring and the results schema are described in
conformance/PROTOCOL.md. Python 3 standard library only.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import fnmatch
import json
import os
import platform
import sys
import tempfile
import threading
import time
from typing import List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__":
    # Run as a script (python3 conformance/runner/run.py, from anywhere): the
    # qcow2ref_py package is at the root of the checkout this file is in.
    sys.path.insert(1, os.path.dirname(os.path.dirname(HERE)))

import qct_exec  # noqa: E402
import qct_ops  # noqa: E402
import qct_report  # noqa: E402
import qct_score  # noqa: E402
from qcow2ref_py import manifests  # noqa: E402
from qcow2ref_py.model import Result  # noqa: E402

CONFORMANCE_DIR = os.path.dirname(HERE)
BROKEN_DIR = os.path.join(CONFORMANCE_DIR, "adapters", "broken")
REFERENCE_ADAPTER = os.path.join(CONFORMANCE_DIR, "adapters", "qcow2ref")


@dataclasses.dataclass(frozen=True)
class BrokenAdapter:
    """A deliberately broken adapter of the self-test: it must get `outcome`
    on at least one vector of its bug class (ids matching `vectors`)."""
    label: str
    name: str
    vectors: Tuple[str, ...]
    outcome: str = qct_score.FAIL


SELF_TEST_ADAPTERS = [
    BrokenAdapter("accept-everything", "accept_everything", ("n_*",)),
    BrokenAdapter("reject-everything", "reject_everything", ("y_*",)),
    BrokenAdapter("wrong-IV-basis", "wrong_iv_basis", ("y_luks_*", "y_enc_*")),
    BrokenAdapter("off-by-one-cluster", "off_by_one_cluster", ("y_hdr_*", "y_map_*")),
    BrokenAdapter("ignores-backing", "ignores_backing", ("y_bk_*", "y_*_backing")),
    BrokenAdapter("ignores-zero-flag", "ignores_zero_flag",
                  ("y_map_v3_zero_clusters", "y_map_discard", "y_xl2_*")),
    BrokenAdapter("ignores-snapshots", "ignores_snapshots", ("y_snap_*",)),
    BrokenAdapter("header-at-offset-0", "header_at_offset_0", ("y_hdr_*",)),
    BrokenAdapter("accepts-invalid", "accepts_invalid", ("n_*",)),
    BrokenAdapter("wrong-map", "wrong_map", ("y_map_*",)),
    BrokenAdapter("panics-exit-2", "panics_exit2", ("n_*",), qct_score.CRASH),
]
# Broken writers: run over the op scripts (--ops) only.
SELF_TEST_WRITERS = [
    BrokenAdapter("writer-skips-zero", "writer_skips_zero", ("y_ops_*",)),
]


@dataclasses.dataclass
class Filters:
    """Selection by vector properties; an empty list selects everything."""
    stages: List[str] = dataclasses.field(default_factory=list)
    kinds: List[str] = dataclasses.field(default_factory=list)
    importance: List[str] = dataclasses.field(default_factory=list)
    features: List[str] = dataclasses.field(default_factory=list)
    skip_impl_limits: bool = False

    def keep(self, v) -> bool:
        stage = getattr(v, "stage", None) or {"valid": "valid", "acceptable": "acceptable"}.get(
            getattr(v, "verdict", ""), "valid")
        if self.stages and stage not in self.stages:
            return False
        kind = getattr(v, "kind", None)
        if self.kinds and (kind or "").upper() not in [k.upper() for k in self.kinds]:
            return False
        if self.skip_impl_limits and getattr(v, "impl_limit", False):
            return False
        if self.importance and getattr(v, "importance", None) not in self.importance:
            return False
        if self.features and not set(self.features) & set(getattr(v, "features", [])):
            return False
        return True


def _split(values: Sequence[str]) -> List[str]:
    return [x.strip() for v in values for x in v.split(",") if x.strip()]


def find_root(explicit=None):
    """The workspace root: --root, $QCOW2CT_ROOT, $BUILD_WORKSPACE_DIRECTORY
    (bazel run), or the checkout this file lives in."""
    for cand in (explicit, os.environ.get("QCOW2CT_ROOT"),
                 os.environ.get("BUILD_WORKSPACE_DIRECTORY"), os.path.dirname(CONFORMANCE_DIR)):
        if cand and os.path.isdir(os.path.join(cand, "vectors")):
            return os.path.abspath(cand)
    sys.exit("run.py: cannot find the workspace (a directory with vectors/); use --root")


def select(vectors, run_globs, skip_globs, filters: Optional[Filters] = None):
    out = []
    for v in vectors:
        if isinstance(v, qct_ops.Accumulated):
            continue
        if run_globs and not any(fnmatch.fnmatchcase(v.id, g) for g in run_globs):
            continue
        if skip_globs and any(fnmatch.fnmatchcase(v.id, g) for g in skip_globs):
            continue
        if filters is not None and not filters.keep(v):
            continue
        out.append(v)
    # An accumulated op vector runs when its id is selected, with all its scripts.
    for v in vectors:
        if isinstance(v, qct_ops.Accumulated):
            if run_globs and not any(fnmatch.fnmatchcase(v.id, g) for g in run_globs):
                continue
            if skip_globs and any(fnmatch.fnmatchcase(v.id, g) for g in skip_globs):
                continue
            have = set(x.id for x in out)
            out += [m for m in v.members if m.id not in have]
            out.append(v)
    return out


def parse_features(spec, vocabulary=None):
    """`-a,+b,-c_*` -> (removed, added) feature names. Items may be globs over
    the vocabulary (vectors/features.json); a name or glob that matches no
    feature is an error."""
    minus, plus = [], []
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item[0] not in "+-":
            sys.exit("run.py: --features items are -FEATURE or +FEATURE, got %r" % item)
        pat = item[1:]
        names = [pat]
        if vocabulary is not None:
            names = [n for n in vocabulary if fnmatch.fnmatchcase(n, pat)]
            if not names:
                sys.exit("run.py: --features: %r names no feature of vectors/features.json (%s)"
                         % (pat, " ".join(vocabulary)))
        (minus if item[0] == "-" else plus).extend(names)
    return minus, plus


def fix_dash_values(argv: List[str], options=("--features",)) -> List[str]:
    """`--features -luks,-aes` -> `--features=-luks,-aes`: argparse takes a
    value that starts with '-' for an option of its own."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in options and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--"):
            out.append("%s=%s" % (argv[i], argv[i + 1]))
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


class Progress(object):
    def __init__(self, total, stream=sys.stderr, quiet=False):
        self.total, self.stream, self.quiet = total, stream, quiet
        self.tty = stream.isatty()
        self.done = 0
        self.counts = {}

    def update(self, res):
        self.done += 1
        o = res["outcome"]
        self.counts[o] = self.counts.get(o, 0) + 1
        if self.tty:
            parts = " ".join("%s %d" % (k.lower(), self.counts[k]) for k in qct_score.OUTCOMES
                             if self.counts.get(k))
            self.stream.write("\r[%d/%d] %s\033[K" % (self.done, self.total, parts))
            if o in qct_score.BAD_OUTCOMES:
                self.stream.write("\r%-15s %s: %s\033[K\n" % (o, res["id"], res["detail"]))
        elif not self.quiet or o in qct_score.BAD_OUTCOMES:
            extra = "" if o in (qct_score.PASS,) else ": " + res["detail"]
            self.stream.write("[%d/%d] %-15s %s%s\n" % (self.done, self.total, o, res["id"], extra))
        self.stream.flush()

    def finish(self):
        if self.tty:
            self.stream.write("\n")


class ReferenceBytes(object):
    """The expected bytes of a read for content diffs: what the reference
    adapter returns, used only when its sha256 is the vector's (the scorer
    checks). None when the reference cannot run."""

    def __init__(self, tmp_root, as_limit):
        self.ex = qct_exec.Executor(REFERENCE_ADAPTER, tmp_root=tmp_root, as_limit=as_limit)
        self.ok = None
        self.lock = threading.Lock()

    def __call__(self, v, args, secret):
        with self.lock:
            if self.ok is None:
                caps, _ = self.ex.capabilities()
                self.ok = caps is not None
        if not self.ok:
            return None
        inv = self.ex.invoke(v, "read", args, secret=secret, cap=qct_score.DIFF_KEEP,
                             keep=qct_score.DIFF_KEEP)
        return inv.stdout if inv.exit_code == 0 and not inv.stdout_capped else None


class Recorder(object):
    """Keeps what a failure bundle needs: every invocation of a vector."""

    def __init__(self):
        self.invocations = {}
        self.lock = threading.Lock()

    def add(self, vid, command, args, secret, inv):
        with self.lock:
            self.invocations.setdefault(vid, []).append((command, list(args), secret, inv))


def write_bundle(out_dir, v, result, calls, adapter):
    """--keep-failures: DIR/<id>/ with the staged files, the exact adapter
    commands (repro.sh), expected.json (the vector) and got.json (the result,
    plus each invocation's exit status, stdout and stderr)."""
    import shutil
    d = os.path.join(out_dir, v.id)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "img"))
    for src, name in v.files():
        shutil.copyfile(src, os.path.join(d, "img", name))
    lines = ["#!/bin/sh", "# %s: %s" % (v.id, result["detail"].replace("\n", " ")),
             "# The runner ran these in a fresh copy of img/ (the cwd), read-only, with",
             "# TMPDIR set to an empty directory and QCOW2CT_PROTOCOL=%d." % qct_exec.qct_protocol.CURRENT,
             'cd "$(dirname "$0")/img" || exit 1']
    got = {"result": as_json(result), "invocations": []}
    for n, (command, args, secret, inv) in enumerate(calls):
        argv = [adapter, command]
        if command != "capabilities":
            argv += ["--image", os.path.basename(v.image)]
        argv += [str(a) for a in args]
        if secret is not None:
            sp = os.path.join(d, "secret%d" % n)
            with open(sp, "wb") as f:
                f.write(secret)
            argv += ["--secret-file", "../" + os.path.basename(sp)]
        lines.append(" ".join("'%s'" % a.replace("'", "'\\''") for a in argv)
                     + " > ../stdout%d 2> ../stderr%d; echo \"exit $?\"" % (n, n))
        with open(os.path.join(d, "stdout%d.kept" % n), "wb") as f:
            f.write(inv.stdout)
        with open(os.path.join(d, "stderr%d.tail" % n), "wb") as f:
            f.write(inv.stderr_tail)
        got["invocations"].append({
            "argv": argv, "exit_code": inv.exit_code, "signal": inv.signal,
            "status": inv.status.value if inv.status else None, "timed_out": inv.timed_out,
            "stdout_len": inv.stdout_len, "stdout_sha256": inv.stdout_sha256,
            "stdout_kept": "stdout%d.kept" % n, "duration_ms": inv.duration_ms})
    with open(os.path.join(d, "repro.sh"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(os.path.join(d, "repro.sh"), 0o755)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({k: v.raw[k] for k in ("id", "verdict", "clauses", "features", "expect")
                   if k in v.raw}, f, indent=1)
    with open(os.path.join(d, "got.json"), "w") as f:
        json.dump(got, f, indent=1)


def run_suite(adapter, vectors, jobs=1, timeout_scale=1.0, features="", opts=None,
              expectations=None, as_limit=qct_exec.AS_LIMIT_BYTES, quiet=False,
              progress=True, tmp_root=None, stop_at=None, vocabulary=None,
              keep_failures=None):
    """Runs every vector; returns (caps, results) or raises SystemExit when
    the adapter cannot state its capabilities. With stop_at (an outcome),
    vectors not started once one has it are SKIP (the self-test needs one).
    vocabulary: [(feature, assumed)] of vectors/features.json."""
    failed = threading.Event()
    tmp_root = tempfile.mkdtemp(prefix="qcow2ct-", dir=tmp_root)
    try:
        ex = qct_exec.Executor(adapter, tmp_root=tmp_root, timeout_scale=timeout_scale,
                               as_limit=as_limit)
        caps, inv = ex.capabilities()
        if caps is None or caps.get("protocol") not in qct_exec.qct_protocol.SUPPORTED:
            raise SystemExit("run.py: %s capabilities failed (exit %s, signal %s, protocol %r; "
                             "this runner speaks %s): %s" % (
                                 adapter, inv.exit_code, inv.signal,
                                 (caps or {}).get("protocol"),
                                 " and ".join(map(str, qct_exec.qct_protocol.SUPPORTED)),
                                 inv.first_stderr_line() or inv.stdout[:200]))
        if caps["protocol"] != qct_exec.qct_protocol.CURRENT and progress:
            sys.stderr.write("run.py: %s speaks adapter protocol %d (deprecated: its exit codes "
                             "1/2 are what crashing runtimes return); see PROTOCOL.md\n"
                             % (adapter, caps["protocol"]))
        names = [n for n, _ in vocabulary] if vocabulary else None
        minus, plus = parse_features(features, names)
        if names:
            unknown = sorted(set(caps.get("features", [])) - set(names))
            if unknown and progress:
                sys.stderr.write("run.py: %s declares features not in vectors/features.json: %s\n"
                                 % (adapter, " ".join(unknown)))
        assumed = [n for n, a in (vocabulary or []) if a]
        sut = qct_score.Sut(caps, minus, plus, assumed)
        prog = Progress(len(vectors), quiet=quiet) if progress else None
        rec = Recorder() if keep_failures else None

        def one(v):
            if failed.is_set():
                r = qct_ops.new_result(v) if isinstance(v, qct_ops.OpScript) else \
                    qct_score.score_vector(v, qct_score.Sut({"features": []}), None, opts)
                r.update(outcome=qct_score.SKIP, detail="not run: an earlier vector failed")
                return r
            r = score_one(v)
            if stop_at and r["outcome"] == stop_at:
                failed.set()
            if rec is not None and r["outcome"] in qct_score.BAD_OUTCOMES | {qct_score.XFAIL} \
                    and not isinstance(v, qct_ops.OpScript):
                try:
                    write_bundle(keep_failures, v, r, rec.invocations.get(v.id, []), adapter)
                except OSError as e:
                    sys.stderr.write("run.py: --keep-failures %s: %s\n" % (v.id, e))
            return r

        def score_one(v):
            if isinstance(v, qct_ops.OpScript):
                try:
                    r = qct_ops.score_script(v, sut, ex, REFERENCE_ADAPTER)
                except Exception as e:  # A runner bug must not look like a pass.
                    r = qct_ops.new_result(v)
                    r.update(outcome=qct_score.ERROR, detail="runner error: %r" % e)
                if expectations:
                    qct_score.apply_expectations(r, expectations)
                return r

            def invoke(command, args, secret, cap, keep):
                inv = ex.invoke(v, command, args, secret=secret, cap=cap,
                                keep=max(keep, 1 << 20) if rec is not None else keep)
                if rec is not None:
                    rec.add(v.id, command, args, secret, inv)
                return inv
            try:
                r = qct_score.score_vector(v, sut, invoke, opts)
            except Exception as e:  # A runner bug must not look like a pass.
                r = qct_score.score_vector(v, qct_score.Sut({"features": []}), None, opts)
                r.update(outcome=qct_score.ERROR, detail="runner error: %r" % e)
            if expectations:
                qct_score.apply_expectations(r, expectations)
            return r

        results = [None] * len(vectors)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futs = {pool.submit(one, v): i for i, v in enumerate(vectors)
                    if not isinstance(v, qct_ops.Accumulated)}
            for f in concurrent.futures.as_completed(futs):
                results[futs[f]] = f.result()
                if prog:
                    prog.update(results[futs[f]])
        by_id = {r["id"]: r for r in results if r is not None}
        for i, v in enumerate(vectors):
            if isinstance(v, qct_ops.Accumulated):
                results[i] = qct_ops.score_accumulated(v, by_id)
                if expectations:
                    qct_score.apply_expectations(results[i], expectations)
                if prog:
                    prog.update(results[i])
        if prog:
            prog.finish()
        caps_out = dict(caps)
        caps_out["features_used"] = sorted(sut.features)
        return caps_out, results
    finally:
        import shutil
        shutil.rmtree(tmp_root, ignore_errors=True)


def breakdown(results):
    """{"by_kind": {kind: {outcome: n}}, "by_feature": {feature: {outcome: n}}}."""
    out = {"by_kind": {}, "by_feature": {}}
    for r in results:
        for key, groups in (("by_kind", [r.get("kind") or "(none)"]),
                            ("by_feature", r.get("features") or ["(none)"])):
            for g in groups:
                d = out[key].setdefault(g, {})
                d[r["outcome"]] = d.get(r["outcome"], 0) + 1
    return out


def as_json(r):
    """A result as results.json holds it (a Result from the scorer, or a dict
    read from a results.json)."""
    return r.to_dict() if isinstance(r, Result) else r


def make_doc(root, caps, results, args_summary, started, duration_s):
    return {
        "protocol": 1,
        "suite": manifests.suite_identity(root),
        "sut": {"name": caps.get("name"), "version": caps.get("version"), "capabilities": caps},
        "run_info": {"os": platform.system().lower(), "arch": platform.machine(),
                     "python": platform.python_version(), "started": started,
                     "duration_s": round(duration_s, 1), "args": args_summary},
        "summary": qct_score.summarize(results),
        "breakdown": breakdown(results),
        "results": [as_json(r) for r in results],
    }


def run_failed(doc, allow_unexpected_pass=False, strict_errors=False, strict_limits=False):
    """Exit status 1? Failures of IMPL_LIMIT vectors are scored separately:
    another implementation may choose other limits (--strict-limits counts them)."""
    s = doc["summary"]
    bad = s["fail"] + s["crash"] + s["timeout"] + s["error"]
    if not strict_limits:
        bad -= s.get("impl_limit_bad", 0)
    if not allow_unexpected_pass:
        bad += s["unexpected_pass"]
    if strict_errors:
        bad += s["strict_error_mismatch"]
    return bad > 0


def summary_line(doc, strict_errors=False):
    s = doc["summary"]
    keys = ["pass", "fail", "skip", "crash", "timeout", "error", "xfail", "unexpected_pass",
            "i_accept", "i_reject", "warn", "impl_limit_bad", "info_mismatch"]
    if strict_errors:
        keys.append("strict_error_mismatch")
    return "%s %s: %s (of %d vectors)" % (doc["sut"]["name"], doc["sut"]["version"],
                                          ", ".join("%s %d" % (k, s[k]) for k in keys if s[k]),
                                          s["total"])


def group_line(title, groups) -> str:
    """`per kind: MUST 120/130, ...`: passed / judged (not SKIP) per group."""
    parts = []
    for g, d in sorted(groups.items()):
        judged = sum(n for o, n in d.items() if o != qct_score.SKIP)
        if judged:
            parts.append("%s %d/%d" % (g, d.get(qct_score.PASS, 0), judged))
    return "%s (passed/judged): %s" % (title, ", ".join(parts) or "-")


def load_all(root, a):
    """Image vectors, plus the op scripts with --ops / --ops-file (only those with
    --ops-only)."""
    items = [] if a.ops_only else manifests.load_vectors(root)
    if a.ops or a.ops_only or a.ops_file:
        items += qct_ops.load_ops(root, [os.path.abspath(f) for f in a.ops_file])
    return items


def cmd_run(a):
    root = find_root(a.root)
    if a.self_test:
        return self_test(root, a)
    if not a.adapter:
        sys.exit("run.py: --adapter PATH is required (or --self-test)")
    adapter = os.path.abspath(a.adapter)
    vectors = select(load_all(root, a), a.run, a.skip, filters_of(a))
    if not vectors:
        sys.exit("run.py: no vectors selected")
    expectations = {}
    if a.expectations:
        with open(a.expectations) as f:
            expectations = qct_score.parse_expectations(f.read())
        if a.skip_expected:
            drop = set(s.upper() for s in a.skip_expected)
            vectors = [v for v in vectors
                       if not (set(expectations.get(v.id, {}).get("expected", [])) & drop)]
    tmp_root = tempfile.mkdtemp(prefix="qcow2ct-ref-")
    opts = qct_score.Options(unsupported_is_skip=a.unsupported_is_skip,
                             check_info=not a.no_info,
                             expected_bytes=None if a.no_diff else ReferenceBytes(
                                 tmp_root, a.as_limit_mib << 20))
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    if a.keep_failures:
        os.makedirs(a.keep_failures, exist_ok=True)
    try:
        caps, results = run_suite(adapter, vectors, jobs=a.jobs, timeout_scale=a.timeout_scale,
                                  features=a.features, opts=opts, expectations=expectations,
                                  as_limit=a.as_limit_mib << 20, quiet=a.quiet,
                                  vocabulary=manifests.load_features(root),
                                  keep_failures=a.keep_failures and os.path.abspath(
                                      a.keep_failures))
    finally:
        import shutil
        shutil.rmtree(tmp_root, ignore_errors=True)
    args_summary = {"adapter": os.path.basename(adapter), "run": a.run, "skip": a.skip,
                    "stage": a.stage, "kind": a.kind, "importance": a.importance,
                    "feature": a.feature, "skip_impl_limits": a.skip_impl_limits,
                    "features": a.features, "jobs": a.jobs, "timeout_scale": a.timeout_scale,
                    "strict_errors": a.strict_errors, "expectations": bool(a.expectations),
                    "unsupported_is_skip": a.unsupported_is_skip,
                    "ops": bool(a.ops or a.ops_only or a.ops_file)}
    doc = make_doc(root, caps, results, args_summary, started, time.monotonic() - t0)
    if a.report:
        qct_report.write_single(doc, a.report)
    if a.json:
        qct_report.write_json(doc, a.json)
    if a.emit_expectations:
        with open(a.emit_expectations, "w") as f:
            f.write(qct_score.emit_expectations(results, caps.get("name", "?")))
    print(summary_line(doc, a.strict_errors))
    print(group_line("per kind", doc["breakdown"]["by_kind"]))
    s = doc["summary"]
    if s["impl_limit_bad"]:
        print("implementation limits (scored separately%s): %d IMPL_LIMIT vector(s) not passed: %s"
              % (", counted: --strict-limits" if a.strict_limits else "", s["impl_limit_bad"],
                 " ".join(r["id"] for r in results if r.get("impl_limit")
                          and r["outcome"] in qct_score.BAD_OUTCOMES)))
    if s["warn"]:
        for r in results:
            if r.get("warning"):
                print("  WARNING %s: %s" % (r["id"], r["warning"]))
    if a.keep_failures:
        print("failure bundles: %s" % a.keep_failures)
    if a.strict_errors:
        s = doc["summary"]
        rejected = sum(1 for r in results if r.get("error_match") is not None)
        print("strict errors: %d of %d rejections name the primary clause or error class"
              % (rejected - s["strict_error_mismatch"], rejected))
        for r in results:
            if r.get("error_match") is False:
                print("  STRICT MISMATCH %s: %r (want %s / %s)" % (
                    r["id"], r.get("error_line"), r["clauses"][0] if r["clauses"] else "-",
                    r.get("verdict")))
    return 1 if run_failed(doc, a.allow_unexpected_pass, a.strict_errors, a.strict_limits) else 0


def filters_of(a) -> Filters:
    return Filters(stages=_split(a.stage), kinds=_split(a.kind), importance=_split(a.importance),
                   features=_split(a.feature), skip_impl_limits=a.skip_impl_limits)


def self_test(root, a):
    """Each deliberately broken adapter must get its outcome (FAIL, or CRASH
    for the panicking one) on a vector of its bug class, and the reference
    adapter must pass every vector it does not skip."""
    vectors = select(load_all(root, a), a.run, a.skip, filters_of(a))
    reference = os.path.abspath(a.adapter) if a.adapter else REFERENCE_ADAPTER
    vocabulary = manifests.load_features(root)
    rows = []
    ok = True
    ops = [v for v in vectors if isinstance(v, (qct_ops.OpScript, qct_ops.Accumulated))]
    images = [v for v in vectors if v not in ops]

    def of_class(b, pool):
        return [v for v in pool if any(fnmatch.fnmatchcase(v.id, g) for g in b.vectors)]

    plan = [("reference (%s)" % os.path.basename(reference), reference, None, vectors)]
    if images:
        plan += [(b.label, os.path.join(BROKEN_DIR, b.name), b, of_class(b, images))
                 for b in SELF_TEST_ADAPTERS]
    if ops:
        plan += [(b.label, os.path.join(BROKEN_DIR, b.name), b, of_class(b, ops))
                 for b in SELF_TEST_WRITERS]
    ref_tmp = tempfile.mkdtemp(prefix="qcow2ct-ref-")
    opts = qct_score.Options(check_info=False, expected_bytes=ReferenceBytes(
        ref_tmp, a.as_limit_mib << 20))
    for label, path, broken, selected in plan:
        t0 = time.monotonic()
        if not selected:
            rows.append((label, None, False, None, 0.0, broken))
            ok = False
            continue
        caps, results = run_suite(path, selected, jobs=a.jobs, timeout_scale=a.timeout_scale,
                                  opts=opts if broken else qct_score.Options(check_info=False),
                                  as_limit=a.as_limit_mib << 20, progress=False,
                                  stop_at=broken.outcome if broken else None,
                                  vocabulary=vocabulary)
        s = qct_score.summarize(results)
        bad = s["fail"] + s["crash"] + s["timeout"] + s["error"]
        if broken is None:
            good = bad == 0 and s["pass"] > 0
            first = next((r for r in results if r["outcome"] in qct_score.BAD_OUTCOMES), None)
        else:
            first = next((r for r in results if r["outcome"] == broken.outcome), None)
            good = first is not None
        ok &= good
        rows.append((label, s, good, first, time.monotonic() - t0, broken))
    import shutil
    shutil.rmtree(ref_tmp, ignore_errors=True)
    print("%-22s %-34s %5s %5s %5s %6s %5s  %-8s %s" % (
        "adapter", "bug class (vectors)", "pass", "fail", "skip", "crash+", "time", "verdict",
        "caught on"))
    for label, s, good, first, dt, broken in rows:
        cls = "all selected" if broken is None else \
            "%s on %s" % (broken.outcome, " ".join(broken.vectors))
        if s is None:
            print("%-22s %-34s %s" % (label, cls[:34], "BROKEN: no vector of its class selected"))
            continue
        expect = "must pass all" if broken is None else "must be caught"
        print("%-22s %-34s %5d %5d %5d %6d %4.0fs  %-8s %s" % (
            label, cls[:34], s["pass"], s["fail"], s["skip"],
            s["crash"] + s["timeout"] + s["error"], dt, "OK" if good else "BROKEN",
            ("%s: %s" % (first["id"], first["detail"]))[:100] if first else "(%s)" % expect))
    print("self-test: %s" % ("OK: every broken adapter is caught on a vector of its class and "
                             "the reference passes" if ok else "FAILED"))
    return 0 if ok else 1


def cmd_report(a):
    docs = []
    for p in a.results:
        with open(p) as f:
            docs.append(json.load(f))
    qct_report.write_matrix(docs, a.out)
    print("report: wrote %s" % a.out)
    return 0


def cmd_regress(a):
    with open(a.old) as f:
        old = json.load(f)
    with open(a.new) as f:
        new = json.load(f)
    text, regressions = qct_report.regress(old, new)
    sys.stdout.write(text)
    return 1 if regressions else 0


def cmd_reader_plan(a) -> int:
    root = find_root(a.root)
    plan = qct_score.reader_plan(root, manifests.load_vectors(root))
    with open(a.out, "w") as f:
        json.dump(plan, f, indent=1)
        f.write("\n")
    return 0


def cmd_fuzz(args) -> int:
    import qct_fuzz
    root = find_root(args.root)
    mutator = args.mutator or os.environ.get("QCOW2REF_MUTATE") or os.path.join(
        root, "bazel-bin", "fuzz", "qcow2_mutate")
    if not os.access(mutator, os.X_OK):
        print("run.py fuzz: no mutator at %s (bazel build //fuzz:qcow2_mutate)" % mutator,
              file=sys.stderr)
        return 2
    vectors = manifests.load_vectors(root)
    summary = qct_fuzz.run(vectors, os.path.abspath(args.adapter), REFERENCE_ADAPTER, mutator,
                           args.out, args.seed, args.seconds, args.rounds, args.timeout_scale,
                           lambda line: print(line, flush=True))
    print("fuzz: %d rounds in %.0f s (seed %d): %s" % (
        summary["rounds"], summary["seconds"], summary["seed"],
        ", ".join("%s %d" % kv for kv in sorted(summary["counts"].items()))))
    for f in summary["findings"]:
        print("  %-22s %4d  %s  [%s]" % (f["class"], f["count"], f["bundle"], f["key"][:70]))
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "report":
        p = argparse.ArgumentParser(prog="run.py report")
        p.add_argument("--out", required=True, help="output directory (matrix.md, matrix.html)")
        p.add_argument("results", nargs="+")
        return cmd_report(p.parse_args(argv[1:]))
    if argv and argv[0] == "regress":
        p = argparse.ArgumentParser(prog="run.py regress")
        p.add_argument("old")
        p.add_argument("new")
        return cmd_regress(p.parse_args(argv[1:]))
    if argv and argv[0] == "reader-plan":
        p = argparse.ArgumentParser(
            prog="run.py reader-plan",
            description="Writes what a reader must do with each image vector, by the scorer's "
                        "rules (JSON, read by the C++ suites in conformance/).")
        p.add_argument("--root", help="workspace root (default: found automatically)")
        p.add_argument("--out", required=True, help="output file")
        return cmd_reader_plan(p.parse_args(argv[1:]))
    if argv and argv[0] == "fuzz":
        p = argparse.ArgumentParser(
            prog="run.py fuzz",
            description="Differential fuzzing: mutated vectors, read by the reference adapter "
                        "and by ADAPTER; each new kind of disagreement is minimized and written "
                        "as a repro bundle (conformance/runner/qct_fuzz.py).")
        p.add_argument("--adapter", required=True)
        p.add_argument("--root", help="workspace root (default: found automatically)")
        p.add_argument("--seconds", type=float, default=60.0)
        p.add_argument("--rounds", type=int, default=None, help="stop after this many inputs")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--out", required=True, help="directory for the bundles and summary.json")
        p.add_argument("--mutator", help="the qcow2_mutate command (default: $QCOW2REF_MUTATE, "
                                         "then bazel-bin/fuzz/qcow2_mutate)")
        p.add_argument("--timeout-scale", type=float, default=1.0)
        return cmd_fuzz(p.parse_args(argv[1:]))
    argv = fix_dash_values(argv)
    if argv and argv[0] == "self-test":
        argv = ["--self-test"] + argv[1:]
    elif argv and argv[0] == "run":
        argv = argv[1:]
    p = argparse.ArgumentParser(prog="run.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--adapter", help="adapter executable (conformance/PROTOCOL.md)")
    p.add_argument("--root", help="workspace root (default: found automatically)")
    p.add_argument("--run", action="append", default=[], metavar="GLOB",
                   help="only vector ids matching GLOB (repeatable)")
    p.add_argument("--skip", action="append", default=[], metavar="GLOB",
                   help="skip vector ids matching GLOB (repeatable)")
    p.add_argument("--features", default="",
                   help="adjust the adapter's features (vectors/features.json): -luks,-aes "
                        "removes, +xdf adds; globs allowed (-cluster_bits_*,+cluster_bits_16)")
    p.add_argument("--stage", action="append", default=[], metavar="STAGE",
                   help="only vectors of these stages: open, access, check (n_), valid (y_), "
                        "acceptable (i_); repeatable or comma-separated")
    p.add_argument("--kind", action="append", default=[], metavar="KIND",
                   help="only vectors whose primary clause has this kind (spec/clauses: MUST, "
                        "MUST_NOT, IMPL_LIMIT, ERRATUM, ...)")
    p.add_argument("--importance", action="append", default=[], metavar="LEVEL",
                   help="only vectors of this importance (low, medium, high, critical)")
    p.add_argument("--feature", action="append", default=[], metavar="FEATURE",
                   help="only vectors that need one of these features")
    p.add_argument("--skip-impl-limits", action="store_true",
                   help="do not run the IMPL_LIMIT vectors (vectors/lists/impl_limits.json)")
    p.add_argument("--strict-limits", action="store_true",
                   help="let failures of IMPL_LIMIT vectors fail the run (scored separately "
                        "otherwise)")
    p.add_argument("--keep-failures", metavar="DIR",
                   help="write a repro bundle per failing vector: DIR/<id>/ with the staged "
                        "files, repro.sh (the exact adapter commands), expected.json, got.json")
    p.add_argument("--no-diff", action="store_true",
                   help="no content diffs (they read the expected bytes with the reference "
                        "adapter when it is built)")
    p.add_argument("--expectations", help="known failures (text `id: FAIL  # reason` or JSON)")
    p.add_argument("--allow-unexpected-pass", action="store_true")
    p.add_argument("--skip-expected", action="append", default=[], metavar="STATUS",
                   help="do not run vectors the expectations list with STATUS (e.g. TIMEOUT)")
    p.add_argument("--emit-expectations", metavar="FILE",
                   help="write the run's failures as an expectations file")
    p.add_argument("--report", metavar="DIR", help="write results.json, report.md, report.html")
    p.add_argument("--json", metavar="FILE", help="write results.json only")
    p.add_argument("-j", "--jobs", type=int, default=1)
    p.add_argument("--timeout-scale", type=float, default=1.0)
    p.add_argument("--as-limit-mib", type=int, default=qct_exec.AS_LIMIT_BYTES >> 20,
                   help="RLIMIT_AS per invocation in MiB (0 = none, e.g. for ASan builds)")
    p.add_argument("--strict-errors", action="store_true",
                   help="also require the first stderr line to name the primary clause or "
                        "the error class (separate score; fails the run on mismatch)")
    p.add_argument("--unsupported-is-skip", action="store_true",
                   help="score exit 2 on n_/i_ vectors as SKIP instead of a refusal")
    p.add_argument("--no-info", action="store_true", help="do not run the informational info check")
    p.add_argument("-q", "--quiet", action="store_true", help="progress: print only failures")
    p.add_argument("--ops", action="store_true",
                   help="writer conformance: also run the op scripts of vectors/ops/ through "
                        "the adapter's write command, judged by the reference checker/reader")
    p.add_argument("--ops-only", action="store_true", help="--ops without the image vectors")
    p.add_argument("--ops-file", action="append", default=[], metavar="FILE",
                   help="op-script manifest or accumulated vector to use instead of "
                        "vectors/ops/*.json (implies --ops; repeatable)")
    p.add_argument("--self-test", action="store_true",
                   help="run the broken adapters and the reference adapter; verdict table")
    return cmd_run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
