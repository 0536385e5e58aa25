// The zone firewall as data: address and port sets, and rules over them.
// No libnftnl types here; translate.h turns a Ruleset into netlink messages
// and nft_text.h into nft syntax.
//
// Every Ruleset lives in one table of family inet (IPv4 and IPv6) with one
// base chain, `input`, policy drop. Before the rules of the model come the
// fixed ones every node needs: established/related accepted, invalid
// dropped, loopback accepted, the ICMP and ICMPv6 that networks need
// (echo rate-limited, neighbour discovery, errors). After them, a counter
// counts what the policy drops.
//
// With a TaskGuard, a second base chain, `output` (policy accept), keeps
// tasks from the control plane: TCP from a socket made in a task cgroup to
// the guarded ports on the guarded addresses is refused with a reset.
// Everything else leaves as before.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::firewall {

enum class Family { V4, V6 };

// An inclusive range of addresses of one family, in network byte order (the
// first 4 bytes are used for IPv4). A CIDR or a single address is one.
struct Interval {
  Family family = Family::V4;
  std::array<uint8_t, 16> first{};
  std::array<uint8_t, 16> last{};
  bool operator==(const Interval &) const = default;
  size_t length() const { return family == Family::V4 ? 4 : 16; }
  bool single() const { return first == last; }
};

// "10.0.0.0/8", "fd00::/64", "10.0.0.1" or "::1".
Result<Interval> parseInterval(const std::string &text);
// The shortest form: an address, a CIDR, or "first-last".
std::string formatInterval(const Interval &interval);
std::string formatAddress(Family family, const std::array<uint8_t, 16> &bytes);
// Sorted, with overlapping and adjacent intervals of a family merged: the
// kernel refuses overlapping elements in an interval set.
std::vector<Interval> mergeIntervals(std::vector<Interval> intervals);
bool contains(const Interval &outer, const Interval &inner);

enum class Proto { Tcp, Udp };
std::string_view protoName(Proto proto);

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  bool operator==(const PortRange &) const = default;
};
std::vector<PortRange> mergePorts(std::vector<PortRange> ranges);

// A named set of addresses. In the kernel it is two sets, <name>4 and
// <name>6; `intervals` makes them interval sets (CIDRs and ranges), else
// they hold single addresses (a hash set, cheap to add to and remove from).
struct AddressSet {
  std::string name;
  bool intervals = true;
  std::vector<Interval> elements;
};

// A named interval set of ports (type inet_service).
struct PortSet {
  std::string name;
  std::vector<PortRange> elements;
};

// Accepts what matches every given part.
struct Rule {
  enum class SourceKind { Any, Set, Literal };
  SourceKind sourceKind = SourceKind::Any;
  std::string sourceSet;   // an AddressSet's name, for SourceKind::Set
  Interval source;         // for SourceKind::Literal
  std::optional<Proto> proto;  // required when ports are given
  std::string portSet;         // a PortSet's name, or
  std::optional<PortRange> ports;
  std::string comment;
};

// A cgroup v2 subtree, matched as nft's `socket cgroupv2 level N "path"`.
struct Cgroup {
  std::string path;    // beneath /sys/fs/cgroup, as nft names it ("unified/dcos-tasks" on a hybrid host)
  uint32_t level = 1;  // its depth in the cgroup v2 hierarchy
  uint64_t id = 0;     // the kernel's id of it (its file handle on cgroup2)
};

// Refused for tasks: TCP to `portSet` on `addressSets` (and on loopback).
struct GuardedPorts {
  std::string portSet;                   // a PortSet
  std::vector<std::string> addressSets;  // AddressSets: where those ports are the control plane's
  // Every address of this node too (fib daddr type local): loopback, and
  // any other it has, through which a wildcard listener is reached.
  bool local = false;
};

struct TaskGuard {
  std::vector<Cgroup> cgroups;  // where tasks run
  std::vector<GuardedPorts> guarded;
};

struct Ruleset {
  std::string table = "dcos";
  int priority = 0;  // of the input hook; 0 is nft's "filter"
  int icmpEchoPerSecond = 10;
  std::vector<AddressSet> addressSets;
  std::vector<PortSet> portSets;
  std::vector<Rule> rules;
  std::optional<TaskGuard> taskGuard;  // absent: no output chain

  const AddressSet *addressSet(const std::string &name) const;
  const PortSet *portSet(const std::string &name) const;
  // Every set a rule names exists, ports come with a protocol, names are
  // nft identifiers. The message names the rule or set at fault.
  Status validate() const;
};

}  // namespace dcos::firewall
