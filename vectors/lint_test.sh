#!/usr/bin/env bash
# //vectors:lint_test: schema, ids, prefixes, file hashes and clause ids of
# every manifest (vectors/tools/lint.py).
set -euo pipefail
cd "${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-qcow2ref}"
exec python3 vectors/tools/lint.py --vectors vectors --spec spec
