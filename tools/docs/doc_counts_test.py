#!/usr/bin/env python3
"""The counts README.md states are the counts the repository holds.

Checked: "(N clauses;" against the entries of spec/clauses/*.json, and every
"N vectors" / "N test images" against the tests of vectors/*_test.json.
"""
import glob
import json
import os
import re
import sys


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
    checks = [(int(m), clauses, "clauses")
              for m in re.findall(r"\((\d+) clauses;", readme)]
    checks += [(int(m), vectors, "vectors")
               for m in re.findall(r"(\d+) (?:vectors|test images)\b", readme)]
    fails = [f"README.md says {said} {what}, the repository has {have}"
             for said, have, what in checks if said != have]
    for f in fails:
        print("FAIL:", f)
    if not checks:
        print("FAIL: README.md states no counts to check")
        fails.append("none")
    print(f"doc_counts_test: {len(checks) - len(fails)} passed, {len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
