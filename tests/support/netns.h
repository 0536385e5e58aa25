// Network namespaces for tests: hosts on one Ethernet segment, each in its own
// namespace, joined by a bridge in a "switch" namespace; commands and
// long-running processes inside a host; reachability probes with netprobe.
//
// Nothing is created in the host's own namespace: each veth pair is made
// inside a host namespace with its peer moved straight into the switch, so no
// interface name can collide with the host's or another test's, and there is
// no path out of the topology (no routes beyond the connected subnets).
//
// Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2. Test helpers
// throw std::runtime_error on failure, like process.h, so a failed step fails
// the Catch2 test with its message. Not thread safe.
//
//   skipUnlessRoot();
//   Topology net("fw");
//   net.addHost("client", "172.31.254.10/24", "fd00:dc05::10/64");
//   net.addHost("server", "172.31.254.2/24", "fd00:dc05::2/64");
//   auto server = net.spawn("server", {netprobePath(), "serve", "--tcp", "80", "--ready-file", ready}, {}, log);
//   REQUIRE(waitForFile(ready, 5s));
//   CHECK(net.probe("client", {"tcp:172.31.254.2:80"})["tcp:172.31.254.2:80"] == "open");
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace dcos::test {

// What a finished command left: exit status (128 + signal when killed),
// standard output and standard error.
struct CommandResult {
  int status = 0;
  std::string out;
  std::string err;
};

// Runs argv (argv[0] a path) with stdin from /dev/null and waits for it.
// Throws when it cannot be started or has not ended within `timeout` (it is
// killed then); a non-zero exit is a result, not an error.
CommandResult runCommand(const std::vector<std::string> &argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The netprobe binary of this build (tests/netprobe).
std::string netprobePath();

// iproute2's ip; it lives in sbin, which a test's PATH may lack. Empty when
// not installed.
const std::string &ipPath();

// Returns when Topology::haveRoot(); otherwise prints why ("needs root for network
// namespaces; skipped") and exits the process with 77, which ctest reports as
// skipped (the netns tests have SKIP_RETURN_CODE 77). Call it first in a test.
void skipUnlessRoot();

// Waits until `path` exists; false when it did not within `timeout`.
bool waitForFile(const std::string &path, std::chrono::milliseconds timeout);

class Topology {
 public:
  // Creates the switch namespace "<tag>-<pid>-<n>-switch" with bridge br0 up
  // (no STP, no multicast snooping) and lo up. `tag` is short lowercase
  // letters and digits; the pid and a per-process counter make the names
  // unique across parallel test processes and topologies in one process.
  // First deletes namespaces of this tag left by processes that no longer
  // exist (a test that crashed). Throws when a step fails, leaving nothing.
  explicit Topology(const std::string &tag = "nt");

  // Kills every process still inside any of its namespaces (spawned or
  // started by exec), then deletes the namespaces. Never throws; problems go
  // to stderr. A Child returned by spawn() may outlive the Topology: it then
  // only reaps its already-killed process.
  ~Topology();
  Topology(const Topology &) = delete;
  Topology &operator=(const Topology &) = delete;

  // Whether this process may create network namespaces: root with
  // CAP_SYS_ADMIN and CAP_NET_ADMIN, and iproute2 installed.
  static bool haveRoot();

  // Adds host `name` (lowercase letters, digits, '-'; not "switch"): its own
  // namespace "<tag>-<pid>-<n>-<name>" with lo up and eth0 up, carrying `ipv4Cidr`
  // and `ipv6Cidr` (either may be empty to leave that family out; IPv6 is
  // added nodad, and DAD is off for the link-local address too, so both work
  // at once). eth0's veth peer "v-<name>" (or "v<n>" when longer than 15
  // characters) is a port of br0 in the switch namespace. ICMP rate limits are
  // off in the host namespace (icmp_ratelimit, and an empty ratemask, which
  // also exempts ICMP from icmp_msgs_per_sec), so "closed" verdicts do not
  // depend on how many ports are probed at once.
  // Returns the namespace name. Throws on bad input or a failed step; a
  // half-made host is removed again. References returned by addHost, ns,
  // ipv4 and ipv6 stay valid as long as the Topology.
  const std::string &addHost(const std::string &name, const std::string &ipv4Cidr, const std::string &ipv6Cidr);

  // The namespace of `host` (throws for an unknown host).
  const std::string &ns(const std::string &host) const;
  const std::string &switchNs() const { return switchNs_; }
  // Every namespace this topology made, the switch first.
  std::vector<std::string> namespaces() const;
  // The host's addresses without prefix length ("" when not configured).
  const std::string &ipv4(const std::string &host) const;
  const std::string &ipv6(const std::string &host) const;

  // Runs `sh -c command` inside the host's namespace.
  CommandResult run(const std::string &host, const std::string &command,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // As run(), but returns stdout, and throws with the namespace, the command,
  // its exit status and its stderr when it does not exit 0.
  std::string exec(const std::string &host, const std::string &command,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // Starts argv (argv[0] looked up in PATH) inside the host's namespace via
  // `ip netns exec`, with the extra environment and its output in `logPath`.
  // The Child's pid is the program itself (ip execs it).
  std::unique_ptr<Child> spawn(const std::string &host, const std::vector<std::string> &argv,
                               const std::map<std::string, std::string> &env, const std::string &logPath) const;

  // Runs `netprobe probe --json` from the host's namespace and returns target
  // -> verdict ("open", "closed", "filtered"). Throws when netprobe fails
  // (bad target, a probe that could not be sent).
  std::map<std::string, std::string> probe(const std::string &host, const std::vector<std::string> &targets,
                                           int timeoutMs = 400) const;

 private:
  struct Host {
    std::string name;
    std::string ns;
    std::string ipv4;
    std::string ipv6;
  };
  const Host &host(const std::string &name) const;
  void createNamespace(const std::string &ns);
  void destroyNamespace(const std::string &ns) noexcept;

  std::string base_;      // "<tag>-<pid>-<n>"
  std::string switchNs_;  // base_ + "-switch"
  std::vector<std::string> namespaces_;  // as created; destroyed in reverse
  std::deque<Host> hosts_;  // a deque: references to hosts stay valid as it grows
};

}  // namespace dcos::test
