#!/usr/bin/env bash
# Prints a one-line replay command for every failed RapidCheck property in a
# `bazel test` log: `tools/print_replays.sh LOG [BAZEL FLAGS...]`.
# Bazel names each failed target and its test.log ("FAIL: //t (see PATH)");
# RapidCheck ends a failure with RC_PARAMS="reproduce=...", which replays
# exactly that counterexample whatever the seed.
set -uo pipefail
log=$1
shift
flags="$*"
found=0
while read -r target path; do
  [ -f "$path" ] || continue
  while read -r params; do
    echo "replay: bazel test ${flags:+$flags }$target --test_env=$params --nocache_test_results"
    found=1
  done < <(grep -Eo 'RC_PARAMS="reproduce=[^"]*"' "$path" | sort -u)
done < <(sed -nE 's/^FAIL: (\/\/[^ ]+) \(see ([^)]+)\).*/\1 \2/p' "$log")
[ $found = 1 ] || true
