// The local cluster end to end: the dcos CLI brings a cluster up in network
// namespaces, lists its nodes through a master's admin port, and takes it
// down. Zones are checked with real connections from the host (the operator)
// and between nodes; a node's dcosd is killed, leaves the membership and
// returns. Needs root (label netns); each cluster has its own name, network
// and state dir, so a user's own local cluster is left alone.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "tests/support/netns.h"
#include "tests/support/process.h"

namespace {

using namespace dcos::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kDcos = std::string(DCOS_TEST_BUILD_DIR) + "/cli/dcos";

struct Cluster {
  std::string name;
  std::string network;  // x.y.z.0/24
  TempDir state{"dcos-cluster-test"};

  std::string base() const { return network.substr(0, network.rfind('.') + 1); }
  std::string addr(int last) const { return base() + std::to_string(last); }

  CommandResult dcos(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s) const {
    std::vector<std::string> argv{kDcos};
    argv.insert(argv.end(), args.begin(), args.end());
    bool local = args.size() >= 2 && args[0] == "cluster" && args[1] != "--help";
    if (local || (args.size() >= 2 && args[0] == "node")) {
      argv.insert(argv.end(), {"--name", name, "--state-dir", state.path()});
    }
    return runCommand(argv, timeout);
  }

  ~Cluster() {
    // A failed test must not leave namespaces behind.
    if (fs::exists(state.path() + "/" + name) || fs::exists("/run/netns/dcos-" + name + "-net")) {
      try {
        dcos({"cluster", "down"});
      } catch (...) {
      }
    }
  }
};

std::set<std::string> memberAddresses(const Cluster &c) {
  std::set<std::string> out;
  auto r = c.dcos({"node", "list", "--json"});
  if (r.status != 0) return out;
  auto nodes = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Array::Ptr>();
  for (size_t i = 0; i < nodes->size(); ++i) out.insert(nodes->getObject(static_cast<unsigned>(i))->getValue<std::string>("address"));
  return out;
}

// netprobe from the host (netns empty) or from inside a node's namespace.
std::map<std::string, std::string> probe(const std::string &netns, const std::vector<std::string> &targets) {
  std::vector<std::string> argv;
  if (!netns.empty()) argv = {ipPath(), "netns", "exec", netns};
  argv.push_back(netprobePath());
  argv.insert(argv.end(), {"probe", "--json", "--timeout-ms", "600"});
  argv.insert(argv.end(), targets.begin(), targets.end());
  auto r = runCommand(argv, 10s);
  REQUIRE(r.status == 0);
  auto o = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  std::map<std::string, std::string> out;
  for (const auto &[k, v] : *o) out[k] = v.toString();
  return out;
}

// Processes whose command line mentions `needle`.
std::vector<std::string> processesMentioning(const std::string &needle) {
  std::vector<std::string> out;
  for (const auto &e : fs::directory_iterator("/proc")) {
    std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = readFile("/proc/" + pid + "/cmdline");
    for (auto &ch : cmdline) {
      if (ch == '\0') ch = ' ';
    }
    std::string stat = readFile("/proc/" + pid + "/stat");
    auto close = stat.rfind(')');
    bool zombie = close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
    if (!zombie && cmdline.find(needle) != std::string::npos) out.push_back(pid + ": " + cmdline);
  }
  return out;
}

void requireNothingLeft(const Cluster &c) {
  auto netns = runCommand({ipPath(), "netns", "list"});
  CHECK(netns.out.find("dcos-" + c.name + "-") == std::string::npos);
  CHECK_FALSE(fs::exists("/sys/class/net/dcos-" + c.name));
  CHECK_FALSE(fs::exists(c.state.path() + "/" + c.name));
  CHECK(processesMentioning(c.state.path() + "/" + c.name).empty());
  auto routes = runCommand({ipPath(), "route", "show"});
  CHECK(routes.out.find(c.base()) == std::string::npos);
}

// Gone, or a zombie nobody reaped (the CLI that started it has exited).
bool isZombieOrGone(int pid) {
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close == std::string::npos || (close + 2 < stat.size() && stat[close + 2] == 'Z');
}

int pidOf(const Cluster &c, const std::string &id) {
  auto state = Poco::JSON::Parser()
                   .parse(readFile(c.state.path() + "/" + c.name + "/state.json"))
                   .extract<Poco::JSON::Object::Ptr>();
  auto nodes = state->getArray("nodes");
  for (size_t i = 0; i < nodes->size(); ++i) {
    auto n = nodes->getObject(static_cast<unsigned>(i));
    if (n->getValue<std::string>("id") == id) return n->getValue<int>("pid");
  }
  return 0;
}

}  // namespace

