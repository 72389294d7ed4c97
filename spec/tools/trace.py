#!/usr/bin/env python3
"""Spec clause trace check for qcow2ref (python3 stdlib only).

Loads the clause registry (spec/clauses/*.json), checks it for internal
consistency and against the pinned upstream texts, scans source files and
vector manifests for clause citations, and reports coverage gaps.

Usage:
  trace.py [options] [PATH ...]
    PATH        source files (*.h, *.cc) and vector manifests (*.json), or
                directories to walk (symlinks followed).
  --spec-dir DIR        registry root (default: the spec/ dir holding this script)
  --reference-dir DIR   where the pinned texts live (default: see find_reference_dir)
  --config FILE         default: <spec-dir>/trace_config.json
  --uncovered FILE      default: <spec-dir>/uncovered.json
  --enforce-code / --no-enforce-code, --enforce-tests / --no-enforce-tests
                        override trace_config.json
  --matrix OUT.md       write the coverage matrix
  --fingerprint TEXT    print the fingerprint of TEXT and exit
  --quiet               print problems and the summary only

Exit status: 0 no problems, 1 problems, 2 usage error.
See spec/README.md for the rules.
"""

import argparse
import hashlib
import json
import os
import re
import sys

ID_RE = re.compile(r"^(Q2|L1|QX)\.[A-Z0-9]+(\.[a-z0-9_]+)+$")
ID_PREFIX_RE = re.compile(r"^(q2|l1|qx)\.", re.IGNORECASE)
FP_RE = re.compile(r"^R-[0-9a-f]{4}-[0-9a-f]{4}$")
KINDS = ("MUST", "MUST_NOT", "SHOULD", "MAY", "INFO", "IMPL_LIMIT", "ERRATUM")
STATUSES = ("active", "planned", "retired")
APPLIES = ("reader", "writer", "checker")
DOC_PREFIX = {"qcow2": "Q2", "luks1": "L1", "qx": "QX"}
REGISTRY_FILES = ("qcow2.json", "luks1.json", "qx.json")
REQUIRED_KEYS = ("id", "doc", "section", "lines", "quote", "fp", "kind",
                 "applies_to", "rule", "status")
LINE_TOLERANCE = 3
DEFAULT_CODE_KINDS = ("MUST", "MUST_NOT")

# SPEC(<id>) optionally followed by : "quote". Not preceded by an identifier
# character, so QCOW2_SPEC( is not taken as a code citation.
CODE_CITE_RE = re.compile(
    r'(?<![A-Za-z0-9_])SPEC\(\s*"?([A-Za-z0-9_.]+)"?\s*\)(?:\s*:\s*"((?:[^"\\]|\\.)*)")?')
TEST_CITE_RE = re.compile(r'(?<![A-Za-z0-9_])QCOW2_SPEC\(\s*"([^"]*)"\s*\)')
# Any clause-id-looking string literal, e.g. Rejected("Q2.HDR.magic", ...): in
# non-test sources it must name a registered, non-retired clause.
LITERAL_ID_RE = re.compile(r'"((?:Q2|L1|QX)\.[A-Za-z0-9_.]+)"')
SOURCE_EXTS = (".h", ".cc", ".hh", ".hpp", ".cpp", ".c", ".inc", ".sh")
SKIP_MANIFEST_DIRS = ("schemas", "recipes")


def normalize(text):
    """Lower-case, rst ``markup`` removed, whitespace collapsed."""
    text = text.replace("``", "")
    return re.sub(r"\s+", " ", text.lower()).strip()


def fingerprint(quote):
    digest = hashlib.sha256(normalize(quote).encode("utf-8")).hexdigest()
    return "R-%s-%s" % (digest[0:4], digest[4:8])


def is_test_file(path):
    return os.path.basename(path).endswith(("_test.cc", "_test.sh"))


# A test file names the roles it judges in a line "Test roles: writer, reader"
# near its top. Without one, tests under reference/writer/ judge the writer
# and every other test judges the reader and the checker. Vector manifests
# judge the reader and the checker: no vector proves what our writer writes.
TEST_ROLES_RE = re.compile(r"Test roles:\s*([a-z, ]+)")
WRITER_TEST_DIRS = ("reference/writer/",)


