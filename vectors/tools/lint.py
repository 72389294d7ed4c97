#!/usr/bin/env python3
"""lint.py - consistency checks for the qcow2ref vector corpus (python3 stdlib only).

Checks: every qcow2_*_test.json parses and has the image_test_v1 shape; numberOfTests is
right; ids are unique across manifests, follow the grammar and carry the manifest's area;
the id prefix matches the verdict (y=valid, n=invalid, i=acceptable); image and chain files
exist and image sha256 matches; every flag has a note; every clause id exists in the clause
registry (the "id" fields of spec/clauses/*.json); every file under images/ is referenced by some manifest.

Op scripts (ops/*_ops_test.json, ops/accumulated_*.json): ids unique across every
manifest, prefix == verdict, clauses exist, create options and ops well formed, declared
features cover what the script needs, and expect.guest_sha256 / accumulated_sha256 equal
what the byte-array model (tools/ops_model.py) computes.

Every feature name is one of features.json; derived features, the per-feature vector lists
and the schema's Feature enum are what tools/features.py computes.

When schemas/ exists, every manifest is also validated against its JSON Schema
(image_test_v1, kat_v1, ops_test_v1, ops_accumulated_v1) with tools/minischema.py.

Usage: lint.py [--vectors DIR] [--spec DIR]     exit status 1 with one line per problem.
"""
import glob
import json
import os
import re
import sys

if __name__ == "__main__":  # run by hand: qcow2ref_py is at the root of this checkout
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from qcow2ref_py.files import sha256_file  # noqa: E402
from qcow2ref_py.manifests import manifest_paths  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

PREFIX = {"y": "valid", "n": "invalid", "i": "acceptable"}
ID_RE = re.compile(r"^[yni]_[a-z0-9]+(_[a-z0-9]+)*$")
STAGES = {"open", "access", "check"}
ERROR_CLASSES = {"header", "unsupported", "metadata", "range", "limit", "reference",
                 "crypto_header", "crypto_key"}
REQUIRED = ("id", "verdict", "image", "sha256", "clauses", "flags", "features", "importance",
            "comment", "recipe", "expect")
IMPORTANCE = {"low", "medium", "high", "critical"}


def load_clauses(spec_dir):
    ids = set()
    jfiles = sorted(glob.glob(os.path.join(spec_dir, "clauses", "*.json")))
    if jfiles:
        def walk(o):
            if isinstance(o, dict):
                if isinstance(o.get("id"), str):
                    ids.add(o["id"])
                for v in o.values():
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        for jf in jfiles:
            with open(jf) as f:
                walk(json.load(f))
        return ids, "spec/clauses/*.json"
    raise SystemExit("lint: no clause registry in %s/clauses" % spec_dir)


