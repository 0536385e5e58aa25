// The zones with real packets. Network namespaces for an outside client, an
// operator workstation, a master, a private agent and a public agent (and a
// second private agent for the membership test) on one bridge; netprobe
// listeners on TCP and UDP ports in every node; the real dcosd with its zone
// firewall in each node namespace. The whole reachability matrix is checked
// with real connections: before the rules, after dcosd applied them, while a
// module has a port open, and as a node joins and leaves.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "firewall/firewall.h"
#include "tests/support/netns.h"
#include "tests/support/process.h"

using namespace dcos;
using namespace dcos::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kBuild = DCOS_TEST_BUILD_DIR;
const std::string kSource = DCOS_TEST_SOURCE_DIR;

// Addresses from examples/cluster/cluster.json, plus IPv6 in the same layout.
struct HostSpec {
  std::string name, v4, v6;
};
const std::vector<HostSpec> kHosts = {
    {"master", "172.31.254.11", "fd00:dc05::a"},  {"private", "172.31.254.17", "fd00:dc05::1a"},
    {"public", "172.31.254.33", "fd00:dc05::2a"}, {"operator", "172.31.254.241", "fd00:dc05::f1"},
    {"outside", "172.31.254.100", "fd00:dc05::99"}, {"private2", "172.31.254.18", "fd00:dc05::1b"},
};
const std::vector<std::string> kTcp = {"22", "80", "443", "5050", "8080", "10050"};
const std::vector<std::string> kUdp = {"53", "5000", "10050"};
const std::vector<std::string> kNodes = {"master", "private", "public"};

const HostSpec &spec(const std::string &name) {
  for (const auto &h : kHosts) {
    if (h.name == name) return h;
  }
  throw std::runtime_error("no host " + name);
}

std::string clusterJson() {
  auto c = Poco::JSON::Parser().parse(readFile(kSource + "/examples/cluster/cluster.json")).extract<Poco::JSON::Object::Ptr>();
  auto zones = c->getObject("zones");
  auto add = [&](const char *zone, const char *net) { zones->getObject(zone)->getArray("networks")->add(std::string(net)); };
  add("admin", "fd00:dc05::/124");
  add("private", "fd00:dc05::10/124");
  add("public", "fd00:dc05::20/124");
  c->getObject("operators")->getArray("networks")->add(std::string("fd00:dc05::f0/124"));
  std::ostringstream s;
  c->stringify(s);
  return s.str();
}

// Every (target, verdict) a source should see: "open" or "filtered" (a
// listener answers every port, so nothing is "closed" unless it is refused).
using Matrix = std::map<std::string, std::string>;

std::vector<std::string> targets(const std::string &node, bool v6) {
  std::vector<std::string> out;
  const auto &h = spec(node);
  std::string addr = v6 ? "[" + h.v6 + "]" : h.v4;
  for (const auto &p : kTcp) out.push_back("tcp:" + addr + ":" + p);
  for (const auto &p : kUdp) out.push_back("udp:" + addr + ":" + p);
  return out;
}

// What `from` should reach on `node` given the policy and what is open.
std::string expected(const std::string &from, const std::string &node, const std::string &target,
                     bool rules, const std::set<std::string> &extraPublicTcp) {
  if (!rules || from == node) return "open";
  bool fromCluster = from == "master" || from == "private" || from == "public";
  if (fromCluster) return "open";
  std::string proto = target.substr(0, 3);
  std::string port = target.substr(target.rfind(':') + 1);
  if (node == "master" && from == "operator") {
    return proto == "tcp" && (port == "80" || port == "443") ? "open" : "filtered";
  }
  if (node == "public") {
    bool advertised = proto == "tcp" && (port == "80" || port == "443" || port == "10050" ||
                                         extraPublicTcp.count(port) != 0);
    return advertised ? "open" : "filtered";
  }
  return "filtered";
}

struct Cluster {
  Topology net{"zn"};
  TempDir dir{"dcos-zones"};
  std::string plugins = dir / "plugins";
  std::string trigger = dir / "open-8080";
  std::vector<std::unique_ptr<Child>> listeners;
  std::map<std::string, std::unique_ptr<Child>> dcosd;

