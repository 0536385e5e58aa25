// The node's zone firewall in the kernel.
//
//   Firewall: one table, replaced atomically, and changes to its set
//   elements; each call is one netlink batch.
//   ZoneFirewall: the zone policy on top: the ruleset from the cluster
//   config, ports opened and closed by modules (reference counted), nodes
//   joining and leaving (set elements only, no chain rebuild).
//
// Both are thread safe: calls are serialized. A refused batch changes nothing
// in the kernel and nothing in the remembered state.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "base/result.h"
#include "config/config.h"
#include "firewall/model.h"
#include "firewall/netlink.h"
#include "firewall/policy.h"

namespace dcos::firewall {

class Firewall {
 public:
  static Result<std::unique_ptr<Firewall>> open();

  // Replaces table inet <ruleset.table> with the ruleset, atomically.
  Status apply(const Ruleset &ruleset);
  // apply() plus a rule the kernel refuses: for tests of atomicity.
  Status applyRefused(const Ruleset &ruleset);
  // Deletes table inet <table> if it exists (a no-op otherwise).
  Status remove(const std::string &table);

  // Element changes on the applied ruleset's sets.
  Status addAddresses(const std::string &set, const std::vector<Interval> &elements);
  Status removeAddresses(const std::string &set, const std::vector<Interval> &elements);
  Status addPorts(const std::string &set, const std::vector<PortRange> &elements);
  Status removePorts(const std::string &set, const std::vector<PortRange> &elements);

  // The ruleset as last applied and changed.
  Ruleset ruleset() const;

 private:
  explicit Firewall(std::unique_ptr<Netlink> netlink) : netlink_(std::move(netlink)) {}
  Status changeAddresses(const std::string &set, const std::vector<Interval> &elements, bool add);
  Status changePorts(const std::string &set, const std::vector<PortRange> &elements, bool add);

  mutable std::mutex mutex_;
  std::unique_ptr<Netlink> netlink_;
  Ruleset ruleset_;
  bool applied_ = false;
  uint32_t seq_ = 1;
};

class ZoneFirewall {
 public:
  // taskCgroups: where tasks run, kept from the control plane (policy.h).
  ZoneFirewall(std::unique_ptr<Firewall> firewall, config::ClusterConfig cluster, Zone zone,
               std::vector<Cgroup> taskCgroups = {}, uint16_t nodeApiPort = kNodeApiPort);

  // Programs the zone's ruleset.
  Status apply();
  // Exposes (proto, port) on this node as its zone exposes ports, if the
  // node's zone is in `zones`; otherwise does nothing. Reference counted.
  Status openPort(const std::vector<Zone> &zones, Proto proto, uint16_t port);
  Status closePort(const std::vector<Zone> &zones, Proto proto, uint16_t port);
  // A cluster node's address: all its traffic is let in.
  Status nodeJoined(const std::string &address);
  Status nodeLeft(const std::string &address);

  Zone zone() const { return zone_; }
  Firewall &firewall() { return *firewall_; }

 private:
  bool covered(Proto proto, uint16_t port) const;

  std::unique_ptr<Firewall> firewall_;
  config::ClusterConfig cluster_;
  Zone zone_;
  std::vector<Cgroup> taskCgroups_;
  uint16_t nodeApiPort_;
  std::mutex mutex_;
  std::map<std::tuple<Proto, uint16_t>, int> opened_;  // ports modules opened, by reference count
  std::map<std::string, int> members_;                 // addresses of joined nodes
};

}  // namespace dcos::firewall
