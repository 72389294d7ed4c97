#!/bin/bash
# //spec:trace_test: runs the trace check over the runfiles (registry, the sources
# of //reference/*, //tools/qcow2ref and //conformance, and //vectors:manifests).
# The pinned upstream texts are found next to the workspace root
# (../shared/reference) or through $QCOW2REF_SHARED_REFERENCE; without them the
# quote drift check is skipped with a message.
set -euo pipefail
cd "${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-qcow2ref}" 2>/dev/null || true
dirs=()
for d in reference tools conformance vectors; do
  [[ -d "$d" ]] && dirs+=("$d")
done
exec python3 spec/tools/trace.py "${dirs[@]}"
