// The firewall against the real kernel, inside a network namespace of the
// test's own (the process unshares one before any test runs; see
// kernel_test_main.cpp): readback with nft, atomicity under a refused
// batch, element changes, a foreign table left alone, and the task guard
// with real connections from a cgroup.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <regex>
#include <string>

#include "firewall/firewall.h"
#include "firewall/nft_text.h"
#include "firewall/policy.h"
#include "firewall/task_cgroups.h"
#include "firewall/translate.h"

using namespace dcos;
using namespace dcos::firewall;

namespace {

std::string run(const std::string &command) {
  std::string out;
  FILE *p = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  INFO(command << "\n" << out);
  REQUIRE(status == 0);
  return out;
}

std::string listing() { return run("nft list table inet dcos"); }

// nft's listing with what the kernel adds (counter values) and nft's
// spelling of defaults taken out, so it can be compared with our own text.
std::string normalized(std::string text) {
  text = std::regex_replace(text, std::regex(" packets [0-9]+ bytes [0-9]+"), "");
  text = std::regex_replace(text, std::regex("priority filter;"), "priority 0;");
  text = std::regex_replace(text, std::regex(",\n\t+ +"), ", ");  // nft wraps long element lists its own way
  return text;
}

config::ClusterConfig cluster() {
  config::ClusterConfig c;
  c.name = "t";
  c.masters = {"10.0.0.11", "10.0.0.12", "10.0.0.13"};
  c.admin.networks = {"10.0.0.0/28"};
  c.privateZone.networks = {"10.0.0.16/28"};
  c.publicZone.networks = {"10.0.0.32/28", "fd00:dc05::/64"};
  c.operatorNetworks = {"192.168.0.0/16", "fd00:0ff::/48"};
  c.publicTcpPorts = {{80, 80}, {443, 443}, {10000, 10100}};
  c.publicUdpPorts = {{5353, 5353}};
  return c;
}

std::unique_ptr<Firewall> openFirewall() {
  auto fw = Firewall::open();
  REQUIRE(fw.ok());
  return std::move(*fw);
}

Poco::JSON::Array::Ptr nftJson(const std::string &what) {
  auto text = run("nft -j list " + what);
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>()->getArray("nftables");
}

}  // namespace

TEST_CASE("applied rulesets read back as planned, for every zone", "[firewall][kernel]") {
  auto fw = openFirewall();
  for (Zone zone : {Zone::Admin, Zone::Private, Zone::Public}) {
    INFO("zone " << zoneName(zone));
    auto rs = zoneRuleset(cluster(), zone);
    REQUIRE(rs.ok());
    REQUIRE(fw->apply(*rs).ok());
    CHECK(normalized(listing()) == normalized(nftTable(*rs)));
  }
  REQUIRE(fw->remove("dcos").ok());
}

TEST_CASE("nft -j shows our chain, sets and rules", "[firewall][kernel]") {
  auto fw = openFirewall();
  auto rs = zoneRuleset(cluster(), Zone::Public);
  REQUIRE(rs.ok());
  REQUIRE(fw->apply(*rs).ok());
  auto items = nftJson("table inet dcos");
  int sets = 0;
  int rules = 0;
  bool chainOk = false;
  for (size_t i = 0; i < items->size(); ++i) {
    auto item = items->getObject(static_cast<unsigned>(i));
    if (item->has("set")) ++sets;
    if (item->has("rule")) ++rules;
    if (item->has("chain")) {
      auto chain = item->getObject("chain");
      chainOk = chain->getValue<std::string>("name") == "input" && chain->getValue<std::string>("hook") == "input" &&
                chain->getValue<int>("prio") == 0 && chain->getValue<std::string>("policy") == "drop" &&
                chain->getValue<std::string>("type") == "filter";
    }
  }
  CHECK(chainOk);
  CHECK(sets == 8);
  CHECK(rules == static_cast<int>(chainRuleCount(*rs)));
  REQUIRE(fw->remove("dcos").ok());
}

TEST_CASE("a refused batch leaves the previous ruleset exactly as it was", "[firewall][kernel]") {
  auto fw = openFirewall();
  auto before = zoneRuleset(cluster(), Zone::Admin);
  REQUIRE(before.ok());
  REQUIRE(fw->apply(*before).ok());
  const std::string live = listing();

  auto other = zoneRuleset(cluster(), Zone::Public);
  REQUIRE(other.ok());
  auto refused = fw->applyRefused(*other);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message == "table inet dcos: rule injected to be refused: No such file or directory");
  CHECK(listing() == live);
  CHECK(fw->ruleset().portSet(kExposedTcp)->elements == before->portSet(kExposedTcp)->elements);

  SECTION("and so does a refused element change") {
    auto absent = parseInterval("10.9.9.9");
    REQUIRE(absent.ok());
    auto removed = fw->removeAddresses(kClusterNodes, {*absent});
    REQUIRE_FALSE(removed.ok());
    CHECK(removed.error().message ==
          "table inet dcos: delete elements 0..0 of set cluster_nodes4: No such file or directory");
    CHECK(listing() == live);
  }
  REQUIRE(fw->remove("dcos").ok());
}

