// The zone policy: from the cluster config and this node's zone to the
// Ruleset that node enforces.
//
//   every node   all ports from the cluster's networks and nodes
//   admin        + the exposed ports (TCP 80, 443; 22 if operators.ssh) from the operators' networks
//   public       + the exposed ports (public_ports) from anywhere
//   private      nothing else
//
// Sets (each address set is two kernel sets, <name>4 and <name>6):
//   cluster_nets   interval  the zones' networks
//   cluster_nodes  hash      node addresses: the masters, then members as they join
//   operators      interval  the operators' networks
//   exposed_tcp, exposed_udp  interval  ports the zone exposes; modules add to them
// With task cgroups (the output chain's task guard):
//   control_tcp    interval  the control plane's TCP ports (ZooKeeper's, the
//                            node API's), refused to tasks on the cluster's
//                            networks, nodes and this node's own addresses
//   masters        hash      the masters' addresses, whose admin ports
//   admin_tcp      interval  (80, 443: the node API and the admin router
//                            there) are refused to tasks too
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "firewall/model.h"

namespace dcos::firewall {

enum class Zone { Admin, Private, Public };
Result<Zone> parseZone(const std::string &name);
std::string_view zoneName(Zone zone);

inline constexpr const char *kClusterNets = "cluster_nets";
inline constexpr const char *kClusterNodes = "cluster_nodes";
inline constexpr const char *kOperators = "operators";
inline constexpr const char *kExposedTcp = "exposed_tcp";
inline constexpr const char *kExposedUdp = "exposed_udp";
inline constexpr const char *kControlTcp = "control_tcp";
inline constexpr const char *kMasters = "masters";
inline constexpr const char *kAdminTcp = "admin_tcp";
inline constexpr uint16_t kNodeApiPort = 61001;

// ZooKeeper's client, peer and election ports, the node API's (every
// node's default, and this node's own).
std::vector<PortRange> controlPlanePorts(const config::ClusterConfig &cluster, uint16_t nodeApiPort);

// The ports a zone exposes to its outside before any module asks for more.
std::vector<PortRange> exposedPorts(const config::ClusterConfig &cluster, Zone zone, Proto proto);

// With taskCgroups, the output chain keeps their processes from the
// control plane (the TaskGuard of model.h).
Result<Ruleset> zoneRuleset(const config::ClusterConfig &cluster, Zone zone, const std::vector<Cgroup> &taskCgroups = {},
                            uint16_t nodeApiPort = kNodeApiPort);

}  // namespace dcos::firewall
