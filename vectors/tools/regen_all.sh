#!/usr/bin/env bash
# regen_all.sh - rebuild the whole qcow2ref vector corpus: qemu-made images, edited images,
# manifests; then lint. Needs qemu-img/qemu-io 7.2 and python3. Run from any directory.
set -euo pipefail
T="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$T/make_valid.sh"
python3 "$T/make_edited.py"
python3 "$T/build_manifests.py"
"$T/regen_encrypted.sh"   # encrypted vectors, KATs; ends with lint
