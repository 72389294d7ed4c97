#!/usr/bin/env python3
"""The library's layer rule, checked (docs/architecture.md).

Layers, bottom to top: status, io, format, crypto, image, check, writer.
  - reference/<layer>/BUILD.bazel sets default_visibility to
    //reference:above_<layer> and widens no target to //visibility:public;
  - reference/BUILD.bazel's package groups follow the order (each group
    names the next layer up and includes the group above it; the top group
    names the clients);
  - a library target (not testonly) depends only on lower layers, and a
    library source (not *_test.cc, not a test helper) includes headers of
    its own layer or lower ones only.
Usage: layers_test.py [WORKSPACE_ROOT]
"""

import os
import re
import sys
from dataclasses import dataclass
from typing import List

LAYERS = ["status", "io", "format", "crypto", "image", "check", "writer"]


@dataclass
class Failure:
    where: str
    what: str


def rule_blocks(text: str) -> List[str]:
    """Top-level rule calls of a BUILD file, each as its text."""
    blocks, depth, start = [], 0, None
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = text.rfind("\n", 0, i) + 1
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and start is not None:
                blocks.append(text[start:i + 1])
                start = None
    return blocks


def check(root: str) -> List[Failure]:
    fails: List[Failure] = []
    groups = open(os.path.join(root, "reference/BUILD.bazel")).read()
    for i, layer in enumerate(LAYERS):
        block = re.search(r'package_group\(\s*name = "above_%s",(.*?)\n\)' % layer, groups, re.S)
        if not block:
            fails.append(Failure("reference/BUILD.bazel", "no group above_%s" % layer))
            continue
        body = block.group(1)
        if i + 1 < len(LAYERS):
            want_pkg, want_inc = LAYERS[i + 1], "above_" + LAYERS[i + 1]
            if '"//reference/%s"' % want_pkg not in body or '":%s"' % want_inc not in body:
                fails.append(Failure("reference/BUILD.bazel",
                                     "above_%s must name //reference/%s and include :%s"
                                     % (layer, want_pkg, want_inc)))
        elif '":clients"' not in body:
            fails.append(Failure("reference/BUILD.bazel", "above_writer must include :clients"))

        path = os.path.join(root, "reference", layer, "BUILD.bazel")
        text = open(path).read()
        want = 'package(default_visibility = ["//reference:above_%s"])' % layer
        if want not in text:
            fails.append(Failure(path, "must declare " + want))
        if "//visibility:public" in text:
            fails.append(Failure(path, "widens a target to //visibility:public"))
        for b in rule_blocks(text):
            if not b.startswith("cc_library(") or "testonly = True" in b:
                continue
            name = re.search(r'name = "([^"]+)"', b).group(1)
            for dep in re.findall(r'"//reference/([a-z_]+)', b):
                if dep in LAYERS and LAYERS.index(dep) >= i and dep != layer:
                    fails.append(Failure("%s:%s" % (path, name),
                                         "depends on //reference/%s, a layer above or beside it" % dep))

        test_helpers = set()
        for b in rule_blocks(text):
            if "testonly = True" in b:
                test_helpers.update(re.findall(r'"([a-z_0-9]+\.(?:h|cc))"', b))
        d = os.path.join(root, "reference", layer)
        for f in sorted(os.listdir(d)):
            if not f.endswith((".h", ".cc")) or f.endswith("_test.cc") or f in test_helpers:
                continue
            src = open(os.path.join(d, f), encoding="utf-8", errors="replace").read()
            for inc in re.findall(r'#include "reference/([a-z_]+)/', src):
                if inc in LAYERS and LAYERS.index(inc) > i:
                    fails.append(Failure("reference/%s/%s" % (layer, f),
                                         "includes reference/%s/, a layer above it" % inc))
    return fails


def main(argv: List[str]) -> int:
    root = argv[1] if len(argv) > 1 else "."
    fails = check(root)
    for f in fails:
        print("FAIL: %s: %s" % (f.where, f.what))
    print("layers_test: %d layers, %d problems" % (len(LAYERS), len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
