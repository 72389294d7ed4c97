#!/usr/bin/env bash
# A peer implementation as a writer: its adapter's `write` over the op scripts
# of vectors/ops/ (not the accumulated vector, to stay fast), judged by the
# reference checker and reader. Usage: peer_writer_test.sh ADAPTER TOOL
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-qcow2ref}/conformance/tests/common.sh"
adapter=$1 tool=$2; shift 2
if ! command -v "$tool" >/dev/null 2>&1; then
  echo "FAIL: $tool not installed (bash tools/setup.sh installs every peer)"; exit 1
fi
"${RUN[@]}" --adapter "conformance/adapters/$adapter" --ops-only -j 4 -q "${AS[@]}" \
  --ops-file vectors/ops/qcow2_ops_test.json "$@" \
  --report "${TEST_UNDECLARED_OUTPUTS_DIR:-$TEST_TMPDIR}/$adapter-writer"
