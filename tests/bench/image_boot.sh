#!/bin/bash
# Node image figures: boot to "dcosd ready" under qemu TCG, one node at a
# time (direct kernel boot from NVMe), for images already built by
# dcos-image into OUT_DIR (dcos-<role>.raw, .vmlinuz, .json) from the
# cluster config of tests/image/image_test.sh (masters 172.31.240.11); and their
# sizes: raw apparent and allocated, qcow2 (compressed) and raw.zst when
# present. Needs root (qemu's user network only forwards to loopback).
#
# Usage: tests/bench/image_boot.sh OUT_DIR [ROLE]...   (default: master agent-private)
set -euo pipefail
out=$(realpath "$1")
shift
roles=("$@")
((${#roles[@]})) || roles=(master agent-private)
here=$(cd "$(dirname "$0")" && pwd)
harness_dir=$(mktemp -d /tmp/dcos-image-bench.XXXXXX)
# shellcheck source=../image/qemu.sh
source "$here/../image/qemu.sh"
trap 'kill_all_nodes; rm -rf "$harness_dir"' EXIT

printf '%-16s %14s %14s %14s %14s %12s\n' role "raw MiB" "allocated MiB" "qcow2 MiB" "raw.zst MiB" "ready s"
for role in "${roles[@]}"; do
  base=$out/dcos-$role
  port=$((20000 + RANDOM % 20000))
  start=$(date +%s.%N)
  # The address the cluster config of tests/image gives the role's first node.
  address=172.31.240.65
  [[ $role == master ]] && address=172.31.240.11
  [[ $role == agent-public ]] && address=172.31.240.129
  boot_direct "$role" "$base" "$port" \
    "systemd.hostname=$role-1 ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off dcos.api=0.0.0.0:61001
     ip=$address:::255.255.255.0::eth1:off dcos.address=$address" \
    -netdev "socket,id=n1,listen=127.0.0.1:$((port + 1))" -device virtio-net-pci,netdev=n1
  wait_serial "$role" "dcosd ready in" 300
  ready=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  shutdown_node "$role" 120
  mib() { [[ -e $1 ]] && awk -v b="$($2 "$1" | cut -f1)" 'BEGIN {printf "%.1f", b / 1048576}' || echo -; }
  printf '%-16s %14s %14s %14s %14s %12s\n' "$role" "$(mib "$base.raw" "du -b")" "$(mib "$base.raw" "du -B1")" \
    "$(mib "$base.qcow2" "du -b")" "$(mib "$base.raw.zst" "du -b")" "$ready"
done