def test_roles(path, lines):
    for line in lines[:40]:
        m = TEST_ROLES_RE.search(line)
        if m:
            return tuple(r.strip() for r in m.group(1).split(",") if r.strip())
    p = display_path(path)
    if any(("/" + d) in ("/" + p) for d in WRITER_TEST_DIRS):
        return ("writer",)
    return ("reader", "checker")


# ----------------------------------------------------------------------------
# Loading

class Problems(object):
    def __init__(self):
        self.errors = []
        self.warnings = []

    def error(self, msg):
        self.errors.append(msg)

    def warn(self, msg):
        self.warnings.append(msg)


def load_json(path, problems):
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        problems.error("%s: cannot load JSON: %s" % (path, e))
        return None


def load_registry(spec_dir, problems):
    clauses = []
    for name in REGISTRY_FILES:
        path = os.path.join(spec_dir, "clauses", name)
        if not os.path.exists(path):
            problems.error("%s: registry file missing" % path)
            continue
        data = load_json(path, problems)
        if data is None:
            continue
        if isinstance(data, dict):
            data = data.get("clauses")
        if not isinstance(data, list):
            problems.error("%s: expected an array of clauses or {\"clauses\": [...]}" % path)
            continue
        expected_doc = name[:-len(".json")]
        for i, c in enumerate(data):
            if not isinstance(c, dict):
                problems.error("%s[%d]: not an object" % (path, i))
                continue
            c = dict(c)
            c["_file"] = "clauses/" + name
            c["_expected_doc"] = expected_doc
            clauses.append(c)
    return clauses


def find_reference_dir(spec_dir, explicit):
    """Locate ../shared/reference relative to the workspace root.

    Candidates, in order: --reference-dir, $QCOW2REF_SHARED_REFERENCE,
    $BUILD_WORKSPACE_DIRECTORY/../shared/reference, the real location of the
    registry files (runfiles are symlinks into the source tree) and of this
    script, and the current directory and its parents.
    """
    cands = []
    if explicit:
        return explicit if os.path.isdir(explicit) else None
    env = os.environ.get("QCOW2REF_SHARED_REFERENCE")
    if env:
        cands.append(env)
    bwd = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
    if bwd:
        cands.append(os.path.join(bwd, "..", "shared", "reference"))
    for probe in (os.path.join(spec_dir, "sources.json"),
                  os.path.join(spec_dir, "clauses", "qcow2.json"),
                  os.path.abspath(__file__)):
        if os.path.exists(probe):
            real = os.path.realpath(probe)
            d = os.path.dirname(real)
            for _ in range(6):
                cands.append(os.path.join(d, "..", "shared", "reference"))
                d = os.path.dirname(d)
    d = os.getcwd()
    for _ in range(8):
        cands.append(os.path.join(d, "..", "shared", "reference"))
        cands.append(os.path.join(d, "shared", "reference"))
        d = os.path.dirname(d)
    for c in cands:
        if os.path.isdir(c):
            return os.path.normpath(c)
    return None


def load_pinned_texts(spec_dir, reference_dir, problems, quiet):
    """Returns {doc: [lines]} for the documents that could be loaded."""
    texts = {}
    sources_path = os.path.join(spec_dir, "sources.json")
    if not os.path.exists(sources_path):
        problems.error("%s: missing" % sources_path)
        return texts
    sources = load_json(sources_path, problems)
    if sources is None:
        return texts
    if isinstance(sources, dict):
        sources = sources.get("documents", [])
    if reference_dir is None:
        print("SKIP quote drift check: pinned text not found")
        return texts
    for s in sources:
        doc, fname = s.get("doc"), s.get("file")
        if not doc or not fname:
            continue
        path = os.path.join(reference_dir, fname)
        if not os.path.exists(path):
            print("SKIP quote drift check for %s: pinned text not found (%s)" % (doc, path))
            continue
        with open(path, "rb") as f:
            raw = f.read()
        sha = hashlib.sha256(raw).hexdigest()
        if s.get("sha256") and s["sha256"] != sha:
            problems.error("sources.json: %s: sha256 of %s is %s, pinned %s (re-pin the "
                           "registry: check every quote and line range)" % (doc, path, sha, s["sha256"]))
        texts[doc] = raw.decode("utf-8").split("\n")
        if not quiet:
            print("quote drift check: %s against %s" % (doc, path))
    return texts


