#!/usr/bin/env bash
# Unit tests of the runner: scoring, expectations, map comparison, and the
# process isolation (wrong bytes, crash, timeout, modified input, stdout cap).
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-qcow2ref}/conformance/tests/common.sh"
exec "$PY" conformance/runner/runner_test.py -v
