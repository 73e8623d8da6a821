#!/bin/sh
# Installs everything agentjail needs to build, test, benchmark and package on Debian
# bookworm, from Debian's own packages. Run as root (or with sudo).
set -eu

if [ "$(id -u)" -ne 0 ]; then
  exec sudo "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config git ca-certificates \
  libseccomp-dev libcap-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev \
  doctest-dev nlohmann-json3-dev nettle-dev libc-ares-dev libhttp-parser-dev \
  clang libclang-rt-14-dev clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev \
  python3 python3-pytest python3-jsonschema curl openssl \
  nodejs bubblewrap iproute2 util-linux procps psmisc strace \
  hyperfine time scdoc \
  qemu-system-x86 busybox-static kmod cpio \
  debhelper dpkg-dev lintian fakeroot \
  bash-completion zsh fish python3-yaml uidmap >/dev/null
echo "install-deps: done"
