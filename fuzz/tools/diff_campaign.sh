#!/usr/bin/env bash
# A differential campaign: libqcow_diff_fuzzer for SECONDS with libFuzzer's
# fork mode, which keeps going after a finding (a new disagreement aborts
# one child; libFuzzer saves its input and starts another). Then every saved
# input is replayed once to print its class, and the figures are printed.
#
#   fuzz/tools/diff_campaign.sh SECONDS [OUT_DIR]
#
# Builds the fuzzer first (bazel build --config=fuzz; clang-14, libqcow-dev).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:?usage: fuzz/tools/diff_campaign.sh SECONDS [OUT_DIR]}
out=${2:-$(mktemp -d /tmp/diff-campaign.XXXXXX)}
mkdir -p "$out/corpus" "$out/findings"
bazel build --config=fuzz --symlink_prefix=/ //fuzz:libqcow_diff_fuzzer >/dev/null 2>&1 || {
  echo "diff_campaign: the fuzzer did not build" >&2
  exit 1
}
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)/fuzz/libqcow_diff_fuzzer
cp -r fuzz/corpus/image_fuzzer/. fuzz/corpus/libqcow_diff_fuzzer/. "$out/corpus/"
echo "diff_campaign: ${secs}s, corpus and findings in $out"
"$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -max_total_time="$secs" -dict=fuzz/dicts/libqcow_diff.dict -max_len=131072 -timeout=25 \
  -rss_limit_mb=2560 -artifact_prefix="$out/findings/" -print_final_stats=1 \
  "$out/corpus" >"$out/log" 2>&1 || true
grep -E "^#[0-9]+.*(DONE|INITED)|stat::number_of_executed_units|stat::average_exec_per_sec" \
  "$out/log" | tail -3 || true
execs=$(grep -Eo '^#[0-9]+' "$out/log" | tail -1 | tr -d '#')
echo "diff_campaign: ${execs:-0} executions in ${secs}s"
echo "diff_campaign: findings by class (one replay of each saved input):"
for f in "$out"/findings/*; do
  [ -f "$f" ] || continue
  # (The fuzzer exits non-zero on a finding: `|| true` keeps set -e quiet.)
  line=$({ "$bin" "$f" 2>&1 || true; } | grep -E "^diff: [a-z_]+ .*: " | head -1 |
    cut -d: -f2 | sed 's/ (known)//' || true)
  if [ -z "$line" ]; then
    line=" crash or timeout: $({ "$bin" "$f" 2>&1 || true; } | grep -Eo 'SUMMARY: [^(]*' | head -1 || true)"
  fi
  echo "$line"
done | sort | uniq -c | sort -rn
