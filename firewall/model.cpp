#include "firewall/model.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "base/text.h"

namespace dcos::firewall {

namespace {

using Bytes = std::array<uint8_t, 16>;

// Adds one to a big-endian number of `len` bytes; false on overflow.
bool increment(Bytes &b, size_t len) {
  for (size_t i = len; i-- > 0;) {
    if (++b[i] != 0) return true;
  }
  return false;
}

bool validName(const std::string &name) {
  if (name.empty() || name.size() > 30 || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

Result<Interval> parseInterval(const std::string &text) {
  std::string addr = text;
  int prefix = -1;
  if (auto slash = text.find('/'); slash != std::string::npos) {
    addr = text.substr(0, slash);
    std::string p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || end != p.data() + p.size() || p.empty()) {
      return makeError("not an address or CIDR: " + text::quote(text));
    }
  }
  Interval iv;
  unsigned char buf[16] = {};
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
    iv.family = Family::V4;
  } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
    iv.family = Family::V6;
  } else {
    return makeError("not an address or CIDR: " + text::quote(text));
  }
  const int bits = iv.family == Family::V4 ? 32 : 128;
  if (prefix < 0) prefix = bits;
  if (prefix > bits) return makeError("prefix longer than the address: " + text::quote(text));
  std::copy(buf, buf + iv.length(), iv.first.begin());
  iv.last = iv.first;
  for (int bit = prefix; bit < bits; ++bit) {
    uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    iv.first[bit / 8] &= static_cast<uint8_t>(~mask);
    iv.last[bit / 8] |= mask;
  }
  return iv;
}

std::string formatAddress(Family family, const Bytes &bytes) {
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::V4 ? AF_INET : AF_INET6, bytes.data(), out, sizeof out);
  return out;
}

std::string formatInterval(const Interval &iv) {
  if (iv.single()) return formatAddress(iv.family, iv.first);
  // A CIDR if first..last is exactly one prefix.
  const size_t len = iv.length();
  size_t bits = len * 8;
  size_t prefix = bits;
  while (prefix > 0) {
    size_t bit = prefix - 1;
    uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    bool zero = (iv.first[bit / 8] & mask) == 0;
    bool one = (iv.last[bit / 8] & mask) != 0;
    if (!(zero && one)) break;
    --prefix;
  }
  bool prefixMatches = true;
  for (size_t bit = 0; bit < prefix; ++bit) {
    uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((iv.first[bit / 8] & mask) != (iv.last[bit / 8] & mask)) prefixMatches = false;
  }
  if (prefixMatches) return formatAddress(iv.family, iv.first) + "/" + std::to_string(prefix);
  return formatAddress(iv.family, iv.first) + "-" + formatAddress(iv.family, iv.last);
}

bool contains(const Interval &outer, const Interval &inner) {
  return outer.family == inner.family && outer.first <= inner.first && inner.last <= outer.last;
}

std::vector<Interval> mergeIntervals(std::vector<Interval> in) {
  std::sort(in.begin(), in.end(), [](const Interval &a, const Interval &b) {
    return a.family != b.family ? a.family < b.family : a.first < b.first;
  });
  std::vector<Interval> out;
  for (const auto &iv : in) {
    if (!out.empty() && out.back().family == iv.family) {
      Bytes next = out.back().last;
      bool fits = increment(next, iv.length());
      if (!fits || iv.first <= next) {  // overlapping or adjacent
        if (out.back().last < iv.last) out.back().last = iv.last;
        continue;
      }
    }
    out.push_back(iv);
  }
  return out;
}

std::string_view protoName(Proto proto) { return proto == Proto::Tcp ? "tcp" : "udp"; }

std::vector<PortRange> mergePorts(std::vector<PortRange> in) {
  std::sort(in.begin(), in.end(), [](const PortRange &a, const PortRange &b) { return a.first < b.first; });
  std::vector<PortRange> out;
  for (const auto &r : in) {
    if (!out.empty() && static_cast<uint32_t>(r.first) <= static_cast<uint32_t>(out.back().last) + 1) {
      out.back().last = std::max(out.back().last, r.last);
      continue;
    }
    out.push_back(r);
  }
  return out;
}

const AddressSet *Ruleset::addressSet(const std::string &name) const {
  for (const auto &s : addressSets) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const PortSet *Ruleset::portSet(const std::string &name) const {
  for (const auto &s : portSets) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

Status Ruleset::validate() const {
  if (!validName(table)) return makeError("table " + text::quote(table) + ": not an nft identifier");
  std::set<std::string> names;
  for (const auto &s : addressSets) {
    if (!validName(s.name + "4")) return makeError("set " + text::quote(s.name) + ": not an nft identifier");
    if (!names.insert(s.name + "4").second || !names.insert(s.name + "6").second) {
      return makeError("set " + text::quote(s.name) + ": defined twice");
    }
  }
  for (const auto &s : portSets) {
    if (!validName(s.name)) return makeError("set " + text::quote(s.name) + ": not an nft identifier");
    if (!names.insert(s.name).second) return makeError("set " + text::quote(s.name) + ": defined twice");
    for (const auto &r : s.elements) {
      if (r.first == 0 || r.first > r.last) return makeError("set " + text::quote(s.name) + ": bad port range");
    }
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule &r = rules[i];
    std::string where = "rule " + std::to_string(i) + (r.comment.empty() ? "" : " (" + r.comment + ")");
    if (r.sourceKind == Rule::SourceKind::Set && addressSet(r.sourceSet) == nullptr) {
      return makeError(where + ": no address set " + text::quote(r.sourceSet));
    }
    if (!r.portSet.empty() && portSet(r.portSet) == nullptr) {
      return makeError(where + ": no port set " + text::quote(r.portSet));
    }
    if ((!r.portSet.empty() || r.ports) && !r.proto) return makeError(where + ": ports without a protocol");
    if (!r.portSet.empty() && r.ports) return makeError(where + ": both a port set and a port range");
    if (r.ports && (r.ports->first == 0 || r.ports->first > r.ports->last)) return makeError(where + ": bad port range");
  }
  if (taskGuard) {
    if (taskGuard->cgroups.empty()) return makeError("task guard: no cgroups");
    for (const auto &c : taskGuard->cgroups) {
      if (c.id == 0 || c.level == 0 || c.path.empty() || c.path.find('"') != std::string::npos) {
        return makeError("task guard: cgroup " + text::quote(c.path) + ": no id, level or path");
      }
    }
    for (const auto &g : taskGuard->guarded) {
      if (portSet(g.portSet) == nullptr) return makeError("task guard: no port set " + text::quote(g.portSet));
      for (const auto &s : g.addressSets) {
        if (addressSet(s) == nullptr) return makeError("task guard: no address set " + text::quote(s));
      }
    }
  }
  return Status::Ok();
}

}  // namespace dcos::firewall
