#!/usr/bin/env bash
# Packages the qcow2 fuzzing kit for other projects into OUT_DIR:
#   qcow2_mutate.h qcow2_mutate.cc   the structure-aware mutator (C API)
#   qcow2_custom_mutator.c           LLVMFuzzerCustomMutator glue
#   Makefile                         builds both objects and libqcow2_kit.a
#   qcow2.dict                       libFuzzer dictionary (fuzz/dicts/)
#   qcow2_seed_corpus.zip            fuzz/corpus/image_fuzzer plus the small
#                                    (<= 128 KiB) valid images of vectors/
#   README.md                        how to wire it in (fuzz/kit/README.md)
#
#   fuzz/kit/make_kit.sh OUT_DIR
set -euo pipefail
[ $# -eq 1 ] || {
  echo "usage: $0 OUT_DIR" >&2
  exit 2
}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
KIT=$REPO/fuzz/kit

cp "$KIT/qcow2_mutate.h" "$KIT/qcow2_mutate.cc" "$KIT/qcow2_custom_mutator.c" \
  "$KIT/Makefile" "$KIT/README.md" "$OUT/"
cp "$REPO/fuzz/dicts/qcow2.dict" "$OUT/qcow2.dict"

# Seeds: one file per distinct content, named by its SHA-1 (as in corpus/).
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
add_seed() {
  local h
  h=$(sha1sum "$1" | cut -d' ' -f1)
  cp "$1" "$seeds/$h"
}
for f in "$REPO"/fuzz/corpus/image_fuzzer/*; do add_seed "$f"; done
while IFS= read -r f; do add_seed "$f"; done < <(
  find "$REPO/vectors/images" -name 'y_*.qcow2' -size -129k | sort)
rm -f "$OUT/qcow2_seed_corpus.zip"
(cd "$seeds" && zip -q -X -j "$OUT/qcow2_seed_corpus.zip" ./*)
git -C "$REPO" rev-parse HEAD >"$OUT/VERSION" 2>/dev/null || true
echo "kit: $OUT ($(ls "$seeds" | wc -l) seeds)"