  Cluster() {
    for (const auto &h : kHosts) net.addHost(h.name, h.v4 + "/24", h.v6 + "/64");
    makePluginDir(plugins, {"role-test.so", "port-opener.so"});
    for (const auto &node : {"master", "private", "public", "private2"}) {
      std::string ready = dir / (std::string(node) + ".ready");
      std::vector<std::string> argv{netprobePath(), "serve", "--ready-file", ready, "--tcp"};
      std::string tcp, udp;
      for (const auto &p : kTcp) tcp += (tcp.empty() ? "" : ",") + p;
      for (const auto &p : kUdp) udp += (udp.empty() ? "" : ",") + p;
      argv.insert(argv.end(), {tcp, "--udp", udp});
      listeners.push_back(net.spawn(node, argv, {}, dir / (std::string(node) + ".netprobe.log")));
      if (!waitForFile(ready, 5s)) throw std::runtime_error(std::string("netprobe did not get ready in ") + node);
    }
  }

  // Starts dcosd in `node`'s namespace with its zone firewall, and waits for READY=1.
  void startDcosd(const std::string &node, const std::string &role, const std::string &manifest = "") {
    std::string cfg = dir / (node + "-config");
    fs::create_directories(cfg);
    writeFile(cfg + "/cluster.json", clusterJson());
    Poco::JSON::Object node_;
    node_.set("role", role);
    node_.set("address", spec(node).v4);
    node_.set("hostname", node);
    if (role == "master") {
      // Port 80 is the listener's here (it plays every service): no admin router.
      Poco::JSON::Object::Ptr router = new Poco::JSON::Object, modules = new Poco::JSON::Object;
      router->set("enabled", false);
      modules->set("router", router);
      node_.set("modules", modules);
    }
    if (!manifest.empty()) {
      writeFile(dir / (node + "-manifest.json"), manifest);
      Poco::JSON::Object::Ptr attrs = new Poco::JSON::Object;
      attrs->set("test_manifest", dir / (node + "-manifest.json"));
      node_.set("attributes", attrs);
    }
    std::ostringstream s;
    node_.stringify(s);
    writeFile(cfg + "/node.json", s.str());
    NotifySocket notify(dir / (node + ".notify"));
    auto child = net.spawn(node,
                           {kBuild + "/dcosd/dcosd", "--config-dir", cfg, "--plugin-dir", plugins, "--state-dir",
                            dir / (node + "-state")},
                           {{"NOTIFY_SOCKET", notify.path()}}, dir / (node + ".dcosd.log"));
    if (!notify.waitFor("READY=1", 10s)) {
      throw std::runtime_error("dcosd in " + node + " not ready:\n" + child->log());
    }
    dcosd[node] = std::move(child);
  }

  // Probes every node from `from` and compares with the policy.
  void checkMatrix(const std::string &from, bool rules, const std::set<std::string> &extraPublicTcp = {}) {
    for (bool v6 : {false, true}) {
      std::vector<std::string> all;
      for (const auto &node : kNodes) {
        auto t = targets(node, v6);
        all.insert(all.end(), t.begin(), t.end());
      }
      auto seen = net.probe(from, all, 300);
      for (const auto &node : kNodes) {
        for (const auto &t : targets(node, v6)) {
          INFO("from " << from << " to " << node << ": " << t << (rules ? " (rules)" : " (no rules)"));
          CHECK(seen[t] == expected(from, node, t, rules, extraPublicTcp));
        }
      }
    }
  }
};