def lint_ops(vec, clauses, clause_src, seen_ids, bad):
    """Checks vectors/ops/; returns the number of op-script ids it registered."""
    files = sorted(glob.glob(os.path.join(vec, "ops", "*.json")))
    if not files:
        return 0
    import ops_model
    n = 0

    def common(t, where, fname):
        tid = t.get("id", "?")
        if not ID_RE.match(tid) or not tid.startswith("y_ops_"):
            bad("%s: id does not match %s and start with y_ops_" % (where, ID_RE.pattern))
            return False
        if tid in seen_ids:
            bad("%s: id also used in %s" % (where, seen_ids[tid]))
        seen_ids[tid] = fname
        if PREFIX[tid[0]] != t.get("verdict"):
            bad("%s: prefix %s_ but verdict %r" % (where, tid[0], t.get("verdict")))
        if not t.get("clauses"):
            bad("%s: no clauses" % where)
        for c in t.get("clauses", []):
            if c not in clauses:
                bad("%s: clause %s not in %s" % (where, c, clause_src))
        return True

    for path in files:
        fname = "ops/" + os.path.basename(path)
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            bad("%s: does not parse: %s" % (fname, e))
            continue
        if doc.get("schema") == "ops_accumulated_v1":
            where = "%s: %s" % (fname, doc.get("id"))
            if common(doc, where, fname):
                n += 1
            gen = doc.get("generator", {})
            for c in gen.get("clauses", []):
                if c not in clauses:
                    bad("%s: generator clause %s not in %s" % (where, c, clause_src))
            try:
                for i in range(gen["count"]):
                    probs = ops_model.validate(ops_model.generate_script(gen, i))
                    if probs:
                        bad("%s: generated script %d: %s" % (where, i, "; ".join(probs)))
                        break
                got, per = ops_model.accumulated_digest(gen)
            except (KeyError, TypeError, ValueError) as e:
                bad("%s: bad generator: %r" % (where, e))
                continue
            exp = doc.get("expect", {})
            if got != exp.get("accumulated_sha256"):
                bad("%s: accumulated_sha256 is not what the model computes (%s)" % (where, got))
            for i, h in enumerate(exp.get("first_guest_sha256", [])):
                if i >= len(per) or per[i] != h:
                    bad("%s: first_guest_sha256[%d] is not what the model computes" % (where, i))
            continue
        if doc.get("schema") != "ops_test_v1":
            bad("%s: schema is %r, want ops_test_v1 or ops_accumulated_v1" % (fname, doc.get("schema")))
            continue
        tests = doc.get("tests")
        if not isinstance(tests, list):
            bad("%s: no tests list" % fname)
            continue
        if doc.get("numberOfTests") != len(tests):
            bad("%s: numberOfTests %r but %d tests" % (fname, doc.get("numberOfTests"), len(tests)))
        for t in tests:
            where = "%s: %s" % (fname, t.get("id", "?"))
            if not common(t, where, fname):
                continue
            n += 1
            for k in ("create", "ops", "expect"):
                if k not in t:
                    bad("%s: missing field %s" % (where, k))
            if any(k not in t for k in ("create", "ops", "expect")):
                continue
            probs = ops_model.validate(t)
            for p in probs:
                bad("%s: %s" % (where, p))
            if probs:
                continue
            need = ops_model.features_of(t)
            if "features" in t and not need <= set(t["features"]):
                bad("%s: features lack %s" % (where, sorted(need - set(t["features"]))))
            if t["expect"].get("check") != "clean":
                bad("%s: expect.check must be \"clean\"" % where)
            if ops_model.guest_sha256(t) != t["expect"].get("guest_sha256"):
                bad("%s: expect.guest_sha256 is not what the model computes" % where)
    return n


def lint_schemas(vec, bad):
    sdir = os.path.join(vec, "schemas")
    if not os.path.isdir(sdir):
        return
    import minischema
    v = minischema.Validator(sdir)
    plan = [(p, "image_test_v1.json") for p in manifest_paths(vec)]
    plan += [(p, "kat_v1.json") for p in sorted(glob.glob(os.path.join(vec, "kat", "*.json")))]
    for p in sorted(glob.glob(os.path.join(vec, "ops", "*.json"))):
        plan.append((p, "ops_accumulated_v1.json" if "accumulated" in os.path.basename(p)
                     else "ops_test_v1.json"))
    for path, schema in plan:
        try:
            with open(path) as f:
                doc = json.load(f)
            errs = v.validate(doc, schema)
        except (OSError, ValueError, KeyError) as e:
            errs = ["cannot validate: %r" % e]
        for e in errs[:5]:
            bad("%s: schema %s: %s" % (os.path.relpath(path, vec), schema, e))


