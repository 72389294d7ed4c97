#!/bin/bash
set -euo pipefail
cd "${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-qcow2ref}" 2>/dev/null || true
exec python3 spec/tools/trace_selftest.py spec/tools/trace.py
