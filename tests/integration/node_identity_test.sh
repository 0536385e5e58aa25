#!/bin/bash
# dcos-node-identity (the image's boot-time node.json writer) in network
# namespaces of its own, with real links, addresses and routes (iproute2):
# the kernel command line wins; a master is found by its address in
# cluster.json's masters; an agent takes the source address of its route
# towards the first master, not its default route's; cluster.json's
# ip_detect_filename script; the host name from a DHCP lease, else the
# address; an address that comes late (DHCP still on its way); the errors
# (a master without its address, no route, a broken detect script) name
# what was seen; an operator's node.json and a package install are left
# alone. Needs root; exits 77 (skipped) without it.
#
# Usage: node_identity_test.sh SOURCE_DIR
set -euo pipefail

source=$(realpath "$1")
script=$source/units/dcos-node-identity
if [[ $(id -u) != 0 ]]; then echo "skipped: needs root"; exit 77; fi
# shellcheck source=../support/wait.sh
source "$source/tests/support/wait.sh"

work=$(mktemp -d /tmp/dcos-identity-test.XXXXXX)
ns=dcos-idt-$$
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A fresh namespace: links d0 and d1 (veth pairs, up), no addresses, no routes.
fresh_ns() {
  ip netns del "$ns" 2>/dev/null || true
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  for l in d0 d1; do
    ip -n "$ns" link add "$l" type veth peer name "p$l"
    ip -n "$ns" link set "$l" up
    ip -n "$ns" link set "p$l" up
  done
}
# A fresh /etc/dcos: ROLE (empty: no image-role), CMDLINE, then cluster.json's
# extra keys.
fresh_etc() {
  rm -rf "$work/etc" "$work/leases"
  mkdir -p "$work/etc" "$work/leases"
  [[ -z $1 ]] || echo "$1" >"$work/etc/image-role"
  echo "root=PARTUUID=x rw console=ttyS0 $2" >"$work/cmdline"
  printf '{"cluster_name":"t","masters":["10.99.0.11","10.99.0.12","10.99.0.13"]%s}\n' "${3:-}" >"$work/etc/cluster.json"
}
# Runs the script in the namespace with its own UTS namespace, the kernel's
# host name the placeholder "localhost"; its output goes to $work/out.
identify() {
  ip netns exec "$ns" unshare -u env DCOS_IDENTITY_CMDLINE="$work/cmdline" DCOS_IDENTITY_ETC="$work/etc" \
    DCOS_IDENTITY_LEASES="$work/leases" DCOS_IDENTITY_WAIT="${WAIT:-2}" \
    sh -c 'hostname localhost && exec sh "$0"' "$script" >"$work/out" 2>&1
}
node_json() { cat "$work/etc/node.json"; }
expect_node() {  # WHAT EXPECTED-JSON
  local got
  got=$(node_json) || fail "$1: no node.json; the script said: $(cat "$work/out")"
  [[ $got == "$2" ]] || fail "$1: node.json is $got, expected $2; the script said: $(cat "$work/out")"
  echo "ok: $1: $(tail -1 "$work/out")"
}
expect_error() {  # WHAT PATTERN
  if identify; then fail "$1: the script succeeded: $(cat "$work/out")"; fi
  grep -qE -- "$2" "$work/out" || fail "$1: expected /$2/ in: $(cat "$work/out")"
  [[ ! -e $work/etc/node.json ]] || fail "$1: a node.json was written: $(node_json)"
  echo "ok: $1: $(cat "$work/out")"
}
json() {  # ROLE ADDRESS HOSTNAME [API]
  printf '{"role": "%s", "address": "%s", "hostname": "%s", "api": {"listen": "%s"}, "firewall": {"enabled": true}}' \
    "$1" "$2" "$3" "${4:-$2:61001}"
}

# --- the kernel command line wins --------------------------------------------
fresh_ns
ip -n "$ns" addr add 10.99.0.11/24 dev d0
fresh_etc master "dcos.address=10.50.0.7 dcos.hostname=m-7 dcos.api=0.0.0.0:61001"
identify || fail "command line: $(cat "$work/out")"
expect_node "dcos.address= wins over the detected master address" "$(json master 10.50.0.7 m-7 0.0.0.0:61001)"
grep -q "from the kernel command line" "$work/out" || fail "the script does not say where the address came from"
grep -q "dcos.address=10.50.0.7 is not an address of this node after 2 s; going on" "$work/out" ||
  fail "no word that the command line's address is not this node's: $(cat "$work/out")"
