#!/bin/bash
# dcosd under a real systemd as PID 1: a container booted with systemd-nspawn
# (host's /usr, a volatile root, its own network namespace) runs the installed
# dcosd.service unit for a master. Checked from outside, through the node API,
# kazoo and the container's own systemctl/journalctl:
#   - dcosd.service is active (Type=notify: READY=1 reached) and its zone
#     firewall is applied inside the namespace;
#   - ZooKeeper runs as the transient unit dcos-zookeeper.service (sd-bus), as
#     the zookeeper user, logging to the journal; the node registered in it;
#   - dcosd's records carry DCOS_ROLE/DCOS_PLUGIN in the journal;
#   - the server killed: PID 1 restarts it, /health goes unhealthy and back;
#   - dcosd killed: PID 1 restarts dcosd, which adopts the running server;
#   - systemctl stop dcosd: the ZooKeeper unit is gone with it;
#   - `dcos cluster up` (the installed CLI) works there too, its nodes'
#     ZooKeeper a child process rather than a unit of that systemd.
# Needs root and systemd-nspawn; exits 77 (skipped) without them.
#
# Usage: systemd_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build=$(realpath "$1")
source=$(realpath "$2")

if [[ $(id -u) != 0 ]]; then echo "skipped: needs root"; exit 77; fi
if ! command -v systemd-nspawn >/dev/null; then echo "skipped: no systemd-nspawn (package systemd-container)"; exit 77; fi
if [[ ! -e /usr/share/java/zookeeper.jar ]]; then echo "skipped: no ZooKeeper server (package zookeeper)"; exit 77; fi

# shellcheck source=../support/wait.sh
source "$source/tests/support/wait.sh"
work=$(mktemp -d /tmp/dcos-systemd-test.XXXXXX)
ns=dcos-sd-$$
nspawn_pid=
init_pid=

fail() {
  echo "FAIL: $*" >&2
  if [[ -n $init_pid ]]; then
    echo "--- journalctl -u dcosd -u dcos-zookeeper (tail)" >&2
    in_container journalctl --no-pager -u dcosd -u dcos-zookeeper -u 'dcos-task-*' 2>&1 | tail -40 >&2 || true
    in_container journalctl --no-pager -u dcosd 2>&1 | grep -i "warn\|check\|cannot" | tail -5 >&2 || true
    if [[ $(type -t agent_api) == function ]]; then
      echo "--- the agent's tasks" >&2
      agent_api GET /agent/v1/tasks >&2 || true
    fi
  fi
  exit 1
}

