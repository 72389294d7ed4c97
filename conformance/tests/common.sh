# Sourced by the conformance sh_tests: the runfiles root, python3, qcow2ref.
set -euo pipefail
ROOT=${TEST_SRCDIR:?run me with bazel test}/${TEST_WORKSPACE:-qcow2ref}
cd "$ROOT"
export QCOW2REF_BIN=$ROOT/tools/qcow2ref/qcow2ref
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3
RUN=("$PY" conformance/runner/run.py --root "$ROOT")
# An ASan build reserves terabytes of address space: no RLIMIT_AS then.
AS=()
if grep -q __asan_init "$QCOW2REF_BIN" 2>/dev/null; then AS=(--as-limit-mib 0); fi