# ----------------------------------------------------------------------------
# Registry checks

def check_registry(clauses, texts, problems):
    by_id = {}
    for c in clauses:
        where = "%s: %s" % (c["_file"], c.get("id", "<no id>"))
        missing = [k for k in REQUIRED_KEYS if k not in c]
        if missing:
            problems.error("%s: missing keys %s" % (where, ", ".join(missing)))
            continue
        cid = c["id"]
        if not isinstance(cid, str) or not ID_RE.match(cid):
            problems.error("%s: id does not match %s" % (where, ID_RE.pattern))
            continue
        if cid in by_id:
            problems.error("%s: duplicate id (also in %s)" % (where, by_id[cid]["_file"]))
            continue
        by_id[cid] = c
        doc = c["doc"]
        if doc != c["_expected_doc"]:
            problems.error("%s: doc %r but stored in %s" % (where, doc, c["_file"]))
        if DOC_PREFIX.get(doc) != cid.split(".")[0]:
            problems.error("%s: id prefix does not match doc %r" % (where, doc))
        if c["kind"] not in KINDS:
            problems.error("%s: kind %r not one of %s" % (where, c["kind"], "|".join(KINDS)))
        if c["status"] not in STATUSES:
            problems.error("%s: status %r not one of %s" % (where, c["status"], "|".join(STATUSES)))
        at = c["applies_to"]
        if not isinstance(at, list) or not at or any(a not in APPLIES for a in at):
            problems.error("%s: applies_to must be a non-empty list of %s" % (where, "|".join(APPLIES)))
        if not isinstance(c["rule"], str) or not c["rule"].strip():
            problems.error("%s: empty rule" % where)
        if not isinstance(c["section"], str) or not c["section"].strip():
            problems.error("%s: empty section" % where)
        if c["kind"] == "ERRATUM" and not str(c.get("resolution") or "").strip():
            problems.error("%s: ERRATUM without resolution" % where)
        if c["status"] == "retired" and not c.get("superseded_by") and not c.get("notes"):
            problems.error("%s: retired clause needs superseded_by or notes" % where)
        sup = c.get("superseded_by")
        quote, fp, lines = c["quote"], c["fp"], c["lines"]
        if doc == "qx":
            if quote is not None or fp is not None or lines is not None:
                problems.error("%s: qx clauses have quote, fp and lines null" % where)
            continue
        if quote is None:
            if fp is not None:
                problems.error("%s: fp without quote" % where)
            continue
        if not isinstance(quote, str) or not quote.strip():
            problems.error("%s: quote must be a non-empty string or null" % where)
            continue
        if not isinstance(fp, str) or not FP_RE.match(fp):
            problems.error("%s: fp %r is not R-xxxx-xxxx" % (where, fp))
        elif fp != fingerprint(quote):
            problems.error("%s: fingerprint mismatch: registry %s, quote gives %s"
                           % (where, fp, fingerprint(quote)))
        if (not isinstance(lines, list) or len(lines) != 2
                or not all(isinstance(x, int) for x in lines) or lines[0] < 1 or lines[1] < lines[0]):
            problems.error("%s: lines must be [from, to] with 1 <= from <= to" % where)
            continue
        text = texts.get(doc)
        if text is None:
            continue
        lo = max(1, lines[0] - LINE_TOLERANCE)
        hi = min(len(text), lines[1] + LINE_TOLERANCE)
        window = normalize(" ".join(text[lo - 1:hi]))
        if normalize(quote) not in window:
            hint = locate_quote(text, quote)
            problems.error("%s: quote drift: quote not found in %s lines %d-%d%s"
                           % (where, doc, lines[0], lines[1],
                              " (found at %d-%d)" % hint if hint else " (not found anywhere)"))
    for c in by_id.values():
        sup = c.get("superseded_by")
        if sup and sup not in by_id:
            problems.error("%s: superseded_by unknown id %s" % (c["id"], sup))
    return by_id


