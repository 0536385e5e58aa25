#!/bin/bash
# Node image figures: boot to "dcosd ready" under qemu TCG, one node at a
# time (direct kernel boot from NVMe), for images already built by
# dcos-image into OUT_DIR (dcos-<role>.raw, .vmlinuz, .json) from the
# cluster config of tests/image/image_test.sh (masters 172.31.240.11); and their
# sizes: raw apparent and allocated, qcow2 (compressed) and raw.zst when
# present. Where the boot goes, from qemu's start, as the serial console
# shows it (polled every 0.1 s): "kernel s" when the kernel hands over to
# systemd (qemu, the kernel), "network s" when the network is online
# (userspace up to it), "ready s" at dcosd's READY (dcosd and its modules;
# a master's ZooKeeper serving first). Needs root (qemu's user network only
# forwards to loopback).
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

printf '%-14s %9s %13s %10s %12s %9s %10s %8s\n' role "raw MiB" "allocated MiB" "qcow2 MiB" "raw.zst MiB" \
  "kernel s" "network s" "ready s"
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
  # The seconds since qemu's start at which each mark first shows.
  declare -A at=()
  marks=("kernel:Run /sbin/init as init process|systemd\[1\]: systemd [0-9]+ running"
    "network:Reached target .*Network is Online" "ready:dcosd ready in")
  deadline=$((SECONDS + 300))
  while [[ -z ${at[ready]:-} ]]; do
    for m in "${marks[@]}"; do
      name=${m%%:*}
      if [[ -z ${at[$name]:-} ]] && grep -qE -- "${m#*:}" "$harness_dir/$role.serial" 2>/dev/null; then
        at[$name]=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
      fi
    done
    if ((SECONDS >= deadline)) || ! kill -0 "${qemu_pid[$role]}" 2>/dev/null; then
      wait_serial "$role" "dcosd ready in" 1  # says why, with the console's end
    fi
    sleep 0.1  # the poll interval of the marks; the deadline bounds the wait
  done
  shutdown_node "$role" 120
  mib() { [[ -e $1 ]] && awk -v b="$($2 "$1" | cut -f1)" 'BEGIN {printf "%.1f", b / 1048576}' || echo -; }
  printf '%-14s %9s %13s %10s %12s %9s %10s %8s\n' "$role" "$(mib "$base.raw" "du -b")" "$(mib "$base.raw" "du -B1")" \
    "$(mib "$base.qcow2" "du -b")" "$(mib "$base.raw.zst" "du -b")" "${at[kernel]:--}" "${at[network]:--}" "${at[ready]}"
done
