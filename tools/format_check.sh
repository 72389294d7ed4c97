#!/usr/bin/env bash
# Fails when a C++ file is not clang-format (Google style) clean or a BUILD
# file is not buildifier clean. `--fix` rewrites them instead.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=${1:-}
mapfile -t cc < <(git ls-files '*.cc' '*.h')
mapfile -t bzl < <(git ls-files '*BUILD.bazel' '*.bzl' '*.BUILD' 'WORKSPACE')
status=0
if [ "$fix" = "--fix" ]; then
  clang-format -i --style=file "${cc[@]}"
  command -v buildifier >/dev/null && buildifier "${bzl[@]}"
  exit 0
fi
if ! clang-format --dry-run -Werror --style=file "${cc[@]}"; then
  echo "format: run tools/format_check.sh --fix" >&2
  status=1
fi
if command -v buildifier >/dev/null; then
  if ! buildifier -mode=check "${bzl[@]}"; then
    echo "format: BUILD files need buildifier (tools/format_check.sh --fix)" >&2
    status=1
  fi
else
  echo "format: SKIP buildifier check (not installed)"
fi
exit $status
