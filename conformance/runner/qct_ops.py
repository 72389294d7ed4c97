"""Writer conformance: op scripts (vectors/ops/*.json, conformance/PROTOCOL.md).

For each op script the adapter runs `write --ops OPS.json --out out.qcow2
[--secret-file F]` in a fresh directory; the written image is then judged by
the reference (conformance/adapters/qcow2ref): `check` must find no
corruption and no check errors (leaks are recorded, not fatal), and `read`
must return exactly create.size bytes with the script's guest_sha256.

The accumulated vector (vectors/ops/accumulated_ops_v1.json) is expanded
with vectors/tools/ops_model.py into its N scripts; each is scored like a
script (expected hash from the model), and one more result, the vector's own
id, PASSes only when every script passed and SHA-256 over the concatenated
guest digests that the reference read equals the published value.
"""
import glob
import hashlib
import json
import os
import shutil
import tempfile

import qct_protocol
import qct_score
from qct_protocol import Status
from qcow2ref_py.files import load_module_file
from qcow2ref_py.model import Accumulated, OpScript, Result

S = qct_score


def load_model(root):
    """vectors/tools/ops_model.py of the workspace `root` (the vectors' own model)."""
    return load_module_file(os.path.join(root, "vectors", "tools", "ops_model.py"))


def load_ops(root, files=None):
    """Op scripts and accumulated aggregates from vectors/ops/ (or `files`)."""
    if not files:
        files = sorted(glob.glob(os.path.join(root, "vectors", "ops", "*.json")))
    out = []
    for path in files:
        name = os.path.basename(path)
        with open(path) as f:
            doc = json.load(f)
        if "generator" in doc:
            model = load_model(root)
            gen = doc["generator"]
            members = []
            for i in range(gen["count"]):
                s = model.generate_script(gen, i)
                s["expect"] = {"guest_sha256": model.guest_sha256(s), "check": "clean"}
                s["features"] = sorted(model.features_of(s))
                members.append(OpScript.from_manifest(s, name, accumulated=doc["id"]))
            out += members
            out.append(Accumulated.from_manifest(doc, name, members))
        else:
            for t in doc.get("tests", []):
                out.append(OpScript.from_manifest(t, name, area=doc.get("area", "ops")))
    return out


def new_result(v):
    """The empty result of an op script or accumulated vector."""
    return Result(id=v.id, verdict=getattr(v, "verdict", "valid"),
                  clauses=list(getattr(v, "clauses", v.raw.get("clauses", []))),
                  importance=getattr(v, "importance", v.raw.get("importance", "high")),
                  features=list(getattr(v, "features", [])), area="ops")


def _bad_exit(inv, what):
    """(outcome, detail) for an invocation that did not exit 0, else None."""
    if inv.harness_error:
        return S.ERROR, inv.harness_error
    if inv.timed_out:
        return S.TIMEOUT, "%s: timed out" % what
    if inv.stdout_capped:
        return S.FAIL, "%s: output too long" % what
    if inv.signal is not None:
        return S.CRASH, "%s: killed by %s%s" % (what, S.signal_name(inv.signal),
                                                S.crash_hint(inv.signal, inv.stderr_text()))
    if inv.status is Status.OK:
        return None
    if inv.status is Status.USAGE:
        return S.ERROR, "%s: adapter usage error: %s" % (what, inv.first_stderr_line())
    if inv.status is Status.CRASH:
        return S.CRASH, "%s: exit %d%s" % (what, inv.exit_code, " (%s)" % inv.status_hint
                                           if inv.status_hint else "")
    return S.FAIL, "%s: exit %d: %s" % (what, inv.exit_code, inv.first_stderr_line())


