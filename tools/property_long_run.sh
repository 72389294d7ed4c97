#!/usr/bin/env bash
# The long property run: every RapidCheck property with max_success 10000
# (100x the default) and a fresh seed, then a Markdown report.
#   tools/property_long_run.sh [--seed N] [--max-success N] [--report FILE] [TARGET...]
# Prints the seed first and, for every failure, a one-line replay command
# (tools/print_replays.sh). Default report: docs/property-long-run.md.
# Takes long (hours at 10000 on 2 cores); not part of `bazel test //...`.
set -uo pipefail
cd "$(dirname "$0")/.."
seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
max=10000
report=docs/property-long-run.md
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seed) seed=$2; shift 2 ;;
    --max-success) max=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} = 0 ]; then
  targets=(//reference/format:header_property_test //reference/crypto:crypto_property_test
    //reference/writer:writer_model_property_test //reference/writer:crash_property_test
    //reference/writer:qemu_io_differential_test)
fi
echo "property long run: seed=$seed max_success=$max"
echo "replay all: bazel test --test_env=RC_PARAMS=\"seed=$seed max_success=$max\" ${targets[*]}"
log=$(mktemp)
start=$(date +%s)
bazel test --test_env=RC_PARAMS="seed=$seed max_success=$max" --nocache_test_results \
  --test_timeout=36000 --test_output=errors "${targets[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
secs=$(($(date +%s) - start))
bash tools/print_replays.sh "$log"

{
  echo "# Property long run"
  echo
  echo "Written by \`tools/property_long_run.sh\` on $(date -u +%Y-%m-%d) at commit"
  echo "$(git rev-parse --short HEAD 2>/dev/null || echo unknown): seed $seed, max_success $max,"
  echo "$secs s in all ($(nproc) cores). Replay: \`bazel test --test_env=RC_PARAMS=\"seed=$seed"
  echo "max_success=$max\" TARGET\`."
  echo
  echo "| target | result | time |"
  echo "|---|---|---|"
  sed -nE 's#^(//[^ ]+) +(PASSED|FAILED|TIMEOUT)[^0-9]*([0-9.]+s).*#| `\1` | \2 | \3 |#p' "$log"
  reach=bazel-testlogs/reference/writer/writer_model_property_test/test.log
  if [ -f "$reach" ] && grep -q '^reach: ' "$reach"; then
    echo
    echo "Classes the writer model generated (WriterModelProperty.ReachedEveryPromisedClass):"
    echo
    echo "| class | cases or commands |"
    echo "|---|---|"
    sed -nE 's/^reach: (.*[^ ]) +([0-9]+)$/| \1 | \2 |/p' "$reach"
  fi
  if grep -q 'RC_PARAMS="reproduce=' "$log" || [ "$rc" != 0 ]; then
    echo
    echo "Failures (replay commands):"
    echo
    bash tools/print_replays.sh "$log" | sed 's/^/    /'
  fi
} >"$report"
echo "report: $report"
rm -f "$log"
exit "$rc"
