#!/usr/bin/env bash
# Rebuilds the seed corpora fuzz/corpus/<target>/ from the vectors:
#   header_fuzzer      cluster 0 (first 4 KiB) of every qcow2 vector
#   image_fuzzer       every qcow2 vector, first 128 KiB (the max_len), merged
#                      by coverage (libFuzzer -merge=1) to keep it small; also
#                      the corpus of structured_image_fuzzer
#   luks_fuzzer        the LUKS header sectors of the LUKS vectors, plus
#                      areas written by luks_seed_gen with 16 PBKDF2
#                      iterations, passphrase "small-src"
#   aes_image_fuzzer   the crypt_method 1 vectors, and LUKS vectors re-keyed
#                      by luks_seed_gen for the passphrase "aes-basic-pw"
#   decompress_fuzzer  the compressed clusters of the vectors, with selector
#   ops_fuzzer         hand-made op scripts (tools/ops_seed_gen.py)
#
# Needs clang-14 (it builds the fuzzers for the merge). Environment:
#   BAZEL_STARTUP_OPTS  startup options for bazel (e.g. --output_base=...)
# Usage: fuzz/make_corpus.sh [TARGET...]   (default: every corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a startup <<<"${BAZEL_STARTUP_OPTS:-}"
bazel=(bazel "${startup[@]}")
tool=fuzz/tools/corpus_tool.py
out=fuzz/corpus
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

"${bazel[@]}" build --config=fuzz --symlink_prefix=/ //fuzz:all_fuzzers \
  //fuzz:luks_seed_gen
bin=$("${bazel[@]}" info --config=fuzz bazel-bin 2>/dev/null)/fuzz

all=(header_fuzzer image_fuzzer luks_fuzzer aes_image_fuzzer decompress_fuzzer
  ops_fuzzer)
for t in "${all[@]}"; do mkdir -p "$stage/$t"; done
targets=("${all[@]}")
[ $# -gt 0 ] && targets=("$@")

mapfile -t images < <(find vectors/images -name '*.qcow2' | sort)
for f in "${images[@]}"; do
  stem=$(basename "$f" .qcow2)
  python3 "$tool" header "$f" "$stage/header_fuzzer/$stem"
  python3 "$tool" truncate "$f" "$stage/image_fuzzer/$stem" 131072
  python3 "$tool" compressed "$f" "$stage/decompress_fuzzer" 4
  if [ "$(head -c 36 "$f" | tail -c 4 | od -An -tx1 | tr -d ' \n')" = 00000002 ]; then
    python3 "$tool" luks-area "$f" "$stage/luks_fuzzer/$stem" 2>/dev/null || true
  fi
done
for f in vectors/images/enc/*.qcow2; do
  python3 "$tool" truncate "$f" "$stage/aes_image_fuzzer/$(basename "$f" .qcow2)" 131072
done

python3 fuzz/tools/ops_seed_gen.py "$stage/ops_fuzzer"

# Cheap LUKS areas for every cipher family, mode and IV generator.
for s in aes-128-cbc-plain64 aes-128-xts-plain64 aes-128-cbc-essiv:sha256 \
  aes-192-ctr-plain aes-128-ecb-plain64 serpent-128-cbc-plain64 \
  twofish-128-xts-plain64 cast5-128-cbc-essiv:md5 cast5-128-ctr-plain; do
  "$bin/luks_seed_gen" area "$s" small-src "$stage/luks_fuzzer/gen_$s"
done
# LUKS images re-keyed for the aes_image_fuzzer passphrase (master keys from
# the manifest), so the fuzzer decrypts real data.
python3 - <<'PY' >"$stage/rekey.txt"
import json
for t in json.load(open("vectors/qcow2_luks_test.json"))["tests"]:
    mk = (t.get("secrets") or {}).get("master_key_hex")
    if t["verdict"] == "valid" and mk and not t.get("chain"):
        print(t["image"], mk)
PY
while read -r img mk; do
  stem=$(basename "$img" .qcow2)
  "$bin/luks_seed_gen" rekey "vectors/$img" "$mk" aes-basic-pw \
    "$stage/rekeyed_$stem"
  python3 "$tool" truncate "$stage/rekeyed_$stem" \
    "$stage/aes_image_fuzzer/rekeyed_$stem" 131072
done <"$stage/rekey.txt"

# Keep the inputs that add coverage (smallest first), per target.
for t in "${targets[@]}"; do
  [ -d "$stage/$t" ] || { echo "make_corpus: unknown corpus $t" >&2; exit 2; }
  rm -rf "${out:?}/$t"
  mkdir -p "$out/$t"
  opts=()
  [ -f "fuzz/options/$t.options" ] && opts+=("-max_len=$(sed -n 's/^max_len *= *//p' "fuzz/options/$t.options")")
  "$bin/$t" -merge=1 "${opts[@]}" -timeout=30 -rss_limit_mb=4096 \
    "$out/$t" "$stage/$t" >"$stage/$t.merge.log" 2>&1 ||
    { tail -20 "$stage/$t.merge.log"; exit 1; }
  echo "$t: $(find "$out/$t" -type f | wc -l) of $(find "$stage/$t" -type f | wc -l) seeds, $(du -sh "$out/$t" | cut -f1)"
done
du -sh "$out"
