# The boot harness for node images, sourced by the image tests: boots an
# image under qemu with TCG (KVM is not assumed), waits on the serial
# console, forwards the node API to loopback, and shuts down through ACPI.
#
#   boot_direct NAME IMAGE_BASE API_PORT EXTRA_CMDLINE [QEMU_ARG]...
#       direct kernel boot (IMAGE_BASE.vmlinuz) from NVMe, with the
#       manifest's kernel command line plus EXTRA_CMDLINE
#   boot_firmware NAME IMAGE_BASE API_PORT EXTRA_CMDLINE [QEMU_ARG]...
#       OVMF -> systemd-boot -> the kernel on the ESP; EXTRA_CMDLINE goes
#       into the boot entry of a private copy of the disk (empty: the
#       image's own entry, unchanged, as a flashed disk boots)
#   wait_serial NAME PATTERN SECONDS     waits for a line on NAME's console
#   shutdown_node NAME SECONDS           ACPI power-down, waits for qemu to exit
#
# Every node's first NIC is qemu's user network, restricted (no traffic
# leaves it) with API_PORT on 127.0.0.1 forwarded to the guest's port 61001,
# and QEMU_EXTRA_HOSTFWD (qemu's hostfwd syntax) when set; QEMU_ARGs add
# more (e.g. a -netdev socket link between two guests). QEMU_USER_NET adds
# options to that network (its net=, dhcpstart=, the hostname= its DHCP
# hands out); QEMU_GUEST is the guest's address there (10.0.2.15, the first
# DHCP lease of qemu's default network).
# Needs $harness_dir (a scratch dir) set by the caller.

# shellcheck source=../support/wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/wait.sh"

declare -A qemu_pid

_qemu_common() {
  local name=$1 port=$2
  shift 2
  echo -accel tcg -m 1536 -smp 2 -display none -no-reboot \
    -serial "file:$harness_dir/$name.serial" \
    -monitor "unix:$harness_dir/$name.monitor,server,nowait" \
    -netdev "user,id=n0,restrict=on${QEMU_USER_NET:+,$QEMU_USER_NET},hostfwd=tcp:127.0.0.1:$port-${QEMU_GUEST:-10.0.2.15}:61001${QEMU_EXTRA_HOSTFWD:+,hostfwd=$QEMU_EXTRA_HOSTFWD}" \
    -device virtio-net-pci,netdev=n0
}

_manifest_field() {  # FILE KEY
  /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

boot_direct() {
  local name=$1 base=$2 port=$3 extra=$4
  shift 4
  local cmdline
  cmdline="$(_manifest_field "$base.json" kernel_command_line) $extra"
  qemu-img create -q -f qcow2 -b "$base.raw" -F raw "$harness_dir/$name.qcow2"
  # shellcheck disable=SC2046
  qemu-system-x86_64 $(_qemu_common "$name" "$port") \
    -kernel "$base.vmlinuz" -append "$cmdline" \
    -drive "file=$harness_dir/$name.qcow2,if=none,id=d0,format=qcow2" -device nvme,drive=d0,serial=dcos0 \
    "$@" >"$harness_dir/$name.qemu.log" 2>&1 &
  qemu_pid[$name]=$!
}

boot_firmware() {
  local name=$1 base=$2 port=$3 extra=$4
  shift 4
  local disk=$harness_dir/$name.raw
  cp --sparse=always "$base.raw" "$disk"
  if [[ -n $extra ]]; then
    printf 'title dcos\nlinux /vmlinuz\noptions %s %s\n' "$(_manifest_field "$base.json" kernel_command_line)" "$extra" \
      >"$harness_dir/$name.entry"
    MTOOLS_SKIP_CHECK=1 mcopy -o -i "$disk@@1M" "$harness_dir/$name.entry" ::/loader/entries/dcos.conf
  fi
  cp /usr/share/OVMF/OVMF_VARS_4M.fd "$harness_dir/$name.vars"
  # shellcheck disable=SC2046
  qemu-system-x86_64 $(_qemu_common "$name" "$port") -machine q35 \
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
    -drive "if=pflash,format=raw,file=$harness_dir/$name.vars" \
    -drive "file=$disk,if=none,id=d0,format=raw" -device nvme,drive=d0,serial=dcos0 \
    "$@" >"$harness_dir/$name.qemu.log" 2>&1 &
  qemu_pid[$name]=$!
}

# The line is there, or qemu is gone (wait_serial tells which).
_serial_done() {
  grep -qE -- "$2" "$harness_dir/$1.serial" 2>/dev/null || ! kill -0 "${qemu_pid[$1]}" 2>/dev/null
}

wait_serial() {
  local name=$1 pattern=$2
  if ! wait_until "$3" "'$pattern' on $name's serial console" _serial_done "$name" "$pattern" ||
    ! grep -qE -- "$pattern" "$harness_dir/$name.serial"; then
    echo "FAIL: $name: no '$pattern' on the serial console (qemu said: $(cat "$harness_dir/$name.qemu.log")); its end:" >&2
    tail -30 "$harness_dir/$name.serial" >&2 || true
    return 1
  fi
}

shutdown_node() {
  local name=$1
  local deadline=$((SECONDS + $2)) pid=${qemu_pid[$1]}
  # The power button press is lost when it comes before logind listens for
  # it: press again every 10 s until the deadline.
  until ! kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "FAIL: $name did not power off within $2 s; its console's end:" >&2
      tail -15 "$harness_dir/$name.serial" >&2 || true
      kill -KILL "$pid" 2>/dev/null || true
      return 1
    fi
    /usr/bin/python3 - "$harness_dir/$name.monitor" <<'EOF' || true
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.recv(4096)
s.sendall(b"system_powerdown\n")
s.recv(4096)
EOF
    wait_exit "$pid" 10 || true
  done
  grep -q "reboot: Power down" "$harness_dir/$name.serial" || { echo "FAIL: $name: no clean power-down" >&2; return 1; }
}

kill_all_nodes() {
  local n
  for n in "${!qemu_pid[@]}"; do kill -KILL "${qemu_pid[$n]}" 2>/dev/null || true; done
}
