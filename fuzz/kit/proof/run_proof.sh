#!/usr/bin/env bash
# Proof of the qcow2 fuzzing kit on libqcow (issue #17 item 3).
#
#   fuzz/kit/proof/run_proof.sh [WORK_DIR] [SECONDS] [STEP...]
#
# WORK_DIR (default /work/kitproof) is scratch space outside the repository.
# Steps, all by default, in this order:
#   fetch  libqcow's Debian source package (apt-get source; adds a deb-src
#          entry for the configured Debian archive if there is none)
#   build  libqcow with clang-14 -fsanitize=fuzzer-no-link,address, static
#   kit    fuzz/kit/make_kit.sh WORK_DIR/kit
#   link   two fuzzers from libqcow's own ossfuzz/file_fuzzer.cc:
#          file_fuzzer_stock (libFuzzer's mutator) and file_fuzzer_kit
#          (the same object linked with the kit's custom mutator)
#   run    each for SECONDS (default 600), one process, -seed=1, the kit's
#          seed zip as corpus and its dictionary, -print_final_stats=1
#   report cov/ft/execs of both runs into WORK_DIR/results.txt
# Crashes land in WORK_DIR/run-<variant>/crash-*; they are findings about
# libqcow, not failures of the kit.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=${1:-/work/kitproof}
SECS=${2:-600}
shift $(($# < 2 ? $# : 2))
STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(fetch build kit link run report)
export CC=${CC:-clang-14} CXX=${CXX:-clang++-14}
SAN="-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer -g -O1"
SRC=$WORK/src
mkdir -p "$WORK"

fetch() {
  [ -f "$SRC/configure" ] && return 0
  if ! grep -rqs 'deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # The same archive as the configured binary entries, sources only.
    local uri suite
    uri=$(grep -rhs '^URIs:' /etc/apt/sources.list.d/*.sources | head -1 |
      awk '{print $2}')
    suite=$(grep -rhs '^Suites:' /etc/apt/sources.list.d/*.sources | head -1 |
      awk '{print $2}')
    cat >/etc/apt/sources.list.d/qcow2kit-src.sources <<SRCS
Types: deb-src
URIs: ${uri:-http://deb.debian.org/debian}
Suites: ${suite:-bookworm}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
    apt-get update
  fi
  (cd "$WORK" && apt-get source --download-only libqcow &&
    dpkg-source -x libqcow_*.dsc src)
}

build() {
  [ -f "$SRC/libqcow/.libs/libqcow.a" ] && return 0
  (cd "$SRC" &&
    CFLAGS="$SAN" CXXFLAGS="$SAN" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
      ./configure --enable-static --disable-shared --disable-nls \
      --disable-python >"$WORK/configure.log" 2>&1 &&
    make -j2 >"$WORK/make.log" 2>&1)
}

kit() { bash "$REPO/fuzz/kit/make_kit.sh" "$WORK/kit"; }

link() {
  # libqcow's ossfuzz Makefile builds the stock fuzzer; the kit variant is
  # the same objects plus the kit's two objects.
  make -C "$SRC/ossfuzz" >"$WORK/ossfuzz.log" 2>&1
  cp "$SRC/ossfuzz/file_fuzzer" "$WORK/file_fuzzer_stock"
  make -C "$WORK/kit" CC="$CC" CXX="$CXX" CFLAGS="$SAN" CXXFLAGS="$SAN" \
    >"$WORK/kit.log" 2>&1
  local libs
  libs=$(find "$SRC" -path '*/.libs/*.a' ! -path '*/ossfuzz/*' | sort)
  # shellcheck disable=SC2086
  $CXX -fsanitize=fuzzer,address -o "$WORK/file_fuzzer_kit" \
    "$SRC/ossfuzz/file_fuzzer.o" \
    "$WORK/kit/qcow2_mutate.o" "$WORK/kit/qcow2_custom_mutator.o" \
    "$SRC/libqcow/.libs/libqcow.a" $libs \
    "$SRC/libqcow/.libs/libqcow.a" -lz -lpthread
}

run_one() {
  local v=$1
  rm -rf "$WORK/run-$v" && mkdir -p "$WORK/run-$v/corpus"
  (cd "$WORK/run-$v/corpus" && unzip -q "$WORK/kit/qcow2_seed_corpus.zip")
  (cd "$WORK/run-$v" &&
    "$WORK/file_fuzzer_$v" -seed=1 -max_total_time="$SECS" \
      -print_final_stats=1 -dict="$WORK/kit/qcow2.dict" -max_len=131072 \
      -rss_limit_mb=2048 -timeout=25 corpus >fuzz.log 2>&1 || true)
}

# PARALLEL=1 runs the two fuzzers at the same time, one core each.
run() {
  if [ "${PARALLEL:-0}" = 1 ]; then
    run_one stock &
    run_one kit &
    wait
  else
    run_one stock
    run_one kit
  fi
}

report() {
  local v out=$WORK/results.txt
  : >"$out"
  for v in stock kit; do
    local log=$WORK/run-$v/fuzz.log
    {
      echo "== $v (${SECS}s, -seed=1)"
      grep -E '^#[0-9]+ +(INITED|DONE|pulse|REDUCE|NEW)' "$log" | tail -1
      grep -E 'stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log"
      ls "$WORK/run-$v" | grep -E '^(crash|leak|timeout|oom)-' || echo "no crash"
    } >>"$out"
  done
  cat "$out"
}

for s in "${STEPS[@]}"; do
  echo "== $s"
  "$s"
done
