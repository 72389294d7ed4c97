#!/usr/bin/env python3
"""make_edited.py - build the derived (edited) vectors from recipes/edits.json.

For every recipe {id, source, ops, ...}: copy vectors/<source> to
vectors/images/<area>/<id>.qcow2 (area = second token of the id) and apply each op with
qcow2_edit.apply_op. Run after make_valid.sh. Usage: make_edited.py [ID...]
"""
import json
import os
import shutil
import sys

import qcow2_edit

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.dirname(HERE)


def output_path(rid):
    area = rid.split("_")[1]
    return os.path.join("images", area, rid + ".qcow2")


def main(argv):
    with open(os.path.join(VEC, "recipes", "edits.json")) as f:
        recipes = json.load(f)["edits"]
    want = set(argv[1:])
    seen = set()
    for r in recipes:
        rid = r["id"]
        if rid in seen:
            raise SystemExit("duplicate recipe id %s" % rid)
        seen.add(rid)
        if want and rid not in want:
            continue
        src = os.path.join(VEC, r["source"])
        dst = os.path.join(VEC, output_path(rid))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
        for op in r["ops"]:
            qcow2_edit.apply_op(dst, op)
    print("make_edited.py: %d images" % (len(want) if want else len(recipes)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
