#!/usr/bin/env bash
# Runs every fuzzer for SECONDS_PER_TARGET seconds on a copy of its seed
# corpus, with its dictionary and options; fails when one finds a crash, a
# leak, a timeout or an out-of-memory. Builds the fuzzers first
# (bazel build --config=fuzz //fuzz:all_fuzzers; needs clang-14).
#
#   fuzz/run_short.sh SECONDS_PER_TARGET [TARGET...]
#
# Environment: BAZEL_STARTUP_OPTS (startup options for bazel), KEEP_WORK=1
# (keep the scratch directory). On failure the reproducer is copied to
# ${FUZZ_ARTIFACTS:-/tmp/qcow2ref-fuzz-artifacts}/<target>/; add it to
# fuzz/regressions/<target>/ (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: fuzz/run_short.sh SECONDS_PER_TARGET [TARGET...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(header_fuzzer decompress_fuzzer luks_fuzzer image_fuzzer
    structured_image_fuzzer aes_image_fuzzer check_fuzzer ops_fuzzer
    libqcow_diff_fuzzer)
fi
read -r -a startup <<<"${BAZEL_STARTUP_OPTS:-}"
bazel=(bazel "${startup[@]}")
# A failed build must fail the run: fuzzing stale binaries proves nothing.
build_log=$(mktemp)
if ! "${bazel[@]}" build --config=fuzz --symlink_prefix=/ //fuzz:all_fuzzers >"$build_log" 2>&1; then
  grep -v "Cannot export local symbol" "$build_log" >&2 || true
  rm -f "$build_log"
  echo "run_short: the fuzzers did not build" >&2
  exit 1
fi
grep -v "Cannot export local symbol" "$build_log" | tail -3 || true
rm -f "$build_log"
bin=$("${bazel[@]}" info --config=fuzz bazel-bin 2>/dev/null)/fuzz
work=$(mktemp -d)
if [ "${KEEP_WORK:-0}" = 1 ]; then
  echo "run_short: logs and corpora in $work"
else
  trap 'rm -rf "$work"' EXIT
fi
artifacts=${FUZZ_ARTIFACTS:-/tmp/qcow2ref-fuzz-artifacts}

corpus_of() {  # the seed corpora (directories under fuzz/corpus/) of a target
  case "$1" in
    structured_image_fuzzer | check_fuzzer) echo image_fuzzer ;;
    libqcow_diff_fuzzer) echo image_fuzzer libqcow_diff_fuzzer ;;
    *) echo "$1" ;;
  esac
}
dict_of() {
  case "$1" in
    header_fuzzer | image_fuzzer | structured_image_fuzzer | aes_image_fuzzer | check_fuzzer)
      echo fuzz/dicts/qcow2.dict ;;
    libqcow_diff_fuzzer) echo fuzz/dicts/libqcow_diff.dict ;;
    luks_fuzzer) echo fuzz/dicts/luks1.dict ;;
  esac
}

# A differential target stops on a new disagreement or on a crash inside
# the peer: findings about the peer, reported here but not failing the run
# (conformance/FINDINGS.md is where they go). A crash in our code fails it.
peer_finding() {  # peer_finding LOG
  grep -q "diff: a new disagreement" "$1" && return 0
  awk '/ERROR: AddressSanitizer|deadly signal|ERROR: libFuzzer: timeout/ {f = 1}
       f && /^ *#[0-9]+ / {print; if (++n >= 3) exit}' "$1" | grep -q 'libqcow\.so'
}

status=0
for t in "${targets[@]}"; do
  [ -x "$bin/$t" ] || { echo "run_short: no fuzzer $t" >&2; exit 2; }
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  for c in $(corpus_of "$t"); do cp -r "fuzz/corpus/$c/." "$work/$t/corpus/"; done
  args=("-max_total_time=$secs" -print_final_stats=1
    "-artifact_prefix=$work/$t/artifacts/")
  # [libfuzzer] key = value lines of the options file become -key=value.
  if [ -f "fuzz/options/$t.options" ]; then
    while IFS= read -r line; do
      line=${line//[[:space:]]/}
      [[ $line == *=* ]] && args+=("-${line}")
    done <"fuzz/options/$t.options"
  fi
  d=$(dict_of "$t")
  [ -n "$d" ] && args+=("-dict=$d")
  echo "== $t (${secs}s)"
  if "$bin/$t" "${args[@]}" "$work/$t/corpus" >"$work/$t/log" 2>&1; then
    grep -E "^stat::(number_of_executed_units|average_exec_per_sec)|cov: .* ft: " \
      "$work/$t/log" | grep -E "^stat|DONE" | tr '\n' ' '
    echo
  elif [[ $t == *_diff_fuzzer ]] && peer_finding "$work/$t/log"; then
    mkdir -p "$artifacts/$t"
    cp "$work/$t/artifacts/"* "$artifacts/$t/" 2>/dev/null || true
    echo "run_short: $t stopped on a finding about the peer (not a failure of"
    echo "  qcow2ref); reproducer in $artifacts/$t/:"
    grep -E "^diff: |SUMMARY" "$work/$t/log" | tail -5
  else
    status=1
    echo "run_short: $t FAILED; log tail:" >&2
    tail -40 "$work/$t/log" >&2
    mkdir -p "$artifacts/$t"
    cp "$work/$t/artifacts/"* "$artifacts/$t/" 2>/dev/null || true
    echo "run_short: reproducers in $artifacts/$t/" >&2
  fi
done
exit $status
