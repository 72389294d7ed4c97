#!/usr/bin/env bash
# --self-test: each deliberately broken adapter must be caught (FAIL, or CRASH
# for the panicking one) on a vector of its bug class, and the reference
# adapter must pass. The sample holds every class: encrypted, header, snapshot,
# backing, map and extended-L2 vectors and the header rejections.
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-qcow2ref}/conformance/tests/common.sh"
"${RUN[@]}" --self-test -j 2 "${AS[@]}" \
  --run 'y_luks_*' --run 'y_enc_*' --run 'n_hdr_*' --run 'y_hdr_*' --run 'y_snap_*' --run 'i_map_*' \
  --run 'y_bk_*' --run 'y_*_backing' --run 'y_map_*' --run 'y_xl2_*'