cleanup() {
  if [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
    # nspawn turns SIGTERM into a clean poweroff of the container.
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    wait_exit "$nspawn_pid" 10 || kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

in_container() { nsenter -t "$init_pid" -m -u -i -n -p "$@"; }
prop() { in_container systemctl show -P "$2" "$1"; }
api() { ip netns exec "$ns" curl -sf --max-time 2 "http://127.0.0.1:61001$1"; }
health_of() { api /health | /usr/bin/python3 -c '
import json, sys
h = json.load(sys.stdin)
print(h["status"], *[p["health"] for p in h["plugins"] if p["name"] == sys.argv[1]])' "$1"; }

# The install tree, as the packages lay it out (/usr/sbin/dcosd,
# /usr/lib/dcos/plugins), mounted at /opt/dcos in the container.
DESTDIR=$work/install cmake --install "$build" >/dev/null

mkdir -p "$work/etc-dcos" "$work/units/multi-user.target.wants" "$work/units/dcosd.service.d"
cp "$source/units/dcosd.service" "$source/units/dcos-tasks.slice" "$work/units/"
ln -s ../dcosd.service "$work/units/multi-user.target.wants/dcosd.service"
cat >"$work/units/dcosd.service.d/test.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/opt/dcos/usr/sbin/dcosd --plugin-dir /opt/dcos/usr/lib/dcos/plugins
EOF
cat >"$work/etc-dcos/cluster.json" <<'EOF'
{"cluster_name": "systemd-test", "masters": ["127.0.0.1"],
 "zones": {"admin": {"networks": ["127.0.0.0/8"]}}, "resolvers": []}
EOF
cat >"$work/etc-dcos/node.json" <<'EOF'
{"role": "master", "address": "127.0.0.1", "hostname": "master-1", "api": {"listen": "127.0.0.1:61001"}}
EOF

ip netns add "$ns"
ip -n "$ns" link set lo up

# --volatile=yes: a tmpfs root with the host's /usr; /etc gets only what the
# node needs (users, Java's config, the node config and units).
systemd-nspawn -q -D / --volatile=yes --register=no --keep-unit -M "$ns" \
  --network-namespace-path="/run/netns/$ns" --capability=CAP_NET_ADMIN,CAP_SYS_ADMIN \
  --bind-ro=/etc/passwd --bind-ro=/etc/group --bind-ro=/etc/alternatives --bind-ro=/etc/java-17-openjdk \
  --bind-ro="$work/etc-dcos:/etc/dcos" --bind-ro="$work/units:/etc/systemd/system" \
  --bind-ro="$work/install:/opt/dcos" \
  --boot systemd.firstboot=off >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!

find_init() {
  init_pid=$(pgrep -P "$nspawn_pid" -x systemd || true)
  [[ -n $init_pid ]]
}
wait_until 30 "the container's systemd" find_init
unit_active() { [[ $(prop "$1" ActiveState) == active ]]; }
wait_until 60 "dcosd.service active" unit_active dcosd.service
echo "ok: dcosd.service active (Type=notify), status: $(prop dcosd StatusText)"

# READY=1 comes before the node's ZooKeeper session: wait for healthy.
zk_healthy() { [[ $(health_of zookeeper) == "healthy healthy" ]]; }
wait_until 30 "the node healthy" zk_healthy
grep -q '"state":"applied"' <<<"$(api /health)" || fail "firewall not applied: $(api /health)"
grep -q "chain input" <<<"$(in_container nft list table inet dcos)" || fail "no table inet dcos in the node's namespace"
echo "ok: node healthy, firewall applied in the node's namespace"

[[ $(prop dcos-zookeeper.service Transient) == yes ]] || fail "dcos-zookeeper.service is not a transient unit"
[[ $(prop dcos-zookeeper.service User) == zookeeper ]] || fail "dcos-zookeeper.service runs as '$(prop dcos-zookeeper.service User)'"
zk_pid=$(prop dcos-zookeeper.service MainPID)
[[ $(in_container ps -o user= -p "$zk_pid") == zookeeper ]] || fail "the server process does not run as zookeeper"
grep -q '"description":"serving"' <<<"$(api /exhibitor/v1/cluster/status)" || fail "exhibitor status: $(api /exhibitor/v1/cluster/status)"
# Output captured before grep: with pipefail, grep -q closing the pipe early
# would fail the writer with SIGPIPE.
journal_has() { grep -qF -- "$2" <<<"$(in_container journalctl --no-pager -u "$1")"; }
wait_until 20 "the server's log in the journal" journal_has dcos-zookeeper QuorumPeerMain
echo "ok: dcos-zookeeper.service transient, as zookeeper, pid $zk_pid, logging to the journal"

registered() {
  grep -q '"127.0.0.1"' <<<"$(ip netns exec "$ns" /usr/bin/python3 "$source/tests/integration/zk_children.py" \
    127.0.0.1:2181 /dcos/nodes)"
}
wait_until 20 "the master registered (read with kazoo)" registered
echo "ok: /dcos/nodes/127.0.0.1 in ZooKeeper"

grep -q "DCOS_ROLE=master" <<<"$(in_container journalctl --no-pager -o verbose DCOS_PLUGIN=zookeeper)" \
  || fail "no journal record with DCOS_PLUGIN=zookeeper and DCOS_ROLE=master"
echo "ok: journal records carry DCOS_ROLE and DCOS_PLUGIN"

# The server dies: PID 1 restarts it; the module reports it meanwhile.
in_container systemctl kill -s KILL dcos-zookeeper.service
restarted() { (($(prop dcos-zookeeper.service NRestarts) >= 1)); }
wait_until 20 "a restarted server" restarted
wait_until 30 "zookeeper healthy again" zk_healthy
journal_has dcosd "zookeeper: health unhealthy: dcos-zookeeper.service is" || fail "the module never reported the dead server"
zk_pid=$(prop dcos-zookeeper.service MainPID)
echo "ok: server killed, restarted by systemd (pid $zk_pid), reported and healthy again"

# dcosd dies: PID 1 restarts it, and the new dcosd adopts the running server.
dcosd_pid=$(prop dcosd MainPID)
in_container systemctl kill -s KILL --kill-who=main dcosd.service
new_dcosd() {
  local p
  p=$(prop dcosd.service MainPID)
  [[ $p != 0 && $p != "$dcosd_pid" ]] && unit_active dcosd.service
}
wait_until 30 "a new dcosd ready" new_dcosd
[[ $(prop dcos-zookeeper.service MainPID) == "$zk_pid" ]] || fail "the server was restarted with dcosd"
journal_has dcosd "adopted the running dcos-zookeeper.service (pid $zk_pid)" || fail "no adoption in dcosd's log"
echo "ok: dcosd killed and restarted by systemd; the server (pid $zk_pid) kept running and was adopted"

# The server stopped from outside: nothing in systemd restarts it; the module does.
in_container systemctl stop dcos-zookeeper.service
back() { [[ $(prop dcos-zookeeper.service ActiveState) == active && $(prop dcos-zookeeper.service MainPID) != "$zk_pid" ]]; }
wait_until 30 "the module starting the stopped server again" back
wait_until 30 "zookeeper healthy after the outside stop" zk_healthy
journal_has dcosd "dcos-zookeeper.service is gone and nothing restarts it: starting it again" ||
  fail "no line in dcosd's log about the server started again"
echo "ok: dcos-zookeeper.service stopped from outside; the module started it again (pid $(prop dcos-zookeeper.service MainPID))"

# dcosd crashes and comes back with the process executor: the unit the old
# one left on the data dir is stopped, and the server runs as dcosd's child.
cat >"$work/etc-dcos/node.json" <<'EOF'
{"role": "master", "address": "127.0.0.1", "hostname": "master-1", "api": {"listen": "127.0.0.1:61001"},
 "modules": {"zookeeper": {"executor": "process"}}}
EOF
dcosd_pid=$(prop dcosd MainPID)
in_container systemctl kill -s KILL --kill-who=main dcosd.service
wait_until 30 "a new dcosd ready with the process executor" new_dcosd
unit_gone() { [[ $(prop dcos-zookeeper.service LoadState) == not-found ]]; }
wait_until 30 "the unit left by the systemd executor stopped" unit_gone
wait_until 30 "zookeeper healthy as dcosd's child" zk_healthy
journal_has dcosd "left on this data dir by the systemd executor" || fail "no line about the left unit in dcosd's log"
echo "ok: executor switched to process after a crash: the left unit stopped, the server a child of dcosd, healthy"

# A graceful stop takes the server with it.
in_container systemctl stop dcosd.service
[[ $(prop dcos-zookeeper.service LoadState) == not-found ]] \
  || fail "dcos-zookeeper.service still $(prop dcos-zookeeper.service ActiveState) after dcosd stopped"
echo "ok: systemctl stop dcosd stopped dcos-zookeeper.service"

# The local cluster on a host where systemd is PID 1 (a fresh Debian
# machine): its nodes are processes in their namespaces, and their ZooKeeper
# a child of the master's dcosd, never a unit of the host's systemd.
in_container /opt/dcos/usr/bin/dcos cluster up --name sd --network 172.31.248.0/24 --state-dir /var/lib/dcos-sd \
  >"$work/cluster-up.log" 2>&1 || { cat "$work/cluster-up.log" >&2; fail "dcos cluster up under systemd"; }
nodes=$(in_container /opt/dcos/usr/bin/dcos node list --name sd --state-dir /var/lib/dcos-sd)
for host in master-1 agent-private-1 agent-public-1; do
  grep -q "$host" <<<"$nodes" || fail "node list lacks $host: $nodes"
done
[[ -z $(in_container systemctl list-units --no-legend --all 'dcos-zookeeper*') ]] \
  || fail "the local cluster's ZooKeeper became a unit of the host"
in_container grep -q "run by dcosd as a child process" /var/lib/dcos-sd/sd/m1/dcosd.log \
  || fail "the local cluster's master did not run ZooKeeper as its child"
in_container /opt/dcos/usr/bin/dcos cluster down --name sd --state-dir /var/lib/dcos-sd >/dev/null
echo "ok: dcos cluster up where systemd is PID 1: 3 nodes, ZooKeeper a child of the master's dcosd, down again"

# The same node as a private agent: its tasks run as transient units of this
# systemd (the systemd executor), each dcos-task-<id>.service.
cat >"$work/etc-dcos/node.json" <<'EOF2'
{"role": "agent-private", "address": "127.0.0.1", "hostname": "agent-1", "api": {"listen": "127.0.0.1:61001"}}
EOF2
in_container systemctl start dcosd.service
wait_until 60 "dcosd.service active as an agent" unit_active dcosd.service
agent_api() { ip netns exec "$ns" curl -s --max-time 5 -X "$1" "http://127.0.0.1:61001$2" ${3:+-H 'Content-Type: application/json' -d "$3"}; }
json_field() { /usr/bin/python3 -c 'import json,sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1"; }
agent_up() { [[ $(agent_api GET /agent/v1/info | json_field executor) == systemd ]]; }
wait_until 30 "the agent API with the systemd executor" agent_up
task_state() { agent_api GET "/agent/v1/tasks/$1" | json_field state; }
state_is() { [[ $(task_state "$1") == "$2" ]]; }
launch() {
  local out
  out=$(agent_api POST /agent/v1/tasks "$1")
  [[ $(json_field state <<<"$out") =~ ^TASK_ ]] || fail "launch $1: $out"
}

launch '{"id": "trap.1", "cmd": "echo hello-$MESOS_TASK_ID; trap \"echo got-term; exit 0\" TERM; while :; do sleep 0.1; done",
  "cpus": 0.5, "mem": 64, "killGracePeriodSeconds": 10, "ports": [31005], "env": {"GREETING": "hi"}}'
wait_until 20 "trap.1 running" state_is trap.1 TASK_RUNNING
unit=dcos-task-trap.1.service
[[ $(prop $unit ActiveState) == active ]] || fail "$unit is $(prop $unit ActiveState)"
[[ $(prop $unit Transient) == yes ]] || fail "$unit is not transient"
[[ $(prop $unit Slice) == dcos-tasks.slice ]] || fail "$unit in slice $(prop $unit Slice)"
[[ $(prop $unit User) == nobody ]] || fail "$unit runs as '$(prop $unit User)'"
[[ $(prop $unit CPUQuotaPerSecUSec) == 500ms ]] || fail "$unit CPUQuota: $(prop $unit CPUQuotaPerSecUSec)"
[[ $(prop $unit CPUWeight) == 50 ]] || fail "$unit CPUWeight: $(prop $unit CPUWeight)"
[[ $(prop $unit MemoryMax) == $((64 * 1024 * 1024)) ]] || fail "$unit MemoryMax: $(prop $unit MemoryMax)"
[[ $(prop $unit NoNewPrivileges) == yes ]] || fail "$unit NoNewPrivileges: $(prop $unit NoNewPrivileges)"
[[ -z $(prop $unit CapabilityBoundingSet) ]] || fail "$unit has capabilities: $(prop $unit CapabilityBoundingSet)"
sandbox=$(agent_api GET /agent/v1/tasks/trap.1 | json_field sandbox)
[[ $(prop $unit WorkingDirectory) == "$sandbox" ]] || fail "$unit works in $(prop $unit WorkingDirectory), not $sandbox"
main_pid=$(prop $unit MainPID)
# Its stdout and stderr: the sandbox's files, opened by the agent and handed
# to PID 1 as descriptors.
[[ $(in_container readlink /proc/"$main_pid"/fd/1) == "$sandbox/stdout" ]] || fail "$unit's stdout is $(in_container readlink /proc/"$main_pid"/fd/1)"
[[ $(in_container readlink /proc/"$main_pid"/fd/2) == "$sandbox/stderr" ]] || fail "$unit's stderr is $(in_container readlink /proc/"$main_pid"/fd/2)"
[[ $(agent_api GET /agent/v1/tasks/trap.1 | json_field pid) == "$main_pid" ]] || fail "the task's pid is not the unit's MainPID $main_pid"
[[ $(in_container ps -o user= -p "$main_pid") == nobody ]] || fail "the task's process does not run as nobody"
grep -q '^CapEff:[[:space:]]*0000000000000000' <<<"$(in_container cat /proc/"$main_pid"/status)" \
  || fail "the task has effective capabilities"
in_container cat /proc/"$main_pid"/environ | tr '\0' '\n' >"$work/environ"
for kv in PORT0=31005 PORTS=31005 HOST=127.0.0.1 MESOS_TASK_ID=trap.1 GREETING=hi "MESOS_SANDBOX=$sandbox"; do
  grep -qx "$kv" "$work/environ" || fail "the task's environment lacks $kv: $(cat "$work/environ")"
done
stdout_has() { [[ $(agent_api GET "/agent/v1/tasks/$1/files/read?path=stdout" | json_field data) == *"$2"* ]]; }
wait_until 10 "trap.1's stdout read back" stdout_has trap.1 hello-trap.1
echo "ok: trap.1 runs as $unit (pid $main_pid, nobody, no capabilities, CPUQuota 50%, CPUWeight 50, MemoryMax 64 MiB, dcos-tasks.slice), stdout read back"

launch '{"id": "stubborn.1", "cmd": "trap \"\" TERM; echo armed; while :; do sleep 0.1; done", "killGracePeriodSeconds": 1}'
wait_until 20 "stubborn.1 running" state_is stubborn.1 TASK_RUNNING
wait_until 10 "stubborn.1 armed" stdout_has stubborn.1 armed
agent_api POST /agent/v1/tasks/stubborn.1/kill >/dev/null
agent_api DELETE /agent/v1/tasks/trap.1 >/dev/null
wait_until 20 "trap.1 killed" state_is trap.1 TASK_KILLED
stdout_has trap.1 got-term || fail "trap.1 never saw SIGTERM"
wait_until 20 "stubborn.1 killed" state_is stubborn.1 TASK_KILLED
[[ $(agent_api GET /agent/v1/tasks/stubborn.1 | json_field signal) == 9 ]] \
  || fail "stubborn.1 did not end by SIGKILL: $(agent_api GET /agent/v1/tasks/stubborn.1)"
unit_gone() { [[ $(prop "$1" LoadState) == not-found ]]; }
wait_until 10 "the killed tasks' units released" unit_gone dcos-task-stubborn.1.service
wait_until 10 "the killed tasks' units released" unit_gone $unit
echo "ok: kill with a grace period: a task that traps SIGTERM exits on it, one that ignores it gets SIGKILL; both units released"

# Kept from the control plane by the zone firewall's output chain, which
# matches dcos-tasks.slice's cgroup: the node API (listening on
# 127.0.0.1:61001 here) refuses a task, while another task's port answers.
grep -q 'socket cgroupv2 level 2 "[a-z/]*dcos.slice/dcos-tasks.slice"' <<<"$(in_container nft list chain inet dcos output)" \
  || fail "no task guard in the output chain: $(in_container nft list chain inet dcos output 2>&1)"
launch '{"id": "listener.1", "cmd": "exec /usr/bin/python3 -m http.server $PORT0 --bind 127.0.0.1", "ports": [31007]}'
wait_until 20 "listener.1 running" state_is listener.1 TASK_RUNNING
listening() { in_container bash -c 'exec 3<>/dev/tcp/127.0.0.1/31007' 2>/dev/null; }
wait_until 20 "listener.1 listening" listening
launch '{"id": "prober.1", "cmd": "for p in 61001 31007; do if bash -c \"exec 3<>/dev/tcp/127.0.0.1/$p\" 2>/dev/null; then echo $p-reached; else echo $p-refused; fi; done"}'
wait_until 20 "prober.1 finished" state_is prober.1 TASK_FINISHED
probed=$(agent_api GET "/agent/v1/tasks/prober.1/files/read?path=stdout" | json_field data)
[[ $probed == *61001-refused* && $probed == *31007-reached* ]] || fail "a task's connections: $probed"
agent_api GET /agent/v1/info >/dev/null || fail "the node API refuses the node itself"
agent_api DELETE /agent/v1/tasks/listener.1 >/dev/null
echo "ok: a task is refused the node API (a reset from the output chain matching dcos-tasks.slice) and reaches another task"

# A COMMAND health check runs in the task's own unit (its cgroup, limits and
# guard), as the task's user.
launch '{"id": "checked.1", "cmd": "while :; do sleep 0.1; done", "healthChecks": [{"protocol": "COMMAND",
  "command": {"value": "grep -q dcos-task-checked.1.service /proc/self/cgroup && test $(id -un) = nobody"},
  "gracePeriodSeconds": 0, "intervalSeconds": 0.2, "timeoutSeconds": 5}]}'