ip -n "$ns" addr add 10.50.0.7/24 dev d1
identify || fail "command line: $(cat "$work/out")"
grep -q "not an address of this node" "$work/out" && fail "the node's own address taken for a foreign one: $(cat "$work/out")"
fresh_etc master "dcos.address=10.50.0.7 systemd.hostname=m-sd dcos.role=agent-public dcos.firewall=off"
identify || fail "command line: $(cat "$work/out")"
[[ $(node_json) == '{"role": "agent-public", "address": "10.50.0.7", "hostname": "m-sd", "api": {"listen": "10.50.0.7:61001"}, "firewall": {"enabled": false}}' ]] ||
  fail "dcos.role=, systemd.hostname= and dcos.firewall=off not honoured: $(node_json)"
echo "ok: dcos.role= over image-role, systemd.hostname= as the host name, dcos.firewall=off"

# --- a master: its address is in cluster.json's masters ----------------------
fresh_ns
ip -n "$ns" addr add 10.77.0.5/24 dev d0
ip -n "$ns" addr add 10.99.0.12/24 dev d1
ip -n "$ns" route add default via 10.77.0.1
fresh_etc master ""
ifindex=$(ip -n "$ns" -o link show d1 | cut -d: -f1)
printf 'ADDRESS=10.99.0.12\nNETMASK=255.255.255.0\nHOSTNAME=master-two\n' >"$work/leases/$ifindex"
identify || fail "master detection: $(cat "$work/out")"
expect_node "a master takes its address among cluster.json's masters, its host name from that link's DHCP lease" \
  "$(json master 10.99.0.12 master-two)"

fresh_ns
ip -n "$ns" addr add 10.77.0.5/24 dev d0
ip -n "$ns" route add default via 10.77.0.1
fresh_etc master ""
expect_error "a master holding none of the masters' addresses" \
  "no node address after 2 s: a master, and none of this node's addresses \(10\.77\.0\.5\) is one of cluster.json's masters \(10\.99\.0\.11 10\.99\.0\.12 10\.99\.0\.13\); give dcos.address="

# --- an agent: the route towards the first master ----------------------------
# Its default route leaves by d0; the masters are reached through d1.
fresh_ns
ip -n "$ns" addr add 10.77.0.5/24 dev d0
ip -n "$ns" addr add 10.88.0.5/24 dev d1
ip -n "$ns" route add default via 10.77.0.1
ip -n "$ns" route add 10.99.0.0/24 via 10.88.0.1
fresh_etc agent-private ""
identify || fail "agent detection: $(cat "$work/out")"
expect_node "an agent takes the source of its route towards the first master; no lease, no name: the address" \
  "$(json agent-private 10.88.0.5 10.88.0.5)"
# Only a default route: its address.
ip -n "$ns" route del 10.99.0.0/24
identify || fail "agent detection: $(cat "$work/out")"
expect_node "an agent with only a default route takes that route's address (the generated node.json rewritten)" \
  "$(json agent-private 10.77.0.5 10.77.0.5)"
# No route at all.
fresh_ns
ip -n "$ns" addr add 10.77.0.5/24 dev d0
fresh_etc agent-private ""
expect_error "an agent with no route towards the masters" \
  "no node address after 2 s: no route towards the first master 10\.99\.0\.11, no default route with an address \(addresses: 10\.77\.0\.5\)"

# --- an address that comes late ----------------------------------------------
# The script runs while the link has no address yet; the address comes
# (as DHCP's would) while it waits.
fresh_ns
fresh_etc agent-public ""
WAIT=60 identify &
identify_pid=$!
waiting() { grep -qE "waiting for the node's address \([0-9]+ s\): no route towards the first master" "$work/out"; }
wait_until 30 "the script waiting for an address" waiting
ip -n "$ns" addr add 10.88.0.9/24 dev d1
ip -n "$ns" route add default via 10.88.0.1
wait "$identify_pid" || fail "the late address: $(cat "$work/out")"
expect_node "an address that comes after the script starts" "$(json agent-public 10.88.0.9 10.88.0.9)"

# --- cluster.json's ip_detect_filename ---------------------------------------
fresh_ns
ip -n "$ns" addr add 10.99.0.11/24 dev d0
fresh_etc master "" ',"ip_detect_filename":"ip-detect"'
printf '#!/bin/sh\necho 10.99.0.13\n' >"$work/etc/ip-detect"
chmod 0755 "$work/etc/ip-detect"
identify || fail "ip-detect: $(cat "$work/out")"
expect_node "a relative ip_detect_filename, run from beside cluster.json, wins over the addresses" \
  "$(json master 10.99.0.13 10.99.0.13)"
