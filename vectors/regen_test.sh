#!/usr/bin/env bash
# //vectors:regen_test: the images qcow2ref writes in deterministic mode
# (tools/make_writer_vectors.sh) come out byte for byte identical to the
# committed ones.
# Clauses: QCOW2_SPEC("QX.WRITE.deterministic_seed")
set -euo pipefail
cd "${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-qcow2ref}"
out=${TEST_TMPDIR:-$(mktemp -d)}/wr
bash vectors/tools/make_writer_vectors.sh "$PWD/tools/qcow2ref/qcow2ref" "$out"
fails=0
for f in vectors/images/wr/*.qcow2; do
  if cmp -s "$f" "$out/$(basename "$f")"; then
    echo "same: $(basename "$f")"
  else
    echo "DIFFERENT: $(basename "$f")"
    fails=$((fails + 1))
  fi
done
echo "regen_test: $(( $(ls vectors/images/wr/*.qcow2 | wc -l) - fails )) passed, ${fails} failed"
[ "$fails" = 0 ]