healthy_task() { [[ $(agent_api GET /agent/v1/tasks/checked.1 | json_field healthy) == True ]]; }
wait_until 20 "checked.1 healthy" healthy_task
agent_api DELETE /agent/v1/tasks/checked.1 >/dev/null
echo "ok: a COMMAND check of a unit's task runs in that unit, as the task's user"

# The sandbox's output files cannot be turned against PID 1: the agent
# opens them and hands PID 1 the descriptors.
launch '{"id": "args.1", "args": ["sh", "-c", "echo args-ran-in-$PWD"]}'
wait_until 20 "args.1 finished" state_is args.1 TASK_FINISHED
stdout_has args.1 "args-ran-in-/var/lib/dcos/agent/tasks/args.1/sandbox" || fail "args.1: $(agent_api GET /agent/v1/tasks/args.1/files/read?path=stdout)"
[[ $(prop dcos-task-args.1.service LoadState) == not-found ]] || fail "args.1's unit was not released"
echo "ok: args run with the task's PATH in its sandbox"

launch '{"id": "fails.1", "cmd": "exit 3"}'
wait_until 20 "fails.1 failed" state_is fails.1 TASK_FAILED
[[ $(agent_api GET /agent/v1/tasks/fails.1 | json_field exit_code) == 3 ]] || fail "fails.1: $(agent_api GET /agent/v1/tasks/fails.1)"
launch '{"id": "done.1", "cmd": "echo done"}'
wait_until 20 "done.1 finished" state_is done.1 TASK_FINISHED
wait_until 10 "done.1's unit released" unit_gone dcos-task-done.1.service
echo "ok: a task's exit status from its unit: exit 3 is TASK_FAILED with exit_code 3, exit 0 TASK_FINISHED"

