#!/bin/bash
# dcos-image end to end: bad input fails cleanly; a master and a public
# agent image are built from the project's own .deb and booted under qemu
# (TCG): direct kernel boot from NVMe, the two on one qemu socket network,
# the agent registering with the master's ZooKeeper, an app deployed through
# the master's Marathon API to the agent and reached through its edge
# router (HAProxy) from this host; then the master again through OVMF and
# systemd-boot. Checks come from the node API (forwarded to
# loopback) and the serial console. Prints the figures at the end.
# Needs root, mmdebstrap, qemu and the Debian mirror; exits 77 (skipped)
# without root or the tools.
#
# Usage: image_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build=$(realpath "$1")
source=$(realpath "$2")
if [[ $(id -u) != 0 ]]; then echo "skipped: needs root"; exit 77; fi
for tool in mmdebstrap qemu-system-x86_64 qemu-img sfdisk mkfs.vfat mcopy mkfs.ext4 cpack; do
  command -v "$tool" >/dev/null || { echo "skipped: no $tool (scripts/install-deps.sh installs it)"; exit 77; }
done

harness_dir=$(mktemp -d /tmp/dcos-image-test.XXXXXX)
# shellcheck source=qemu.sh
source "$source/tests/image/qemu.sh"
tmpfs=
cleanup() {
  kill_all_nodes
  [[ -n $tmpfs ]] && umount "$tmpfs" 2>/dev/null
  rm -rf "$harness_dir"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
image=$build/image/dcos-image
cache=${DCOS_IMAGE_CACHE:-/var/cache/dcos-image}
out=$harness_dir/out
mkdir -p "$out"

# The project's own package.
(cd "$harness_dir" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$harness_dir/pkg" >/dev/null)
deb=$(ls "$harness_dir"/pkg/dcos_*_amd64.deb)
jredeb=$(ls "$harness_dir"/pkg/dcos-jre_*_amd64.deb)
debs=(--deb "$deb" --deb "$jredeb")
# dcos-image as its package installs it, with the packaged role plugins: the
# public agent's image is built with these, as a user of the .debs would.
pkgroot=$harness_dir/pkgroot
for p in "$deb" "$harness_dir"/pkg/dcos-image_*_amd64.deb; do dpkg-deb -x "$p" "$pkgroot"; done
packaged_image=$pkgroot/usr/bin/dcos-image
[[ -x $packaged_image ]] || fail "the dcos-image package has no /usr/bin/dcos-image"

cat >"$harness_dir/cluster.json" <<'EOF'
{"cluster_name": "image-test", "masters": ["172.31.240.11"],
 "zones": {"admin": {"networks": ["172.31.240.0/26", "10.0.2.0/24"]},
           "private": {"networks": ["172.31.240.64/26"]},
           "public": {"networks": ["172.31.240.128/26"]}},
 "resolvers": []}
EOF

no_leftovers() {  # DIR: no image, no work dir
  local left
  left=$(find "$1" -mindepth 1 -maxdepth 1 | head -5)
  [[ -z $left ]] || fail "left in $1 after a failed build: $left"
}

# --- bad input -------------------------------------------------------------
bad=$harness_dir/bad
mkdir -p "$bad"
expect_failure() {  # WHAT PATTERN ARGS...
  local what=$1 pattern=$2
  shift 2
  local err
  if err=$("$image" build --output "$bad" "${debs[@]}" --cache "$cache" "$@" 2>&1); then
    fail "$what: dcos-image succeeded"
  fi
  grep -qE -- "$pattern" <<<"$err" || fail "$what: expected /$pattern/ in: $err"
  no_leftovers "$bad"
  echo "ok: $what: $(grep -E -- "$pattern" <<<"$err" | head -1)"
}
expect_failure "unknown role" '--role: unknown role "mastre" \(known: .*master.*\); did you mean "master"\?' \
  --role mastre --cluster-config "$harness_dir/cluster.json"
expect_failure "missing config" "--cluster-config: cannot read $harness_dir/nope.json \(no such file\)" \
  --role master --cluster-config "$harness_dir/nope.json"
echo '{"cluster_name": "x", "masters": ["10.0.0.300"]}' >"$harness_dir/invalid.json"
expect_failure "invalid config" "invalid.json: /masters/0: " --role master --cluster-config "$harness_dir/invalid.json"
sed 's/"resolvers"/"ip_detect_filename": "detect.txt", "resolvers"/' "$harness_dir/cluster.json" >"$harness_dir/detect.json"
echo 10.0.0.1 >"$harness_dir/detect.txt"
expect_failure "an ip-detect that is no script" \
  "detect.json: /ip_detect_filename: $harness_dir/detect.txt is not a script \(its first line is no #! line\) nor a program" \
  --role master --cluster-config "$harness_dir/detect.json"
err=$("$image" build --output "$bad" --deb "$deb" --cache "$cache" --role master \
  --cluster-config "$harness_dir/cluster.json" 2>&1) && fail "a master without dcos-jre: dcos-image succeeded"
grep -q -- "--deb: the master role's image needs dcos-jre, one of this project's own packages: give its .deb too" <<<"$err" ||
  fail "a master without dcos-jre: $err"
no_leftovers "$bad"
echo "ok: a master image without the dcos-jre package: $err"
expect_failure "a --deb that is no package" "--deb: $harness_dir/cluster.json is not a Debian package" \
  --role agent-private --cluster-config "$harness_dir/cluster.json" --deb "$harness_dir/cluster.json"
# A mirror on a closed loopback port: every download fails.
expect_failure "failed package download" "building the rootfs failed" --role master \
  --cluster-config "$harness_dir/cluster.json" --cache "$harness_dir/empty-cache" \
  --mirror "deb http://127.0.0.1:9/debian bookworm main"
# A package apt cannot install (a .deb that depends on what no mirror has):
# the error names the package and apt's reason.
mkdir -p "$harness_dir/broken/DEBIAN"
cat >"$harness_dir/broken/DEBIAN/control" <<'EOF'
Package: test-broken-package
Version: 1.0
Architecture: all
Maintainer: dcos tests <tests@invalid>
Depends: dcos-no-such-package
Description: a package whose dependency no mirror has
EOF
dpkg-deb --build "$harness_dir/broken" "$harness_dir/broken.deb" >/dev/null
expect_failure "unresolvable package" "test-broken-package : Depends: dcos-no-such-package but it is not installable" \
  --role agent-private --cluster-config "$harness_dir/cluster.json" --deb "$harness_dir/broken.deb"
# An output dir too small for the rootfs.
tmpfs=$harness_dir/small
mkdir -p "$tmpfs"
mount -t tmpfs -o size=200M tmpfs "$tmpfs"
err=$("$image" build --output "$tmpfs" "${debs[@]}" --cache "$cache" --role agent-private \
  --cluster-config "$harness_dir/cluster.json" 2>&1) && fail "a full disk: dcos-image succeeded"
grep -q "No space left on device" <<<"$err" || fail "a full disk: no word of space in: $err"
no_leftovers "$tmpfs"
umount "$tmpfs"
tmpfs=
echo "ok: a full disk: $(grep "No space left on device" <<<"$err" | head -1)"

# --- build -----------------------------------------------------------------
# The master from an empty cache of its own, every run, as on a new machine
# (every package downloaded while the rootfs is built); the agent from the
# shared cache.
declare -A build_s build_cache
build_cache[master]=$harness_dir/cold-cache
build_cache[agent-public]=$cache
declare -A builder=([master]="$image" [agent-public]="$packaged_image")
declare -A builder_opts=([master]="" [agent-public]="--plugin-dir $pkgroot/usr/lib/dcos/plugins")
for role in master agent-public; do
  start=$SECONDS
  # shellcheck disable=SC2086 # builder_opts[] holds options, word by word
  "${builder[$role]}" build ${builder_opts[$role]} --role "$role" --cluster-config "$harness_dir/cluster.json" --output "$out" "${debs[@]}" \
    --cache "${build_cache[$role]}" --format raw >"$harness_dir/build-$role.log" 2>&1 ||
    { tail -20 "$harness_dir/build-$role.log"; fail "building the $role image"; }
  build_s[$role]=$((SECONDS - start))
  for f in raw vmlinuz json; do [[ -s $out/dcos-$role.$f ]] || fail "no dcos-$role.$f"; done
  /usr/bin/python3 - "$out/dcos-$role.json" "$out" <<'EOF' || fail "manifest of $role"
import hashlib, json, os, sys
m = json.load(open(sys.argv[1]))
assert m["packages"]["dcos"].startswith("0."), m["packages"].get("dcos")
assert "systemd" in m["packages"] and "linux-image-cloud-amd64" in m["packages"]
for f in m["files"]:
    path = os.path.join(sys.argv[2], f["name"])
    assert os.path.getsize(path) == f["bytes"], f
    h = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest() == f["sha256"], f["name"]
EOF
  echo "ok: $role image built by ${builder[$role]#"$harness_dir"/} in ${build_s[$role]} s, manifest checked (sha256, packages)"
done

# Name resolution inside the image needs no DNS server: read off the root
# file system (debugfs reads the partition in place).
root_start=$(sfdisk -d "$out/dcos-master.raw" | awk -F'[=,]' '/name="dcos-root"/ {gsub(/ /, "", $2); print $2}')
rootfs="$out/dcos-master.raw?offset=$((root_start * 512))"
in_image() { debugfs -R "$1" "$rootfs" 2>/dev/null; }
hosts=$(in_image "cat /etc/hosts")
[[ $hosts == *"127.0.0.1 localhost"* ]] || fail "/etc/hosts of the image lacks localhost: $hosts"
nss=$(in_image "cat /etc/nsswitch.conf")
grep -Eq '^hosts:.*files.*myhostname' <<<"$nss" || fail "nsswitch.conf: no myhostname on the hosts line"
link=$(in_image "stat /etc/resolv.conf")
[[ $link == *'"../run/systemd/resolve/stub-resolv.conf"'* ]] ||
  fail "/etc/resolv.conf is not resolved's stub (the build machine's leaked?): $(in_image "cat /etc/resolv.conf")"
resolved=$(in_image "cat /etc/systemd/resolved.conf.d/dcos.conf")
grep -q '^DNS=172.31.240.11' <<<"$resolved" && grep -q '^Domains=~mesos' <<<"$resolved" ||
  fail "resolved does not ask the masters for mesos.: $resolved"
echo "ok: the image resolves its own name and localhost without DNS; resolv.conf is resolved's stub, the masters its DNS"
dhcp=$(in_image "cat /etc/systemd/network/99-dcos-dhcp.network")
grep -q '^DHCP=ipv4' <<<"$dhcp" && grep -q '^KernelCommandLine=!ip' <<<"$dhcp" ||
  fail "the image does not ask DHCP when ip= is not given: $dhcp"
[[ -z $(in_image "cat /etc/hostname") ]] || fail "the image has a static /etc/hostname, which hides DHCP's: $(in_image "cat /etc/hostname")"
grep -q "ip-detect" <<<"$(in_image "ls -l /etc/dcos")" && fail "an ip-detect in an image whose cluster.json names none"
echo "ok: the image asks DHCP unless ip= is given, and has no static host name"
grep -q '"libzookeeper-java"' "$out/dcos-master.json" || fail "the master image lacks its role's packages"
grep -q '"dcos-jre"' "$out/dcos-master.json" || fail "the master image lacks dcos-jre"
grep -q '"openjdk-17-jre-headless"' "$out/dcos-master.json" && fail "the master image has Debian's full Java runtime besides dcos-jre"
[[ -n $(in_image "stat /usr/lib/dcos/zookeeper.jsa" | grep -E "Size: [0-9]{6,}") ]] ||
  fail "the master image has no class-data archive for ZooKeeper"
grep -q "dcos-zookeeper-cds: .* classes loaded" "$harness_dir/build-master.log" ||
  fail "the build log does not show the class-data archive built"
grep -q '"libzookeeper-java"' "$out/dcos-agent-public.json" && fail "the agent image has the master's packages"
grep -q '"dcos-jre"' "$out/dcos-agent-public.json" && fail "the agent image has dcos-jre, which only masters need"
grep -q "dcos-jre is not among the agent-public role's packages; left out" "$harness_dir/build-agent-public.log" ||
  fail "the agent's build does not say it left dcos-jre out"
grep -q '"haproxy"' "$out/dcos-agent-public.json" || fail "the public agent image lacks HAProxy"

# --- two machines: direct kernel boot ---------------------------------------
link_port=$((20000 + RANDOM % 20000))
master_api=$((link_port + 1))
agent_api=$((link_port + 2))
edge_port=$((link_port + 4))
net="ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off dcos.api=0.0.0.0:61001"
boot_start=$SECONDS
boot_direct master "$out/dcos-master" "$master_api" \
  "systemd.hostname=master-1 $net ip=172.31.240.11:::255.255.255.0::eth1:off dcos.address=172.31.240.11" \
  -netdev "socket,id=n1,listen=127.0.0.1:$link_port" -device virtio-net-pci,netdev=n1
wait_serial master "dcosd\[[0-9]+\]: node API listening" 120
# The public agent's port 80 (its edge router) forwarded to this host too.
QEMU_EXTRA_HOSTFWD="tcp:127.0.0.1:$edge_port-10.0.2.15:80" boot_direct agent "$out/dcos-agent-public" "$agent_api" \
  "systemd.hostname=agent-1 $net ip=172.31.240.129:::255.255.255.0::eth1:off dcos.address=172.31.240.129" \
  -netdev "socket,id=n1,connect=127.0.0.1:$link_port" -device virtio-net-pci,netdev=n1
wait_serial master "dcosd ready in" 180
master_ready_s=$((SECONDS - boot_start))
wait_serial agent "dcosd ready in" 180

api() { curl -sf --max-time 5 "http://127.0.0.1:$1$2"; }
# READY=1 comes before the node has registered in ZooKeeper: wait for healthy.
healthy() { grep -q '"status":"healthy"' <<<"$(api "$1" /health)"; }
wait_healthy() { wait_until "$2" "$3 healthy on /health" healthy "$1"; }  # PORT SECONDS WHAT
wait_healthy "$master_api" 60 master
grep -q '"state":"applied"' <<<"$(api "$master_api" /health)" || fail "master's firewall not applied"
grep -q "run by systemd as dcos-zookeeper.service" "$harness_dir/master.serial" || fail "ZooKeeper not run as its unit"
# The server looks up its own host name at start: found locally, not after a
# DNS timeout ("<NA>").
grep -q "host.name=master-1" "$harness_dir/master.serial" || fail "ZooKeeper could not resolve the node's own name"
grep -qE "systemd\[1\]: Started dcos-zookeeper.service" "$harness_dir/master.serial" ||
  fail "systemd never started dcos-zookeeper.service"
grep -qE "systemd\[1\]: Started dcosd.service" "$harness_dir/master.serial" || fail "dcosd.service not started by systemd"
grep -q "Started haproxy.service" "$harness_dir/master.serial" && fail "Debian's haproxy.service ran beside the router's HAProxy"
echo "ok: master: dcosd.service ready, healthy, firewall applied, ZooKeeper as dcos-zookeeper.service, no haproxy.service"
registered() { grep -q '"address":"172.31.240.129"' <<<"$(api "$master_api" /v1/cluster/nodes)"; }
wait_until 60 "the agent in the master's /v1/cluster/nodes" registered
# The master's DNS module follows the agent's record (its HTTP API, as
# Mesos-DNS's; the guest's port 53 is not forwarded to this host).
slave_known() { grep -q '"ip":"172.31.240.129"' <<<"$(api "$master_api" /v1/hosts/slave.mesos)"; }
wait_until 30 "slave.mesos in the master's DNS" slave_known
wait_healthy "$agent_api" 60 agent
echo "ok: the agent registered with the master's ZooKeeper over the qemu socket network"
# A task placed by the booted master's scheduler on the agent (tasks that
# the scheduler did not ask for are killed at its reconciliation, so none is
# launched through the agent's API here): the systemd executor runs it as
# its transient unit, which the task itself shows with systemctl (its limits
# as PID 1 holds them, and the kernel's memory.max); the zone firewall
# refuses it the master's ZooKeeper, which the node itself reaches.
marathon_post() { curl -sf --max-time 10 -X POST -H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$master_api/v2/apps"; }
app_task() {  # APP: the id of its first task, once it has one
  api "$master_api" "/v2/apps/$1/tasks" | /usr/bin/python3 -c 'import json, sys; t = json.load(sys.stdin)["tasks"]; print(t[0]["id"] if t else "")' 2>/dev/null
}
img=$(cat <<'EOF'
{"id": "/img", "cpus": 0.1, "mem": 32, "acceptedResourceRoles": ["slave_public"], "portDefinitions": [],
 "cmd": "echo hello from $HOST; systemctl show -p User -p Slice -p MemoryMax -p CPUQuotaPerSecUSec -p NoNewPrivileges -p ActiveState dcos-task-$MESOS_TASK_ID.service; echo memory.max=$(cat /sys/fs/cgroup/dcos.slice/dcos-tasks.slice/dcos-task-$MESOS_TASK_ID.service/memory.max); if bash -c 'exec 3<>/dev/tcp/172.31.240.11/2181' 2>/dev/null; then echo zk-reached; else echo zk-refused; fi; echo probed; sleep 1000"}
EOF
)
marathon_post "$img" >/dev/null || fail "POST /v2/apps /img to the booted master"
has_task() { [[ -n $(app_task img) ]]; }
wait_until 120 "/img's task placed" has_task
img_task=$(app_task img)
task_stdout() { curl -s --max-time 5 "http://127.0.0.1:$agent_api/agent/v1/tasks/$1/files/read?path=stdout"; }
probed() { grep -q 'probed' <<<"$(task_stdout "$img_task")"; }
if ! (unset -f fail; wait_until 60 "the task's stdout" probed); then
  fail "the task's stdout never said it probed: task $(api "$agent_api" "/agent/v1/tasks/$img_task"); read: $(task_stdout "$img_task")"
fi
shown=$(task_stdout "$img_task")
for want in "hello from 172.31.240.129" "ActiveState=active" "User=nobody" "Slice=dcos-tasks.slice" \
  "MemoryMax=33554432" "CPUQuotaPerSecUSec=100ms" "NoNewPrivileges=yes" "memory.max=33554432" "zk-refused"; do
  grep -qF "$want" <<<"$shown" || fail "the task's view of itself lacks '$want': $shown"
done
info=$(api "$agent_api" /agent/v1/info)
grep -q '"executor":"systemd"' <<<"$info" || fail "the booted agent does not use the systemd executor: $info"
# Over its memory: the kernel's OOM killer ends it, and the agent reports so.
marathon_post '{"id": "/hog", "mem": 32, "cpus": 0.1, "acceptedResourceRoles": ["slave_public"], "portDefinitions": [],
  "cmd": "exec dd if=/dev/zero of=/dev/null bs=64M count=1"}' >/dev/null || fail "POST /v2/apps /hog"
hog_failed() {
  api "$agent_api" /agent/v1/tasks | /usr/bin/python3 -c 'import json, sys
sys.exit(0 if any(t["id"].startswith("hog.") and t["state"] == "TASK_FAILED" and t.get("message", "").startswith("memory limit exceeded")
                  for t in json.load(sys.stdin)["tasks"]) else 1)' 2>/dev/null
}
if ! (unset -f fail; wait_until 120 "the memory hog failed over its limit" hog_failed); then
  fail "the memory hog was not reported over its limit: $(api "$agent_api" /agent/v1/tasks)"
fi
curl -sf --max-time 10 -X DELETE "http://127.0.0.1:$master_api/v2/apps/hog" >/dev/null || fail "DELETE /v2/apps/hog"
curl -sf --max-time 10 -X DELETE "http://127.0.0.1:$master_api/v2/apps/img" >/dev/null || fail "DELETE /v2/apps/img"
killed() { grep -q '"state":"TASK_KILLED"' <<<"$(api "$agent_api" "/agent/v1/tasks/$img_task")"; }
wait_until 60 "the task killed" killed
echo "ok: a task placed by the booted master ran as dcos-task-$img_task.service (nobody, dcos-tasks.slice, MemoryMax and memory.max 32 MiB, CPUQuota 10%), was refused ZooKeeper, and was killed; a task over its memory was reported so"
# An app through the master's Marathon API, placed on the public agent, and
# reached from this host through the agent's edge router by its virtual
# host. The task is an HAProxy of its own (the image has no other server)
# that answers with its task id (its maxconn held low: HAProxy sizes its
# tables by the fd limit, more than a 64 MiB task may hold).
app=$(cat <<'EOF'
{"id": "/edge", "instances": 1, "cpus": 0.1, "mem": 64, "acceptedResourceRoles": ["slave_public"],
 "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "edge.test"}, "portDefinitions": [{"port": 0}],
 "cmd": "printf 'global\\n  maxconn 64\\ndefaults\\n  mode http\\n  timeout connect 5s\\n  timeout client 10s\\n  timeout server 10s\\nfrontend f\\n  bind :%s\\n  http-request return status 200 content-type text/plain string \"routed to %s\"\\n' $PORT0 $MESOS_TASK_ID > h.cfg && exec /usr/sbin/haproxy -db -f h.cfg"}
EOF
)
curl -sf --max-time 10 -X POST -H 'Content-Type: application/json' -d "$app" "http://127.0.0.1:$master_api/v2/apps" >/dev/null ||
  fail "POST /v2/apps to the booted master"
routed() { grep -q '^routed to edge\.' <<<"$(curl -s --max-time 5 -H 'Host: edge.test' "http://127.0.0.1:$edge_port/")"; }
if ! (unset -f fail; wait_until 240 "/edge through the public agent's edge router" routed); then
  fail "no answer from /edge through the edge: $(curl -s --max-time 5 -H 'Host: edge.test' "http://127.0.0.1:$edge_port/"); tasks: $(api "$master_api" /v2/apps/edge/tasks); queue: $(api "$master_api" /v2/queue); agents: $(api "$master_api" /mesos/master/slaves); leader: $(api "$master_api" /v2/leader); the agent's tasks: $(api "$agent_api" /agent/v1/tasks)"
fi
echo "ok: an app deployed through the booted master's Marathon API answered through the public agent's edge router: $(curl -s --max-time 5 -H 'Host: edge.test' "http://127.0.0.1:$edge_port/")"
shutdown_node agent 90
shutdown_node master 90
echo "ok: both powered off cleanly"

# --- firmware boot, no edits: OVMF, systemd-boot, DHCP ------------------------
# The image as a flashed disk boots: its own boot entry (no dcos.address=, no
# ip=), its network from DHCP (qemu's, handing out 172.31.240.11, one of
# cluster.json's masters, and a host name), the address detected.
fw_start=$SECONDS
QEMU_USER_NET="net=172.31.240.0/24,host=172.31.240.2,dhcpstart=172.31.240.11,hostname=master-dhcp" \
  QEMU_GUEST=172.31.240.11 boot_firmware fw "$out/dcos-master" "$master_api" ""
wait_serial fw "dcosd ready in" 240
fw_ready_s=$((SECONDS - fw_start))
grep -q "dcos-node-identity.*address 172.31.240.11 (detected), host master-dhcp" "$harness_dir/fw.serial" ||
  fail "the firmware-booted master did not detect its address and DHCP host name: $(grep dcos-node-identity "$harness_dir/fw.serial")"
grep -q "dcos.address" "$harness_dir/fw.serial" && fail "the firmware boot had dcos.address= on its command line"
wait_healthy "$master_api" 60 "firmware-booted master"
master_node() { grep -q '"address":"172.31.240.11"' <<<"$(api "$master_api" /v1/cluster/nodes)"; }
wait_until 30 "the DHCP master in its own /v1/cluster/nodes" master_node
shutdown_node fw 90
echo "ok: OVMF -> systemd-boot (the image's own entry) -> DHCP -> address detected among the masters -> dcosd ready, healthy"

# --- figures -----------------------------------------------------------------
size() { du -b "$1" | cut -f1; }
alloc() { du -B1 "$1" | cut -f1; }
echo "--- figures"
for role in master agent-public; do
  echo "  $role: build ${build_s[$role]} s (cache ${build_cache[$role]}), raw $(size "$out/dcos-$role.raw") B apparent, $(alloc "$out/dcos-$role.raw") B allocated"
done
echo "  boot to dcosd ready under TCG: master direct ${master_ready_s} s (agent booting alongside), firmware ${fw_ready_s} s"
