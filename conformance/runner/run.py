#!/usr/bin/env python3
"""qcow2 conformance runner: runs a third-party adapter over the vectors.

  run.py [run] --adapter PATH [--run GLOB]... [--skip GLOB]... [--features -luks,+xdf]
         [--expectations FILE] [--allow-unexpected-pass] [--emit-expectations FILE]
         [--report DIR] [-j N] [--timeout-scale X] [--strict-errors] [--self-test]
  run.py self-test [--adapter PATH] [-j N]
  run.py report --out DIR RESULTS.json...
  run.py regress OLD.json NEW.json

The adapter protocol, the scoring and the results schema are described in
conformance/PROTOCOL.md. Python 3 standard library only.
"""
import argparse
import concurrent.futures
import datetime
import fnmatch
import json
import os
import platform
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import qct_exec  # noqa: E402
import qct_ops  # noqa: E402
import qct_report  # noqa: E402
import qct_score  # noqa: E402
import qct_vectors  # noqa: E402

CONFORMANCE_DIR = os.path.dirname(HERE)
BROKEN_DIR = os.path.join(CONFORMANCE_DIR, "adapters", "broken")
REFERENCE_ADAPTER = os.path.join(CONFORMANCE_DIR, "adapters", "qcow2ref")
SELF_TEST_ADAPTERS = [
    ("accept-everything", "accept_everything"),
    ("reject-everything", "reject_everything"),
    ("wrong-IV-basis", "wrong_iv_basis"),
    ("off-by-one-cluster", "off_by_one_cluster"),
]
# Broken writers: run over the op scripts (--ops) only.
SELF_TEST_WRITERS = [
    ("writer-skips-zero", "writer_skips_zero"),
]


def find_root(explicit=None):
    """The workspace root: --root, $QCOW2CT_ROOT, $BUILD_WORKSPACE_DIRECTORY
    (bazel run), or the checkout this file lives in."""
    for cand in (explicit, os.environ.get("QCOW2CT_ROOT"),
                 os.environ.get("BUILD_WORKSPACE_DIRECTORY"), os.path.dirname(CONFORMANCE_DIR)):
        if cand and os.path.isdir(os.path.join(cand, "vectors")):
            return os.path.abspath(cand)
    sys.exit("run.py: cannot find the workspace (a directory with vectors/); use --root")


def select(vectors, run_globs, skip_globs):
    out = []
    for v in vectors:
        if isinstance(v, qct_ops.Accumulated):
            continue
        if run_globs and not any(fnmatch.fnmatchcase(v.id, g) for g in run_globs):
            continue
        if skip_globs and any(fnmatch.fnmatchcase(v.id, g) for g in skip_globs):
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


def parse_features(spec):
    minus, plus = [], []
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("-"):
            minus.append(item[1:])
        elif item.startswith("+"):
            plus.append(item[1:])
        else:
            sys.exit("run.py: --features items are -FEATURE or +FEATURE, got %r" % item)
    return minus, plus


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


def run_suite(adapter, vectors, jobs=1, timeout_scale=1.0, features="", opts=None,
              expectations=None, as_limit=qct_exec.AS_LIMIT_BYTES, quiet=False,
              progress=True, tmp_root=None, stop_at_fail=False):
    """Runs every vector; returns (caps, results) or raises SystemExit when
    the adapter cannot state its capabilities. With stop_at_fail, vectors not
    started when one FAILs are SKIP (the self-test needs one failure)."""
    failed = threading.Event()
    tmp_root = tempfile.mkdtemp(prefix="qcow2ct-", dir=tmp_root)
    try:
        ex = qct_exec.Executor(adapter, tmp_root=tmp_root, timeout_scale=timeout_scale,
                               as_limit=as_limit)
        caps, inv = ex.capabilities()
        if caps is None or caps.get("protocol") != 1:
            raise SystemExit("run.py: %s capabilities failed (exit %s, signal %s): %s" % (
                adapter, inv.exit_code, inv.signal,
                inv.first_stderr_line() or inv.stdout[:200]))
        minus, plus = parse_features(features)
        sut = qct_score.Sut(caps, minus, plus)
        prog = Progress(len(vectors), quiet=quiet) if progress else None

        def one(v):
            if failed.is_set():
                r = qct_ops._result(v) if isinstance(v, qct_ops.OpScript) else \
                    qct_score.score_vector(v, qct_score.Sut({"features": []}), None, opts)
                r.update(outcome=qct_score.SKIP, detail="not run: an earlier vector failed")
                return r
            r = score_one(v)
            if stop_at_fail and r["outcome"] == qct_score.FAIL:
                failed.set()
            return r

        def score_one(v):
            if isinstance(v, qct_ops.OpScript):
                try:
                    r = qct_ops.score_script(v, sut, ex, REFERENCE_ADAPTER)
                except Exception as e:  # A runner bug must not look like a pass.
                    r = qct_ops._result(v)
                    r.update(outcome=qct_score.ERROR, detail="runner error: %r" % e)
                if expectations:
                    qct_score.apply_expectations(r, expectations)
                return r

            def invoke(command, args, secret, cap, keep):
                return ex.invoke(v, command, args, secret=secret, cap=cap, keep=keep)
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


