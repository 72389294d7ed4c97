#!/usr/bin/env bash
# A peer built from source (conformance/peers/<name>/build.sh) over the vectors,
# compared with its committed expectations (conformance/expectations/<name>.txt).
# These peers are not Debian packages, so CI usually has not built them: the
# test then prints `SKIP: <reason>` and passes.
# Usage: peer_test.sh ADAPTER BINARY [RUNNER ARGS...]
# BINARY is relative to $QCOW2REF_PEERS (default /usr/local/lib/qcow2ref-peers).
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-qcow2ref}/conformance/tests/common.sh"
adapter=$1 bin=${QCOW2REF_PEERS:-/usr/local/lib/qcow2ref-peers}/$2; shift 2
if [[ ! -x "$bin" ]]; then
  echo "SKIP: $adapter is not built: no $bin (see conformance/peers/$adapter/README.md)"
  exit 0
fi
"${RUN[@]}" --adapter "conformance/adapters/$adapter" -j 2 -q \
  --expectations "conformance/expectations/$adapter.txt" --skip-expected TIMEOUT "$@" \
  --report "${TEST_UNDECLARED_OUTPUTS_DIR:-$TEST_TMPDIR}/$adapter"
