#!/usr/bin/env bash
# Builds the conformance adapter for ming1/qcow2-rs (async qcow2 library by
# Ming Lei) offline, with Debian's Rust crates only (nothing is downloaded):
#
#   conformance/peers/ming1-qcow2-rs/build.sh QCOW2_RS_CHECKOUT [PREFIX]
#
# QCOW2_RS_CHECKOUT: a checkout of ming1/qcow2-rs (tested: 96987ae).
# PREFIX: where the binary goes (default /usr/local/lib/qcow2ref-peers, or
#   $QCOW2REF_PEERS); the adapter conformance/adapters/ming1-qcow2-rs looks there.
# Needs: cargo, rustc (1.75+), and `apt-get install librust-bincode-dev
#   librust-serde-dev librust-serde-derive-dev librust-libc-dev librust-byteorder-dev
#   librust-async-trait-dev librust-futures-locks-dev librust-nix-dev
#   librust-async-recursion-dev librust-miniz-oxide-dev librust-futures-dev
#   librust-log-dev librust-rustversion-dev`.
# The checkout is copied to a scratch directory. Only the library is built, with
# its synchronous pread backend: the io_uring backend (src/uring.rs; tokio-uring is
# not in Debian) and the CLI (clap) are left out, and dependency versions are
# relaxed to Debian's (byteorder 1.4, nix 0.26.1, futures 0.3.21, ...). The
# qcow2 code itself (dev.rs, meta.rs, cache.rs, sync_io.rs) is not changed.
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,20p' "$0"; exit 2; }
src=$(cd "$1" && pwd)
prefix=${2:-${QCOW2REF_PEERS:-/usr/local/lib/qcow2ref-peers}}
here=$(cd "$(dirname "$0")" && pwd)
[[ -f "$src/src/dev.rs" && -f "$src/src/sync_io.rs" ]] || { echo "$src is not ming1/qcow2-rs" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/ming1-qcow2-rs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/qcow2-rs"
cp -r "$here/adapter" "$work/adapter"
rm -rf "$work"/*/target "$work"/*/Cargo.lock "$work"/*/.git
cd "$work/qcow2-rs"
rm -f src/main.rs src/uring.rs
sed -i '/^pub mod uring;/d' src/lib.rs
sed -i -e '/^use crate::uring::Qcow2IoUring;/d' -e '/^qcow2_setup_dev_fn!(Qcow2IoUring, qcow2_setup_dev_uring);/d' src/utils.rs
cat > Cargo.toml <<'TOML'
[package]
name = "qcow2-rs"
version = "0.1.0"
edition = "2021"

[lib]
path = "src/lib.rs"

[dependencies]
bincode = "1.3"
serde = { version = "1.0", features = ["derive"] }
libc = "0.2"
byteorder = "1.4"
async-trait = "0.1"
futures-locks = "0.7"
nix = "0.26"
async-recursion = "1.0"
miniz_oxide = { version = "0.6.2", features = ["std"] }
futures = "0.3"
log = { version = "0.4", features = ["release_max_level_off"] }
rustversion = "1.0"
TOML
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
mkdir -p "$prefix/ming1-qcow2-rs"
install -m 0755 "$work/adapter/target/release/qcow2ct-ming1-qcow2-rs" "$prefix/ming1-qcow2-rs/"
echo "built $prefix/ming1-qcow2-rs/qcow2ct-ming1-qcow2-rs"
