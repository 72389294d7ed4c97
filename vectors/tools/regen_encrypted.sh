#!/usr/bin/env bash
# regen_encrypted.sh - rebuild the encrypted part of the corpus (images/enc, images/luks,
# qcow2_enc_test.json, qcow2_luks_test.json, kat/*.json), then lint the whole tree.
# Needs qemu-img/qemu-io 7.2, cryptsetup 2.6 (no root: it only formats plain files), the
# openssl 3 CLI and python3. LUKS images are random: every run changes their sha256 and the
# values of kat/luks1_unlock_test.json / the mkd_real_* tests (all other KATs are fixed).
set -euo pipefail
T="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$T/make_encrypted.sh"
python3 "$T/embed_luks.py"
python3 "$T/make_encrypted_edited.py"
python3 "$T/build_encrypted_manifests.py"
python3 "$T/make_kat.py"
python3 "$T/features.py" --apply   # derived features, vector lists, doc tables
python3 "$T/lists.py" --measure    # vectors/lists/ (runs qemu-img)
python3 "$T/lint.py"
