#!/usr/bin/env bash
# --self-test: the deliberately broken adapters must each FAIL a vector and
# the reference adapter must pass. A sample keeps it fast: the encrypted
# vectors (wrong-IV-basis), header rejections and plain images.
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-qcow2ref}/conformance/tests/common.sh"
"${RUN[@]}" --self-test -j 2 "${AS[@]}" \
  --run 'y_luks_*' --run 'y_enc_*' --run 'n_hdr_*' --run 'y_hdr_v2*' --run 'y_snap_*' --run 'i_map_*'
