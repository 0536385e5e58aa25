// Topology, the network namespace helper, for real: hosts on one bridge reach
// netprobe on another host over IPv4 and IPv6, closed and filtered ports are
// told apart (nft rules inside a host's namespace), and a Topology leaves no
// namespace and no process behind. Needs root; without it each test exits 77,
// which ctest reports as skipped.
#define CATCH_CONFIG_ENABLE_PAIR_STRINGMAKER  // prints verdict maps on failure
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/support/netns.h"

using namespace dcos::test;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Verdicts = std::map<std::string, std::string>;

namespace {

// The names `ip netns list` shows.
std::vector<std::string> listedNamespaces() {
  CommandResult r = runCommand({ipPath(), "netns", "list"});
  REQUIRE(r.status == 0);
  std::vector<std::string> names;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    names.push_back(line.substr(0, line.find(' ')));
  }
  return names;
}

// The listed names that start with `prefix`: other tests may be running.
std::vector<std::string> listedNamespaces(const std::string &prefix) {
  std::vector<std::string> names;
  for (auto &ns : listedNamespaces()) {
    if (ns.rfind(prefix, 0) == 0) {
      names.push_back(ns);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool listed(const std::string &ns) {
  auto names = listedNamespaces();
  return std::find(names.begin(), names.end(), ns) != names.end();
}

// Gone, or a zombie nobody has reaped yet (it holds no namespace any more).
bool processGone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) {
    return true;
  }
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

std::string target(const std::string &proto, const std::string &addr, int port) {
  bool v6 = addr.find(':') != std::string::npos;
  return proto + ":" + (v6 ? "[" + addr + "]" : addr) + ":" + std::to_string(port);
}

// client, server-a and server-b on one segment; netprobe serving tcp 80 and
// 8080 and udp 5000 on server-a.
struct ThreeHosts {
  Topology net{"nt"};
  TempDir dir{"netns-test"};
  std::string ready = dir / "server-a.ready";
  std::unique_ptr<Child> server;

  ThreeHosts() {
    net.addHost("client", "172.31.254.10/24", "fd00:dc05::10/64");
    net.addHost("server-a", "172.31.254.2/24", "fd00:dc05::2/64");
    net.addHost("server-b", "172.31.254.3/24", "fd00:dc05::3/64");
    server = net.spawn("server-a",
                       {netprobePath(), "serve", "--tcp", "80,8080", "--udp", "5000", "--ready-file", ready}, {},
                       dir / "server-a.log");
    if (!waitForFile(ready, 5s)) {
      FAIL("netprobe serve did not get ready: " << server->log());
    }
  }

  // Probes each (proto, port) on server-a, or `host`, over IPv4 and IPv6.
  Verdicts probe(const std::vector<std::pair<std::string, int>> &ports, const std::string &host = "server-a") {
    std::vector<std::string> targets;
    for (const auto &[proto, port] : ports) {
      targets.push_back(target(proto, net.ipv4(host), port));
      targets.push_back(target(proto, net.ipv6(host), port));
    }
    return net.probe("client", targets);
  }

  // The verdict for each (proto, port) over both families.
  Verdicts expect(const std::vector<std::tuple<std::string, int, std::string>> &want,
                  const std::string &host = "server-a") {
    Verdicts v;
    for (const auto &[proto, port, verdict] : want) {
      v[target(proto, net.ipv4(host), port)] = verdict;
      v[target(proto, net.ipv6(host), port)] = verdict;
    }
    return v;
  }
};

}  // namespace

TEST_CASE("hosts on a topology reach netprobe on another host, and closed and filtered ports are told apart",
          "[netns]") {
  skipUnlessRoot();
  ThreeHosts t;

  SECTION("tcp 80, 8080 and udp 5000 are open over IPv4 and IPv6; tcp 81 is refused") {
    CHECK(t.probe({{"tcp", 80}, {"tcp", 8080}, {"udp", 5000}, {"tcp", 81}}) ==
          t.expect({{"tcp", 80, "open"}, {"tcp", 8080, "open"}, {"udp", 5000, "open"}, {"tcp", 81, "closed"}}));
  }

  SECTION("the listeners answer: a greeting over TCP, the datagram echoed over UDP") {
    for (const auto &addr : {t.net.ipv4("server-a"), t.net.ipv6("server-a")}) {
      CHECK(t.net.exec("client", "bash -c 'exec 3<>/dev/tcp/" + addr + "/8080 && cat <&3'") == "hello\n");
      CHECK(t.net.exec("client", "bash -c 'exec 3<>/dev/udp/" + addr +
                                     "/5000 && echo ping >&3 && timeout 2 head -c 5 <&3'") == "ping\n");
    }
  }

  SECTION("an nft drop rule in server-a's namespace makes tcp 8080 filtered, and only there") {
    t.net.exec("server-a",
               "nft add table inet t; nft add chain inet t in '{ type filter hook input priority 0; }'; "
               "nft add rule inet t in tcp dport 8080 drop");
    CHECK(t.probe({{"tcp", 80}, {"tcp", 8080}, {"udp", 5000}}) ==
          t.expect({{"tcp", 80, "open"}, {"tcp", 8080, "filtered"}, {"udp", 5000, "open"}}));
    CHECK(t.net.run("client", "nft list table inet t").status != 0);
  }

  SECTION("nft reject: a TCP reset or ICMP port unreachable reads as closed, admin-prohibited as filtered") {
    // Neighbours resolved first: then the ICMP error comes back while connect()
    // still holds the socket, the case netprobe needs RECVERR for.
    REQUIRE(t.probe({{"tcp", 80}}) == t.expect({{"tcp", 80, "open"}}));
    t.net.exec("server-a",
               "nft add table inet t; nft add chain inet t in '{ type filter hook input priority 0; }'; "
               "nft add rule inet t in tcp dport 80 reject with tcp reset; "
               "nft add rule inet t in tcp dport 8080 reject; "
               "nft add rule inet t in tcp dport 81 reject with icmpx admin-prohibited; "
               "nft add rule inet t in udp dport 5000 reject with icmpx admin-prohibited");
    CHECK(t.probe({{"tcp", 80}, {"tcp", 8080}, {"tcp", 81}, {"udp", 5000}}) ==
          t.expect({{"tcp", 80, "closed"},
                    {"tcp", 8080, "closed"},
                    {"tcp", 81, "filtered"},
                    {"udp", 5000, "filtered"}}));
  }

  SECTION("server-b, without listeners, refuses tcp and udp") {
    CHECK(t.probe({{"tcp", 80}, {"tcp", 8080}, {"udp", 5000}}, "server-b") ==
          t.expect({{"tcp", 80, "closed"}, {"tcp", 8080, "closed"}, {"udp", 5000, "closed"}}, "server-b"));
  }
}

TEST_CASE("a destroyed Topology leaves no namespace and no process behind", "[netns]") {
  skipUnlessRoot();
  TempDir dir{"netns-test"};
  std::vector<std::string> made;
  std::unique_ptr<Child> child;  // outlives its topology on purpose
  pid_t background = -1;
  auto build = [&](Topology &net) {
    net.addHost("one", "172.31.254.1/24", "");
    net.addHost("two", "172.31.254.2/24", "fd00:dc05::2/64");
    made = net.namespaces();
    REQUIRE(made.size() == 3);
    for (const auto &ns : made) {
      CHECK(listed(ns));
    }
    child = net.spawn("one", {"sleep", "600"}, {}, dir / "sleep.log");
    background = std::stoi(net.exec("two", "sleep 600 >/dev/null 2>&1 & echo $!"));
    CHECK(net.probe("one", {"tcp:172.31.254.2:80"}) == Verdicts{{"tcp:172.31.254.2:80", "closed"}});
  };

  SECTION("at the end of its scope") {
    Topology net("nt");
    build(net);
  }
  SECTION("when the test fails midway") {
    try {
      Topology net("nt");
      build(net);
      throw std::runtime_error("midway");
    } catch (const std::runtime_error &e) {
      CHECK(std::string(e.what()) == "midway");
    }
  }

  for (const auto &ns : made) {
    CHECK_FALSE(listed(ns));
  }
  CHECK(child->wait(5s) == 128 + SIGKILL);
  CHECK(waitUntil([&] { return processGone(background); }, 5s));
}

TEST_CASE("Topology refuses bad input, undoes a half-made host, and reports failing commands", "[netns]") {
  skipUnlessRoot();
  Topology net("nt");
  net.addHost("a", "172.31.254.1/24", "fd00:dc05::1/64");
  const std::string base = net.switchNs().substr(0, net.switchNs().rfind('-') + 1);
  auto before = listedNamespaces(base);
  REQUIRE(before.size() == 2);

  REQUIRE_THROWS_WITH(net.addHost("b", "172.31.254.300/24", ""), Contains("not an IPv4 CIDR: \"172.31.254.300/24\""));
  REQUIRE_THROWS_WITH(net.addHost("b", "", "fd00:dc05::2"), Contains("not an IPv6 CIDR: \"fd00:dc05::2\""));
  REQUIRE_THROWS_WITH(net.addHost("a", "172.31.254.2/24", ""), Contains("host \"a\" already"));
  REQUIRE_THROWS_WITH(net.addHost("Bad_Name", "172.31.254.2/24", ""), Contains("bad host name \"Bad_Name\""));
  REQUIRE_THROWS_WITH(net.addHost("switch", "172.31.254.2/24", ""), Contains("bad host name"));
  // Valid syntax the kernel refuses: the namespace exists by then and must go.
  REQUIRE_THROWS_WITH(net.addHost("b", "172.31.254.2/24", "ff02::1/64"),
                      Contains("adding host b") && Contains("ff02::1/64"));
  CHECK(listedNamespaces(base) == before);
  CHECK(net.namespaces().size() == 2);
  CHECK_THAT(runCommand({ipPath(), "-n", net.switchNs(), "-o", "link"}).out, !Contains("v-b"));

  CHECK(net.exec("a", "echo hi") == "hi\n");
  // A process left in the background holds the pipes; the command is still done.
  CHECK(net.exec("a", "sleep 600 & echo started") == "started\n");
  REQUIRE_THROWS_WITH(net.run("a", "sleep 5", 100ms), Contains("still running after 100 ms, killed"));
  CHECK(net.run("a", "echo out; echo err >&2; exit 4").status == 4);
  REQUIRE_THROWS_WITH(net.exec("a", "echo oops >&2; exit 3"),
                      Contains(net.ns("a")) && Contains("echo oops") && Contains("exit 3: oops"));
  REQUIRE_THROWS_WITH(net.ns("nope"), Contains("no host \"nope\""));
  REQUIRE_THROWS_WITH(Topology("Bad-Tag"), Contains("topology tag"));
}

TEST_CASE("Topology deletes namespaces that a test process which is gone left behind", "[netns]") {
  skipUnlessRoot();
  TempDir dir{"netns-test"};
  // A pid that ran and is gone: a child we forked and reaped.
  pid_t dead = ::fork();
  if (dead == 0) {
    ::_exit(0);
  }
  REQUIRE(dead > 0);
  ::waitpid(dead, nullptr, 0);
  Child alive({"/bin/sleep", "600"}, {}, dir / "sleep.log");
  // A tag of its own: another test's Topology would sweep `stale` too, even
  // while we are still creating it.
  std::string stale = "sweep-" + std::to_string(dead) + "-0-stale";
  std::string live = "sweep-" + std::to_string(alive.pid()) + "-0-live";
  // Whatever happens below, neither name outlives the test.
  struct Remove {
    std::vector<std::string> names;
    ~Remove() {
      for (const auto &ns : names) {
        try {
          (void)runCommand({ipPath(), "netns", "del", ns});
        } catch (const std::exception &) {
          // reported by the checks already
        }
      }
    }
  } remove{{stale, live}};
  for (const auto &ns : {stale, live}) {
    CommandResult add = runCommand({ipPath(), "netns", "add", ns});
    INFO(add.err);
    REQUIRE(add.status == 0);
  }

  { Topology net("sweep"); }

  CHECK_FALSE(listed(stale));
  CHECK(listed(live));
}