TEST_CASE("a local cluster: up, node list, zones, a node lost and back, down", "[cluster]") {
  skipUnlessRoot();
  Cluster c{"t1", "172.31.251.0/24"};
  const std::string m1 = c.addr(11), a1 = c.addr(65), p1 = c.addr(129);

  auto up = c.dcos({"cluster", "up", "--network", c.network}, 200s);
  INFO(up.out << up.err);
  REQUIRE(up.status == 0);
  CHECK_THAT(up.out, Catch::Contains("is up: 1 master, 1 private agent, 1 public agent, healthy in"));
  CHECK_THAT(up.out, Catch::Contains("admin URL: http://" + m1 + "/"));

  // Every node registered, as a master's admin port tells it.
  CHECK(memberAddresses(c) == std::set<std::string>{m1, a1, p1});
  auto table = c.dcos({"node", "list"});
  REQUIRE(table.status == 0);
  CHECK_THAT(table.out, Catch::Contains("agent-public-1") && Catch::Contains("slave_public") &&
                            Catch::Contains("master-1") && Catch::Contains("agent-private-1"));
  auto status = c.dcos({"cluster", "status", "--json"});
  REQUIRE(status.status == 0);
  CHECK(Poco::JSON::Parser().parse(status.out).extract<Poco::JSON::Object::Ptr>()->getValue<bool>("healthy"));

  // Running it again reports the running cluster.
  auto again = c.dcos({"cluster", "up"}, 60s);
  REQUIRE(again.status == 0);
  CHECK_THAT(again.out, Catch::Contains("cluster \"t1\" is running"));

  SECTION("zones, from the host and inside the cluster") {
    // The host is the operator: masters' 80 and 443 (the admin router) are
    // open, the rest of every node is filtered; public agents let 80/443
    // through.
    auto host = probe("", {"tcp:" + m1 + ":80", "tcp:" + m1 + ":443", "tcp:" + m1 + ":61001", "tcp:" + m1 + ":2181",
                           "tcp:" + m1 + ":22", "tcp:" + a1 + ":61001", "tcp:" + a1 + ":80", "tcp:" + a1 + ":22",
                           "tcp:" + p1 + ":80", "tcp:" + p1 + ":443", "tcp:" + p1 + ":61001", "udp:" + a1 + ":53"});
    CHECK(host["tcp:" + m1 + ":80"] == "open");
    CHECK(host["tcp:" + m1 + ":443"] == "open");
    CHECK(host["tcp:" + m1 + ":61001"] == "filtered");
    CHECK(host["tcp:" + m1 + ":2181"] == "filtered");
    CHECK(host["tcp:" + m1 + ":22"] == "filtered");
    CHECK(host["tcp:" + a1 + ":61001"] == "filtered");
    CHECK(host["tcp:" + a1 + ":80"] == "filtered");
    CHECK(host["tcp:" + a1 + ":22"] == "filtered");
    CHECK(host["udp:" + a1 + ":53"] == "filtered");
    CHECK(host["tcp:" + p1 + ":80"] == "open");  // the edge router
    CHECK(host["tcp:" + p1 + ":443"] == "open");  // the edge router, https
    CHECK(host["tcp:" + p1 + ":61001"] == "filtered");

    // Inside, nodes reach each other's node API and the ensemble.
    auto fromAgent = probe("dcos-t1-a1", {"tcp:" + m1 + ":61001", "tcp:" + m1 + ":2181", "tcp:" + p1 + ":61001"});
    CHECK(fromAgent["tcp:" + m1 + ":61001"] == "open");
    CHECK(fromAgent["tcp:" + m1 + ":2181"] == "open");
    CHECK(fromAgent["tcp:" + p1 + ":61001"] == "open");
    auto fromPublic = probe("dcos-t1-p1", {"tcp:" + a1 + ":61001", "tcp:" + m1 + ":61001"});
    CHECK(fromPublic["tcp:" + a1 + ":61001"] == "open");
    CHECK(fromPublic["tcp:" + m1 + ":61001"] == "open");

    // Nothing is routed out: a node has no route beyond the cluster's /24.
    auto routes = runCommand({ipPath(), "netns", "exec", "dcos-t1-a1", ipPath(), "route", "show"});
    CHECK(routes.out.find("default") == std::string::npos);
  }

  SECTION("apps through Marathon's API run on the agent; their tasks are kept from the control plane and the "
          "masters' admin port, and still reach each other") {
    // Marathon's API on the master's admin port, from the host (the
    // operator); the agent's API from inside the cluster.
    auto marathon = [&](const std::string &method, const std::string &path, const std::string &body = "") {
      std::vector<std::string> argv{"/usr/bin/curl", "-s", "--max-time", "5", "-X", method, "http://" + m1 + path};
      if (!body.empty()) argv.insert(argv.end(), {"-H", "Content-Type: application/json", "-d", body});
      return runCommand(argv, 10s).out;
    };
    auto agentApi = [&](const std::string &path) {
      return runCommand({ipPath(), "netns", "exec", "dcos-t1-m1", "curl", "-s", "--max-time", "5",
                         "http://" + a1 + ":61001" + path}, 10s).out;
    };
    // The app's one running task: {id, host, first port}, or empty.
    auto runningTask = [&](const std::string &app) -> std::vector<std::string> {
      try {
        auto tasks = Poco::JSON::Parser().parse(marathon("GET", "/v2/apps/" + app + "/tasks"))
                         .extract<Poco::JSON::Object::Ptr>()->getArray("tasks");
        for (size_t i = 0; tasks && i < tasks->size(); ++i) {
          auto t = tasks->getObject(static_cast<unsigned>(i));
          if (t->getValue<std::string>("state") != "TASK_RUNNING") continue;
          return {t->getValue<std::string>("id"), t->getValue<std::string>("host"),
                  std::to_string(t->getArray("ports")->getElement<int>(0))};
        }
      } catch (...) {
      }
      return {};
    };
    // netprobe where the tasks' user may run it.
    TempDir bin("dcos-cluster-test-bin");
    REQUIRE(::chmod(bin.path().c_str(), 0755) == 0);
    REQUIRE(runCommand({"/bin/cp", netprobePath(), bin / "netprobe"}).status == 0);
    const std::string netprobe = bin / "netprobe";

    auto posted = marathon("POST", "/v2/apps", R"({"id": "/listener", "cmd": ")" + netprobe +
                                                    R"( serve --tcp $PORT0", "cpus": 0.1, "mem": 16})");
    INFO(posted);
    CHECK_THAT(posted, Catch::Contains("\"deployments\":[{\"id\""));
    std::vector<std::string> listener;
    REQUIRE(waitUntil([&] { return !(listener = runningTask("listener")).empty(); }, 20s, 100ms));
    CHECK(listener[1] == a1);  // the private agent: never the public one by default
    const std::string target = "tcp:" + listener[1] + ":" + listener[2];
    // Running is not listening yet: the node itself sees it first.
    REQUIRE(waitUntil([&] { return probe("dcos-t1-a1", {target})[target] == "open"; }, 10s, 50ms));

    std::string cmd = netprobe + " probe --json --timeout-ms 800";
    for (const auto &t : {"tcp:" + m1 + ":2181", "tcp:" + m1 + ":61001", "tcp:" + a1 + ":61001",
                          "tcp:" + p1 + ":61001", "tcp:" + m1 + ":80", target}) {
      cmd += " " + t;
    }
    marathon("POST", "/v2/apps", R"({"id": "/prober", "cmd": ")" + cmd + R"(; exec sleep 1000", "cpus": 0.1, "mem": 16})");
    std::vector<std::string> prober;
    REQUIRE(waitUntil([&] { return !(prober = runningTask("prober")).empty(); }, 20s, 100ms));
    std::string data;
    REQUIRE(waitUntil([&] {
      try {
        data = Poco::JSON::Parser().parse(agentApi("/agent/v1/tasks/" + prober[0] + "/files/read?path=stdout"))
                   .extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("data");
      } catch (...) {
        data.clear();
      }
      return data.find('}') != std::string::npos;
    }, 10s, 50ms));
    INFO(data);
    auto seen = Poco::JSON::Parser().parse(data).extract<Poco::JSON::Object::Ptr>();
    // Refused with a reset by the agent's output chain: the same ports are
    // open to the node itself (the zones section).
    CHECK(seen->getValue<std::string>("tcp:" + m1 + ":2181") == "closed");
    CHECK(seen->getValue<std::string>("tcp:" + m1 + ":61001") == "closed");
    CHECK(seen->getValue<std::string>("tcp:" + a1 + ":61001") == "closed");
    CHECK(seen->getValue<std::string>("tcp:" + p1 + ":61001") == "closed");
    // The masters' admin port (the node API there, and the admin router's)
    // too; another task is reached.
    CHECK(seen->getValue<std::string>("tcp:" + m1 + ":80") == "closed");
    CHECK(seen->getValue<std::string>(target) == "open");
    // The node itself, outside the tasks' cgroup, still reaches the ensemble.
    auto fromNode = probe("dcos-t1-a1", {"tcp:" + m1 + ":2181"});
    CHECK(fromNode["tcp:" + m1 + ":2181"] == "open");

    // Removed: their tasks are killed. With force, as Marathon wants past a
    // deployment under way (the prober's task ends and is started again, so
    // its deployment may never end).
    CHECK_THAT(marathon("DELETE", "/v2/apps/listener?force=true"), Catch::Contains("deploymentId"));
    CHECK_THAT(marathon("DELETE", "/v2/apps/prober?force=true"), Catch::Contains("deploymentId"));
    CHECK(waitUntil([&] {
      std::string state = agentApi("/agent/v1/tasks/" + listener[0]);
      return state.find("\"state\":\"TASK_KILLED\"") != std::string::npos;
    }, 15s, 100ms));
  }

  SECTION("a node's dcosd killed leaves the membership; up again brings it back") {
    int pid = pidOf(c, "a1");
    REQUIRE(pid > 0);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    // Its ZooKeeper session expires within the session timeout (5 s).
    CHECK(waitUntil([&] { return memberAddresses(c) == std::set<std::string>{m1, p1}; }, 20s, 200ms));
    auto down = c.dcos({"cluster", "status"});
    CHECK(down.status == 1);
    CHECK_THAT(down.out, Catch::Contains("stopped"));

    auto heal = c.dcos({"cluster", "up"}, 120s);
    INFO(heal.out << heal.err);
    REQUIRE(heal.status == 0);
    CHECK_THAT(heal.out, Catch::Contains("starting agent-private-1: its dcosd was not running"));
    CHECK(memberAddresses(c) == std::set<std::string>{m1, a1, p1});
    CHECK(pidOf(c, "a1") != pid);
  }

  SECTION("after a reboot (every dcosd gone, and /run/netns with them) up makes the network again") {
    for (const char *id : {"m1", "a1", "p1"}) {
      int pid = pidOf(c, id);
      REQUIRE(pid > 0);
      REQUIRE(::kill(pid, SIGTERM) == 0);
      CHECK(waitUntil([&] { return isZombieOrGone(pid); }, 30s, 100ms));
    }
    for (const char *ns : {"dcos-t1-net", "dcos-t1-m1", "dcos-t1-a1", "dcos-t1-p1"}) {
      REQUIRE(runCommand({ipPath(), "netns", "del", ns}).status == 0);
    }
    auto back = c.dcos({"cluster", "up"}, 120s);
    INFO(back.out << back.err);
    REQUIRE(back.status == 0);
    CHECK_THAT(back.out, Catch::Contains("its network is gone (a reboot?); making it again"));
    CHECK(memberAddresses(c) == std::set<std::string>{m1, a1, p1});
  }

  auto gone = c.dcos({"cluster", "down"}, 60s);
  INFO(gone.out << gone.err);
  REQUIRE(gone.status == 0);
  CHECK_THAT(gone.out, Catch::Contains("cluster \"t1\" is down: 3 dcosd stopped, 4 namespaces"));
  requireNothingLeft(c);
  // Down again: nothing to do, and it says so.
  auto twice = c.dcos({"cluster", "down"});
  CHECK(twice.status == 0);
  CHECK_THAT(twice.out, Catch::Contains("nothing to take down"));
}

