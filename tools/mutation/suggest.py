#!/usr/bin/env python3
"""Proposes mutants for reference/ by pattern (a starting point for the
catalogue, which is reviewed by hand and committed as explicit entries).

  python3 tools/mutation/suggest.py [--path reference/format/header.cc]

prints Python `M(...)` entries to stdout. Rules (one mutant per site):
  * an `if (...)` whose body returns an error        -> drop a check
  * `<`, `<=`, `>`, `>=` in a condition               -> off-by-one / flip
  * `==` / `!=` in a condition                        -> flip a comparison
  * a Flush() barrier statement                       -> remove a barrier
  * a SetRefcount(...) statement                      -> drop a refcount update
The anchor is the site's line, extended upwards until it is unique.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from typing import Iterator, List

from model import Category  # next to this file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ERROR_RETURN = re.compile(
    r"return (Rejected|Unsupported|IoError|UsageError|Bad|NotFound|Fail|"
    r"RefuseUnlessRepairable|OpenFailure)\(")
CMP = re.compile(r"(?<= )(<=|>=|<|>|==|!=)(?= )")
FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}


@dataclasses.dataclass
class Suggestion:
    path: str
    line: int
    category: Category
    anchor: str
    replacement: str


def library_files() -> List[str]:
    out = []
    for pkg in ("status", "io", "format", "crypto", "image", "check", "writer"):
        d = os.path.join(ROOT, "reference", pkg)
        for f in sorted(os.listdir(d)):
            if not f.endswith((".cc", ".h")) or "_test" in f or f in (
                    "test_bytes.h", "writer_test_util.h"):
                continue
            out.append(f"reference/{pkg}/{f}")
    return out


def unique_anchor(lines: List[str], i: int, text: str) -> int:
    """How many lines above line i the anchor needs to be unique (-1: never)."""
    for up in range(0, 6):
        if i - up < 0:
            return -1
        anchor = "\n".join(lines[i - up:i + 1])
        if text.count(anchor) == 1:
            return up
    return -1


def balanced(s: str) -> bool:
    return s.count("(") == s.count(")")


def suggest(path: str) -> Iterator[Suggestion]:
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    lines = text.split("\n")

    def make(i: int, cat: Category, new_line: str) -> Iterator[Suggestion]:
        up = unique_anchor(lines, i, text)
        if up < 0:
            return
        ctx = lines[i - up:i]
        anchor = "\n".join(ctx + [lines[i]])
        repl = "\n".join(ctx + [new_line])
        yield Suggestion(path, i + 1, cat, anchor, repl)

    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("//") or s.startswith("*") or '"' in s and "if (" not in s:
            continue
        body = "\n".join(lines[i + 1:i + 5])
        m = re.match(r"^(\s*)(} else )?if \((.*)\) \{$", line) or re.match(
            r"^(\s*)(} else )?if \((.*)\)$", line)
        if m and balanced(m.group(3)) and ERROR_RETURN.search(body):
            cond = m.group(3)
            yield from make(i, Category.DROP_CHECK,
                            line.replace(f"if ({cond})", "if (false)", 1))
        if re.match(r"^\s*(} else )?(if|while) \(", line) or re.match(
                r"^\s*return .*[<>=]", line):
            seen = set()
            for cm in CMP.finditer(line):
                op = cm.group(1)
                if op in seen:
                    continue
                seen.add(op)
                new = line[:cm.start()] + FLIP[op] + line[cm.end():]
                rhs = line[cm.end():]
                cat = (Category.OFF_BY_ONE if op in ("<", "<=", ">", ">=") and
                       re.search(r"\bk[A-Z]\w*|size|length|limit|max|count",
                                 line, re.I) else Category.FLIP_COMPARISON)
                if op in ("==", "!="):
                    cat = Category.FLIP_COMPARISON
                _ = rhs
                yield from make(i, cat, new)
        if re.search(r"->Flush\(\)\);$|return store_?->Flush\(\);$", s):
            indent = line[:len(line) - len(line.lstrip())]
            new = indent + ("return OkStatus();" if s.startswith("return")
                            else "/* mutant: barrier removed */")
            yield from make(i, Category.REMOVE_BARRIER, new)
        if re.search(r"SetRefcount\(.*\);$", s) and balanced(s) and \
                not s.startswith(("return", "qcow2ref::SetRefcount")):
            indent = line[:len(line) - len(line.lstrip())]
            yield from make(i, Category.DROP_REFCOUNT,
                            indent + "/* mutant: refcount update dropped */")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", action="append")
    args = ap.parse_args()
    for path in args.path or library_files():
        for sg in suggest(path):
            print(f"# {sg.path}:{sg.line}")
            print(f"M({sg.path!r}, {sg.category.name}, {sg.anchor!r}, "
                  f"{sg.replacement!r}),")
    return 0


if __name__ == "__main__":
    sys.exit(main())
