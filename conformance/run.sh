#!/usr/bin/env bash
# `bazel run //conformance:run -- ARGS`: runs conformance/runner/run.py from the
# workspace (vectors/ of the checkout), with relative paths taken from where
# bazel was invoked, and the qcow2ref binary this target depends on.
set -euo pipefail
if [[ -z "${QCOW2REF_BIN:-}" && -x tools/qcow2ref/qcow2ref ]]; then
  export QCOW2REF_BIN=$PWD/tools/qcow2ref/qcow2ref  # runfiles copy
fi
if [[ -n "${BUILD_WORKSPACE_DIRECTORY:-}" ]]; then
  root=$BUILD_WORKSPACE_DIRECTORY
else
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fi
cd "${BUILD_WORKING_DIRECTORY:-$PWD}"
py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
exec "$py" "$root/conformance/runner/run.py" --root "$root" "$@"