def locate_quote(text_lines, quote):
    """Smallest [from, to] (1-based) whose joined text contains the quote."""
    nq = normalize(quote)
    n = len(text_lines)
    for start in range(n):
        acc = ""
        for end in range(start, min(n, start + 40)):
            acc = acc + " " + text_lines[end]
            if nq in normalize(acc):
                # shrink from the left is implicit: start is the first line that works
                return (start + 1, end + 1)
    return None


# ----------------------------------------------------------------------------
# Scanning

def walk_paths(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p, followlinks=True):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.startswith("bazel-"))
                for f in sorted(files):
                    out.append(os.path.join(root, f))
        elif os.path.exists(p):
            out.append(p)
    return out


def display_path(path):
    p = os.path.normpath(path)
    return p[2:] if p.startswith("./") else p


def scan(paths, problems):
    """Returns a list of citations: dicts {id, file, line, kind: code|test|vector, verdict, quote}."""
    cites = []
    for path in walk_paths(paths):
        name = os.path.basename(path)
        if name.endswith(".json"):
            parts = os.path.normpath(path).split(os.sep)
            if any(d in SKIP_MANIFEST_DIRS for d in parts[:-1]):
                continue
            scan_manifest(path, cites, problems)
        elif name.endswith(SOURCE_EXTS):
            scan_source(path, cites, problems)
    return cites


def scan_source(path, cites, problems):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
    except OSError as e:
        problems.error("%s: cannot read: %s" % (path, e))
        return
    test = is_test_file(path)
    roles = test_roles(path, lines) if test else ()
    for r in roles:
        if r not in APPLIES:
            problems.error("%s: unknown test role %r (roles: %s)" % (path, r, ", ".join(APPLIES)))
    for n, line in enumerate(lines, 1):
        for m in TEST_CITE_RE.finditer(line):
            cid = m.group(1)
            if not ID_PREFIX_RE.match(cid):
                continue  # e.g. the macro's own documentation: QCOW2_SPEC("<id>")
            cites.append({"id": cid, "file": display_path(path), "line": n,
                          "kind": "test" if test else "test_outside_test_file",
                          "roles": roles})
        cited = set(m.group(1) for m in TEST_CITE_RE.finditer(line))
        for m in LITERAL_ID_RE.finditer(line):
            if m.group(1) not in cited:
                # In tests, a clause id in an expectation (e.g. a table of
                # faults and the clause each must raise) cites that clause;
                # ids that are not registered are test fixtures, not errors.
                cites.append({"id": m.group(1), "file": display_path(path), "line": n,
                              "kind": "test_literal" if test else "literal",
                              "roles": roles})
        for m in CODE_CITE_RE.finditer(line):
            cid = m.group(1)
            if not ID_PREFIX_RE.match(cid):
                continue  # placeholder such as SPEC(id) in documentation
            cites.append({"id": cid, "file": display_path(path), "line": n,
                          "kind": "test_code" if test else "code", "quote": m.group(2)})


def scan_manifest(path, cites, problems):
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        problems.error("%s: manifest is not valid JSON: %s" % (path, e))
        return

    def verdict_of(obj):
        v = obj.get("verdict") or obj.get("result")
        if isinstance(v, str):
            v = v.lower()
            if v in ("valid", "y"):
                return "y"
            if v in ("invalid", "n"):
                return "n"
            if v in ("acceptable", "i"):
                return "i"
        tid = obj.get("id")
        if isinstance(tid, str) and len(tid) > 2 and tid[1] == "_" and tid[0] in "yni":
            return tid[0]
        return None

    def walk(obj):
        if isinstance(obj, dict):
            cl = obj.get("clauses")
            if isinstance(cl, list):
                v = verdict_of(obj)
                label = obj.get("id") if isinstance(obj.get("id"), str) else None
                for cid in cl:
                    if isinstance(cid, str):
                        cites.append({"id": cid, "file": display_path(path), "line": None,
                                      "kind": "vector", "verdict": v, "test_id": label})
                    else:
                        problems.error("%s: non-string clause id %r" % (path, cid))
            for k, v in obj.items():
                if k != "clauses":
                    walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)
    walk(data)