TEST_CASE("a local cluster with three masters", "[cluster]") {
  skipUnlessRoot();
  Cluster c{"t3", "172.31.252.0/24"};
  auto up = c.dcos({"cluster", "up", "--masters", "3", "--private-agents", "1", "--public-agents", "0", "--network",
                    c.network},
                   200s);
  INFO(up.out << up.err);
  REQUIRE(up.status == 0);
  CHECK_THAT(up.out, Catch::Contains("3 masters, 1 private agent, 0 public agents"));
  CHECK(memberAddresses(c) == std::set<std::string>{c.addr(11), c.addr(12), c.addr(13), c.addr(65)});
  // Every master serves the admin port, and each sees the whole cluster.
  for (int last : {11, 12, 13}) {
    auto r = runCommand({kDcos, "node", "list", "--json", "--url", "http://" + c.addr(last)});
    REQUIRE(r.status == 0);
    CHECK(Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Array::Ptr>()->size() == 4);
  }
  // The ensemble, as Exhibitor's status shows it: one leader, three serving.
  auto ensemble = runCommand({"/usr/bin/curl", "-sf", "--max-time", "3", "http://" + c.addr(11) + "/exhibitor/v1/cluster/status"});
  REQUIRE(ensemble.status == 0);
  auto servers = Poco::JSON::Parser().parse(ensemble.out).extract<Poco::JSON::Array::Ptr>();
  REQUIRE(servers->size() == 3);
  int leaders = 0;
  for (size_t i = 0; i < servers->size(); ++i) {
    auto s = servers->getObject(static_cast<unsigned>(i));
    CHECK(s->getValue<std::string>("description") == "serving");
    leaders += s->getValue<bool>("isLeader") ? 1 : 0;
  }
  CHECK(leaders == 1);

  auto gone = c.dcos({"cluster", "down"}, 60s);
  REQUIRE(gone.status == 0);
  requireNothingLeft(c);
}

