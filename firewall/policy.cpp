#include "firewall/policy.h"

#include "base/text.h"

namespace dcos::firewall {

Result<Zone> parseZone(const std::string &name) {
  if (name == "admin") return Zone::Admin;
  if (name == "private") return Zone::Private;
  if (name == "public") return Zone::Public;
  return makeError("unknown zone " + text::quote(name) + " (known: admin, private, public)");
}

std::string_view zoneName(Zone zone) {
  switch (zone) {
    case Zone::Admin: return "admin";
    case Zone::Private: return "private";
    case Zone::Public: return "public";
  }
  return "?";
}

std::vector<PortRange> exposedPorts(const config::ClusterConfig &cluster, Zone zone, Proto proto) {
  std::vector<PortRange> out;
  if (zone == Zone::Admin && proto == Proto::Tcp) {
    out = {{80, 80}, {443, 443}};
    if (cluster.operatorSsh) out.push_back({22, 22});
  } else if (zone == Zone::Public) {
    for (const auto &r : proto == Proto::Tcp ? cluster.publicTcpPorts : cluster.publicUdpPorts) {
      out.push_back({r.first, r.last});
    }
  }
  return mergePorts(out);
}

std::vector<PortRange> controlPlanePorts(const config::ClusterConfig &cluster, uint16_t nodeApiPort) {
  const auto &zk = cluster.zookeeper;
  return mergePorts({{zk.clientPort, zk.clientPort},
                     {zk.peerPort, zk.peerPort},
                     {zk.electionPort, zk.electionPort},
                     {kNodeApiPort, kNodeApiPort},
                     {nodeApiPort, nodeApiPort}});
}

Result<Ruleset> zoneRuleset(const config::ClusterConfig &cluster, Zone zone, const std::vector<Cgroup> &taskCgroups,
                            uint16_t nodeApiPort) {
  Ruleset rs;
  auto intervals = [](const std::vector<std::string> &texts, const std::string &where) -> Result<std::vector<Interval>> {
    std::vector<Interval> out;
    for (const auto &t : texts) {
      auto iv = parseInterval(t);
      if (!iv) return iv.error().wrap(where);
      out.push_back(*iv);
    }
    return out;
  };
  std::vector<std::string> nets;
  for (const auto *z : {&cluster.admin, &cluster.privateZone, &cluster.publicZone}) {
    nets.insert(nets.end(), z->networks.begin(), z->networks.end());
  }
  auto clusterNets = intervals(nets, "zone networks");
  if (!clusterNets) return clusterNets.error();
  auto masters = intervals(cluster.masters, "masters");
  if (!masters) return masters.error();
  auto operators = intervals(cluster.operatorNetworks, "operators");
  if (!operators) return operators.error();

  rs.addressSets.push_back({kClusterNets, true, *clusterNets});
  rs.addressSets.push_back({kClusterNodes, false, *masters});
  rs.addressSets.push_back({kOperators, true, *operators});
  rs.portSets.push_back({kExposedTcp, exposedPorts(cluster, zone, Proto::Tcp)});
  rs.portSets.push_back({kExposedUdp, exposedPorts(cluster, zone, Proto::Udp)});

  Rule nets4;
  nets4.sourceKind = Rule::SourceKind::Set;
  nets4.sourceSet = kClusterNets;
  nets4.comment = "cluster networks: all ports";
  rs.rules.push_back(nets4);
  Rule nodes = nets4;
  nodes.sourceSet = kClusterNodes;
  nodes.comment = "cluster nodes: all ports";
  rs.rules.push_back(nodes);

  auto expose = [&](Rule::SourceKind kind, Proto proto, const char *who) {
    Rule r;
    r.sourceKind = kind;
    if (kind == Rule::SourceKind::Set) r.sourceSet = kOperators;
    r.proto = proto;
    r.portSet = proto == Proto::Tcp ? kExposedTcp : kExposedUdp;
    r.comment = std::string(who) + ": exposed " + std::string(protoName(proto)) + " ports";
    rs.rules.push_back(r);
  };
  if (zone == Zone::Admin) {
    expose(Rule::SourceKind::Set, Proto::Tcp, "operators");
    expose(Rule::SourceKind::Set, Proto::Udp, "operators");
  } else if (zone == Zone::Public) {
    expose(Rule::SourceKind::Any, Proto::Tcp, "anyone");
    expose(Rule::SourceKind::Any, Proto::Udp, "anyone");
  }
  if (!taskCgroups.empty()) {
    rs.portSets.push_back({kControlTcp, controlPlanePorts(cluster, nodeApiPort)});
    rs.addressSets.push_back({kMasters, false, *masters});
    rs.portSets.push_back({kAdminTcp, {{80, 80}, {443, 443}}});
    rs.taskGuard = TaskGuard{taskCgroups,
                             {{kControlTcp, {kClusterNets, kClusterNodes}, true}, {kAdminTcp, {kMasters}, false}}};
  }
  if (auto s = rs.validate(); !s) return s.error();
  return rs;
}

}  // namespace dcos::firewall