# ----------------------------------------------------------------------------
# Coverage

def analyse(by_id, cites, uncovered, config, problems):
    code = {cid: [] for cid in by_id}
    tests = {cid: [] for cid in by_id}
    writer_tests = {cid: [] for cid in by_id}
    vectors = {cid: {"y": 0, "n": 0, "i": 0, "?": 0} for cid in by_id}
    for ct in cites:
        cid = ct["id"]
        where = ct["file"] + (":%d" % ct["line"] if ct["line"] else "")
        if ct["kind"] == "vector" and ct.get("test_id"):
            where += " (%s)" % ct["test_id"]
        if not ID_RE.match(cid):
            problems.error("%s: cited id %r does not match the id grammar" % (where, cid))
            continue
        c = by_id.get(cid)
        if c is None and ct["kind"] == "test_literal":
            continue
        if c is None:
            problems.error("%s: unknown clause id %s" % (where, cid))
            continue
        if c["status"] == "retired":
            problems.error("%s: cites retired clause %s%s" % (
                where, cid, " (superseded by %s)" % c["superseded_by"] if c.get("superseded_by") else ""))
            continue
        if ct["kind"] == "code":
            code[cid].append(where)
            q = ct.get("quote")
            if q is not None and c.get("quote"):
                if normalize(q.replace('\\"', '"')) not in normalize(c["quote"]):
                    problems.error("%s: quote after SPEC(%s) is not part of the registry quote %r"
                                   % (where, cid, c["quote"]))
        elif ct["kind"] == "test":
            tests[cid].append(where)
            if "writer" in ct.get("roles", ()):
                writer_tests[cid].append(where)
        elif ct["kind"] == "vector":
            tests[cid].append(where)
            vectors[cid][ct.get("verdict") or "?"] += 1
        elif ct["kind"] == "test_outside_test_file":
            problems.warn("%s: QCOW2_SPEC(\"%s\") outside a *_test.cc file is not counted as a test"
                          % (where, cid))
        elif ct["kind"] == "literal":
            pass  # existence checked above; not a citation
        elif ct["kind"] == "test_literal":
            tests[cid].append(where)
            if "writer" in ct.get("roles", ()):
                writer_tests[cid].append(where)
        elif ct["kind"] == "test_code":
            # SPEC( inside a test file: allowed (e.g. a helper), not a code site.
            pass

    no_code = uncovered.get("no_code", {}) if isinstance(uncovered, dict) else {}
    no_test = uncovered.get("no_test", {}) if isinstance(uncovered, dict) else {}
    no_neg = uncovered.get("no_negative_vector", {}) if isinstance(uncovered, dict) else {}
    no_writer = uncovered.get("no_writer_test", {}) if isinstance(uncovered, dict) else {}
    for section, table in (("no_code", no_code), ("no_test", no_test),
                           ("no_negative_vector", no_neg), ("no_writer_test", no_writer)):
        if not isinstance(table, dict):
            problems.error("uncovered.json: %s must be an object {id: reason}" % section)
            continue
        for cid, reason in table.items():
            if cid not in by_id:
                problems.error("uncovered.json: %s: unknown clause id %s" % (section, cid))
            elif by_id[cid]["status"] == "retired":
                problems.error("uncovered.json: %s: %s is retired; drop the exemption" % (section, cid))
            if not isinstance(reason, str) or len(reason.strip()) < 10:
                problems.error("uncovered.json: %s: %s needs a real reason" % (section, cid))

    code_kinds = tuple(config.get("code_citation_kinds", DEFAULT_CODE_KINDS))
    enforce_code = bool(config.get("enforce_code_citations", False))
    enforce_tests = bool(config.get("enforce_test_citations", False))
    enforce_neg = bool(config.get("enforce_checker_vectors", False))
    enforce_writer = bool(config.get("enforce_writer_tests", False))
    gaps_code, gaps_test, gaps_neg, gaps_writer, planned = [], [], [], [], []
    checkable = checkable_broken = 0
    for cid in sorted(by_id):
        c = by_id[cid]
        if c["status"] == "planned":
            planned.append(cid)
            continue
        if c["status"] != "active":
            continue
        needs_code = (c["kind"] in code_kinds
                      and any(a in ("reader", "writer") for a in c["applies_to"]))
        if needs_code and not code[cid]:
            if cid not in no_code:
                gaps_code.append(cid)
        elif needs_code and cid in no_code:
            problems.warn("uncovered.json: no_code exemption for %s is stale (cited at %s)"
                          % (cid, code[cid][0]))
        needs_test = c["kind"] != "INFO"
        if needs_test and not tests[cid]:
            if cid not in no_test:
                gaps_test.append(cid)
        elif needs_test and cid in no_test:
            problems.warn("uncovered.json: no_test exemption for %s is stale (tested at %s)"
                          % (cid, tests[cid][0]))
        # A rule for the writer needs a test that judges what the writer does
        # (a writer-role test), not a reader test or vector that cites it.
        needs_writer = needs_test and "writer" in c["applies_to"]
        if needs_writer and not writer_tests[cid]:
            if cid not in no_writer:
                gaps_writer.append(cid)
        elif needs_writer and cid in no_writer:
            problems.warn("uncovered.json: no_writer_test exemption for %s is stale (tested at %s)"
                          % (cid, writer_tests[cid][0]))
        # A checkable rule (MUST/MUST_NOT the checker enforces) needs an image
        # that breaks it: an n_ vector, or an i_ vector where readers may differ.
        needs_neg = c["kind"] in ("MUST", "MUST_NOT") and "checker" in c["applies_to"]
        has_neg = vectors[cid]["n"] + vectors[cid]["i"] > 0
        checkable += needs_neg
        checkable_broken += needs_neg and has_neg
        if needs_neg and not has_neg:
            if cid not in no_neg:
                gaps_neg.append(cid)
        elif cid in no_neg:
            problems.warn("uncovered.json: no_negative_vector exemption for %s is stale" % cid)
    for cid in gaps_neg:
        msg = "%s (%s, checker) has no n_ or i_ vector that breaks it" % (cid, by_id[cid]["kind"])
        (problems.error if enforce_neg else problems.warn)(msg)
    for cid in gaps_writer:
        msg = ("%s (%s, writer) has no writer-role test (a test under reference/writer/ or one "
               "whose header says 'Test roles: writer')" % (cid, by_id[cid]["kind"]))
        (problems.error if enforce_writer else problems.warn)(msg)
    for cid in gaps_code:
        msg = "%s (%s, %s) has no SPEC( citation in non-test code" % (
            cid, by_id[cid]["kind"], ",".join(by_id[cid]["applies_to"]))
        (problems.error if enforce_code else problems.warn)(msg)
    for cid in gaps_test:
        msg = "%s (%s) has no test citation (QCOW2_SPEC in *_test.cc or a vector manifest)" % (
            cid, by_id[cid]["kind"])
        (problems.error if enforce_tests else problems.warn)(msg)
    exempt = set(k for k in no_code if k in by_id) | set(k for k in no_test if k in by_id)
    return {"code": code, "tests": tests, "vectors": vectors, "gaps_code": gaps_code,
            "gaps_test": gaps_test, "planned": planned, "exempt": exempt,
            "gaps_neg": gaps_neg, "gaps_writer": gaps_writer, "writer_tests": writer_tests,
            "no_writer_test": no_writer, "no_code": no_code, "no_test": no_test,
            "no_negative_vector": no_neg, "checkable": checkable,
            "checkable_broken": checkable_broken,
            "enforce_code": enforce_code, "enforce_tests": enforce_tests}


