#include "firewall/nft_text.h"

#include <sstream>

#include "base/text.h"

namespace dcos::firewall {

namespace {

std::string ports(const PortRange &r) {
  return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + "-" + std::to_string(r.last);
}

void elements(std::ostringstream &out, const std::vector<std::string> &items) {
  if (items.empty()) return;
  out << "\t\telements = { ";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out << (i % 8 == 0 ? ",\n\t\t\t     " : ", ");
    out << items[i];
  }
  out << " }\n";
}

std::string sourceMatch(const Rule &r, Family f) {
  const char *ip = f == Family::V4 ? "ip" : "ip6";
  switch (r.sourceKind) {
    case Rule::SourceKind::Any: return "";
    case Rule::SourceKind::Set: return std::string(ip) + " saddr @" + r.sourceSet + (f == Family::V4 ? "4" : "6") + " ";
    case Rule::SourceKind::Literal: return std::string(ip) + " saddr " + formatInterval(r.source) + " ";
  }
  return "";
}

std::string portMatch(const Rule &r) {
  if (!r.proto) return "";
  std::string p(protoName(*r.proto));
  if (!r.portSet.empty()) return p + " dport @" + r.portSet + " ";
  if (r.ports) return p + " dport " + ports(*r.ports) + " ";
  return "meta l4proto " + p + " ";
}

}  // namespace

std::string nftTable(const Ruleset &rs) {
  std::ostringstream out;
  out << "table inet " << rs.table << " {\n";
  for (const auto &s : rs.addressSets) {
    auto merged = s.intervals ? mergeIntervals(s.elements) : s.elements;
    for (Family f : {Family::V4, Family::V6}) {
      out << "\tset " << s.name << (f == Family::V4 ? "4" : "6") << " {\n";
      out << "\t\ttype " << (f == Family::V4 ? "ipv4_addr" : "ipv6_addr") << "\n";
      if (s.intervals) out << "\t\tflags interval\n";
      std::vector<std::string> items;
      for (const auto &iv : merged) {
        if (iv.family == f) items.push_back(formatInterval(iv));
      }
      elements(out, items);
      out << "\t}\n\n";
    }
  }
  for (const auto &s : rs.portSets) {
    out << "\tset " << s.name << " {\n\t\ttype inet_service\n\t\tflags interval\n";
    std::vector<std::string> items;
    for (const auto &r : mergePorts(s.elements)) items.push_back(ports(r));
    elements(out, items);
    out << "\t}\n\n";
  }
  out << "\tchain input {\n";
  out << "\t\ttype filter hook input priority " << rs.priority << "; policy drop;\n";
  out << "\t\tct state established,related accept comment \"replies\"\n";
  out << "\t\tct state invalid drop comment \"invalid\"\n";
  out << "\t\tiifname \"lo\" accept comment \"loopback\"\n";
  out << "\t\ticmp type echo-request limit rate " << rs.icmpEchoPerSecond
      << "/second accept comment \"ping, rate-limited\"\n";
  out << "\t\ticmp type destination-unreachable accept comment \"destination unreachable\"\n";
  out << "\t\ticmp type 11-12 accept comment \"time exceeded, parameter problem\"\n";
  out << "\t\ticmpv6 type echo-request limit rate " << rs.icmpEchoPerSecond
      << "/second accept comment \"ping6, rate-limited\"\n";
  out << "\t\ticmpv6 type 1-4 accept comment \"ICMPv6 errors\"\n";
  out << "\t\ticmpv6 type 133-136 accept comment \"neighbour discovery\"\n";
  out << "\t\ticmpv6 type 130-132 accept comment \"multicast listener discovery\"\n";
  out << "\t\ticmpv6 type mld2-listener-report accept comment \"MLDv2 reports\"\n";
  for (const auto &r : rs.rules) {
    std::vector<Family> families;
    if (r.sourceKind == Rule::SourceKind::Set) {
      families = {Family::V4, Family::V6};
    } else {
      families = {r.sourceKind == Rule::SourceKind::Literal ? r.source.family : Family::V4};
    }
    for (Family f : families) {
      out << "\t\t" << sourceMatch(r, f) << portMatch(r) << "counter accept";
      if (!r.comment.empty()) out << " comment " << text::quote(r.comment);
      out << "\n";
    }
  }
  out << "\t\tcounter comment \"dropped by policy\"\n";
  out << "\t}\n";
  if (rs.taskGuard) {
    const TaskGuard &g = *rs.taskGuard;
    out << "\n\tchain output {\n";
    out << "\t\ttype filter hook output priority " << rs.priority << "; policy accept;\n";
    for (const auto &cg : g.cgroups) {
      for (const auto &ports : g.guarded) {
        std::vector<std::string> targets;
        for (const auto &s : ports.addressSets) {
          targets.push_back("ip daddr @" + s + "4");
          targets.push_back("ip6 daddr @" + s + "6");
        }
        if (ports.local) targets.push_back("fib daddr type local");
        for (const auto &t : targets) {
          out << "\t\t" << t << " tcp dport @" << ports.portSet << " socket cgroupv2 level " << cg.level << " "
              << text::quote(cg.path) << " counter reject with tcp reset comment \"tasks: no control plane\"\n";
        }
      }
    }
    out << "\t}\n";
  }
  out << "}\n";
  return out.str();
}

std::string nftReplaceScript(const Ruleset &rs) {
  return "table inet " + rs.table + " {}\ndelete table inet " + rs.table + "\n" + nftTable(rs);
}

}  // namespace dcos::firewall
