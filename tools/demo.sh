#!/usr/bin/env bash
# The main job on bundled examples: build qcow2ref, show `info` and `map` of
# a backing chain from vectors/, check its content against the sha256 that
# qemu-img produced, then run the conformance runner with the reference
# adapter over every vector and print the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
image=vectors/images/bk/y_bk_chain3.qcow2
bazel build //tools/qcow2ref //conformance:run
q=bazel-bin/tools/qcow2ref/qcow2ref
echo "== qcow2ref info $image"
"$q" info "$image"
echo "== qcow2ref map --json --follow-references $image"
"$q" map --json --follow-references "$image"
expected=$(python3 -c 'import json
for t in json.load(open("vectors/qcow2_bk_test.json"))["tests"]:
    if t["id"] == "y_bk_chain3": print(t["expect"]["guest_sha256"])')
actual=$("$q" read "$image" | sha256sum | cut -d" " -f1)
echo "== guest sha256: $actual (qemu-img: $expected)"
[ "$actual" = "$expected" ]
echo "== conformance runner: reference adapter over every vector"
QCOW2REF_BIN="$PWD/$q" python3 conformance/runner/run.py \
  --adapter conformance/adapters/qcow2ref -j 2 --strict-errors -q \
  --report "${TMPDIR:-/tmp}/qcow2ref-demo-report"