def score_script(v, sut, ex, reference):
    """Writes script `v` with the adapter and judges the image with `reference`."""
    res = new_result(v)
    if "write" not in sut.commands:
        res.update(outcome=S.SKIP, detail="adapter has no write command")
        return res
    missing = [f for f in v.features if f not in sut.features]
    if missing:
        res.update(outcome=S.SKIP, detail="adapter lacks feature(s): " + ", ".join(missing))
        return res
    size = v.raw["create"]["size"]
    want = v.expect.get("guest_sha256")
    base = tempfile.mkdtemp(prefix="ops-", dir=ex.tmp_root)
    try:
        work, scratch = os.path.join(base, "work"), os.path.join(base, "tmp")
        os.mkdir(work)
        os.mkdir(scratch)
        script = {k: v.raw[k] for k in ("id", "create", "ops") if k in v.raw}
        with open(os.path.join(work, "ops.json"), "w") as f:
            json.dump(script, f)
        sec = []
        if v.passphrase is not None:
            sdir = os.path.join(base, "secret")
            os.mkdir(sdir, 0o700)
            spath = os.path.join(sdir, "passphrase")
            fd = os.open(spath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(v.passphrase)
            sec = ["--secret-file", spath]
        timeout = ex.timeout_for(v)
        n = 0
        total_ms = 0

        def call(argv, cap, keep, what, protocol=None):
            nonlocal n, total_ms
            inv = ex.run_argv(argv, work, scratch, timeout, cap, keep, protocol=protocol)
            n += 1
            total_ms += inv.duration_ms
            res.update(exit_code=inv.exit_code, signal=inv.signal,
                       stderr_tail=inv.stderr_text()[-1000:],
                       error_line=inv.first_stderr_line() or None)
            return inv

        def finish(outcome, detail):
            res.update(outcome=outcome, detail=detail, invocations=n, duration_ms=total_ms)
            return res

        inv = call([ex.adapter, "write", "--ops", "ops.json", "--out", "out.qcow2"] + sec,
                   1 << 20, 0, "write")
        if inv.status is Status.UNSUPPORTED and not inv.timed_out:
            return finish(S.SKIP, "adapter does not support this script: %s"
                          % inv.first_stderr_line())
        bad = _bad_exit(inv, "write")
        if bad:
            return finish(*bad)
        if not os.path.isfile(os.path.join(work, "out.qcow2")):
            return finish(S.FAIL, "write exited 0 but created no out.qcow2")
        res["checks"]["write"] = S.PASS
        # Judged by the reference checker and reader.
        inv = call([reference, "check", "--image", "out.qcow2"] + sec, 16 << 20, 16 << 20,
                   "reference check", protocol=qct_protocol.CURRENT)
        bad = _bad_exit(inv, "reference check")
        if bad:
            return finish(S.FAIL, bad[1])
        try:
            chk = json.loads(inv.stdout.decode("utf-8"))
        except ValueError:
            return finish(S.FAIL, "reference check printed no JSON")
        corrupt = int(chk.get("corruptions", 0)) + int(chk.get("check-errors", 0))
        leaks = int(chk.get("leaks", 0))
        res["checks"]["check"] = {"corruptions": chk.get("corruptions", 0),
                                  "check-errors": chk.get("check-errors", 0), "leaks": leaks}
        if corrupt:
            first = next((x for x in chk.get("findings", [])
                          if isinstance(x, dict) and x.get("severity", x.get("kind")) != "leak"),
                         None)
            return finish(S.FAIL, "reference check: %d corruption(s)%s" % (
                corrupt, (": %s" % json.dumps(first)[:300]) if first else ""))
        inv = call([reference, "read", "--image", "out.qcow2"] + sec, size + 1, 0,
                   "reference read", protocol=qct_protocol.CURRENT)
        bad = _bad_exit(inv, "reference read")
        if bad:
            return finish(S.FAIL, bad[1])
        res["checks"]["guest_sha256"] = inv.stdout_sha256
        if inv.stdout_len != size:
            return finish(S.FAIL, "reference read %d bytes, want %d" % (inv.stdout_len, size))
        if inv.stdout_sha256 != want:
            return finish(S.FAIL, "guest content differs: sha256 %s, want %s"
                          % (inv.stdout_sha256, want))
        return finish(S.PASS, "clean" if not leaks else "content right; %d leaked cluster(s)"
                      % leaks)
    except OSError as e:
        res.update(outcome=S.ERROR, detail="harness: %s" % e)
        return res
    finally:
        if not ex.keep_tmp:
            shutil.rmtree(base, ignore_errors=True)


def score_accumulated(agg, results_by_id):
    res = new_result(agg)
    res["features"] = []
    members = [results_by_id.get(m.id) for m in agg.members]
    outcomes = [r["outcome"] if r else S.ERROR for r in members]
    res["invocations"] = sum(r["invocations"] for r in members if r)
    res["duration_ms"] = sum(r["duration_ms"] for r in members if r)
    if all(o == S.SKIP for o in outcomes):
        res.update(outcome=S.SKIP, detail="all %d scripts skipped" % len(members))
        return res
    bad = [(m.id, o) for m, o in zip(agg.members, outcomes) if o != S.PASS]
    if bad:
        res.update(outcome=S.FAIL, detail="%d of %d scripts did not pass (first: %s %s)"
                   % (len(bad), len(members), bad[0][0], bad[0][1]))
        return res
    h = hashlib.sha256()
    for r in members:
        h.update(bytes.fromhex(r["checks"]["guest_sha256"]))
    got = h.hexdigest()
    want = agg.raw["expect"]["accumulated_sha256"]
    res["checks"]["accumulated_sha256"] = got
    if got != want:
        res.update(outcome=S.FAIL, detail="accumulated sha256 %s, published %s"
                   % (got, want))
    else:
        res.update(outcome=S.PASS, detail="%d scripts; accumulated sha256 matches" % len(members))
    return res