def make_doc(root, caps, results, args_summary, started, duration_s):
    return {
        "protocol": 1,
        "suite": qct_vectors.suite_identity(root),
        "sut": {"name": caps.get("name"), "version": caps.get("version"), "capabilities": caps},
        "run_info": {"os": platform.system().lower(), "arch": platform.machine(),
                     "python": platform.python_version(), "started": started,
                     "duration_s": round(duration_s, 1), "args": args_summary},
        "summary": qct_score.summarize(results),
        "results": results,
    }


def run_failed(doc, allow_unexpected_pass=False, strict_errors=False):
    s = doc["summary"]
    bad = s["fail"] + s["crash"] + s["timeout"] + s["error"]
    if not allow_unexpected_pass:
        bad += s["unexpected_pass"]
    if strict_errors:
        bad += s["strict_error_mismatch"]
    return bad > 0


def summary_line(doc):
    s = doc["summary"]
    keys = ["pass", "fail", "skip", "crash", "timeout", "error", "xfail", "unexpected_pass",
            "i_accept", "i_reject", "strict_error_mismatch", "info_mismatch"]
    return "%s %s: %s (of %d vectors)" % (doc["sut"]["name"], doc["sut"]["version"],
                                          ", ".join("%s %d" % (k, s[k]) for k in keys if s[k]),
                                          s["total"])


def load_all(root, a):
    """Image vectors, plus the op scripts with --ops / --ops-file (only those with
    --ops-only)."""
    items = [] if a.ops_only else qct_vectors.load_vectors(root)
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
    vectors = select(load_all(root, a), a.run, a.skip)
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
    opts = qct_score.Options(unsupported_is_skip=a.unsupported_is_skip,
                             check_info=not a.no_info)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    caps, results = run_suite(adapter, vectors, jobs=a.jobs, timeout_scale=a.timeout_scale,
                              features=a.features, opts=opts, expectations=expectations,
                              as_limit=a.as_limit_mib << 20, quiet=a.quiet)
    args_summary = {"adapter": os.path.basename(adapter), "run": a.run, "skip": a.skip,
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
    print(summary_line(doc))
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
    return 1 if run_failed(doc, a.allow_unexpected_pass, a.strict_errors) else 0


def self_test(root, a):
    """Each deliberately broken adapter must FAIL at least one vector and the
    reference adapter must pass every vector it does not skip."""
    vectors = select(load_all(root, a), a.run, a.skip)
    reference = os.path.abspath(a.adapter) if a.adapter else REFERENCE_ADAPTER
    rows = []
    ok = True
    ops = [v for v in vectors if isinstance(v, (qct_ops.OpScript, qct_ops.Accumulated))]
    images = [v for v in vectors if v not in ops]
    plan = [("reference (%s)" % os.path.basename(reference), reference, True, vectors)]
    if images:
        plan += [(label, os.path.join(BROKEN_DIR, name), False, images)
                 for label, name in SELF_TEST_ADAPTERS]
    if ops:
        plan += [(label, os.path.join(BROKEN_DIR, name), False, ops)
                 for label, name in SELF_TEST_WRITERS]
    for label, path, must_pass, selected in plan:
        t0 = time.monotonic()
        caps, results = run_suite(path, selected, jobs=a.jobs, timeout_scale=a.timeout_scale,
                                  opts=qct_score.Options(check_info=False),
                                  as_limit=a.as_limit_mib << 20, progress=False,
                                  stop_at_fail=not must_pass)
        s = qct_score.summarize(results)
        bad = s["fail"] + s["crash"] + s["timeout"] + s["error"]
        good = (bad == 0 and s["pass"] > 0) if must_pass else s["fail"] >= 1
        ok &= good
        first = next((r for r in results if r["outcome"] in qct_score.BAD_OUTCOMES), None)
        rows.append((label, s, good, first, time.monotonic() - t0))
    print("%-26s %5s %5s %5s %6s %5s  %-8s %s" % ("adapter", "pass", "fail", "skip", "crash+",
                                                  "time", "verdict", "first failure"))
    for label, s, good, first, dt in rows:
        expect = "must pass all" if label.startswith("reference") else "must fail >= 1"
        print("%-26s %5d %5d %5d %6d %4.0fs  %-8s %s" % (
            label, s["pass"], s["fail"], s["skip"], s["crash"] + s["timeout"] + s["error"], dt,
            "OK" if good else "BROKEN",
            ("%s: %s" % (first["id"], first["detail"]))[:90] if first else "(%s)" % expect))
    print("self-test: %s" % ("OK: every broken adapter is caught and the reference passes"
                             if ok else "FAILED"))
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
                   help="adjust the adapter's declared features: -luks,-aes removes, +xdf adds")
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
