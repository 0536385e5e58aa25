#!/bin/bash
# Local cluster figures: how long `dcos cluster up` takes to a healthy
# cluster (1 and 3 masters, each with one private and one public agent), and
# the memory the running cluster holds (RSS of every process in its
# namespaces: each dcosd and each master's ZooKeeper JVM, read the moment
# the cluster is healthy). Needs root.
#
# Usage: tests/bench/cluster_up.sh [BUILD_DIR] [RUNS]
set -euo pipefail
build=$(realpath "${1:-build}")
runs=${2:-3}
dcos=$build/cli/dcos
state=$(mktemp -d /tmp/dcos-bench.XXXXXX)
trap '"$dcos" cluster down --name bench --state-dir "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT

rss_kib() {  # total RSS of the processes in the namespaces dcos-bench-*
  local total=0 ns pid kib
  for ns in $(ip netns list | awk '/^dcos-bench-/ {print $1}'); do
    for pid in $(ip netns pids "$ns"); do
      kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      total=$((total + ${kib:-0}))
    done
  done
  echo "$total"
}

printf '%-28s %10s %10s %10s %14s\n' "cluster" "min s" "median s" "max s" "memory MiB"
for masters in 1 3; do
  times=()
  mem=0
  for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    "$dcos" cluster up --name bench --network 172.31.253.0/24 --state-dir "$state" \
      --masters "$masters" --private-agents 1 --public-agents 1 >/dev/null
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}')")
    mem=$(rss_kib)
    "$dcos" cluster down --name bench --state-dir "$state" >/dev/null
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  min=$(echo "$sorted" | head -1)
  max=$(echo "$sorted" | tail -1)
  median=$(echo "$sorted" | sed -n "$(((runs + 1) / 2))p")
  printf '%-28s %10.2f %10.2f %10.2f %14.1f\n' "$masters master(s), 1 + 1 agents" "$min" "$median" "$max" \
    "$(awk -v k="$mem" 'BEGIN {print k / 1024}')"
done
