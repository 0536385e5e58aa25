#include "plugins/modules/dns/zone.h"

#include <arpa/inet.h>

#include <algorithm>
#include <random>
#include <set>

#include "plugins/modules/dns/names.h"

namespace dcos::dns {

namespace {

std::mt19937 &rng() {
  thread_local std::mt19937 r{std::random_device{}()};
  return r;
}

std::string stripDot(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

}  // namespace

void Zone::addA(const std::string &name, const std::string &address) {
  // An address that is not an IP (a host name in a record) makes no name.
  Ipv4 v4;
  Ipv6 v6;
  if (::inet_pton(AF_INET, address.c_str(), v4.data()) == 1) {
    Node &n = nodes_[name];
    if (std::find(n.a.begin(), n.a.end(), v4) == n.a.end()) n.a.push_back(v4);
  } else if (::inet_pton(AF_INET6, address.c_str(), v6.data()) == 1) {
    Node &n = nodes_[name];
    if (std::find(n.aaaa.begin(), n.aaaa.end(), v6) == n.aaaa.end()) n.aaaa.push_back(v6);
  }
}

void Zone::addSrv(const std::string &name, const std::string &target, int port) {
  if (port <= 0 || port > 65535) return;
  Srv s;
  s.priority = 0;
  s.weight = 1;
  s.port = static_cast<uint16_t>(port);
  s.target = target;
  Node &n = nodes_[name];
  for (const auto &e : n.srv) {
    if (e.port == s.port && e.target == s.target) return;
  }
  n.srv.push_back(std::move(s));
}

std::shared_ptr<const Zone> Zone::build(const ZoneConfig &config, const ClusterState &state, uint32_t serial,
                                       bool complete) {
  auto z = std::make_shared<Zone>();
  z->config_ = config;
  z->serial_ = serial;
  z->complete_ = complete;
  const std::string d = lower(config.domain);
  const std::string f = lower(config.framework);
  z->apex_ = d;
  const std::string fd = f + "." + d;
  const std::string fsd = f + ".slave." + d;

  // Tasks.
  for (const auto &t : state.tasks) {
    if (t.state != "TASK_RUNNING") continue;
    auto agent = state.agents.find(t.agentId);
    if (agent == state.agents.end() || agent->second.address.empty()) continue;
    const std::string &ip = agent->second.address;
    TaskLabels names = taskLabels(t.appId, t.id, t.agentId, config.framework, config.domain);
    if (names.label.empty()) continue;
    const std::string &l = names.label;
    const std::string &c = names.canonical;
    z->addA(l + "." + fd, ip);
    z->addA(c + "." + fd, ip);
    z->addA(l + "." + fsd, ip);
    z->addA(c + "." + fsd, ip);
    auto app = state.apps.find(t.appId);
    for (size_t i = 0; i < t.ports.size(); ++i) {
      int port = t.ports[i];
      const ClusterState::Port *def =
          app != state.apps.end() && i < app->second.ports.size() ? &app->second.ports[i] : nullptr;
      std::string protocols = def != nullptr ? def->protocol : "tcp";
      for (const char *proto : {"tcp", "udp"}) {
        if (protocols.find(proto) == std::string::npos) continue;
        const std::string p = std::string("._") + proto + ".";
        z->addSrv("_" + l + p + fd, c + "." + fd, port);
        if (def != nullptr && !def->name.empty()) {
          std::string pl = portLabel(def->name);
          std::string named = "_" + pl + "._" + l + p + fd;
          if (!pl.empty() && named.size() <= 253) z->addSrv(named, c + "." + fd, port);
        }
      }
      // Every host port, under both protocols: an agent's ports are not
      // of one protocol (Mesos-DNS writes both too).
      for (const char *proto : {"tcp", "udp"}) {
        z->addSrv("_" + l + "._" + proto + "." + fsd, c + "." + fsd, port);
      }
    }
  }

  // Masters, the leader, the framework.
  for (size_t i = 0; i < state.masters.size(); ++i) {
    z->addA("master." + d, state.masters[i]);
    z->addA("master" + std::to_string(i) + "." + d, state.masters[i]);
  }
  if (!state.leader.empty()) {
    z->addA("leader." + d, state.leader);
    z->addSrv("_leader._tcp." + d, "leader." + d, state.leaderPort);
    z->addSrv("_leader._udp." + d, "leader." + d, state.leaderPort);
    z->addA(fd, state.leader);
    z->addSrv("_framework._tcp." + fd, fd, state.leaderPort);
  }
  // Agents.
  for (const auto &[id, a] : state.agents) {
    if (a.address.empty()) continue;
    z->addA("slave." + d, a.address);
    z->addA("agent." + d, a.address);
    z->addSrv("_slave._tcp." + d, "slave." + d, a.apiPort);
    z->addSrv("_agent._tcp." + d, "agent." + d, a.apiPort);
  }
  // The zone's own.
  z->nodes_[d];
  if (!config.self.empty()) z->addA("ns1." + d, config.self);

  // Branches: every name above a record's name, up to the apex.
  for (const auto &[name, node] : z->nodes_) {
    size_t dot = name.find('.');
    while (dot != std::string::npos) {
      std::string up = name.substr(dot + 1);
      if (up.size() < d.size()) break;
      if (z->nodes_.count(up) == 0) z->branches_[up] = true;
      dot = name.find('.', dot + 1);
    }
  }
  return z;
}

bool Zone::inZone(const std::string &n) const {
  if (n.size() < apex_.size()) return false;
  if (n.size() == apex_.size()) return n == apex_;
  return n.compare(n.size() - apex_.size(), apex_.size(), apex_) == 0 && n[n.size() - apex_.size() - 1] == '.';
}

Record Zone::soa(const std::string &owner) const {
  Soa s;
  s.mname = "ns1." + config_.domain;
  s.rname = "root.ns1." + config_.domain;
  s.serial = serial_;
  s.refresh = 60;
  s.retry = 600;
  s.expire = 86400;
  s.minimum = config_.negativeTtl;
  return Record{owner, type::kSOA, config_.ttl, s};
}

void Zone::addTargets(const std::vector<Srv> &srv, std::vector<Record> &additional) const {
  std::set<std::string> done;
  for (const auto &s : srv) {
    if (!done.insert(s.target).second) continue;
    auto it = nodes_.find(s.target);
    if (it == nodes_.end()) continue;
    for (const auto &ip : it->second.a) additional.push_back(Record{s.target, type::kA, config_.ttl, ip});
    for (const auto &ip : it->second.aaaa) additional.push_back(Record{s.target, type::kAAAA, config_.ttl, ip});
  }
}

Answer Zone::lookup(const Question &q) const {
  Answer out;
  const std::string key = lower(q.name);
  // The apex as the question spells it.
  const std::string apexName =
      q.name.size() >= apex_.size() ? q.name.substr(q.name.size() - apex_.size()) : config_.domain;
  auto it = nodes_.find(key);
  if (it == nodes_.end()) {
    if (!complete_ && branches_.count(key) == 0) {
      out.rcode = Rcode::ServFail;
      return out;
    }
    out.rcode = branches_.count(key) != 0 ? Rcode::NoError : Rcode::NXDomain;
    out.authority.push_back(soa(apexName));
    return out;
  }
  const Node &n = it->second;
  const bool any = q.type == type::kANY;
  const uint32_t ttl = config_.ttl;
  if (q.type == type::kA || any) {
    for (const auto &ip : n.a) out.answer.push_back(Record{q.name, type::kA, ttl, ip});
  }
  if (q.type == type::kAAAA || any) {
    for (const auto &ip : n.aaaa) out.answer.push_back(Record{q.name, type::kAAAA, ttl, ip});
  }
  if (q.type == type::kSRV || any) {
    for (const auto &s : n.srv) out.answer.push_back(Record{q.name, type::kSRV, ttl, s});
    addTargets(n.srv, out.additional);
  }
  if (key == apex_) {
    if (q.type == type::kSOA || any) out.answer.push_back(soa(q.name));
    if (q.type == type::kNS || any) {
      out.answer.push_back(Record{q.name, type::kNS, ttl, std::string("ns1." + config_.domain)});
      auto ns = nodes_.find("ns1." + apex_);
      if (ns != nodes_.end()) {
        for (const auto &ip : ns->second.a) out.additional.push_back(Record{"ns1." + config_.domain, type::kA, ttl, ip});
      }
    }
  }
  std::shuffle(out.answer.begin(), out.answer.end(), rng());
  if (out.answer.empty()) out.authority.push_back(soa(apexName));
  return out;
}

std::string Zone::zoneFile() const {
  std::string out;
  const std::string ttl = std::to_string(config_.ttl);
  Soa s = std::get<Soa>(soa(config_.domain).data);
  out += config_.domain + ". " + ttl + " IN SOA " + s.mname + ". " + s.rname + ". " + std::to_string(s.serial) + " " +
         std::to_string(s.refresh) + " " + std::to_string(s.retry) + " " + std::to_string(s.expire) + " " +
         std::to_string(s.minimum) + "\n";
  out += config_.domain + ". " + ttl + " IN NS ns1." + config_.domain + ".\n";
  char buf[INET6_ADDRSTRLEN];
  std::vector<std::string> names;
  names.reserve(nodes_.size());
  for (const auto &[name, node] : nodes_) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (const auto &name : names) {
    const Node &n = nodes_.at(name);
    for (const auto &ip : n.a) out += name + ". " + ttl + " IN A " + ::inet_ntop(AF_INET, ip.data(), buf, sizeof buf) + "\n";
    for (const auto &ip : n.aaaa) {
      out += name + ". " + ttl + " IN AAAA " + ::inet_ntop(AF_INET6, ip.data(), buf, sizeof buf) + "\n";
    }
    for (const auto &r : n.srv) {
      out += name + ". " + ttl + " IN SRV " + std::to_string(r.priority) + " " + std::to_string(r.weight) + " " +
             std::to_string(r.port) + " " + r.target + ".\n";
    }
  }
  return out;
}

std::vector<Zone::Host> Zone::hosts(const std::string &name) const {
  std::vector<Host> out;
  std::string key = lower(stripDot(name));
  auto it = nodes_.find(key);
  if (it == nodes_.end()) return out;
  char buf[INET6_ADDRSTRLEN];
  for (const auto &ip : it->second.a) {
    out.push_back({key + ".", ::inet_ntop(AF_INET, ip.data(), buf, sizeof buf)});
  }
  for (const auto &ip : it->second.aaaa) {
    out.push_back({key + ".", ::inet_ntop(AF_INET6, ip.data(), buf, sizeof buf)});
  }
  return out;
}

std::vector<Zone::Service> Zone::services(const std::string &name) const {
  std::vector<Service> out;
  std::string key = lower(stripDot(name));
  auto it = nodes_.find(key);
  if (it == nodes_.end()) return out;
  for (const auto &s : it->second.srv) {
    auto hs = hosts(s.target);
    if (hs.empty()) {
      out.push_back({key + ".", s.target + ".", "", s.port});
      continue;
    }
    for (const auto &h : hs) out.push_back({key + ".", s.target + ".", h.ip, s.port});
  }
  return out;
}

}  // namespace dcos::dns