TEST_CASE("a node that does not come up is named, with the end of its log", "[cluster]") {
  skipUnlessRoot();
  Cluster c{"t2", "172.31.250.0/24"};
  TempDir noPlugins("dcos-no-plugins");
  auto up = c.dcos({"cluster", "up", "--network", c.network, "--dcosd", std::string(DCOS_TEST_BUILD_DIR) + "/dcosd/dcosd",
                    "--plugin-dir", noPlugins.path(), "--timeout", "60"},
                   120s);
  CHECK(up.status == 1);
  CHECK_THAT(up.err, Catch::Contains("master-1 (172.31.250.11, namespace dcos-t2-m1) stopped: its dcosd exited") &&
                         Catch::Contains("/m1/dcosd.log") && Catch::Contains("unknown role \"master\""));
  // What it made stays for a look, and down removes it.
  CHECK(fs::exists("/run/netns/dcos-t2-m1"));
  auto gone = c.dcos({"cluster", "down"}, 60s);
  CHECK(gone.status == 0);
  requireNothingLeft(c);
}

TEST_CASE("cluster down takes its own cluster only, and one up or down at a time", "[cluster]") {
  TempDir state("dcos-cli-state");
  struct Cleanup {
    ~Cleanup() {
      for (const char *ns : {"dcos-tdn-2-net", "dcos-tdn-2-m1"}) runCommand({"/usr/sbin/ip", "netns", "del", ns});
    }
  } cleanup;
  // Namespaces of a cluster "tdn-2", which "tdn" must leave alone.
  for (const char *ns : {"dcos-tdn-2-net", "dcos-tdn-2-m1"}) REQUIRE(runCommand({"/usr/sbin/ip", "netns", "add", ns}).status == 0);
  auto r = runCommand({kDcos, "cluster", "down", "--state-dir", state.path(), "--name", "tdn"});
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("nothing to take down"));
  CHECK(fs::exists("/run/netns/dcos-tdn-2-net"));
  CHECK(fs::exists("/run/netns/dcos-tdn-2-m1"));
  // While another run holds the cluster's lock, a second one says so and does nothing.
  auto holder = std::make_unique<Child>(std::vector<std::string>{"/usr/bin/flock", "-o", state / ".tdn-2.lock", "sleep", "60"},
                                        std::map<std::string, std::string>{}, state / "flock.log");
  REQUIRE(waitUntil([&] { return runCommand({"/usr/bin/flock", "-n", state / ".tdn-2.lock", "true"}).status != 0; }, 10s));
  r = runCommand({kDcos, "cluster", "down", "--state-dir", state.path(), "--name", "tdn-2"});
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("another `dcos cluster up` or `down` is at work on cluster \"tdn-2\""));
  CHECK(fs::exists("/run/netns/dcos-tdn-2-net"));
  holder->signal(SIGTERM);
  holder->wait(10s);
  r = runCommand({kDcos, "cluster", "down", "--state-dir", state.path(), "--name", "tdn-2"});
  CHECK(r.status == 0);
  CHECK_FALSE(fs::exists("/run/netns/dcos-tdn-2-net"));
  CHECK_FALSE(fs::exists("/run/netns/dcos-tdn-2-m1"));
}

