#!/usr/bin/env python3
"""The counts the documents state are the counts the repository holds.

Checked: "(N clauses;" in README.md against the entries of spec/clauses/*.json;
every "N vectors" / "N test images" in README.md, vectors/README.md and
conformance/PROTOCOL.md against the tests of vectors/*_test.json; and the
feature tables of vectors/README.md and conformance/PROTOCOL.md against the
table vectors/tools/features.py generates from vectors/features.json; and each
row of conformance/FINDINGS.md's results table (adapter `adapters/X`) against
the summary of conformance/results/X/results.json.
"""
import glob
import json
import os
import re
import sys

if __name__ == "__main__":  # run by hand: qcow2ref_py is at the root of this checkout
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from qcow2ref_py.files import load_module_file  # noqa: E402


def main() -> int:
    root = os.path.join(os.environ.get("TEST_SRCDIR", "."),
                        os.environ.get("TEST_WORKSPACE", "qcow2ref"))
    if not os.path.isdir(os.path.join(root, "spec")):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    clauses = sum(len(json.load(open(f)))
                  for f in glob.glob(os.path.join(root, "spec/clauses/*.json")))
    vectors = sum(len(json.load(open(f))["tests"])
                  for f in glob.glob(os.path.join(root, "vectors/*_test.json")))
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    checks = [(int(m), clauses, "clauses", "README.md")
              for m in re.findall(r"\((\d+) clauses;", readme)]
    for doc in ("README.md", "vectors/README.md", "conformance/PROTOCOL.md"):
        text = open(os.path.join(root, doc), encoding="utf-8").read()
        checks += [(int(m), vectors, "vectors", doc)
                   for m in re.findall(r"\b(\d+) (?:vectors|test images)\b", text)]
    fails = [f"{doc} says {said} {what}, the repository has {have}"
             for said, have, what, doc in checks if said != have]
    features = load_module_file(os.path.join(root, "vectors", "tools", "features.py"))
    vocab = features.load(os.path.join(root, "vectors"))
    stale = features.doc_problems(root, vocab)
    findings = open(os.path.join(root, "conformance/FINDINGS.md"), encoding="utf-8").read()
    row = re.compile(r"^\| [^|]+ \| `adapters/([\w.-]+)` \| (\d+) \| (\d+) \| (\d+) \| (\d+) "
                     r"\| (\d+) \|", re.M)
    for m in row.finditer(findings):
        path = os.path.join(root, "conformance/results", m.group(1), "results.json")
        if not os.path.isfile(path):
            continue
        s = json.load(open(path))["summary"]
        for said, key in zip(m.groups()[1:], ("pass", "fail", "skip", "crash", "timeout")):
            checks.append((int(said), s[key], key, "conformance/FINDINGS.md " + m.group(1)))
            if int(said) != s[key]:
                fails.append(f"conformance/FINDINGS.md says {m.group(1)} {key} {said}, "
                             f"results/{m.group(1)}/results.json has {s[key]}")
    for doc in features.DOCS:
        checks.append((0, 0, "feature table", doc))
        if doc in stale:
            fails.append(f"{doc}: the feature table is not the one vectors/features.json "
                         "gives (run vectors/tools/features.py --apply)")
    for f in fails:
        print("FAIL:", f)
    if not checks:
        print("FAIL: README.md states no counts to check")
        fails.append("none")
    print(f"doc_counts_test: {len(checks) - len(fails)} passed, {len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
