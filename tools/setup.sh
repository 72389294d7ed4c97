#!/usr/bin/env bash
# Installs everything qcow2ref needs to build, test and cross-check, from
# Debian packages (and buildifier from npm). Idempotent; run as root.
set -euo pipefail

packages=(
  bazel-bootstrap        # Bazel 4.2.3
  build-essential
  clang-14 libclang-rt-14-dev lld-14   # asan/ubsan and libFuzzer configs
  clang-format
  libcrypto++-dev
  libgtest-dev
  librapidcheck-dev
  libzstd-dev zlib1g-dev
  nlohmann-json3-dev
  python3
  qemu-utils             # peers: qemu-img, qemu-io, qemu-nbd 7.2
  libnbd-bin             # nbdinfo: reads dirty bitmaps through qemu-nbd
  cryptsetup-bin
  libqcow-utils python3-libqcow libqcow-dev   # libqcow-dev: fuzz:libqcow_diff_fuzzer
  7zip
)
# npm (for buildifier) only when no Node.js is installed: a machine may carry
# a newer Node.js than Debian's, which Debian's npm would conflict with.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's bazel wrapper looks for bazel-<.bazelversion>; the package ships
# bazel-4 (which is 4.2.3).
if [ ! -x /usr/bin/bazel-4.2.3 ] && [ -x /usr/bin/bazel-4 ]; then
  ln -sf bazel-4 /usr/bin/bazel-4.2.3
fi

if ! command -v buildifier >/dev/null 2>&1; then
  npm install -g --silent @bazel/buildifier >/dev/null 2>&1 ||
    echo "setup: buildifier could not be installed from npm; the BUILD format check will be skipped" >&2
fi
echo "setup: all packages present"
