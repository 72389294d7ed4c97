#!/usr/bin/env bash
# A peer implementation (qemu-img, libqcow, 7-Zip) over the vectors, compared
# with its committed expectations (conformance/expectations/<adapter>.txt):
# a new failure, or a listed failure that now passes, fails the test. Vectors
# listed as TIMEOUT are not run (they would only burn the time limit).
# Usage: peer_test.sh ADAPTER TOOL [RUNNER ARGS...]
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-qcow2ref}/conformance/tests/common.sh"
adapter=$1 tool=$2; shift 2
if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x "$tool" ]]; then
  echo "FAIL: $tool not installed (bash tools/setup.sh installs every peer)"; exit 1
fi
if [[ "$adapter" == libqcow ]] && ! /usr/bin/python3 -c 'import pyqcow' 2>/dev/null; then
  echo "FAIL: pyqcow (python3-libqcow) not installed (bash tools/setup.sh installs it)"; exit 1
fi
"${RUN[@]}" --adapter "conformance/adapters/$adapter" -j 2 -q \
  --expectations "conformance/expectations/$adapter.txt" --skip-expected TIMEOUT "$@" \
  --report "${TEST_UNDECLARED_OUTPUTS_DIR:-$TEST_TMPDIR}/$adapter"
