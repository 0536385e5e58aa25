#!/bin/bash
# Installs the Debian 12 packages that building and testing dcos need, and
# nothing else. Quick when everything is there already: apt runs only when a
# package is missing. Needs root.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config binutils
  # libraries (see ../README.md for why each)
  libpoco-dev libsystemd-dev catch2 libnftnl-dev libmnl-dev libzookeeper-mt-dev
  # masters run Debian's ZooKeeper server (it brings a Java runtime); the
  # JDK's jlink and jmods make dcos-jre, the master image's runtime
  zookeeper default-jre-headless openjdk-17-jdk-headless
  # tests: HTTP client, helper scripts, packaging checks, a TLS server for
  # HTTPS health checks, a real Marathon client
  curl python3 python3-kazoo dpkg-dev file lintian rpm systemd openssl python3-marathon
  # dcosd under a real systemd: containers booted with systemd-nspawn
  systemd-container procps util-linux
  # node images: the rootfs, the disk without loop devices, qemu boots
  mmdebstrap gpg arch-test fdisk dosfstools mtools e2fsprogs qemu-system-x86 qemu-utils ovmf zstd
  # option ROMs for virtio-net (qemu only recommends them)
  ipxe-qemu
  # firewall tests: nft to read rulesets back, ip for network namespaces
  nftables iproute2
  # DNS tests and benchmark: dig, dnsperf, and NSD as the peer to beat
  bind9-dnsutils dnsperf nsd
  # the routers' data plane
  haproxy
  # fuzzing (tests/fuzz): clang 16 with libFuzzer and the sanitizers' runtimes
  # (clang 14 refuses C++20's lambdas that capture structured bindings)
  clang-16 libclang-rt-16-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
