#!/usr/bin/env bash
# The main job on a bundled example: build qcow2ref, then show `info` and
# `map` of a qcow2 image from vectors/ and check its content against the
# sha256 that qemu-img produced (vectors/qcow2_bk_test.json).
set -euo pipefail
cd "$(dirname "$0")/.."
image=vectors/images/bk/y_bk_chain3.qcow2
bazel build //tools/qcow2ref
q=bazel-bin/tools/qcow2ref/qcow2ref
echo "== qcow2ref info $image"
"$q" info "$image"
echo "== qcow2ref map --json --follow-references $image"
"$q" map --json --follow-references "$image"
expected=$(python3 -c 'import json,sys
for t in json.load(open("vectors/qcow2_bk_test.json"))["tests"]:
    if t["id"] == "y_bk_chain3": print(t["expect"]["guest_sha256"])')
actual=$("$q" read "$image" | sha256sum | cut -d" " -f1)
echo "== guest sha256: $actual (qemu-img: $expected)"
[ "$actual" = "$expected" ]
