// Three masters, each the real dcosd with the zookeeper module, on
// 127.0.0.1, 127.0.0.2 and 127.0.0.3: quorum, losing one server and then
// two, recovering; the membership seen through the node API and through an
// independent ZooKeeper client (kazoo); leader election handed over
// gracefully and on a crash; a master whose data dir belongs to another
// server id refusing to start.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <sstream>

#include "tests/support/netns.h"
#include "tests/support/process.h"

using namespace dcos::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kBuild = DCOS_TEST_BUILD_DIR;
const std::string kSource = DCOS_TEST_SOURCE_DIR;

struct Ensemble {
  TempDir dir{"dcos-ensemble"};
  std::string plugins = dir / "plugins";
  int clientPort = freeLoopbackPort();
  int peerPort = freeLoopbackPort();
  int electionPort = freeLoopbackPort();
  int apiPort = freeLoopbackPort();
  std::vector<std::unique_ptr<Child>> dcosd{3};
  std::vector<std::unique_ptr<NotifySocket>> notify{3};

  Ensemble() {
    makePluginDir(plugins, {"role-test.so", "elector.so"});
    for (int i = 0; i < 3; ++i) {
      std::string cfg = configDir(i);
      fs::create_directories(cfg);
      writeFile(cfg + "/cluster.json",
                R"({"cluster_name": "ensemble", "masters": ["127.0.0.1", "127.0.0.2", "127.0.0.3"],
                    "zookeeper": {"client_port": )" + std::to_string(clientPort) + R"(, "peer_port": )" +
                    std::to_string(peerPort) + R"(, "election_port": )" + std::to_string(electionPort) +
                    R"(, "session_timeout_ms": 3000}})");
      writeFile(cfg + "/node.json", R"({"role": "test", "address": ")" + address(i) + R"(", "hostname": "master-)" +
                                        std::to_string(i + 1) + R"(", "api": {"listen": ")" + address(i) + ":" +
                                        std::to_string(apiPort) + R"("}, "firewall": {"enabled": false},
                                        "attributes": {"test_manifest": ")" + cfg + R"(/manifest.json"}})");
      // Each master's elector logs to a file of its own.
      writeFile(cfg + "/manifest.json", R"({"zone": "admin", "modules": [
        {"name": "zookeeper", "await_healthy": true},
        {"name": "elector", "requires": ["zookeeper"], "config": {"election": "test", "log": ")" + electorLog(i) + R"("}}]})");
    }
  }

  static std::string address(int i) { return "127.0.0." + std::to_string(i + 1); }
  std::string configDir(int i) const { return dir / ("master-" + std::to_string(i + 1)); }
  std::string electorLog(int i) const { return dir / ("elector-" + std::to_string(i + 1) + ".log"); }
  std::string connectString() const {
    std::string s;
    for (int i = 0; i < 3; ++i) s += (i ? "," : "") + address(i) + ":" + std::to_string(clientPort);
    return s;
  }

  void start(int i) {
    notify[i].reset();  // its destructor unlinks the path the new one binds
    notify[i] = std::make_unique<NotifySocket>(dir / ("notify-" + std::to_string(i + 1)));
    dcosd[i] = std::make_unique<Child>(
        std::vector<std::string>{kBuild + "/dcosd/dcosd", "--config-dir", configDir(i), "--plugin-dir", plugins,
                                 "--state-dir", dir / ("state-" + std::to_string(i + 1))},
        std::map<std::string, std::string>{{"NOTIFY_SOCKET", notify[i]->path()}},
        dir / ("dcosd-" + std::to_string(i + 1) + ".log"));
  }

  HttpReply get(int i, const std::string &path) const {
    // The node API listens on the master's own loopback address.
    auto r = runCommand({"/usr/bin/curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}",
                         "http://" + address(i) + ":" + std::to_string(apiPort) + path},
                        5s);
    auto nl = r.out.rfind('\n');
    if (nl == std::string::npos) return {};
    return {std::atoi(r.out.substr(nl + 1).c_str()), r.out.substr(0, nl), {}};
  }

  std::string status(int i) const {
    auto r = get(i, "/health");
    if (r.status == 0) return "down";
    return Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("status");
  }

  size_t nodes(int i) const {
    auto r = get(i, "/v1/cluster/nodes");
    if (r.status != 200) return 0;
    return Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Array::Ptr>()->size();
  }

  // What every master and its elector said, for a failed check.
  std::string report() const {
    std::ostringstream out;
    for (int i = 0; i < 3; ++i) {
      out << "--- master-" << i + 1 << " elector:\n" << readFile(electorLog(i));
      if (dcosd[i]) out << "--- master-" << i + 1 << " dcosd:\n" << dcosd[i]->log();
    }
    return out.str();
  }

  // The leader by the electors' logs: the one whose last line is "leader".
  std::vector<int> leaders() const {
    std::vector<int> out;
    for (int i = 0; i < 3; ++i) {
      std::string log = readFile(electorLog(i));
      if (dcosd[i] && dcosd[i]->running() && log.size() >= 7 && log.substr(log.size() - 7) == "leader\n") out.push_back(i);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("three masters: quorum, one lost, two lost, recovered", "[zookeeper][integration]") {
  Ensemble e;
  auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) e.start(i);
  for (int i = 0; i < 3; ++i) REQUIRE(e.notify[i]->waitFor("READY=1", 60s));
  WARN("3 masters: quorum and READY=1 after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count() << " ms; ZooKeeper RSS "
       << e.dcosd[0]->rssKib() << " KiB (dcosd), see server pids for the JVM");

  // Exhibitor's view: three serving, one leader.
  auto status = Poco::JSON::Parser().parse(e.get(1, "/exhibitor/v1/cluster/status").body).extract<Poco::JSON::Array::Ptr>();
  REQUIRE(status->size() == 3);
  int leaders = 0;
  for (unsigned i = 0; i < 3; ++i) {
    auto s = status->getObject(i);
    CHECK(s->getValue<int>("code") == 3);
    CHECK(s->getValue<std::string>("description") == "serving");
    leaders += s->getValue<bool>("isLeader") ? 1 : 0;
  }
  CHECK(leaders == 1);

  // Every master registered: through the node API, and through kazoo.
  for (int i = 0; i < 3; ++i) CHECK(waitUntil([&] { return e.nodes(i) == 3; }, 15s, 100ms));
  auto kazoo = runCommand({kSource + "/tests/integration/zk_children.py", e.connectString(), "/dcos/nodes"}, 20s);
  REQUIRE(kazoo.status == 0);
  auto children = Poco::JSON::Parser().parse(kazoo.out).extract<Poco::JSON::Object::Ptr>();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(children->has(Ensemble::address(i)));
    auto child = children->getObject(Ensemble::address(i));
    CHECK(child->getValue<bool>("ephemeral"));
    CHECK_THAT(child->getValue<std::string>("data"), Catch::Contains("\"role\":\"test\""));
  }
  for (int i = 0; i < 3; ++i) CHECK(e.status(i) == "healthy");

  // One master lost (dcosd and its server): the other two still serve, and
  // the lost node leaves the membership within the session timeout.
  e.dcosd[0]->signal(SIGKILL);
  REQUIRE(e.dcosd[0]->wait(10s));
  INFO("master-2 log:\n" << e.dcosd[1]->log());
  CHECK(waitUntil([&] { return e.nodes(1) == 2; }, 15s, 100ms));
  // Their clients may have had to move to another server: healthy again soon.
  CHECK(waitUntil([&] { return e.status(1) == "healthy" && e.status(2) == "healthy"; }, 15s, 100ms));

  // Two lost: the last one has no quorum and says so.
  e.dcosd[1]->signal(SIGKILL);
  REQUIRE(e.dcosd[1]->wait(10s));
  CHECK(waitUntil([&] { return e.status(2) == "degraded"; }, 15s, 100ms));
  CHECK(waitUntil([&] { return e.get(2, "/health").body.find("not serving") != std::string::npos; }, 15s, 100ms));
  CHECK(e.dcosd[2]->running());

  // Both back: quorum again, healthy again, all three members again.
  auto t1 = Clock::now();
  e.start(0);
  e.start(1);
  CHECK(waitUntil([&] { return e.status(0) == "healthy" && e.status(1) == "healthy" && e.status(2) == "healthy"; }, 60s,
                  100ms));
  WARN("recovered from two lost masters in "
       << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t1).count() << " ms");
  CHECK(waitUntil([&] { return e.nodes(2) == 3; }, 15s, 100ms));
  for (int i = 0; i < 3; ++i) {
    e.dcosd[i]->signal(SIGTERM);
    CHECK(e.dcosd[i]->wait(30s) == 0);
  }
}