# ----------------------------------------------------------------------------
# Matrix

def md_escape(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def write_matrix(path, by_id, cov):
    docs = (("qcow2", "qcow2 (Q2)"), ("luks1", "LUKS1 (L1)"), ("qx", "project interpretations (QX)"))
    out = []
    out.append("# Clause coverage matrix")
    out.append("")
    out.append("Generated by `spec/tools/trace.py --matrix` (`bazel run //spec:matrix`); do not edit.")
    out.append("Columns: code = `SPEC(` sites in non-test sources; tests = `QCOW2_SPEC` in `*_test.cc`")
    out.append("plus vector-manifest entries; vectors = y/n/i counts (valid/invalid/acceptable);")
    out.append("exempt = listed in `spec/uncovered.json` (c = no_code, t = no_test).")
    out.append("")
    active = [c for c in by_id.values() if c["status"] == "active"]
    out.append("| | clauses | active | planned | retired | active with code | active with tests |")
    out.append("|---|---|---|---|---|---|---|")
    for doc, title in docs:
        cs = [c for c in by_id.values() if c["doc"] == doc]
        act = [c for c in cs if c["status"] == "active"]
        out.append("| %s | %d | %d | %d | %d | %d | %d |" % (
            title, len(cs), len(act), sum(1 for c in cs if c["status"] == "planned"),
            sum(1 for c in cs if c["status"] == "retired"),
            sum(1 for c in act if cov["code"][c["id"]]), sum(1 for c in act if cov["tests"][c["id"]])))
    out.append("| all | %d | %d | %d | %d | %d | %d |" % (
        len(by_id), len(active), len(cov["planned"]),
        sum(1 for c in by_id.values() if c["status"] == "retired"),
        sum(1 for c in active if cov["code"][c["id"]]), sum(1 for c in active if cov["tests"][c["id"]])))
    out.append("")
    out.append("Gaps (active clauses): %d without code, %d without tests (enforcement: code %s, tests %s)."
               % (len(cov["gaps_code"]), len(cov["gaps_test"]),
                  "on" if cov["enforce_code"] else "off", "on" if cov["enforce_tests"] else "off"))
    for doc, title in docs:
        cs = sorted((c for c in by_id.values() if c["doc"] == doc), key=lambda c: c["id"])
        if not cs:
            continue
        out.append("")
        out.append("## " + title)
        out.append("")
        out.append("| clause | kind | status | applies to | code | tests | vectors y/n/i | exempt |")
        out.append("|---|---|---|---|---|---|---|---|")
        for c in cs:
            cid = c["id"]
            code = cov["code"][cid]
            unit = [t for t in cov["tests"][cid] if "_test.cc" in t]
            v = cov["vectors"][cid]
            nvec = v["y"] + v["n"] + v["i"] + v["?"]
            code_s = "<br>".join(md_escape(s) for s in code[:6]) + (" (+%d)" % (len(code) - 6) if len(code) > 6 else "")
            test_s = "<br>".join(md_escape(s) for s in unit[:4]) + (" (+%d)" % (len(unit) - 4) if len(unit) > 4 else "")
            if nvec:
                test_s = (test_s + "<br>" if test_s else "") + "%d vector entr%s" % (nvec, "y" if nvec == 1 else "ies")
            ex = ("c" if cid in cov["no_code"] else "") + ("t" if cid in cov["no_test"] else "")
            gap = ""
            if c["status"] == "active":
                if cid in cov["gaps_code"]:
                    gap += " **no code**"
                if cid in cov["gaps_test"]:
                    gap += " **no test**"
            out.append("| `%s`%s | %s | %s | %s | %s | %s | %d/%d/%d%s | %s |" % (
                cid, gap, c["kind"], c["status"], ",".join(c["applies_to"]), code_s or "-",
                test_s or "-", v["y"], v["n"], v["i"], (" (+%d ?)" % v["?"]) if v["?"] else "", ex or "-"))
    out.append("")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


# ----------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(description="qcow2ref spec clause trace check")
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--spec-dir", default=None)
    ap.add_argument("--reference-dir", default=None)
    ap.add_argument("--config", default=None)
    ap.add_argument("--uncovered", default=None)
    ap.add_argument("--matrix", default=None)
    ap.add_argument("--fingerprint", default=None)
    ap.add_argument("--enforce-code", dest="enforce_code", action="store_true", default=None)
    ap.add_argument("--no-enforce-code", dest="enforce_code", action="store_false")
    ap.add_argument("--enforce-tests", dest="enforce_tests", action="store_true", default=None)
    ap.add_argument("--no-enforce-tests", dest="enforce_tests", action="store_false")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    if args.fingerprint is not None:
        print(fingerprint(args.fingerprint))
        return 0

    spec_dir = args.spec_dir or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = Problems()
    config = {}
    config_path = args.config or os.path.join(spec_dir, "trace_config.json")
    if os.path.exists(config_path):
        config = load_json(config_path, problems) or {}
    else:
        problems.error("%s: missing" % config_path)
    if args.enforce_code is not None:
        config["enforce_code_citations"] = args.enforce_code
    if args.enforce_tests is not None:
        config["enforce_test_citations"] = args.enforce_tests
    uncovered_path = args.uncovered or os.path.join(spec_dir, "uncovered.json")
    uncovered = {}
    if os.path.exists(uncovered_path):
        uncovered = load_json(uncovered_path, problems) or {}
    else:
        problems.error("%s: missing" % uncovered_path)

    clauses = load_registry(spec_dir, problems)
    reference_dir = find_reference_dir(spec_dir, args.reference_dir)
    texts = load_pinned_texts(spec_dir, reference_dir, problems, args.quiet)
    by_id = check_registry(clauses, texts, problems)
    errata_path = os.path.join(spec_dir, "errata.md")
    if os.path.exists(errata_path):
        with open(errata_path, encoding="utf-8") as f:
            errata_text = f.read()
        for cid, c in sorted(by_id.items()):
            if c["kind"] == "ERRATUM" and c["status"] != "retired" and ("`%s`" % cid) not in errata_text:
                problems.error("errata.md: ERRATUM clause %s is not listed" % cid)
    cites = scan(args.paths, problems)
    cov = analyse(by_id, cites, uncovered, config, problems)

    if args.matrix:
        write_matrix(args.matrix, by_id, cov)
        if not args.quiet:
            print("matrix written to %s" % args.matrix)

    n_code = sum(1 for cid in by_id if cov["code"][cid])
    n_test = sum(1 for cid in by_id if cov["tests"][cid])
    if not args.quiet and cov["planned"]:
        print("planned (not enforced): %d clauses: %s" % (len(cov["planned"]), " ".join(cov["planned"])))
    label = lambda on: "error" if on else "warning"
    if cov["gaps_code"]:
        print("gap (%s): %d active MUST/MUST_NOT reader/writer clauses without code citation"
              % (label(cov["enforce_code"]), len(cov["gaps_code"])))
    if cov["gaps_test"]:
        print("gap (%s): %d active clauses without test citation"
              % (label(cov["enforce_tests"]), len(cov["gaps_test"])))
    if not args.quiet:
        for w in problems.warnings:
            print("warning: " + w)
    for e in problems.errors:
        print("problem: " + e)
    print("trace: %d clauses, %d cited in code, %d tested, %d exempt, %d planned"
          % (len(by_id), n_code, n_test, len(cov["exempt"]), len(cov["planned"])))
    print("trace: %d checkable clauses, %d broken by an n_/i_ vector, %d exempt (no_negative_vector)"
          % (cov["checkable"], cov["checkable_broken"], len(cov["no_negative_vector"])))
    writer_clauses = [cid for cid, c in by_id.items()
                      if c["status"] == "active" and c["kind"] != "INFO" and "writer" in c["applies_to"]]
    print("trace: %d writer clauses, %d judged by a writer-role test, %d exempt (no_writer_test)"
          % (len(writer_clauses), sum(1 for cid in writer_clauses if cov["writer_tests"][cid]),
             len(cov["no_writer_test"])))
    print("trace: %d citations scanned, %d problems, %d warnings; enforcement: code %s, tests %s"
          % (len(cites), len(problems.errors), len(problems.warnings),
             "on" if cov["enforce_code"] else "off", "on" if cov["enforce_tests"] else "off"))
    return 1 if problems.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