rm "$work/etc/node.json"
printf '#!/bin/sh\necho cannot reach the metadata service >&2\nexit 3\n' >"$work/etc/ip-detect"
expect_error "an ip-detect that fails" "$work/etc/ip-detect failed: cannot reach the metadata service"
printf '#!/bin/sh\necho eth0\n' >"$work/etc/ip-detect"
expect_error "an ip-detect that prints no address" "$work/etc/ip-detect printed 'eth0', not one IP address"
printf '#!/bin/sh\necho 10.99.0.12\necho 10.99.0.13\n' >"$work/etc/ip-detect"
expect_error "an ip-detect that prints two addresses" "printed '10.99.0.1210.99.0.13', not one IP address"
printf '#!/bin/sh\necho 10.99.0.300\n' >"$work/etc/ip-detect"
expect_error "an ip-detect that prints an octet over 255" "printed '10.99.0.300', not one IP address"
printf '#!/bin/sh\necho "warning: no metadata service, using the route" >&2\necho 10.99.0.12\n' >"$work/etc/ip-detect"
identify || fail "ip-detect with a warning: $(cat "$work/out")"
expect_node "an ip-detect's stderr is no part of the address" "$(json master 10.99.0.12 10.99.0.12)"
rm "$work/etc/node.json"
chmod 0644 "$work/etc/ip-detect"
expect_error "an ip-detect that cannot run" "ip_detect_filename $work/etc/ip-detect is not an executable file"

# --- the role's zone networks ---------------------------------------------------
# An agent's default route leaves by d0, which is up first; the private
# zone's network comes on d1 later, as a second port's lease would: the
# zone's address is the node's, not the first link's.
fresh_ns
ip -n "$ns" addr add 10.77.0.5/24 dev d0
ip -n "$ns" route add default via 10.77.0.1
fresh_etc agent-private "" ',"zones":{"admin":{"networks":["10.99.0.0/26"]},"private":{"networks":["fd00::/64","10.99.0.64/26"]},"public":{"networks":[]}}'
WAIT=60 identify &
identify_pid=$!
zone_wait() { grep -q "is inside the private zone's networks (10.99.0.64/26)" "$work/out"; }
wait_until 30 "the script waiting for an address in the private zone" zone_wait
ip -n "$ns" addr add 10.99.0.70/26 dev d1
wait "$identify_pid" || fail "the zone's address: $(cat "$work/out")"
expect_node "an agent takes its address in its zone's networks, not the first link's" \
  "$(json agent-private 10.99.0.70 10.99.0.70)"
# The same cluster.json pretty-printed by an operator.
printf '{\n  "cluster_name": "t",\n  "masters": [\n    "10.99.0.11"\n  ],\n  "zones": {\n    "private": {\n      "networks": [\n        "10.99.0.64/26"\n      ]\n    }\n  }\n}\n' \
  >"$work/etc/cluster.json"
identify || fail "a pretty-printed cluster.json: $(cat "$work/out")"
expect_node "a pretty-printed cluster.json" "$(json agent-private 10.99.0.70 10.99.0.70)"

# --- what is left alone --------------------------------------------------------
# A generated node.json an operator then changed.
sed -i 's/"firewall": {"enabled": true}/"firewall": {"enabled": true}, "attributes": {"rack": "r1"}/' "$work/etc/node.json"
identify || fail "a changed node.json: $(cat "$work/out")"
grep -q '"rack": "r1"' "$work/etc/node.json" || fail "an operator's change to the generated node.json was undone: $(node_json)"
grep -q "written or changed by an operator; left alone" "$work/out" || fail "no word of the operator's node.json: $(cat "$work/out")"
echo "ok: a generated node.json an operator changed is left alone"
fresh_etc master "dcos.address=10.50.0.7"
echo '{"role": "master", "address": "10.1.1.1"}' >"$work/etc/node.json"
identify || fail "operator's node.json: $(cat "$work/out")"
[[ $(node_json) == '{"role": "master", "address": "10.1.1.1"}' ]] || fail "an operator's node.json was changed: $(node_json)"
echo "ok: an operator's node.json is never touched: $(cat "$work/out")"
fresh_etc "" ""
identify || fail "package install: $(cat "$work/out")"
[[ ! -e $work/etc/node.json ]] || fail "a node.json was written on a host that is no node image: $(node_json)"
echo "ok: a host with no image-role and no dcos.role=: $(cat "$work/out")"
fresh_etc agent-private "dcos.address=10.50.0.7;rm"
expect_error "a command-line address that is no address" "dcos.address=10.50.0.7;rm is not an IP address"
fresh_etc agent-private "dcos.address=999.1.1.1"
expect_error "a command-line address with an octet over 255" "dcos.address=999.1.1.1 is not an IP address"
echo "PASS"