# Over its memory: the kernel's OOM killer, then systemd, end it. Only where
# the container's systemd has the memory controller (a host with cgroup v2
# alone); the image test checks it under a booted systemd in any case.
memory_files() { in_container sh -c 'ls /sys/fs/cgroup/dcos.slice/dcos-tasks.slice/memory.max /sys/fs/cgroup/memory/dcos.slice/dcos-tasks.slice/memory.limit_in_bytes 2>/dev/null'; }
if [[ -n $(memory_files) ]]; then
  launch '{"id": "hog.1", "cmd": "exec /usr/bin/python3 -c \"b = bytearray(256 * 1024 * 1024)\"", "mem": 32}'
  wait_until 30 "hog.1 ended" state_is hog.1 TASK_FAILED
  [[ $(agent_api GET /agent/v1/tasks/hog.1 | json_field message) == "memory limit exceeded"* ]] \
    || fail "hog.1 was not reported over its memory: $(agent_api GET /agent/v1/tasks/hog.1)"
  echo "ok: a task over MemoryMax is killed and reported: $(agent_api GET /agent/v1/tasks/hog.1 | json_field message)"
else
  echo "ok: (memory enforcement not checked: this container's systemd has no memory controller; the image test checks it)"
fi

# Recovery: dcosd killed (and later restarted) with tasks running; one ends
# while no dcosd is there.
launch '{"id": "long.1", "cmd": "while :; do sleep 0.1; done"}'
launch '{"id": "waits.1", "cmd": "while [ ! -e /tmp/dcos-test-go ]; do sleep 0.05; done; exit 7"}'
wait_until 20 "long.1 running" state_is long.1 TASK_RUNNING
wait_until 20 "waits.1 running" state_is waits.1 TASK_RUNNING
long_pid=$(prop dcos-task-long.1.service MainPID)
in_container systemctl mask --runtime dcosd.service >/dev/null
in_container systemctl kill -s KILL --kill-who=main dcosd.service
dcosd_down() { [[ $(prop dcosd.service ActiveState) != active ]]; }
wait_until 20 "dcosd down" dcosd_down
in_container touch /tmp/dcos-test-go
# As if dcosd had died between starting long.1's unit and learning its pid.
in_container /usr/bin/python3 -c 'import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["pid"] = s["supervisor"] = s["supervisor_start"] = 0
json.dump(s, open(p, "w"))' /var/lib/dcos/agent/tasks/long.1/meta/state.json
waits_exited() { [[ $(prop dcos-task-waits.1.service ExecMainStatus) == 7 ]]; }
wait_until 20 "waits.1 exited while dcosd was down" waits_exited
in_container systemctl unmask --runtime dcosd.service >/dev/null
in_container systemctl start dcosd.service
wait_until 30 "the agent back" agent_up
[[ $(prop dcos-task-long.1.service MainPID) == "$long_pid" ]] || fail "long.1 was restarted"
wait_until 10 "long.1 re-adopted" state_is long.1 TASK_RUNNING
wait_until 10 "waits.1 reported" state_is waits.1 TASK_FAILED
[[ $(agent_api GET /agent/v1/tasks/waits.1 | json_field exit_code) == 7 ]] || fail "waits.1: $(agent_api GET /agent/v1/tasks/waits.1)"
in_container systemctl restart dcosd.service
wait_until 30 "the agent back after systemctl restart" agent_up
[[ $(prop dcos-task-long.1.service MainPID) == "$long_pid" ]] || fail "long.1 was restarted by systemctl restart dcosd"
state_is long.1 TASK_RUNNING || fail "long.1 after systemctl restart dcosd: $(task_state long.1)"
[[ $(agent_api GET /agent/v1/tasks/long.1 | json_field pid) == "$long_pid" ]] || fail "long.1's pid not learned from its unit"
echo "ok: dcosd SIGKILLed and restarted: long.1 re-adopted (same unit, pid $long_pid, learned from PID 1), waits.1 reported with its real exit status 7; systemctl restart dcosd re-adopts too"
agent_api DELETE /agent/v1/tasks/long.1 >/dev/null
wait_until 20 "long.1 killed" state_is long.1 TASK_KILLED
