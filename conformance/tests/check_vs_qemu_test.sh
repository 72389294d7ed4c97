#!/usr/bin/env bash
# Runs conformance/check_vs_qemu.py with the built qcow2ref.
set -euo pipefail
cd "${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-qcow2ref}"
exec python3 conformance/check_vs_qemu.py tools/qcow2ref/qcow2ref