TEST_CASE("leader election hands over, gracefully and on a crash", "[zookeeper][integration]") {
  Ensemble e;
  for (int i = 0; i < 3; ++i) e.start(i);
  for (int i = 0; i < 3; ++i) REQUIRE(e.notify[i]->waitFor("READY=1", 60s));
  REQUIRE(waitUntil([&] { return e.leaders().size() == 1; }, 15s, 20ms));
  int first = e.leaders()[0];

  // Graceful: the leader's dcosd stops and resigns before its module stops.
  auto t0 = Clock::now();
  e.dcosd[first]->signal(SIGTERM);
  bool handed = waitUntil([&] { auto l = e.leaders(); return l.size() == 1 && l[0] != first; }, 15s, 5ms);
  INFO(e.report());
  REQUIRE(handed);
  auto graceful = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  CHECK(e.dcosd[first]->wait(30s) == 0);
  int second = e.leaders()[0];

  // Bring the first back, so that a crash leaves a quorum to elect in.
  e.start(first);
  REQUIRE(e.notify[first]->waitFor("READY=1", 60s));

  // On a crash: the leader's session has to time out (3000 ms here).
  auto t1 = Clock::now();
  e.dcosd[second]->signal(SIGKILL);
  REQUIRE(e.dcosd[second]->wait(10s));
  handed = waitUntil([&] { auto l = e.leaders(); return l.size() == 1 && l[0] != second; }, 30s, 5ms);
  INFO(e.report());
  REQUIRE(handed);
  auto crash = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t1).count();
  WARN("election handover: graceful " << graceful << " ms, on a crash " << crash << " ms (session timeout 3000 ms)");
  CHECK(graceful < 3000);
}

