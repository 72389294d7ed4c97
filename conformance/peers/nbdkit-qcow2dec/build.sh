#!/usr/bin/env bash
# Builds nbdkit (server, file plugin, qcow2dec and offset filters) offline from a
# checkout, for the conformance adapter conformance/adapters/nbdkit-qcow2dec:
#
#   conformance/peers/nbdkit-qcow2dec/build.sh NBDKIT_CHECKOUT [PREFIX]
#
# NBDKIT_CHECKOUT: a checkout of nbdkit with filters/qcow2dec (1.37 and later;
#   tested: tag v1.45.1). It is copied to a scratch directory, never modified.
# PREFIX: default /usr/local/lib/qcow2ref-peers ($QCOW2REF_PEERS); the four
#   binaries go to PREFIX/nbdkit-qcow2dec/.
# Needs (Debian): build-essential autoconf automake libtool pkg-config
#   zlib1g-dev libzstd-dev, and libnbd-bin (nbdcopy) to run the adapter.
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,13p' "$0"; exit 2; }
src=$(cd "$1" && pwd)
prefix=${2:-${QCOW2REF_PEERS:-/usr/local/lib/qcow2ref-peers}}
[[ -f "$src/filters/qcow2dec/qcow2dec.c" ]] || { echo "$src has no filters/qcow2dec" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/nbdkit-qcow2dec.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/nbdkit"
rm -rf "$work/nbdkit/.git"
cd "$work/nbdkit"
[[ -x configure ]] || autoreconf -i >/dev/null
# Everything optional off: only the server, the file plugin and two filters are built.
./configure -q --disable-perl --disable-python --disable-ocaml --disable-rust --disable-tcl \
  --disable-lua --disable-golang --disable-libguestfs-tests --disable-linuxdisk \
  --disable-torrent --disable-vddk --disable-valgrind --without-gnutls --without-manpages \
  --without-libblkio --without-curl --without-ssh --without-nfs --without-iso \
  --without-libvirt --without-bzip2 --without-libnbd --without-liblzma --without-libguestfs \
  --without-ext2 --without-selinux --without-bash-completions >/dev/null
for d in common/include common/protocol common/replacements common/utils server \
         plugins/file filters/qcow2dec filters/offset; do
  make -s -j "${JOBS:-2}" -C "$d" >/dev/null
done
out=$prefix/nbdkit-qcow2dec
mkdir -p "$out"
install -m 0755 server/nbdkit "$out/nbdkit"
install -m 0755 plugins/file/.libs/nbdkit-file-plugin.so filters/qcow2dec/.libs/nbdkit-qcow2dec-filter.so \
  filters/offset/.libs/nbdkit-offset-filter.so "$out/"
"$out/nbdkit" --filter="$out/nbdkit-qcow2dec-filter.so" "$out/nbdkit-file-plugin.so" --dump-plugin | grep '^qcow2dec_'
echo "built $out ($("$out/nbdkit" --version))"