def main(argv):
    vec = os.path.dirname(HERE)
    spec = None
    a = argv[1:]
    while a:
        if a[0] == "--vectors" and len(a) > 1:
            vec, a = a[1], a[2:]
        elif a[0] == "--spec" and len(a) > 1:
            spec, a = a[1], a[2:]
        else:
            print("usage: lint.py [--vectors DIR] [--spec DIR]", file=sys.stderr)
            return 2
    vec = os.path.abspath(vec)
    if spec is None:
        spec = os.path.join(os.path.dirname(vec), "spec")
    problems = []

    def bad(msg):
        problems.append(msg)

    try:
        clauses, clause_src = load_clauses(spec)
    except OSError as e:
        print("lint: cannot read clause registry: %s" % e)
        return 1

    manifests = manifest_paths(vec)
    if not manifests:
        bad("no qcow2_*_test.json manifests in %s" % vec)
    seen_ids = {}
    referenced = set()
    for mpath in manifests:
        mname = os.path.basename(mpath)
        try:
            with open(mpath) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            bad("%s: does not parse: %s" % (mname, e))
            continue
        area = doc.get("area")
        if doc.get("schema") != "image_test_v1":
            bad("%s: schema is %r, want image_test_v1" % (mname, doc.get("schema")))
        if mname != "qcow2_%s_test.json" % area:
            bad("%s: area %r does not match the file name" % (mname, area))
        tests = doc.get("tests")
        if not isinstance(tests, list):
            bad("%s: no tests list" % mname)
            continue
        if doc.get("numberOfTests") != len(tests):
            bad("%s: numberOfTests %r but %d tests" % (mname, doc.get("numberOfTests"), len(tests)))
        notes = doc.get("notes", {})
        for t in tests:
            tid = t.get("id", "?")
            where = "%s: %s" % (mname, tid)
            for k in REQUIRED:
                if k not in t:
                    bad("%s: missing field %s" % (where, k))
            if not ID_RE.match(tid):
                bad("%s: id does not match %s" % (where, ID_RE.pattern))
                continue
            if tid in seen_ids:
                bad("%s: id also used in %s" % (where, seen_ids[tid]))
            seen_ids[tid] = mname
            if tid.split("_")[1] != area:
                bad("%s: id area %r differs from manifest area %r" % (where, tid.split("_")[1], area))
            verdict = t.get("verdict")
            if PREFIX[tid[0]] != verdict:
                bad("%s: prefix %s_ but verdict %r" % (where, tid[0], verdict))
            image = t.get("image", "")
            if os.path.splitext(os.path.basename(image))[0] != tid:
                bad("%s: image %s is not named after the id" % (where, image))
            ipath = os.path.join(vec, image)
            if not os.path.isfile(ipath):
                bad("%s: image %s does not exist" % (where, image))
            else:
                referenced.add(os.path.normpath(ipath))
                if sha256_file(ipath) != t.get("sha256"):
                    bad("%s: sha256 of %s does not match" % (where, image))
            for c in t.get("chain", []):
                cpath = os.path.join(vec, c)
                if not os.path.isfile(cpath):
                    bad("%s: chain file %s does not exist" % (where, c))
                else:
                    referenced.add(os.path.normpath(cpath))
            cl = t.get("clauses", [])
            if not cl:
                bad("%s: no clauses" % where)
            for c in cl:
                if c not in clauses:
                    bad("%s: clause %s not in %s" % (where, c, clause_src))
            for fl in t.get("flags", []):
                if fl not in notes:
                    bad("%s: flag %s has no entry in notes" % (where, fl))
            if t.get("importance") not in IMPORTANCE:
                bad("%s: importance %r" % (where, t.get("importance")))
            exp = t.get("expect", {})
            if verdict == "valid":
                if "virtual_size" not in exp:
                    bad("%s: valid test without expect.virtual_size" % where)
                if "guest_sha256" not in exp and not ("map" in exp and "reads" in exp):
                    bad("%s: valid test needs expect.guest_sha256 (or map + reads)" % where)
            elif verdict == "invalid":
                if exp.get("stage") not in STAGES:
                    bad("%s: expect.stage %r" % (where, exp.get("stage")))
                if exp.get("error_class") not in ERROR_CLASSES:
                    bad("%s: expect.error_class %r" % (where, exp.get("error_class")))
                if exp.get("stage") == "check":
                    if exp.get("finding") not in ("corruption", "warning"):
                        bad("%s: stage check needs expect.finding corruption|warning" % where)
                    if exp.get("qemu") == "accepts" and "readable" not in exp:
                        bad("%s: stage check accepted by qemu needs expect.readable" % where)
                elif "finding" in exp or "readable" in exp:
                    bad("%s: expect.finding/readable belong to stage check only" % where)
            elif verdict == "acceptable":
                ia = exp.get("if_accepted")
                if ia is not None and ("guest_sha256" not in ia or "virtual_size" not in ia):
                    bad("%s: if_accepted lacks virtual_size/guest_sha256" % where)
            if verdict in ("invalid", "acceptable") and exp.get("qemu") not in ("accepts", "rejects"):
                bad("%s: expect.qemu must be accepts or rejects" % where)

    n_ops = lint_ops(vec, clauses, clause_src, seen_ids, bad)
    lint_schemas(vec, bad)
    if os.path.isfile(os.path.join(vec, "features.json")):
        import features
        for p in features.plan(vec)[0]:
            bad(p + " (run tools/features.py --apply)")
    else:
        bad("features.json: missing")
    if os.path.isdir(os.path.join(vec, "lists")):
        import lists
        for p in lists.check(vec, spec):
            bad(p)
    else:
        bad("lists/: missing (run tools/lists.py --measure)")

    for root, _, files in os.walk(os.path.join(vec, "images")):
        for fn in files:
            p = os.path.normpath(os.path.join(root, fn))
            if p not in referenced:
                bad("images/%s: not referenced by any manifest" % os.path.relpath(p, os.path.join(vec, "images")))

    for p in problems:
        print("lint: " + p)
    if problems:
        print("lint: %d problem(s)" % len(problems))
        return 1
    print("lint: OK (%d manifests, %d tests, %d op scripts, clauses from %s)"
          % (len(manifests), len(seen_ids) - n_ops, n_ops, clause_src))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
