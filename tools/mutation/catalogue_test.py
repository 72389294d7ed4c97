#!/usr/bin/env python3
"""The mutation catalogue has not rotted, and the docs state its figure.

Checked: every mutant's anchor still occurs exactly once in its file (so
an edit to reference/ that moves a mutated site fails here, not in the
next mutation run); ids are unique; there are at least 150 mutants;
applying each mutant changes the file; and the figure in docs/mutation.md
is the one computed from tools/mutation/results.json (which
docs/mutation-report.md is generated from).
"""
from __future__ import annotations

import os
import re
import unittest

import mutate  # next to this file (//tools/mutation:mutation in Bazel)
from catalogue import EQUIVALENT, MUTANTS


def repo_root() -> str:
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        root = os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "qcow2ref"))
        if os.path.isdir(os.path.join(root, "reference")):
            return root
    return mutate.ROOT


class CatalogueTest(unittest.TestCase):
    def test_every_anchor_matches_exactly_once(self) -> None:
        self.assertEqual(mutate.check_catalogue(repo_root(), MUTANTS), [])

    def test_equivalent_ids_exist(self) -> None:
        ids = {m.id for m in MUTANTS}
        self.assertEqual(sorted(set(EQUIVALENT) - ids), [])

    def test_size(self) -> None:
        self.assertGreaterEqual(len(MUTANTS), 150)

    def test_application_changes_the_file(self) -> None:
        root = repo_root()
        for m in MUTANTS:
            text = open(os.path.join(root, m.path), encoding="utf-8").read()
            self.assertNotEqual(m.apply(text), text, m.id)

    def test_a_wrong_anchor_is_reported(self) -> None:
        bad = MUTANTS[0].__class__(
            id="x", path=MUTANTS[0].path, category=MUTANTS[0].category,
            anchor="no such text in any file \x01", replacement="y",
            targets=("//x:y",))
        self.assertEqual(mutate.check_catalogue(repo_root(), [bad]),
                         [f"x: anchor occurs 0 times in {bad.path}"])

    def test_docs_state_the_reported_figure(self) -> None:
        root = repo_root()
        results_path = os.path.join(root, "tools/mutation/results.json")
        doc = open(os.path.join(root, "docs/mutation.md"), encoding="utf-8").read()
        report = open(os.path.join(root, "docs/mutation-report.md"),
                      encoding="utf-8").read()
        mutate.RESULTS = results_path
        fig = mutate.figure(mutate.load_results())
        m = re.search(re.escape(mutate.FIGURE_BEGIN) + r"\n(.*)\n" +
                      re.escape(mutate.FIGURE_END), doc)
        self.assertIsNotNone(m, "docs/mutation.md has no figure block")
        assert m is not None
        self.assertEqual(m.group(1), fig.sentence())
        self.assertIn(f"**{fig.sentence()}**", report)
        self.assertEqual(fig.total, len(MUTANTS))

    def test_every_survivor_is_explained(self) -> None:
        root = repo_root()
        mutate.RESULTS = os.path.join(root, "tools/mutation/results.json")
        doc = open(os.path.join(root, "docs/mutation.md"), encoding="utf-8").read()
        explained = doc.split("## Survivors", 1)[-1]
        missing = [r.id for r in mutate.load_results().values()
                   if r.outcome == mutate.Outcome.SURVIVED
                   and f"`{r.id}`" not in explained]
        self.assertEqual(missing, [], "survivors not explained in "
                         "docs/mutation.md (## Survivors)")


if __name__ == "__main__":
    unittest.main()
