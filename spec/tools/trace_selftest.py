#!/usr/bin/env python3
"""Self-test of spec/tools/trace.py (stdlib only, no gtest).

Builds a tiny fake registry, pinned text and source tree in a temporary
directory, then runs trace.py on variants that each contain one fault and
asserts the exit status. Proves that //spec:trace_test can fail.

Usage: trace_selftest.py [path/to/trace.py]
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TRACE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(HERE, "trace.py")

def _load_trace(path):
    """The trace.py under test, by path (its name shadows the stdlib's trace)."""
    spec = importlib.util.spec_from_file_location("qcow2ref_trace", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


fingerprint = _load_trace(TRACE).fingerprint

PINNED = """Source: fake pinned text for the trace self-test.
Header
------

  cluster_bits
      Must not be less than 9 (i.e. 512 byte
      clusters).

  ``header_length`` must be a multiple
  of 8.
"""

QUOTE_A = "Must not be less than 9 (i.e. 512 byte clusters)."
QUOTE_B = "``header_length`` must be a multiple of 8."


def clause(cid, quote, lines, kind="MUST", applies=("reader",), status="active", **extra):
    c = {"id": cid, "doc": "qcow2", "section": "Header", "lines": lines, "quote": quote,
         "fp": fingerprint(quote), "kind": kind, "applies_to": list(applies), "rule": "Our rule.",
         "status": status, "resolution": None, "notes": ""}
    c.update(extra)
    return c


def base_registry():
    return {
        "qcow2": [
            clause("Q2.HDR.cluster_bits.min", QUOTE_A, [6, 7]),
            clause("Q2.HDRV3.header_length.multiple_of_8", QUOTE_B, [9, 10], applies=("reader", "checker")),
            clause("Q2.HDR.old_rule", QUOTE_B, [9, 10], status="retired",
                   superseded_by="Q2.HDRV3.header_length.multiple_of_8"),
            clause("Q2.HDR.later", QUOTE_A, [6, 7], status="planned"),
        ],
        "luks1": [],
        "qx": [{"id": "QX.LIMIT.thing", "doc": "qx", "section": "Limits", "lines": None, "quote": None,
                "fp": None, "kind": "IMPL_LIMIT", "applies_to": ["reader"], "rule": "A limit.",
                "status": "active", "resolution": None, "notes": ""}],
    }


BASE_SOURCES = {
    "reference/format/header.cc": (
        "// SPEC(Q2.HDR.cluster_bits.min): \"Must not be less than 9\"\n"
        "if (bits < 9) return Rejected(\"Q2.HDR.cluster_bits.min\", 20, \"x\");\n"
        "// SPEC(Q2.HDRV3.header_length.multiple_of_8)\n"
        "// SPEC(QX.LIMIT.thing)\n"),
    "reference/format/header_test.cc": (
        "TEST(H, A) {\n  QCOW2_SPEC(\"Q2.HDR.cluster_bits.min\");\n"
        "  EXPECT_EQ(Rejected(\"QX.FAKE.for_tests\", 0, \"\").clause, \"QX.FAKE.for_tests\");\n}\n"
        "TEST(H, B) {\n  QCOW2_SPEC(\"QX.LIMIT.thing\");\n}\n"),
    "vectors/qcow2_hdr_test.json": json.dumps({
        "testGroups": [{"tests": [
            {"id": "n_hdr_header_length_108", "verdict": "invalid",
             "clauses": ["Q2.HDRV3.header_length.multiple_of_8"]},
            {"id": "y_hdr_basic", "verdict": "valid", "clauses": ["Q2.HDR.cluster_bits.min"]}]}]}),
}


class Case(object):
    def __init__(self, root):
        self.root = root
        self.spec = os.path.join(root, "ws", "spec")
        self.ref = os.path.join(root, "shared", "reference")
        self.ws = os.path.join(root, "ws")
        self.registry = base_registry()
        self.sources = dict(BASE_SOURCES)
        self.config = {"enforce_code_citations": True, "enforce_test_citations": True}
        self.uncovered = {"no_code": {}, "no_test": {}}
        self.pinned = PINNED
        self.write_pinned = True

    def write(self):
        if os.path.exists(self.root):
            shutil.rmtree(self.root)
        os.makedirs(os.path.join(self.spec, "clauses"))
        os.makedirs(self.ref)
        for doc, arr in self.registry.items():
            with open(os.path.join(self.spec, "clauses", doc + ".json"), "w") as f:
                json.dump(arr, f, ensure_ascii=False)
        import hashlib
        sha = hashlib.sha256(self.pinned.encode("utf-8")).hexdigest()
        with open(os.path.join(self.spec, "sources.json"), "w") as f:
            json.dump({"documents": [
                {"doc": "qcow2", "file": "fake-spec.txt", "sha256": sha},
                {"doc": "luks1", "file": "fake-luks.txt", "sha256": None},
                {"doc": "qx", "file": None, "sha256": None}]}, f)
        if self.write_pinned:
            with open(os.path.join(self.ref, "fake-spec.txt"), "w", encoding="utf-8") as f:
                f.write(self.pinned)
        with open(os.path.join(self.spec, "trace_config.json"), "w") as f:
            json.dump(self.config, f)
        with open(os.path.join(self.spec, "uncovered.json"), "w") as f:
            json.dump(self.uncovered, f)
        for rel, text in self.sources.items():
            p = os.path.join(self.ws, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)

    def run(self, extra=()):
        self.write()
        ref = self.ref if self.write_pinned else os.path.join(self.root, "nonexistent")
        cmd = [sys.executable, TRACE, "--spec-dir", self.spec, "--reference-dir", ref]
        cmd += list(extra) + ["reference", "vectors"]
        env = dict(os.environ)
        env.pop("QCOW2REF_SHARED_REFERENCE", None)
        env.pop("BUILD_WORKSPACE_DIRECTORY", None)
        p = subprocess.run(cmd, cwd=self.ws, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, env=env)
        return p.returncode, p.stdout


FAILURES = []


def expect(name, case, code, must_contain=None, extra=()):
    rc, out = case.run(extra)
    ok = rc == code and (must_contain is None or must_contain in out)
    print("%s %s (exit %d, expected %d)" % ("PASS" if ok else "FAIL", name, rc, code))
    if not ok:
        FAILURES.append(name)
        print("---- output ----\n" + out + "----------------")


def main():
    tmp = tempfile.mkdtemp(prefix="trace_selftest.")
    root = os.path.join(tmp, "t")
    try:
        c = Case(root)
        expect("baseline: everything cited, enforcement on", c, 0, "trace: 5 clauses")

        c = Case(root)
        c.sources["reference/format/header.cc"] += "// SPEC(Q2.HDR.no_such_clause)\n"
        expect("unknown id in SPEC( fails", c, 1, "unknown clause id Q2.HDR.no_such_clause")

        c = Case(root)
        c.sources["reference/format/header_test.cc"] += "TEST(H, C) { QCOW2_SPEC(\"Q2.HDR.nope\"); }\n"
        expect("unknown id in QCOW2_SPEC fails", c, 1, "unknown clause id Q2.HDR.nope")

        c = Case(root)
        c.sources["vectors/qcow2_x_test.json"] = json.dumps({"tests": [{"id": "y_x", "clauses": ["Q2.X.nope"]}]})
        expect("unknown id in a vector manifest fails", c, 1, "unknown clause id Q2.X.nope")

        c = Case(root)
        c.sources["reference/format/header.cc"] += "return Rejected(\"Q2.HDR.typo_here\", 0, \"m\");\n"
        expect("unknown id literal in non-test code fails", c, 1, "unknown clause id Q2.HDR.typo_here")

        c = Case(root)
        c.sources["reference/format/header.cc"] += "// SPEC(Q2.HDR.old_rule)\n"
        expect("retired id cited fails", c, 1, "cites retired clause Q2.HDR.old_rule")

        c = Case(root)
        c.registry["qcow2"][0]["fp"] = "R-0000-0000"
        expect("wrong fingerprint fails", c, 1, "fingerprint mismatch")

        c = Case(root)
        c.registry["qcow2"][0]["id"] = "Q2.hdr.cluster_bits.min"
        expect("id grammar error fails", c, 1, "does not match")

        c = Case(root)
        c.registry["qcow2"].append(dict(c.registry["qcow2"][0]))
        expect("duplicate id fails", c, 1, "duplicate id")

        c = Case(root)
        c.registry["qcow2"][0]["kind"] = "SHALL"
        expect("bad kind fails", c, 1, "kind 'SHALL'")

        c = Case(root)
        c.registry["qcow2"][0]["lines"] = [1, 2]
        expect("quote drift (lines moved) fails", c, 1, "quote drift")

        c = Case(root)
        c.pinned = PINNED.replace("less than 9", "less than 10")
        expect("quote drift (text changed) fails", c, 1, "quote drift")

        c = Case(root)
        c.write_pinned = False
        expect("missing pinned text is skipped", c, 0, "SKIP quote drift check: pinned text not found")

        c = Case(root)
        c.sources["reference/format/header.cc"] = c.sources["reference/format/header.cc"].replace(
            "// SPEC(Q2.HDRV3.header_length.multiple_of_8)\n", "")
        expect("MUST without code fails when enforced", c, 1,
               "Q2.HDRV3.header_length.multiple_of_8 (MUST, reader,checker) has no SPEC(")
        c.config["enforce_code_citations"] = False
        expect("MUST without code only warns when not enforced", c, 0, "gap (warning)")
        c.config["enforce_code_citations"] = True
        c.uncovered["no_code"]["Q2.HDRV3.header_length.multiple_of_8"] = "reason given by the self-test"
        expect("MUST without code passes with an exemption", c, 0)

        c = Case(root)
        c.sources["reference/format/header_test.cc"] = ""
        expect("clause without test fails when enforced", c, 1, "QX.LIMIT.thing (IMPL_LIMIT) has no test")
        c.uncovered["no_test"]["QX.LIMIT.thing"] = "reason given by the self-test"
        expect("clause without test passes with an exemption", c, 0)

        # Writer clauses need a writer-role test: a reader test or vector
        # citing the clause is not enough.
        c = Case(root)
        c.config["enforce_writer_tests"] = True
        c.registry["qcow2"][0]["applies_to"] = ["reader", "writer"]
        expect("writer clause with only a reader test fails when enforced", c, 1,
               "Q2.HDR.cluster_bits.min (MUST, writer) has no writer-role test")
        c.sources["reference/writer/create_test.cc"] = (
            "TEST(W, A) {\n  QCOW2_SPEC(\"Q2.HDR.cluster_bits.min\");\n}\n")
        expect("writer clause with a test under reference/writer/ passes", c, 0,
               "1 writer clauses, 1 judged by a writer-role test")
        del c.sources["reference/writer/create_test.cc"]
        c.sources["reference/cli/create_test.sh"] = (
            "#!/bin/sh\n# Test roles: writer, reader\n# QCOW2_SPEC(\"Q2.HDR.cluster_bits.min\")\n")
        expect("writer clause with a 'Test roles: writer' test passes", c, 0,
               "1 writer clauses, 1 judged by a writer-role test")
        c.sources["reference/cli/create_test.sh"] = (
            "#!/bin/sh\n# Test roles: writter\n# QCOW2_SPEC(\"Q2.HDR.cluster_bits.min\")\n")
        expect("an unknown test role fails", c, 1, "unknown test role 'writter'")
        del c.sources["reference/cli/create_test.sh"]
        c.uncovered["no_writer_test"] = {"Q2.HDR.cluster_bits.min": "reason given by the self-test"}
        expect("writer clause without a writer-role test passes with an exemption", c, 0)

        c = Case(root)
        c.config["enforce_checker_vectors"] = True
        expect("checkable clause broken by an n_ vector passes", c, 0,
               "1 checkable clauses, 1 broken by an n_/i_ vector")
        c.sources["vectors/qcow2_hdr_test.json"] = c.sources["vectors/qcow2_hdr_test.json"].replace(
            '"verdict": "invalid"', '"verdict": "valid"')
        expect("checkable clause without an n_/i_ vector fails when enforced", c, 1,
               "Q2.HDRV3.header_length.multiple_of_8 (MUST, checker) has no n_ or i_ vector")
        c.uncovered["no_negative_vector"] = {
            "Q2.HDRV3.header_length.multiple_of_8": "reason given by the self-test"}
        expect("checkable clause without an n_/i_ vector passes with an exemption", c, 0)
        c.config["enforce_checker_vectors"] = False
        c.uncovered = {"no_code": {}, "no_test": {}}
        expect("checkable clause without an n_/i_ vector only warns when not enforced", c, 0,
               "has no n_ or i_ vector")

        c = Case(root)
        c.uncovered["no_code"]["Q2.HDR.unknown"] = "reason given by the self-test"
        expect("exemption for an unknown id fails", c, 1, "unknown clause id Q2.HDR.unknown")

        c = Case(root)
        c.sources["reference/format/header.cc"] = c.sources["reference/format/header.cc"].replace(
            "\"Must not be less than 9\"", "\"Must not be less than 10\"")
        expect("quote next to SPEC( that differs from the registry fails", c, 1, "not part of the registry quote")

        c = Case(root)
        c.registry["qcow2"][3]["lines"] = [6, 7]  # planned: never fails for missing citations
        expect("planned clause without citations passes", c, 0, "planned (not enforced): 1 clauses")

        c = Case(root)
        out_md = os.path.join(tmp, "matrix.md")
        expect("matrix is written", c, 0, "matrix written", extra=["--matrix", out_md])
        with open(out_md) as f:
            md = f.read()
        if "`Q2.HDR.cluster_bits.min`" not in md or "reference/format/header.cc:1" not in md or "1/0/0" not in md:
            # header.cc:1 is the code site; the vector manifest gives y=1 for cluster_bits.min
            FAILURES.append("matrix content")
            print("FAIL matrix content\n" + md)
        else:
            print("PASS matrix content")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print("trace_selftest: %d failures: %s" % (len(FAILURES), ", ".join(FAILURES)))
        return 1
    print("trace_selftest: all cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
