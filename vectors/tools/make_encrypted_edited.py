#!/usr/bin/env python3
"""make_encrypted_edited.py - build the derived encrypted vectors from
recipes/encrypted_edits.json.

For every recipe {id, source, ops, ...}: copy vectors/<source> to
vectors/images/<area>/<id>.qcow2 (area = second token of the id: enc or luks) and apply each
op in order: the qcow2_edit.py vocabulary (set_field, ext_replace, ext_remove, ...) plus the
LUKS header ops of luks_edit.py (luks_set_phdr, luks_set_slot, luks_copy_slot).
Run after make_encrypted.sh. Usage: make_encrypted_edited.py [ID...]
"""
import json
import os
import shutil
import sys

import luks_edit

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.dirname(HERE)


def output_path(rid):
    return os.path.join("images", rid.split("_")[1], rid + ".qcow2")


def main(argv):
    with open(os.path.join(VEC, "recipes", "encrypted_edits.json")) as f:
        recipes = json.load(f)["edits"]
    want = set(argv[1:])
    seen = set()
    n = 0
    for r in recipes:
        rid = r["id"]
        if rid in seen:
            raise SystemExit("duplicate recipe id %s" % rid)
        seen.add(rid)
        if want and rid not in want:
            continue
        dst = os.path.join(VEC, output_path(rid))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(VEC, r["source"]), dst)
        for op in r["ops"]:
            luks_edit.apply_op(dst, op)
        n += 1
    print("make_encrypted_edited.py: %d images" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
