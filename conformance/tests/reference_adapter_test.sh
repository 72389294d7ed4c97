#!/usr/bin/env bash
# The qcow2ref adapter over every vector: every vector it does not skip must
# PASS, and every rejection must name the vector's primary clause.
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-qcow2ref}/conformance/tests/common.sh"
"${RUN[@]}" --adapter conformance/adapters/qcow2ref -j 2 --strict-errors -q "${AS[@]}" \
  --report "${TEST_UNDECLARED_OUTPUTS_DIR:-$TEST_TMPDIR}/qcow2ref"
