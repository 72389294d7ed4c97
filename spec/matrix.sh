#!/bin/bash
# bazel run //spec:matrix [-- OUT.md]
# Writes the clause coverage matrix (default spec/coverage.md) from the workspace
# source tree and prints the trace summary. Exit status is the trace check's.
set -uo pipefail
ws="${BUILD_WORKSPACE_DIRECTORY:-}"
if [[ -z "$ws" ]]; then
  ws="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
fi
cd "$ws"
out="${1:-spec/coverage.md}"
python3 spec/tools/trace.py --quiet --matrix "$out" reference tools conformance vectors
