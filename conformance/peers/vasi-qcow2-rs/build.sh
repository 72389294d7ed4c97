#!/usr/bin/env bash
# Builds the conformance adapter for vasi/qcow2-rs (a read-only qcow2 v3 crate)
# offline, with Debian's Rust crates only (nothing is downloaded):
#
#   conformance/peers/vasi-qcow2-rs/build.sh QCOW2_RS_CHECKOUT POSITIONED_IO_CHECKOUT [PREFIX]
#
# QCOW2_RS_CHECKOUT: a checkout of vasi/qcow2-rs (tested: 3ed3ff5, crate 0.1.2).
# POSITIONED_IO_CHECKOUT: a checkout of vasi/positioned-io at be782ca (0.2.2,
#   the version the crate asks for; not packaged by Debian).
# PREFIX: where the binary goes (default /usr/local/lib/qcow2ref-peers); the
#   adapter conformance/adapters/vasi-qcow2-rs looks there, or in $QCOW2REF_PEERS.
# Needs: cargo, rustc, and `apt-get install librust-byteorder-dev
#   librust-lru-cache-dev librust-libc-dev`.
# The checkouts are not modified: they are copied to a scratch directory where
# two dependency versions are relaxed to the Debian ones (byteorder 0.5 -> 1,
# lru-cache 0.0.7 -> 0.1: same APIs as the crate uses) and positioned-io's
# Windows-only dependency is dropped.
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,18p' "$0"; exit 2; }
src=$(cd "$1" && pwd) pio=$(cd "$2" && pwd)
prefix=${3:-${QCOW2REF_PEERS:-/usr/local/lib/qcow2ref-peers}}
here=$(cd "$(dirname "$0")" && pwd)
for c in byteorder-1 lru-cache-0.1 libc-0.2; do
  ls -d /usr/share/cargo/registry/"$c"* >/dev/null 2>&1 ||
    { echo "missing Debian crate $c: apt-get install librust-${c%-*}-dev" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/vasi-qcow2-rs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/qcow2"
cp -r "$pio" "$work/positioned-io"
cp -r "$here/adapter" "$work/adapter"
rm -rf "$work"/*/target "$work"/*/Cargo.lock "$work"/*/.git
sed -i -e 's/^byteorder = "0.5"/byteorder = "1"/' -e 's/^lru-cache = "0.0.7"/lru-cache = "0.1"/' \
  -e 's/^positioned-io = .*/positioned-io = { path = "..\/positioned-io" }/' "$work/qcow2/Cargo.toml"
sed -i -e "/cfg(windows)/,\$d" "$work/positioned-io/Cargo.toml"
mkdir -p "$work/adapter/.cargo"
cat > "$work/adapter/.cargo/config.toml" <<'CFG'
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "/usr/share/cargo/registry"
[net]
offline = true
CFG
(cd "$work/adapter" && CARGO_HOME="$work/cargo-home" cargo build --release --offline -j "${JOBS:-2}")
mkdir -p "$prefix/vasi-qcow2-rs"
install -m 0755 "$work/adapter/target/release/qcow2ct-vasi-qcow2-rs" "$prefix/vasi-qcow2-rs/"
echo "built $prefix/vasi-qcow2-rs/qcow2ct-vasi-qcow2-rs (qcow2-rs $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?'))"
