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
#   link   file_stock/file_kit from libqcow's own ossfuzz/file_fuzzer.cc and
#          read_stock/read_kit from proof/libqcow_read_fuzzer.c: *_stock
#          with libFuzzer's mutator, *_kit the same objects plus the kit
#   run    each for SECONDS (default 600), one process, -seed=1, the kit's
#          seed zip as corpus and its dictionary, -print_final_stats=1
#          (VARIANTS=... picks some; PARALLEL=1 runs each pair side by side)
#   report cov/ft/execs of every run into WORK_DIR/results.txt
#   triage replays every crash (at most 300 per run) with the stock binary
#          and counts them by signature (sanitizer error + first libqcow
#          frame); one reproducer per signature in WORK_DIR/findings/
# Crashes land in WORK_DIR/run-<variant>/crash-*; they are findings about
# libqcow, not failures of the kit.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=${1:-/work/kitproof}
SECS=${2:-600}
shift $(($# < 2 ? $# : 2))
STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(fetch build kit link run report triage)
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

LIBS_LINK=()
libqcow_libs() {
  # Everything libqcow was built from (its bundled libcerror, libbfio, ...),
  # libqcow.a twice for the link order.
  mapfile -t LIBS_LINK < <(find "$SRC" -path '*/.libs/*.a' ! -path '*/ossfuzz/*' |
    sort)
  # System libraries as libtool recorded them (zlib, libcrypto, ...).
  local deps
  deps=$(sed -n "s/^dependency_libs='\(.*\)'/\1/p" "$SRC/libqcow/libqcow.la")
  # shellcheck disable=SC2206
  LIBS_LINK=("$SRC/libqcow/.libs/libqcow.a" "${LIBS_LINK[@]}"
    "$SRC/libqcow/.libs/libqcow.a" $deps -lpthread)
}

link() {
  # file: libqcow's own ossfuzz/file_fuzzer.cc (open + close), built by its
  # Makefile. read: proof/libqcow_read_fuzzer.c (open + bounded reads of the
  # media). Each as *_stock (libFuzzer's mutator) and *_kit (the same
  # objects plus the kit's two objects).
  make -C "$SRC/ossfuzz" >"$WORK/ossfuzz.log" 2>&1
  make -C "$WORK/kit" CC="$CC" CXX="$CXX" CFLAGS="$SAN" CXXFLAGS="$SAN" \
    >"$WORK/kit.log" 2>&1
  $CC $SAN -I"$SRC/include" -c "$REPO/fuzz/kit/proof/libqcow_read_fuzzer.c" \
    -o "$WORK/libqcow_read_fuzzer.o"
  libqcow_libs
  local kitobjs=("$WORK/kit/qcow2_mutate.o" "$WORK/kit/qcow2_custom_mutator.o")
  local t obj
  for t in file read; do
    if [ $t = file ]; then
      obj=$SRC/ossfuzz/file_fuzzer.o
    else
      obj=$WORK/libqcow_read_fuzzer.o
    fi
    $CXX -fsanitize=fuzzer,address -o "$WORK/${t}_stock" "$obj" \
      "${LIBS_LINK[@]}"
    $CXX -fsanitize=fuzzer,address -o "$WORK/${t}_kit" "$obj" \
      "${kitobjs[@]}" "${LIBS_LINK[@]}"
  done
}

# Seeds that already crash libqcow would stop a run at start-up: they are
# findings by themselves (WORK/seed-crashes-<target>/), and the runs of that
# target start from the rest, the same for both variants.
screen() {
  local t=$1 f
  local keep=$WORK/seeds-$t bad=$WORK/seed-crashes-$t
  rm -rf "$keep" "$bad" && mkdir -p "$keep" "$bad"
  (cd "$keep" && unzip -q "$WORK/kit/qcow2_seed_corpus.zip")
  for f in "$keep"/*; do
    if ! "$WORK/${t}_stock" "$f" >"$bad/$(basename "$f").log" 2>&1; then
      mv "$f" "$bad/"
    else
      rm -f "$bad/$(basename "$f").log"
    fi
  done
  echo "$t: $(ls "$keep" | wc -l) seeds kept, $(ls "$bad" | grep -vc '\.log$') crash libqcow"
}

# Targets in KEEP_GOING (default: read) run as -fork=1 -ignore_crashes=1:
# still one fuzzing process at a time, but a libqcow crash (the read target
# finds the known partial-last-cluster over-read within seconds) is saved
# and the run goes on, so both variants get the whole time budget.
KEEP_GOING=${KEEP_GOING:-read}
run_one() {
  local v=$1
  local extra=()
  case " $KEEP_GOING " in
  *" ${v%_*} "*)
    extra=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    ;;
  esac
  rm -rf "$WORK/run-$v" && mkdir -p "$WORK/run-$v"
  cp -r "$WORK/seeds-${v%_*}" "$WORK/run-$v/corpus"
  (cd "$WORK/run-$v" &&
    "$WORK/$v" -seed=1 -max_total_time="$SECS" \
      -print_final_stats=1 -dict="$WORK/kit/qcow2.dict" -max_len=131072 \
      -rss_limit_mb=2048 -timeout=25 "${extra[@]}" corpus >fuzz.log 2>&1 ||
      true)
}

# VARIANTS (default: file_stock file_kit read_stock read_kit) run in pairs;
# PARALLEL=1 runs the two of a pair at the same time, one core each.
VARIANTS=${VARIANTS:-file_stock file_kit read_stock read_kit}
run() {
  local pair=()
  local v
  screen file
  screen read
  for v in $VARIANTS; do
    pair+=("$v")
    [ ${#pair[@]} -lt 2 ] && continue
    if [ "${PARALLEL:-0}" = 1 ]; then
      run_one "${pair[0]}" &
      run_one "${pair[1]}" &
      wait
    else
      run_one "${pair[0]}"
      run_one "${pair[1]}"
    fi
    pair=()
  done
  [ ${#pair[@]} -eq 1 ] && run_one "${pair[0]}"
  return 0
}

report() {
  local v out=$WORK/results.txt
  : >"$out"
  for v in $VARIANTS; do
    local log=$WORK/run-$v/fuzz.log
    [ -f "$log" ] || continue
    {
      echo "== $v (${SECS}s, -seed=1)"
      grep -E '^#[0-9]+' "$log" | grep -E 'cov:' | tail -1 || true
      grep -E 'stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" ||
        true
      ls "$WORK/run-$v" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || echo "no crash"
    } >>"$out"
  done
  cat "$out"
}

signature() {  # signature BINARY INPUT: "error | function file:line"
  "$1" "$2" 2>&1 | awk '
    /ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:/ && !e {
      e = $0; sub(/.*ERROR: /, "", e); sub(/ on address.*/, "", e)
      sub(/ \(pc .*/, "", e)
    }
    /^    #[0-9]+ .* in / && $0 !~ /(asan|ubsan|libc|fuzzer::|interceptor)/ && !f {
      f = $4 " " $5; sub(/ [^ ]*\/src\//, " ", f)
    }
    END { print (e ? e : "no reproduction") " | " f }' || true
}

triage() {
  local out=$WORK/results.txt v f sig
  mkdir -p "$WORK/findings"
  for v in $VARIANTS; do
    [ -d "$WORK/run-$v" ] || continue
    : >"$WORK/run-$v/signatures.txt"
    for f in $(ls "$WORK/run-$v" | grep -E '^(crash|leak|timeout|oom)-' |
      head -300); do
      sig=$(signature "$WORK/${v%_*}_stock" "$WORK/run-$v/$f")
      echo "$sig" >>"$WORK/run-$v/signatures.txt"
      local key
      key=$(echo "$sig" | sha1sum | cut -c1-12)
      [ -f "$WORK/findings/$key" ] || {
        cp "$WORK/run-$v/$f" "$WORK/findings/$key"
        echo "$sig" >"$WORK/findings/$key.txt"
      }
    done
    {
      echo "== $v crashes by signature"
      sort "$WORK/run-$v/signatures.txt" | uniq -c | sort -rn
    } >>"$out"
  done
  cat "$out"
}

for s in "${STEPS[@]}"; do
  echo "== $s"
  "$s"
done
