#!/bin/bash -eu
# OSS-Fuzz build script for qcow2ref: compiles the library and the fuzz
# targets directly with $CXX (no Bazel inside the builder image) and installs
# each target with its seed corpus, dictionary and options into $OUT.
#
# Uses the OSS-Fuzz variables $CC $CXX $CFLAGS $CXXFLAGS $LIB_FUZZING_ENGINE
# $SRC $OUT (and $WORK when set). The repository is $SRC/qcow2ref, or $SRC
# itself when it holds reference/ (a local run with SRC=<checkout>).
# System libraries (libcrypto++-dev, zlib1g-dev, libzstd-dev) come from apt
# (see Dockerfile).

if [ -d "$SRC/reference" ]; then
  ROOT=$SRC
else
  ROOT=$SRC/qcow2ref
fi
BUILD=${WORK:-$(mktemp -d)}/qcow2ref-build
mkdir -p "$BUILD" "$OUT"

FLAGS="$CXXFLAGS -std=c++17 -I$ROOT -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
LIBS="-lcrypto++ -lz -lzstd"

# The library: every non-test source of the packages the targets use.
objs=()
for dir in status io format crypto image check writer; do
  for src in "$ROOT"/reference/$dir/*.cc; do
    case "$src" in *_test.cc) continue ;; esac
    obj=$BUILD/$dir-$(basename "$src" .cc).o
    $CXX $FLAGS -c "$src" -o "$obj"
    objs+=("$obj")
  done
done
$CXX $FLAGS -c "$ROOT/fuzz/fuzz_util.cc" -o "$BUILD/fuzz_util.o"
# The structure-aware mutator: the fuzzing kit (fuzz/kit/), C API + glue.
$CXX $FLAGS -c "$ROOT/fuzz/kit/qcow2_mutate.cc" -o "$BUILD/qcow2_mutate.o"
$CC $CFLAGS -I"$ROOT/fuzz/kit" -c "$ROOT/fuzz/kit/qcow2_custom_mutator.c" \
  -o "$BUILD/qcow2_custom_mutator.o"
rm -f "$BUILD/libqcow2ref.a"
ar rcs "$BUILD/libqcow2ref.a" "${objs[@]}" "$BUILD/fuzz_util.o"

# target:source:corpus:dictionary
targets=(
  "header_fuzzer:header_fuzzer.cc:header_fuzzer:qcow2.dict"
  "image_fuzzer:image_fuzzer.cc:image_fuzzer:qcow2.dict"
  "structured_image_fuzzer:image_fuzzer.cc:image_fuzzer:qcow2.dict"
  "luks_fuzzer:luks_fuzzer.cc:luks_fuzzer:luks1.dict"
  "aes_image_fuzzer:aes_image_fuzzer.cc:aes_image_fuzzer:qcow2.dict"
  "decompress_fuzzer:decompress_fuzzer.cc:decompress_fuzzer:"
  "check_fuzzer:check_fuzzer.cc:image_fuzzer:qcow2.dict"
  "ops_fuzzer:ops_fuzzer.cc:ops_fuzzer:"
)

zip_dir() {  # zip_dir DIR ZIPFILE (flat, like `zip -j`)
  if command -v zip >/dev/null; then
    rm -f "$2"
    (cd "$1" && zip -q -j "$2" ./*)
  else
    python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if os.path.isfile(path):
            z.write(path, name)
PY
  fi
}

for spec in "${targets[@]}"; do
  IFS=: read -r name src corpus dict <<<"$spec"
  extra=()
  if [ "$name" = structured_image_fuzzer ]; then
    extra+=("$BUILD/qcow2_mutate.o" "$BUILD/qcow2_custom_mutator.o")
  fi
  $CXX $FLAGS "$ROOT/fuzz/$src" "${extra[@]}" "$BUILD/libqcow2ref.a" \
    $LIB_FUZZING_ENGINE $LIBS -o "$OUT/$name"
  zip_dir "$ROOT/fuzz/corpus/$corpus" "$OUT/${name}_seed_corpus.zip"
  if [ -n "$dict" ]; then
    cp "$ROOT/fuzz/dicts/$dict" "$OUT/$name.dict"
  fi
  cp "$ROOT/fuzz/options/$name.options" "$OUT/$name.options"
done
