#include "firewall/firewall.h"

#include <algorithm>

#include "base/text.h"
#include "firewall/translate.h"

namespace dcos::firewall {

Result<std::unique_ptr<Firewall>> Firewall::open() {
  auto netlink = Netlink::open();
  if (!netlink) return netlink.error();
  return std::unique_ptr<Firewall>(new Firewall(std::move(*netlink)));
}

Status Firewall::apply(const Ruleset &ruleset) {
  if (auto s = ruleset.validate(); !s) return s;
  std::lock_guard lock(mutex_);
  Batch batch(seq_);
  addReplace(batch, ruleset);
  batch.finish();
  seq_ = batch.nextSeq();
  if (auto s = netlink_->send(batch); !s) return s.error().wrap("table inet " + ruleset.table);
  ruleset_ = ruleset;
  applied_ = true;
  return Status::Ok();
}

Status Firewall::applyRefused(const Ruleset &ruleset) {
  std::lock_guard lock(mutex_);
  Batch batch(seq_);
  addReplace(batch, ruleset);
  addRefusedRule(batch, ruleset.table, "rule injected to be refused");
  batch.finish();
  seq_ = batch.nextSeq();
  if (auto s = netlink_->send(batch); !s) return s.error().wrap("table inet " + ruleset.table);
  return Status::Ok();
}

Status Firewall::remove(const std::string &table) {
  std::lock_guard lock(mutex_);
  Batch batch(seq_);
  addDeleteTable(batch, table);
  batch.finish();
  seq_ = batch.nextSeq();
  if (auto s = netlink_->send(batch); !s) return s.error().wrap("table inet " + table);
  if (table == ruleset_.table) applied_ = false;
  return Status::Ok();
}

namespace {

// One batch of element changes to a set of the applied ruleset; the
// remembered ruleset follows only once the kernel has taken it.
template <class Set, class Element, class Build>
Status changeElements(std::vector<Set> &sets, const std::string &name, const char *kind,
                      const std::vector<Element> &elements, bool add, bool applied, uint32_t &seq, Netlink &netlink,
                      const std::string &table, Build build) {
  auto it = std::find_if(sets.begin(), sets.end(), [&](const Set &s) { return s.name == name; });
  if (!applied || it == sets.end()) return makeError(std::string("no applied ") + kind + " " + text::quote(name));
  Batch batch(seq);
  build(batch, *it);
  batch.finish();
  seq = batch.nextSeq();
  if (batch.acked() == 0) return Status::Ok();
  if (auto s = netlink.send(batch); !s) return s.error().wrap("table inet " + table);
  for (const auto &e : elements) {
    auto found = std::find(it->elements.begin(), it->elements.end(), e);
    if (add && found == it->elements.end()) it->elements.push_back(e);
    if (!add && found != it->elements.end()) it->elements.erase(found);
  }
  return Status::Ok();
}

}  // namespace

Status Firewall::changeAddresses(const std::string &set, const std::vector<Interval> &elements, bool add) {
  std::lock_guard lock(mutex_);
  return changeElements(ruleset_.addressSets, set, "address set", elements, add, applied_, seq_, *netlink_,
                        ruleset_.table, [&](Batch &b, const AddressSet &s) {
                          addAddressElements(b, ruleset_.table, s, elements, add);
                        });
}

Status Firewall::changePorts(const std::string &set, const std::vector<PortRange> &elements, bool add) {
  std::lock_guard lock(mutex_);
  return changeElements(ruleset_.portSets, set, "port set", elements, add, applied_, seq_, *netlink_, ruleset_.table,
                        [&](Batch &b, const PortSet &s) { addPortElements(b, ruleset_.table, s.name, elements, add); });
}

Status Firewall::addAddresses(const std::string &set, const std::vector<Interval> &e) { return changeAddresses(set, e, true); }
Status Firewall::removeAddresses(const std::string &set, const std::vector<Interval> &e) { return changeAddresses(set, e, false); }
Status Firewall::addPorts(const std::string &set, const std::vector<PortRange> &e) { return changePorts(set, e, true); }
Status Firewall::removePorts(const std::string &set, const std::vector<PortRange> &e) { return changePorts(set, e, false); }

Ruleset Firewall::ruleset() const {
  std::lock_guard lock(mutex_);
  return ruleset_;
}

ZoneFirewall::ZoneFirewall(std::unique_ptr<Firewall> firewall, config::ClusterConfig cluster, Zone zone,
                           std::vector<Cgroup> taskCgroups, uint16_t nodeApiPort)
    : firewall_(std::move(firewall)),
      cluster_(std::move(cluster)),
      zone_(zone),
      taskCgroups_(std::move(taskCgroups)),
      nodeApiPort_(nodeApiPort) {}

Status ZoneFirewall::apply() {
  auto rs = zoneRuleset(cluster_, zone_, taskCgroups_, nodeApiPort_);
  if (!rs) return rs.error();
  std::lock_guard lock(mutex_);
  // Keep what modules opened and who joined across a re-apply.
  for (const auto &[key, count] : opened_) {
    auto [proto, port] = key;
    if (!covered(proto, port)) {
      for (auto &s : rs->portSets) {
        if (s.name == (proto == Proto::Tcp ? kExposedTcp : kExposedUdp)) s.elements.push_back({port, port});
      }
    }
  }
  for (const auto &[address, count] : members_) {
    for (auto &s : rs->addressSets) {
      if (s.name == kClusterNodes) {
        auto iv = parseInterval(address);
        if (iv) s.elements.push_back(*iv);
      }
    }
  }
  return firewall_->apply(*rs);
}

bool ZoneFirewall::covered(Proto proto, uint16_t port) const {
  for (const auto &r : exposedPorts(cluster_, zone_, proto)) {
    if (r.first <= port && port <= r.last) return true;
  }
  return false;
}

Status ZoneFirewall::openPort(const std::vector<Zone> &zones, Proto proto, uint16_t port) {
  if (port == 0) return makeError("port 0 cannot be opened");
  if (std::find(zones.begin(), zones.end(), zone_) == zones.end() || zone_ == Zone::Private) return Status::Ok();
  std::lock_guard lock(mutex_);
  int &count = opened_[{proto, port}];
  if (count == 0 && !covered(proto, port)) {
    auto s = firewall_->addPorts(proto == Proto::Tcp ? kExposedTcp : kExposedUdp, {{port, port}});
    if (!s) {
      opened_.erase({proto, port});
      return s;
    }
  }
  ++count;
  return Status::Ok();
}

Status ZoneFirewall::closePort(const std::vector<Zone> &zones, Proto proto, uint16_t port) {
  if (std::find(zones.begin(), zones.end(), zone_) == zones.end() || zone_ == Zone::Private) return Status::Ok();
  std::lock_guard lock(mutex_);
  auto it = opened_.find({proto, port});
  if (it == opened_.end()) {
    return makeError(std::string(protoName(proto)) + " port " + std::to_string(port) + " was not opened");
  }
  if (it->second == 1 && !covered(proto, port)) {
    if (auto s = firewall_->removePorts(proto == Proto::Tcp ? kExposedTcp : kExposedUdp, {{port, port}}); !s) return s;
  }
  if (--it->second == 0) opened_.erase(it);
  return Status::Ok();
}

Status ZoneFirewall::nodeJoined(const std::string &address) {
  auto iv = parseInterval(address);
  if (!iv || !iv->single()) return makeError("not a node address: " + text::quote(address));
  // Keyed by the address, not its spelling: fd00::1 and fd00:0::1 are one node.
  const std::string key = formatInterval(*iv);
  std::lock_guard lock(mutex_);
  if (members_[key]++ > 0) return Status::Ok();
  auto s = firewall_->addAddresses(kClusterNodes, {*iv});
  if (!s) members_.erase(key);
  return s;
}

Status ZoneFirewall::nodeLeft(const std::string &address) {
  auto iv = parseInterval(address);
  if (!iv || !iv->single()) return makeError("not a node address: " + text::quote(address));
  const std::string key = formatInterval(*iv);
  std::lock_guard lock(mutex_);
  auto it = members_.find(key);
  if (it == members_.end()) return Status::Ok();
  if (it->second > 1) {
    --it->second;
    return Status::Ok();
  }
  // A master's address stays: it is part of the config, not of the membership.
  bool master = std::any_of(cluster_.masters.begin(), cluster_.masters.end(), [&](const std::string &m) {
    auto mi = parseInterval(m);
    return mi && *mi == *iv;
  });
  if (!master) {
    // Still a member until the kernel has let it go: a failed removal must
    // leave it counted, so that the next change tries again.
    if (auto s = firewall_->removeAddresses(kClusterNodes, {*iv}); !s) return s;
  }
  members_.erase(it);
  return Status::Ok();
}

}  // namespace dcos::firewall