TEST_CASE("a master whose data dir belongs to another server refuses to start", "[zookeeper][integration]") {
  Ensemble e;
  fs::create_directories(e.dir / "state-1/zookeeper/data");
  writeFile(e.dir / "state-1/zookeeper/data/myid", "2\n");
  e.start(0);
  CHECK(e.dcosd[0]->wait(30s) == 1);
  CHECK_THAT(e.dcosd[0]->log(), Catch::Contains("data/myid says server 2, but 127.0.0.1 is server 1"));
}

TEST_CASE("a bad executor for the zookeeper module stops the master with the config path", "[zookeeper][integration]") {
  Ensemble e;
  auto withExecutor = [&](const std::string &executor) {
    std::string node = readFile(e.configDir(0) + "/node.json");
    auto at = node.find("\"firewall\"");
    REQUIRE(at != std::string::npos);
    node.insert(at, R"("modules": {"zookeeper": {"executor": ")" + executor + R"("}}, )");
    writeFile(e.configDir(0) + "/node.json", node);
  };
  SECTION("an unknown executor") {
    withExecutor("docker");
    e.start(0);
    CHECK(e.dcosd[0]->wait(30s) == 1);
    CHECK_THAT(e.dcosd[0]->log(),
               Catch::Contains(R"(config /executor: expected "auto", "systemd" or "process", got "docker")"));
  }
  SECTION("the systemd executor where systemd is not PID 1") {
    if (fs::exists("/run/systemd/system")) return;  // systemd is PID 1 here: the executor is valid
    withExecutor("systemd");
    e.start(0);
    CHECK(e.dcosd[0]->wait(30s) == 1);
    CHECK_THAT(e.dcosd[0]->log(), Catch::Contains(R"(config /executor is "systemd", but systemd is not PID 1 here)"));
  }
}