TEST_CASE("element changes touch sets only", "[firewall][kernel]") {
  auto fw = openFirewall();
  auto rs = zoneRuleset(cluster(), Zone::Private);
  REQUIRE(rs.ok());
  REQUIRE(fw->apply(*rs).ok());
  auto handles = run("nft -a list chain inet dcos input");

  auto a = parseInterval("10.7.0.1");
  auto b = parseInterval("fd00:dc05::99");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(fw->addAddresses(kClusterNodes, {*a, *b}).ok());
  CHECK_THAT(run("nft list set inet dcos cluster_nodes4"), Catch::Contains("10.7.0.1"));
  CHECK_THAT(run("nft list set inet dcos cluster_nodes6"), Catch::Contains("fd00:dc05::99"));
  REQUIRE(fw->addPorts(kExposedTcp, {{8080, 8080}}).ok());
  CHECK_THAT(run("nft list set inet dcos exposed_tcp"), Catch::Contains("8080"));
  REQUIRE(fw->removeAddresses(kClusterNodes, {*a}).ok());
  CHECK_THAT(run("nft list set inet dcos cluster_nodes4"), !Catch::Contains("10.7.0.1"));
  // The chain is the one applied: the same rules with the same handles.
  CHECK(run("nft -a list chain inet dcos input") == handles);
  REQUIRE(fw->remove("dcos").ok());
}

TEST_CASE("other tables are left alone", "[firewall][kernel]") {
  run("nft add table inet filter && nft add chain inet filter input "
      "'{ type filter hook input priority 0; policy accept; }' && nft add rule inet filter input tcp dport 9 drop");
  run("nft add table ip nat && nft add chain ip nat postrouting '{ type nat hook postrouting priority 100; }'");
  const std::string filter = run("nft list table inet filter");
  const std::string nat = run("nft list table ip nat");
  auto fw = openFirewall();
  auto rs = zoneRuleset(cluster(), Zone::Admin);
  REQUIRE(rs.ok());
  REQUIRE(fw->apply(*rs).ok());
  REQUIRE(fw->apply(*rs).ok());  // replacing again is fine
  CHECK(run("nft list table inet filter") == filter);
  CHECK(run("nft list table ip nat") == nat);
  REQUIRE(fw->remove("dcos").ok());
  REQUIRE(fw->remove("dcos").ok());  // removing what is gone is fine
  CHECK(run("nft list table inet filter") == filter);
  CHECK_THAT(run("nft list tables"), !Catch::Contains("dcos"));
  run("nft delete table inet filter && nft delete table ip nat");
}

TEST_CASE("the task guard refuses a task cgroup's connections to the control plane, and no one else's",
          "[firewall][kernel]") {
  // A cgroup of the test's own in the v2 hierarchy, as the agent makes them.
  auto [v2, prefix] = findCgroup2();
  if (v2.empty()) {
    WARN("no cgroup v2 hierarchy here: nothing to test");
    return;
  }
  const std::string name = "dcos-fw-test-" + std::to_string(::getpid());
  const std::string dir = v2 + "/" + name;
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  struct Cleanup {
    std::string d;
    ~Cleanup() { ::rmdir(d.c_str()); }
  } cleanup{dir};
  Cgroup cg{prefix + name, 1, cgroupId(dir)};
  REQUIRE(cg.id != 0);

  run("ip link set lo up");
  auto rs = zoneRuleset(cluster(), Zone::Private, {cg}, 61001);
  REQUIRE(rs.ok());
  REQUIRE(rs->taskGuard.has_value());
  auto fw = openFirewall();
  REQUIRE(fw->apply(*rs).ok());
  CHECK(normalized(listing()) == normalized(nftTable(*rs)));

  // A listener on a guarded port (ZooKeeper's) and on one that is not.
  auto listen = [](uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    return fd;
  };
  int zk = listen(2181);
  int app = listen(31000);
  // connect() from a child: in the task cgroup or not. Its exit status is
  // 0 when connected, 1 when refused, 2 otherwise.
  // Another address of this node, in no cluster network: the node API on a
  // wildcard address is reached through it too.
  run("ip addr add 10.99.0.1/32 dev lo");
  auto connectFrom = [&](bool inTask, uint16_t port, uint32_t address = INADDR_LOOPBACK) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (inTask) {
        FILE *f = std::fopen((dir + "/cgroup.procs").c_str(), "w");
        if (f == nullptr || std::fprintf(f, "0\n") < 0 || std::fclose(f) != 0) ::_exit(3);
      }
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(address);
      if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0) ::_exit(0);
      ::_exit(errno == ECONNREFUSED ? 1 : 2);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  CHECK(connectFrom(true, 2181) == 1);    // a task to ZooKeeper: reset
  CHECK(connectFrom(true, 31000) == 0);   // a task to another task's port
  CHECK(connectFrom(false, 2181) == 0);   // the node itself to ZooKeeper
  CHECK(connectFrom(true, 61001) == 1);   // a task to the node API (nothing listens: refused either way)
  CHECK(connectFrom(true, 2181, 0x0a630001) == 1);   // through another address of the node
  CHECK(connectFrom(false, 2181, 0x0a630001) == 0);
  run("ip addr del 10.99.0.1/32 dev lo");
  ::close(zk);
  ::close(app);
  REQUIRE(fw->remove("dcos").ok());
}