TEST_CASE("the dcos CLI's usage errors and exit codes", "[cluster]") {
  auto run = [](std::vector<std::string> args) {
    args.insert(args.begin(), kDcos);
    return runCommand(args);
  };
  auto r = run({"cluster", "up", "--masters", "2"});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--masters: expected 1, 3, 5 or 7"));
  r = run({"cluster", "up", "--mastres", "3"});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("unknown option --mastres (did you mean --masters?)"));
  r = run({"cluster", "upp"});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("did you mean \"up\"?"));
  r = run({"nodes", "list"});
  CHECK(r.status == 2);
  r = run({"cluster", "status", "--name", "nosuch", "--state-dir", "/nonexistent"});
  CHECK(r.status == 3);
  CHECK_THAT(r.err, Catch::Contains("no local cluster \"nosuch\"") && Catch::Contains("dcos cluster up --name nosuch"));
  // A name is checked before it goes into a path: nothing outside the state dir is touched.
  TempDir scratch("dcos-cli-names");
  fs::create_directories(scratch / "victim");
  fs::create_directories(scratch / "state");
  for (std::string bad : {"../victim", "", "..", "a/b"}) {
    r = run({"cluster", "down", "--state-dir", scratch / "state", "--name", bad});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("--name: expected 1-10 lowercase letters"));
  }
  CHECK(fs::exists(scratch / "victim"));
  CHECK(fs::exists(scratch / "state"));
  r = run({"node", "list", "--url", "http://127.0.0.1:1"});
  CHECK(r.status == 3);
  CHECK_THAT(r.err, Catch::Contains("cannot reach the cluster at http://127.0.0.1:1"));
  for (auto help : std::vector<std::vector<std::string>>{
           {"--help"}, {"cluster", "--help"}, {"cluster", "up", "--help"}, {"cluster", "status", "--help"},
           {"cluster", "down", "--help"}, {"node", "--help"}, {"node", "list", "--help"}}) {
    auto h = run(help);
    CHECK(h.status == 0);
    CHECK_THAT(h.out, Catch::StartsWith("Usage: dcos"));
  }
}
