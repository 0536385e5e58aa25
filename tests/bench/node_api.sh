#!/bin/bash
# The node API under load: requests/s and latency of GET /health with 64
# keep-alive clients (wrk), alone and with 200 half-sent requests held open,
# side by side with nginx serving a static /health the same way (one worker;
# the peer every operator knows). dcosd and nginx run on core 0, wrk on core
# 1. Loopback only.
#
# Usage: tests/bench/node_api.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=$(realpath "${1:-build}")
seconds=${2:-10}
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
for tool in wrk nginx taskset python3; do
  command -v "$tool" >/dev/null || { echo "node_api.sh: needs $tool (apt-get install wrk nginx-light)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/dcos-bench-api.XXXXXX)
chmod 755 "$work"  # nginx's worker reads its root as www-data
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api_port=$(free_port)
nginx_port=$(free_port)

# dcosd: an agent with no master (healthy enough to answer), firewall off.
mkdir -p "$work/config" "$work/state"
python3 - "$source_dir" "$work" "$api_port" <<'EOF'
import json, sys
src, work, port = sys.argv[1], sys.argv[2], sys.argv[3]
cluster = json.load(open(f"{src}/examples/cluster/cluster.json"))
cluster["masters"] = ["127.0.0.1"]
node = json.load(open(f"{src}/examples/cluster/node-agent-private.json"))
node["api"] = {"listen": f"127.0.0.1:{port}", "header_timeout_ms": 600000}
node["firewall"] = {"enabled": False}
json.dump(cluster, open(f"{work}/config/cluster.json", "w"))
json.dump(node, open(f"{work}/config/node.json", "w"))
EOF
taskset -c 0 "$build/dcosd/dcosd" --config-dir "$work/config" --plugin-dir "$build/plugins" \
  --state-dir "$work/state" --log-level warning >"$work/dcosd.log" 2>&1 &
pids+=($!)

# nginx: one worker, /health a static file of the same size.
mkdir -p "$work/www"
curl_wait() {  # URL
  for _ in $(seq 1 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "node_api.sh: $1 never answered" >&2; cat "$work"/*.log >&2; exit 1
}
curl_wait "http://127.0.0.1:$api_port/health" || true
curl -s "http://127.0.0.1:$api_port/health" >"$work/www/health"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_header_timeout 600s;
  server { listen 127.0.0.1:$nginx_port; root $work/www; default_type application/json; }
}
EOF
taskset -c 0 nginx -c "$work/nginx.conf" &
pids+=($!)
curl_wait "http://127.0.0.1:$nginx_port/health"

# Holds N half-sent requests to PORT until killed; prints its pid once they
# are all open.
hold() {
  rm -f "$work/held"
  python3 - "$1" "$2" "$work/held" >/dev/null 2>&1 <<'EOF' &
import socket, sys, time
port, n, mark = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /v1/node HTTP/1.1\r\nHost: x\r\n")
    held.append(s)
open(mark, "w").close()
time.sleep(3600)
EOF
  local pid=$!
  for _ in $(seq 1 200); do [[ -e $work/held ]] && break; sleep 0.05; done
  [[ -e $work/held ]] || { echo "node_api.sh: could not hold $2 connections" >&2; exit 1; }
  echo "$pid"
}

run() {  # NAME PORT IDLE
  local holder=
  if [[ $3 -gt 0 ]]; then
    holder=$(hold "$2" "$3")
  fi
  local out
  out=$(taskset -c 1 wrk -t1 -c64 -d"${seconds}s" --latency "http://127.0.0.1:$2/health")
  [[ -n $holder ]] && kill "$holder" 2>/dev/null
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf '%-8s %12s %12s %10s %10s  %s\n' "$1" "$3" "$rps" "$p50" "$p99" "${errors:-}"
}

echo "GET /health, 64 keep-alive clients (wrk -t1 -c64 -d${seconds}s), server on core 0, wrk on core 1"
printf '%-8s %12s %12s %10s %10s\n' "server" "slow conns" "requests/s" "p50" "p99"
run dcosd "$api_port" 0
run dcosd "$api_port" 200
run nginx "$nginx_port" 0
run nginx "$nginx_port" 200
