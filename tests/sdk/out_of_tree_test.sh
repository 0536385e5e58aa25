#!/bin/bash
# Installs the SDK from the build tree into a scratch prefix, builds the
# example custom role (plugins/examples/agent-gpu) against it with
# find_package(dcos), and runs the real dcosd with that role.
set -euo pipefail
build=$1
src=$2
# shellcheck source=../support/wait.sh
source "$src/tests/support/wait.sh"
work=$(mktemp -d /tmp/dcos-sdk-test.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/dcosd.log" ] && sed 's/^/  dcosd: /' "$work/dcosd.log" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" --component dev >/dev/null
[ -f "$work/prefix/include/dcos/plugin.h" ] || fail "SDK header not installed"
[ -f "$work/prefix/include/dcos/plugin.hpp" ] || fail "C++ adapter not installed"
[ -n "$(find "$work/prefix" -path '*/cmake/dcos/dcosConfig.cmake')" ] || fail "CMake package not installed"

cmake -S "$src/plugins/examples/agent-gpu" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/cmake.log" 2>&1 ||
  { cat "$work/cmake.log"; fail "configuring the example against the installed SDK"; }
cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "building the example"; }
cmake --install "$work/build" >/dev/null
plugin=$(ls "$work"/prefix/lib/dcos/plugins/role-agent-gpu.so) || fail "the example did not install into the SDK's plugin dir"

# Only the entry symbol is exported.
exported=$(nm -D --defined-only "$plugin" | awk '$2 == "T" {print $3}')
[ "$exported" = "dcos_plugin_entry_v1" ] || fail "unexpected exported symbols: $exported"

mkdir -p "$work/plugins" "$work/config"
cp "$build"/plugins/*.so "$plugin" "$work/plugins/"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
zkport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The example cluster, with its ensemble on loopback where nothing answers:
# the agent runs degraded, and no traffic leaves the machine.
python3 - "$src/examples/cluster/cluster.json" "$work/config/cluster.json" "$zkport" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["masters"] = ["127.0.0.1"]
c["zookeeper"] = {"client_port": int(sys.argv[3])}
json.dump(c, open(sys.argv[2], "w"))
PY
cat >"$work/config/node.json" <<JSON
{"role": "agent-gpu", "address": "127.0.0.1", "hostname": "gpu-1",
 "api": {"listen": "127.0.0.1:$port"}, "firewall": {"enabled": false}}
JSON

dcosd=("$build/dcosd/dcosd" --config-dir "$work/config" --plugin-dir "$work/plugins" --state-dir "$work/state")
"${dcosd[@]}" --check >"$work/check.log" 2>&1 || { cat "$work/check.log"; fail "dcosd --check with the custom role"; }
grep -q "^role: agent-gpu 1.0.0" "$work/check.log" || fail "--check does not show the role: $(cat "$work/check.log")"
grep -q "^zone: private, resource role gpu" "$work/check.log" || fail "--check does not show zone and resource role"
grep -q "^attributes: gpu:true" "$work/check.log" || fail "--check does not show the gpu attribute"

"${dcosd[@]}" >"$work/dcosd.log" 2>&1 &
pid=$!
running() {
  kill -0 "$pid" 2>/dev/null || fail "dcosd exited"
  grep -q '"phase":"running"' <<<"$(curl -sS "http://127.0.0.1:$port/health" 2>/dev/null)"
}
wait_until 10 "dcosd running with the custom role" running
node=$(curl -fsS "http://127.0.0.1:$port/v1/node")
grep -q '"resource_role":"gpu"' <<<"$node" || fail "/v1/node lacks the gpu resource role: $node"
grep -q '"gpu":"true"' <<<"$node" || fail "/v1/node lacks the gpu attribute: $node"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "dcosd exited $status after SIGTERM"
echo "out-of-tree role agent-gpu built against the installed SDK and ran: ok"
