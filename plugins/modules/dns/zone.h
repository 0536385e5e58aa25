// The cluster's zone: every record the masters answer for, built in one go
// from a snapshot of the scheduler's state (ClusterState), looked up by the
// server without locks (a Zone never changes once built; a new state makes
// a new Zone, swapped in whole).
//
// Names, as Mesos-DNS makes them (D the domain, F the framework "marathon",
// L and C a task's label and canonical label, see names.h):
//   L.F.D, C.F.D                 A: the task's address (its agent's, host networking)
//   L.F.slave.D, C.F.slave.D     A: its agent's address
//   _L._tcp.F.D (_udp)           SRV per port of that protocol -> C.F.D
//   _<port name>._L._tcp.F.D     SRV per named port -> C.F.D
//   _L._tcp.F.slave.D (_udp)     SRV per host port -> C.F.slave.D
//   leader.D                     A: the scheduler leader's master; _leader._tcp.D, _leader._udp.D SRV
//   master.D, master<i>.D        A: every master / the i-th in cluster.json's order
//   slave.D, agent.D             A: every agent; _slave._tcp.D SRV to each agent's API
//   F.D, _framework._tcp.F.D     A and SRV: where Marathon's API is served (the leader)
//   ns1.D                        A: this master; D NS ns1.D and SOA
// Only TASK_RUNNING tasks have records, as in Mesos-DNS.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "plugins/modules/dns/wire.h"

namespace dcos::dns {

struct ClusterState {
  struct Port {
    int port = 0;
    std::string protocol = "tcp";  // "tcp", "udp" or "udp,tcp"
    std::string name;
  };
  struct App {
    std::string id;
    std::vector<Port> ports;  // portDefinitions, in order
  };
  struct Task {
    std::string id, appId, agentId, state;
    std::vector<int> ports;  // host ports, in the order of the app's portDefinitions
  };
  struct Agent {
    std::string id, address, hostname;
    int apiPort = 0;
  };
  std::vector<std::string> masters;  // addresses, cluster.json's order
  std::string leader;                // the scheduler leader's address ("" none)
  int leaderPort = 0;                // where its API listens
  std::map<std::string, App> apps;   // by app id
  std::vector<Task> tasks;
  std::map<std::string, Agent> agents;  // by agent id
};

struct ZoneConfig {
  std::string domain = "mesos";
  std::string framework = "marathon";
  uint32_t ttl = 60;
  // How long a resolver may remember that a name does not exist (the SOA's
  // minimum, RFC 2308): short, so that a name asked for before its task
  // runs answers soon after it does (Mesos-DNS uses the TTL, 60 s).
  uint32_t negativeTtl = 1;
  std::string self;  // this master's address: ns1.D
};

// What a name in the zone answers.
struct Answer {
  Rcode rcode = Rcode::NoError;
  std::vector<Record> answer, authority, additional;
};

class Zone {
 public:
  // `complete`: built from a whole read of the cluster's state. A zone that
  // is not (a master just started, ZooKeeper not read yet) answers SERVFAIL
  // for the names it lacks rather than NXDOMAIN, which resolvers would
  // remember, so clients ask another master.
  static std::shared_ptr<const Zone> build(const ZoneConfig &config, const ClusterState &state, uint32_t serial,
                                           bool complete = true);

  // Whether `lowerName` (lower-cased, no trailing dot) is the domain or under it.
  bool inZone(const std::string &lowerName) const;

  // The answer to a question whose name is in the zone; records carry the
  // question's spelling of the name; answers come in a new random order
  // each call. Types: A, AAAA (none here: NODATA), SRV, NS, SOA, ANY.
  // NXDOMAIN (SOA in authority) for a name that does not exist, NOERROR
  // with the SOA in authority for one that exists without that type.
  Answer lookup(const Question &q) const;

  // The Mesos-DNS HTTP API: /v1/hosts/{host} and /v1/services/{service}
  // (a name with or without the trailing dot, any case).
  struct Host {
    std::string host, ip;
  };
  struct Service {
    std::string service, host, ip;
    int port = 0;
  };
  std::vector<Host> hosts(const std::string &name) const;
  std::vector<Service> services(const std::string &name) const;

  // Every record in master-file form (RFC 1035 section 5), the SOA first:
  // what another server (NSD, in the benchmark) loads to serve the same.
  std::string zoneFile() const;

  uint32_t serial() const { return serial_; }
  size_t names() const { return nodes_.size(); }
  const ZoneConfig &config() const { return config_; }

 private:
  struct Node {
    std::vector<Ipv4> a;
    std::vector<Ipv6> aaaa;
    std::vector<Srv> srv;
  };
  void addA(const std::string &name, const std::string &address);
  void addSrv(const std::string &name, const std::string &target, int port);
  Record soa(const std::string &owner) const;
  void addTargets(const std::vector<Srv> &srv, std::vector<Record> &additional) const;

  ZoneConfig config_;
  uint32_t serial_ = 0;
  bool complete_ = true;
  std::string apex_;  // the domain, lower-cased
  std::unordered_map<std::string, Node> nodes_;
  // Names with no records that have names below them (_tcp.marathon.mesos):
  // NOERROR and empty, not NXDOMAIN (RFC 8020).
  std::unordered_map<std::string, bool> branches_;
};

}  // namespace dcos::dns