// Runs f with the calling thread inside `ns`; sockets made there stay there.
template <class F>
void inNamespace(const std::string &ns, F &&f) {
  std::exception_ptr error;
  std::thread t([&] {
    try {
      int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) throw std::runtime_error("cannot enter " + ns);
      ::close(fd);
      f();
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

TEST_CASE("zones with real packets: who reaches which port on which node", "[netns][firewall][integration]") {
  skipUnlessRoot();
  Cluster c;
  SECTION("before any rules, everything answers") {
    for (const auto &from : {"outside", "operator", "master"}) c.checkMatrix(from, false);
  }
  SECTION("with dcosd's zone firewall on every node") {
    c.startDcosd("master", "master");
    c.startDcosd("private", "agent-private");
    c.startDcosd("public", "test", R"({"zone": "public", "resource_role": "slave_public", "modules": [
      {"name": "port-opener", "config": {"trigger": ")" + c.trigger + R"(", "proto": "tcp", "port": 8080, "zones": 4}}]})");
    for (const auto &from : {"outside", "operator", "master", "private", "public"}) c.checkMatrix(from, true);

    // The agents registered with the master's ZooKeeper, and every node's
    // firewall holds the members in cluster_nodes (set elements, live).
    bool joined = waitUntil([&] {
      auto nodes = c.net.run("master", "nft list set inet dcos cluster_nodes4").out;
      return nodes.find("172.31.254.17") != std::string::npos && nodes.find("172.31.254.33") != std::string::npos;
    }, 20s, 100ms);
    if (!joined) {
      FAIL("the master's cluster_nodes4 lacks an agent:\n" << c.net.run("master", "nft list set inet dcos cluster_nodes4").out
                                                           << "\nmaster's dcosd:\n" << c.dcosd["master"]->log());
    }
    INFO("public agent's dcosd:\n" << c.dcosd["public"]->log());
    CHECK(waitUntil([&] {
      return c.net.run("public", "nft list set inet dcos cluster_nodes4").out.find("172.31.254.17") != std::string::npos;
    }, 20s, 100ms));

    // /health says the firewall is applied; nft -j shows our table in the node.
    auto health = c.net.exec("master", "curl -s http://172.31.254.11:61001/health");
    CHECK_THAT(health, Catch::Contains("\"firewall\":{\"enabled\":true,\"state\":\"applied\"}"));
    auto json = c.net.exec("public", "nft -j list table inet dcos");
    CHECK_THAT(json, Catch::Contains("\"name\": \"exposed_tcp\"") || Catch::Contains("\"name\":\"exposed_tcp\""));

    // A module opens TCP 8080 on the public agent: reachable from outside, then closed again.
    writeFile(c.trigger, "");
    auto target = "tcp:172.31.254.33:8080";
    CHECK(waitUntil([&] { return c.net.probe("outside", {target}, 200)[target] == "open"; }, 5s));
    c.checkMatrix("outside", true, {"8080"});
    CHECK_THAT(c.net.exec("public", "nft list set inet dcos exposed_tcp"), Catch::Contains("8080"));
    fs::remove(c.trigger);
    CHECK(waitUntil([&] { return c.net.probe("outside", {target}, 200)[target] == "filtered"; }, 5s));
    c.checkMatrix("outside", true);

    // dcosd stops: the rules stay, the node is not left open.
    c.dcosd["private"]->signal(SIGTERM);
    REQUIRE(c.dcosd["private"]->wait(10s) == 0);
    auto probe = "tcp:172.31.254.17:22";
    CHECK(c.net.probe("outside", {probe})[probe] == "filtered");
    CHECK(c.net.probe("master", {probe})[probe] == "open");
  }
}

TEST_CASE("a node joining and leaving changes set elements only", "[netns][firewall][integration]") {
  skipUnlessRoot();
  Cluster c;
  config::ClusterConfig cluster;
  cluster.name = "t";
  cluster.masters = {"172.31.254.11"};
  cluster.privateZone.networks = {"172.31.254.16/28"};
  std::unique_ptr<firewall::ZoneFirewall> zf;
  inNamespace(c.net.ns("private2"), [&] {
    auto fw = firewall::Firewall::open();
    REQUIRE(fw.ok());
    zf = std::make_unique<firewall::ZoneFirewall>(std::move(*fw), cluster, firewall::Zone::Private);
    REQUIRE(zf->apply().ok());
  });
  const std::string ssh = "tcp:172.31.254.18:22";
  const std::string dns = "udp:[fd00:dc05::1b]:53";
  const std::string chain = c.net.exec("private2", "nft -a list chain inet dcos input | sed -E 's/ packets [0-9]+ bytes [0-9]+//'");
  CHECK(c.net.probe("outside", {ssh, dns}) == std::map<std::string, std::string>{{ssh, "filtered"}, {dns, "filtered"}});

  REQUIRE(zf->nodeJoined("172.31.254.100").ok());
  REQUIRE(zf->nodeJoined("fd00:dc05::99").ok());
  CHECK(c.net.probe("outside", {ssh, dns}) == std::map<std::string, std::string>{{ssh, "open"}, {dns, "open"}});
  CHECK(c.net.probe("operator", {ssh})[ssh] == "filtered");

  // The same node spelt another way counts as the same member: it stays in
  // until both have left.
  REQUIRE(zf->nodeJoined("fd00:dc05:0:0::99").ok());
  REQUIRE(zf->nodeLeft("172.31.254.100").ok());
  REQUIRE(zf->nodeLeft("fd00:dc05::99").ok());
  CHECK(c.net.probe("outside", {dns})[dns] == "open");
  REQUIRE(zf->nodeLeft("fd00:dc05:0:0::99").ok());
  CHECK(c.net.probe("outside", {ssh, dns}) == std::map<std::string, std::string>{{ssh, "filtered"}, {dns, "filtered"}});
  CHECK(c.net.exec("private2", "nft -a list chain inet dcos input | sed -E 's/ packets [0-9]+ bytes [0-9]+//'") == chain);
}
