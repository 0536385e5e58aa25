// The real dcosd binary, run for each role from a temporary config dir with a
// fake systemd notify socket: READY=1, a healthy /health, a clean exit on
// SIGTERM; and the ways it must refuse to start.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "coord/zk_client.h"
#include "http/server.h"
#include "tests/support/process.h"

using namespace dcos::test;
using namespace std::chrono_literals;

namespace {

const std::string kBuild = DCOS_TEST_BUILD_DIR;
const std::string kSource = DCOS_TEST_SOURCE_DIR;
const std::string kDcosd = kBuild + "/dcosd/dcosd";

// A config dir made from the example cluster, with the node API on a free
// loopback port and the firewall off (these tests run in the host's namespace).
struct Node {
  TempDir dir{"dcosd-run"};
  int port = freeLoopbackPort();
  std::string logPath = dir / "dcosd.log";
  NotifySocket notify{dir / "notify"};

  explicit Node(const std::string &nodeExample, const std::function<void(Poco::JSON::Object &)> &edit = {}) {
    std::filesystem::create_directories(dir / "config");
    auto cluster = Poco::JSON::Parser().parse(readFile(kSource + "/examples/cluster/cluster.json"))
                       .extract<Poco::JSON::Object::Ptr>();
    auto node = Poco::JSON::Parser().parse(readFile(kSource + "/examples/cluster/" + nodeExample))
                    .extract<Poco::JSON::Object::Ptr>();
    // The ensemble is on loopback, on ports of this test's own: a master
    // runs its ZooKeeper there; agents find nothing there (their health is
    // degraded until a master appears), and no traffic leaves the machine.
    Poco::JSON::Array::Ptr masters = new Poco::JSON::Array;
    masters->add(std::string("127.0.0.1"));
    cluster->set("masters", masters);
    Poco::JSON::Object::Ptr zk = new Poco::JSON::Object;
    zk->set("client_port", freeLoopbackPort());
    zk->set("peer_port", freeLoopbackPort());
    zk->set("election_port", freeLoopbackPort());
    cluster->set("zookeeper", zk);
    if (node->getValue<std::string>("role") == "master") node->set("address", "127.0.0.1");
    {
      std::ostringstream c;
      Poco::JSON::Stringifier::stringify(cluster, c);
      writeFile(dir / "config/cluster.json", c.str());
    }
    Poco::JSON::Object::Ptr api = new Poco::JSON::Object;
    api->set("listen", "127.0.0.1:" + std::to_string(port));
    node->set("api", api);
    Poco::JSON::Object::Ptr fw = new Poco::JSON::Object;
    fw->set("enabled", false);
    node->set("firewall", fw);
    if (edit) edit(*node);
    // The roles with a router (master, agent-public): its HAProxy on
    // loopback ports of this test's own, not the host's 80 and 443.
    const std::string role = node->getValue<std::string>("role");
    if (role == "master" || role == "agent-public") {
      Poco::JSON::Object::Ptr modules = node->getObject("modules");
      if (modules.isNull()) {
        modules = new Poco::JSON::Object;
        node->set("modules", modules);
      }
      Poco::JSON::Object::Ptr router = new Poco::JSON::Object;
      router->set("bind", "127.0.0.1");
      router->set("http_port", freeLoopbackPort());
      if (role == "master") router->set("https_port", freeLoopbackPort());
      modules->set("router", router);
    }
    std::ostringstream s;
    Poco::JSON::Stringifier::stringify(node, s);
    writeFile(dir / "config/node.json", s.str());
  }

  // A router's HAProxy outlives dcosd (the next one adopts it): gone with
  // the test.
  ~Node() {
    try {
      std::string pid = readFile(dir / "state/router/haproxy.pid");
      if (!pid.empty()) ::kill(static_cast<pid_t>(std::stol(pid)), SIGKILL);
    } catch (const std::exception &) {
    }
  }

  std::unique_ptr<Child> start(const std::string &pluginDir = kBuild + "/plugins",
                               std::vector<std::string> extra = {}, std::optional<long> watchdog = std::nullopt) {
    std::vector<std::string> argv{kDcosd, "--config-dir", dir / "config", "--plugin-dir", pluginDir,
                                  "--state-dir", dir / "state"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Child>(argv, std::map<std::string, std::string>{{"NOTIFY_SOCKET", notify.path()}},
                                   logPath, watchdog);
  }
};

// A node of the test role, whose manifest lists recorder modules.
struct TestRoleNode : Node {
  std::string events = dir / "events";
  explicit TestRoleNode(const std::string &modules)
      : Node("node-agent-private.json", [&](Poco::JSON::Object &n) {
          n.set("role", "test");
          Poco::JSON::Object::Ptr attrs = new Poco::JSON::Object;
          attrs->set("test_manifest", dir / "manifest.json");
          n.set("attributes", attrs);
        }) {
    std::string m = modules;
    for (size_t at; (at = m.find("@EVENTS@")) != std::string::npos;) m.replace(at, 8, events);
    writeFile(dir / "manifest.json", R"({"zone": "private", "modules": [)" + m + "]}");
  }
};

}  // namespace

TEST_CASE("dcosd runs each stock role: READY=1, healthy, clean exit on SIGTERM", "[dcosd][integration]") {
  auto [example, role, zone, resourceRole] = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"node-master.json", "master", "admin", "*"},  // with its ZooKeeper server
      {"node-agent-private.json", "agent-private", "private", "*"},
      {"node-agent-public.json", "agent-public", "public", "slave_public"},
  }));
  INFO("role " << role);
  Node node(example);
  auto dcosd = node.start();
  REQUIRE(node.notify.waitFor("READY=1", 30s));
  auto readyAfter = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - dcosd->startedAt());
  CHECK(dcosd->running());

  auto health = http(node.port, "/health");
  CHECK(health.status == 200);
  if (role == "master") {
    // Its own server is the ensemble: registered in it as soon as it serves.
    CHECK(waitUntil([&] { return http(node.port, "/health").body.find("\"status\":\"healthy\"") != std::string::npos; },
                    15s, 20ms));
    CHECK(waitUntil([&] { return http(node.port, "/v1/cluster/nodes").body.find("\"role\":\"master\"") != std::string::npos; },
                    15s, 20ms));
  } else {
    // No master runs: up, but degraded, and saying why.
    CHECK_THAT(health.body, Catch::Contains("\"status\":\"degraded\""));
    CHECK_THAT(health.body, Catch::Contains("no session with the ensemble at 127.0.0.1:"));
    CHECK(http(node.port, "/v1/cluster/nodes").status == 503);
  }
  auto info = http(node.port, "/v1/node");
  CHECK(info.status == 200);
  CHECK_THAT(info.body, Catch::Contains("\"role\":\"" + role + "\""));
  CHECK_THAT(info.body, Catch::Contains("\"zone\":\"" + zone + "\""));
  CHECK_THAT(info.body, Catch::Contains("\"resource_role\":\"" + resourceRole + "\""));
  CHECK_THAT(info.body, Catch::Contains("\"version\":\"0.1.0\""));
  CHECK(http(node.port, "/metrics").status == 200);
  CHECK(http(node.port, "/nope").status == 404);
  WARN(role << ": READY=1 after " << readyAfter.count() << " ms, RSS " << dcosd->rssKib() << " KiB");

  dcosd->signal(SIGTERM);
  REQUIRE(node.notify.waitFor("STOPPING=1", 5s));
  auto status = dcosd->wait(10s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  CHECK_THAT(dcosd->log(), Catch::Contains("dcosd stopped"));
  CHECK(http(node.port, "/health").status == 0);  // nothing listens any more
}

TEST_CASE("dcosd starts modules in order and stops them in reverse on SIGINT", "[dcosd][integration]") {
  TestRoleNode node(R"({"name": "mod-b", "requires": ["mod-a"], "config": {"log": "@EVENTS@"}},
                       {"name": "mod-a", "config": {"log": "@EVENTS@"}},
                       {"name": "mod-c", "optional": true, "config": {"log": "@EVENTS@", "fail_start": true}})");
  auto dcosd = node.start(kBuild + "/testplugins");
  REQUIRE(node.notify.waitFor("READY=1", 10s));
  auto health = http(node.port, "/health");
  CHECK(health.status == 200);
  CHECK_THAT(health.body, Catch::Contains("\"status\":\"degraded\""));
  CHECK_THAT(health.body, Catch::Contains("mod-c.so: start failed: told to fail start"));
  CHECK_THAT(node.notify.seen().back(), Catch::Contains("STATUS=running: role test, 2 modules, 1 failed"));

  // SIGHUP, which would end a process by default, is only logged.
  dcosd->signal(SIGHUP);
  CHECK(waitUntil([&] { return dcosd->log().find("SIGHUP: dcosd reads its config only as it starts") != std::string::npos; },
                  10s));
  CHECK(dcosd->running());

  dcosd->signal(SIGINT);
  auto status = dcosd->wait(10s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  CHECK(readFile(node.events) ==
        "create mod-a\ncreate mod-b\ncreate mod-c\nstart mod-a\nstart mod-b\nstart mod-c\n"
        "stop mod-b\nstop mod-a\ndestroy mod-c\ndestroy mod-b\ndestroy mod-a\n");
}

TEST_CASE("dcosd pings the watchdog when systemd asks", "[dcosd][integration]") {
  Node node("node-agent-private.json");  // no ZooKeeper to wait for
  auto dcosd = node.start(kBuild + "/plugins", {}, 200000);  // 200 ms: a ping every 100 ms
  REQUIRE(node.notify.waitFor("READY=1", 10s));
  REQUIRE(node.notify.waitFor("WATCHDOG=1", 2s));
  REQUIRE(node.notify.waitFor("WATCHDOG=1", 2s));
  dcosd->signal(SIGTERM);
  // Keep reading, as systemd does: a notify socket left full blocks the sender.
  std::optional<int> status;
  waitUntil([&] {
    while (node.notify.receive(0ms)) {
    }
    status = dcosd->wait(0ms);
    return status.has_value();
  }, 10s);
  CHECK(status == 0);
}

TEST_CASE("a module that does not stop in time cannot hold dcosd", "[dcosd][integration]") {
  TestRoleNode node(R"({"name": "mod-a", "config": {"log": "@EVENTS@", "stop_delay_ms": 30000}})");
  auto dcosd = node.start(kBuild + "/testplugins", {"--stop-timeout", "1"});
  REQUIRE(node.notify.waitFor("READY=1", 10s));
  dcosd->signal(SIGTERM);
  auto status = dcosd->wait(5s);
  REQUIRE(status.has_value());
  CHECK(*status == 1);
  CHECK_THAT(dcosd->log(), Catch::Contains("modules did not stop within 1 s (--stop-timeout)"));
}

TEST_CASE("dcosd refuses to start, with one clear line, when something is wrong", "[dcosd][integration]") {
  SECTION("an unknown role") {
    Node node("node-master.json", [](Poco::JSON::Object &n) { n.set("role", "mastr"); });
    auto dcosd = node.start();
    CHECK(dcosd->wait(10s) == 1);
    CHECK_THAT(dcosd->log(), Catch::Contains("node.json: /role: unknown role \"mastr\" (known: master, "
                                             "agent-private, agent-public); did you mean \"master\"?"));
  }
  SECTION("an invalid config") {
    Node node("node-master.json", [](Poco::JSON::Object &n) { n.set("adress", "1.2.3.4"); });
    auto dcosd = node.start();
    CHECK(dcosd->wait(10s) == 1);
    CHECK_THAT(dcosd->log(), Catch::Contains("node.json: /adress: unknown key \"adress\" (did you mean \"address\"?)"));
  }
  SECTION("a required module that fails") {
    TestRoleNode node(R"({"name": "mod-a", "config": {"log": "@EVENTS@"}},
                         {"name": "create-fails"})");
    auto dcosd = node.start(kBuild + "/testplugins");
    CHECK(dcosd->wait(10s) == 1);
    CHECK_THAT(dcosd->log(), Catch::Contains("create-fails.so: create failed: /listen: address already in use"));
  }
  SECTION("a required module whose start fails stops the others first") {
    TestRoleNode node(R"({"name": "mod-a", "config": {"log": "@EVENTS@"}},
                         {"name": "mod-b", "config": {"log": "@EVENTS@", "fail_start": true}})");
    auto dcosd = node.start(kBuild + "/testplugins");
    CHECK(dcosd->wait(10s) == 1);
    CHECK_THAT(readFile(node.events), Catch::Contains("start mod-b\nstop mod-a\n"));
  }
  SECTION("the node API port is taken") {
    Node first("node-agent-private.json");
    auto a = first.start();
    REQUIRE(first.notify.waitFor("READY=1", 10s));
    Node second("node-agent-private.json", [&](Poco::JSON::Object &n) {
      Poco::JSON::Object::Ptr api = new Poco::JSON::Object;
      api->set("listen", "127.0.0.1:" + std::to_string(first.port));
      n.set("api", api);
    });
    auto b = second.start();
    CHECK(b->wait(10s) == 1);
    CHECK_THAT(b->log(), Catch::Contains("node API: cannot listen on 127.0.0.1:" + std::to_string(first.port)));
  }
  SECTION("a usage error") {
    Node node("node-master.json");
    auto dcosd = node.start(kBuild + "/plugins", {"--bogus"});
    CHECK(dcosd->wait(10s) == 2);
    CHECK_THAT(dcosd->log(), Catch::Contains("unknown argument \"--bogus\""));
  }
}

TEST_CASE("a port opened during create() is refused, not silently left shut", "[dcosd][integration]") {
  TestRoleNode node(R"({"name": "port-opener", "config": {"trigger": "/nonexistent", "port": 8080, "open_in_create": true}})");
  {
    auto n = Poco::JSON::Parser().parse(readFile(node.dir / "config/node.json")).extract<Poco::JSON::Object::Ptr>();
    n->getObject("firewall")->set("enabled", true);
    std::ostringstream s;
    Poco::JSON::Stringifier::stringify(n, s);
    writeFile(node.dir / "config/node.json", s.str());
  }
  // A network namespace of its own, where dcosd may program nf_tables.
  Child dcosd({"/usr/bin/unshare", "--net", kDcosd, "--config-dir", node.dir / "config", "--plugin-dir",
               kBuild + "/testplugins", "--state-dir", node.dir / "state"},
              {{"NOTIFY_SOCKET", node.notify.path()}}, node.logPath);
  CHECK(dcosd.wait(10s) == 1);
  CHECK_THAT(dcosd.log(), Catch::Contains("the zone firewall is not applied yet: open ports from start(), not create()"));
}

TEST_CASE("dcosd starts no module when it cannot program the firewall", "[dcosd][integration]") {
  // In a user namespace of its own, dcosd is root there but has no
  // CAP_NET_ADMIN over the network namespace it runs in: nf_tables refuses.
  TestRoleNode node(R"({"name": "mod-a", "config": {"log": "@EVENTS@"}})");
  {
    auto n = Poco::JSON::Parser().parse(readFile(node.dir / "config/node.json")).extract<Poco::JSON::Object::Ptr>();
    n->getObject("firewall")->set("enabled", true);
    std::ostringstream s;
    Poco::JSON::Stringifier::stringify(n, s);
    writeFile(node.dir / "config/node.json", s.str());
  }
  Child dcosd({"/usr/bin/unshare", "--user", "--map-root-user", kDcosd, "--config-dir", node.dir / "config",
               "--plugin-dir", kBuild + "/testplugins", "--state-dir", node.dir / "state"},
              {{"NOTIFY_SOCKET", node.notify.path()}}, node.logPath);
  CHECK(dcosd.wait(10s) == 1);
  CHECK_THAT(dcosd.log(), Catch::Contains("firewall: not starting any module: table inet dcos: ") &&
                              Catch::Contains("Operation not permitted"));
  CHECK(readFile(node.events) == "create mod-a\ndestroy mod-a\n");
  while (node.notify.receive(0ms)) {
  }
  for (const auto &message : node.notify.seen()) CHECK_THAT(message, !Catch::Contains("READY=1"));
}

TEST_CASE("dcosd --check loads every plugin without starting any", "[dcosd][integration]") {
  TestRoleNode node(R"({"name": "mod-b", "requires": ["mod-a"], "config": {"log": "@EVENTS@"}},
                       {"name": "mod-a", "config": {"log": "@EVENTS@"}})");
  auto dcosd = node.start(kBuild + "/testplugins", {"--check"});
  CHECK(dcosd->wait(10s) == 0);
  auto out = dcosd->log();
  CHECK_THAT(out, Catch::Contains("modules, in start order:\n  1. mod-a 0.0.1"));
  CHECK_THAT(out, Catch::Contains("  2. mod-b 0.0.1"));
  CHECK_THAT(out, Catch::Contains("check passed"));
  CHECK(readFile(node.events) == "create mod-a\ncreate mod-b\ndestroy mod-b\ndestroy mod-a\n");
  CHECK_FALSE(std::filesystem::exists(node.dir / "state"));
}

namespace {

bool sendText(int fd, const std::string &s) { return sendAll(fd, s); }

// What the socket holds within `within`, until it has `want` or the peer closed.
std::string readFor(int fd, const std::string &want, std::chrono::milliseconds within, bool *closed = nullptr) {
  return receiveUntil(fd, [&](const std::string &got) { return !want.empty() && got.find(want) != std::string::npos; },
                      within, closed);
}

// Server-side TCP connections of these local ports that hold a socket
// (established, or closed by the peer and not yet by us), from /proc/net/tcp.
size_t apiConnections(const std::vector<int> &ports) {
  std::istringstream in(readFile("/proc/net/tcp"));
  std::string line;
  std::getline(in, line);  // the header
  size_t n = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state;
    f >> slot >> local >> remote >> state;
    int port = std::stoi(local.substr(local.find(':') + 1), nullptr, 16);
    bool ours = std::find(ports.begin(), ports.end(), port) != ports.end();
    if (ours && (state == "01" || state == "08")) ++n;
  }
  return n;
}

size_t entries(const std::string &dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto &e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("slow clients and open event streams do not silence the node API or the admin port", "[dcosd][integration]") {
  const int admin = freeLoopbackPort();
  TestRoleNode node(R"({"name": "streamer"})");
  {
    // Both listeners, and a short head timeout so the test sees it act.
    auto n = Poco::JSON::Parser().parse(readFile(node.dir / "config/node.json")).extract<Poco::JSON::Object::Ptr>();
    auto api = n->getObject("api");
    api->set("admin_listen", "127.0.0.1:" + std::to_string(admin));
    api->set("header_timeout_ms", 2000);
    std::ostringstream s;
    Poco::JSON::Stringifier::stringify(n, s);
    writeFile(node.dir / "config/node.json", s.str());
  }
  auto dcosd = node.start(kBuild + "/testplugins");
  REQUIRE(node.notify.waitFor("READY=1", 10s));
  const std::string proc = "/proc/" + std::to_string(dcosd->pid());
  const size_t fdsBefore = entries(proc + "/fd");
  const size_t threadsBefore = entries(proc + "/task");

  // 200 half-sent requests (100 on each listener), 50 event streams.
  std::vector<int> slow;
  for (int i = 0; i < 200; ++i) {
    int fd = connectLoopback(i % 2 == 0 ? node.port : admin);
    REQUIRE(fd >= 0);
    REQUIRE(sendText(fd, "GET /v1/node HTTP/1.1\r\nHost: x\r\n"));
    slow.push_back(fd);
  }
  std::vector<int> streams;
  for (int i = 0; i < 50; ++i) {
    int fd = connectLoopback(i % 2 == 0 ? node.port : admin);
    REQUIRE(fd >= 0);
    REQUIRE(sendText(fd, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"));
    streams.push_back(fd);
  }
  for (int fd : streams) REQUIRE_THAT(readFor(fd, "event: hello", 5s), Catch::Contains("text/event-stream"));

  // Meanwhile every ordinary request answers, on both listeners, within 100 ms.
  long worstMs = 0;
  for (int i = 0; i < 20; ++i) {
    for (const char *path : {"/health", "/v1/node"}) {
      auto t0 = Clock::now();
      auto r = http(i % 2 == 0 ? node.port : admin, path);
      long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
      CHECK(r.status == 200);
      worstMs = std::max(worstMs, ms);
    }
  }
  INFO("slowest answer with 200 slow clients and 50 streams: " << worstMs << " ms");
  CHECK(worstMs < 100);
  // The streams flow all the while.
  for (int fd : streams) CHECK_THAT(readFor(fd, "event: tick", 3s), Catch::Contains("event: tick"));

  // The half-sent requests are closed after the head timeout, with a 408.
  for (int fd : slow) {
    bool closed = false;
    std::string r = readFor(fd, "", 6s, &closed);
    CHECK(closed);
    CHECK_THAT(r, Catch::StartsWith("HTTP/1.1 408"));
    ::close(fd);
  }
  for (int fd : streams) ::close(fd);
  // Nothing stays behind once they are gone: the ticker finds its clients
  // gone and closes their streams, and no connection of the two listeners
  // holds a socket. (The fd count alone would not do: the coordination
  // client opens and closes its socket as it retries the absent ensemble.)
  CHECK(waitUntil([&] { return apiConnections({node.port, admin}) == 0; }, 10s, 20ms));
  CHECK(apiConnections({node.port, admin}) == 0);
  CHECK(waitUntil([&] { return entries(proc + "/fd") <= fdsBefore + 1; }, 10s, 20ms));
  CHECK(entries(proc + "/task") == threadsBefore);
  CHECK(http(node.port, "/health").status == 200);

  dcosd->signal(SIGTERM);
  auto status = dcosd->wait(10s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
}

TEST_CASE("an agent registers, runs tasks, delivers their updates until acknowledged, and re-adopts its tasks "
          "across a dcosd SIGKILL", "[dcosd][agent][integration]") {
  // This test plays the scheduler's leader itself: the master's own
  // scheduler stays out (it would kill tasks it never asked for).
  Node master("node-master.json", [](Poco::JSON::Object &n) {
    Poco::JSON::Object::Ptr modules = new Poco::JSON::Object;
    Poco::JSON::Object::Ptr scheduler = new Poco::JSON::Object;
    scheduler->set("enabled", false);
    modules->set("scheduler", scheduler);
    n.set("modules", modules);
  });
  auto m = master.start();
  REQUIRE(master.notify.waitFor("READY=1", 30s));
  Node agentNode("node-agent-private.json", [](Poco::JSON::Object &n) {
    auto modules = Poco::JSON::Parser().parse(R"({"agent": {"resources": {"cpus": 4, "mem": 4096, "ports": "[31000-31100]"}}})")
                       .extract<Poco::JSON::Object::Ptr>();
    n.set("modules", modules);
  });
  const std::string clusterJson = readFile(master.dir / "config/cluster.json");
  writeFile(agentNode.dir / "config/cluster.json", clusterJson);  // the master's ensemble
  auto zkPort = Poco::JSON::Parser().parse(clusterJson).extract<Poco::JSON::Object::Ptr>()->getObject("zookeeper")->getValue<int>("client_port");

  // A stand-in for the scheduler's leader: records every update, and
  // acknowledges them while told to.
  std::mutex mutex;
  std::vector<std::string> seen;  // "task state"
  std::atomic<bool> acknowledge{true};
  dcos::http::Server leader([&](const dcos::http::Request &r) {
    dcos::http::Response resp;
    auto body = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
    auto updates = body->getArray("updates");
    Poco::JSON::Array::Ptr acked = new Poco::JSON::Array;
    std::lock_guard lock(mutex);
    for (size_t i = 0; i < updates->size(); ++i) {
      auto u = updates->getObject(static_cast<unsigned>(i));
      seen.push_back(u->getValue<std::string>("task_id") + " " + u->getValue<std::string>("state"));
      if (acknowledge) acked->add(u->getValue<std::string>("uuid"));
    }
    Poco::JSON::Object::Ptr answer = new Poco::JSON::Object;
    answer->set("acknowledged", acked);
    std::ostringstream s;
    answer->stringify(s);
    resp.body = s.str();
    return resp;
  });
  REQUIRE(leader.start({"127.0.0.1:0"}).ok());
  auto zk = dcos::coord::ZkClient::connect("127.0.0.1:" + std::to_string(zkPort), 5000ms);
  REQUIRE(zk->waitConnected(10s));
  REQUIRE(zk->ensurePath("/dcos/scheduler").ok());
  REQUIRE(zk->create("/dcos/scheduler/leader", "{\"address\":\"" + leader.addresses()[0] + "\"}",
                     dcos::coord::CreateMode::Ephemeral).ok());
  auto sawAll = [&](const std::string &state, int n, const std::string &prefix) {
    std::lock_guard lock(mutex);
    std::set<std::string> tasks;
    for (const auto &s : seen) {
      if (s.size() > state.size() && s.substr(s.size() - state.size()) == state && s.rfind(prefix, 0) == 0) tasks.insert(s);
    }
    return static_cast<int>(tasks.size()) >= n;
  };

  auto agent = agentNode.start();
  REQUIRE(agentNode.notify.waitFor("READY=1", 30s));
  // Registered in ZooKeeper with its resources.
  std::string record;
  REQUIRE(waitUntil([&] {
    auto kids = zk->children("/dcos/agents");
    if (!kids || kids->size() != 1) return false;
    auto data = zk->get("/dcos/agents/" + kids->front());
    if (data) record = data->first;
    return data.ok();
  }, 15s, 20ms));
  CHECK_THAT(record, Catch::Contains("\"resources\":{\"cpus\":4,"));
  CHECK_THAT(record, Catch::Contains("\"mem\":4096"));
  CHECK_THAT(record, Catch::Contains("\"ports\":\"[31000-31100]\""));
  CHECK_THAT(record, Catch::Contains("\"api\":\"127.0.0.1:" + std::to_string(agentNode.port) + "\""));

  // 20 tasks through the node API, and one that ends while dcosd is away.
  for (int i = 0; i < 20; ++i) {
    auto r = http(agentNode.port, "/agent/v1/tasks", "POST",
                  R"({"id": "t.)" + std::to_string(i) + R"(", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "ports": [)" +
                      std::to_string(31000 + i) + "]}");
    REQUIRE(r.status == 201);
  }
  REQUIRE(http(agentNode.port, "/agent/v1/tasks", "POST",
               R"({"id": "short", "cmd": "while [ ! -e go ]; do sleep 0.05; done; exit 7", "mem": 16})").status == 201);
  REQUIRE(waitUntil([&] { return sawAll("TASK_RUNNING", 20, "t.") && sawAll("TASK_RUNNING", 1, "short"); }, 15s, 20ms));
  CHECK_THAT(http(agentNode.port, "/agent/v1/info").body, Catch::Contains("\"used_resources\":{\"cpus\":2.1"));
  // Every task's pid is known shortly after TASK_RUNNING.
  REQUIRE(waitUntil([&] {
    auto list = Poco::JSON::Parser().parse(http(agentNode.port, "/agent/v1/tasks").body).extract<Poco::JSON::Object::Ptr>();
    auto tasks = list->getArray("tasks");
    for (size_t i = 0; i < tasks->size(); ++i) {
      if (!tasks->getObject(static_cast<unsigned>(i))->has("pid")) return false;
    }
    return true;
  }, 10s, 5ms));
  std::map<std::string, int> pids;
  {
    auto list = Poco::JSON::Parser().parse(http(agentNode.port, "/agent/v1/tasks").body).extract<Poco::JSON::Object::Ptr>();
    auto tasks = list->getArray("tasks");
    for (size_t i = 0; i < tasks->size(); ++i) {
      auto t = tasks->getObject(static_cast<unsigned>(i));
      pids[t->getValue<std::string>("id")] = t->getValue<int>("pid");
    }
  }
  REQUIRE(pids.size() == 21);

  // The leader stops acknowledging; a kill's updates stay pending.
  acknowledge = false;
  REQUIRE(http(agentNode.port, "/agent/v1/tasks/t.19/kill", "POST").status == 202);
  REQUIRE(waitUntil([&] { return sawAll("TASK_KILLED", 1, "t.19"); }, 15s, 20ms));
  agent->signal(SIGKILL);
  REQUIRE(agent->wait(10s).has_value());
  for (const auto &[id, pid] : pids) {
    if (id != "t.19") CHECK(::kill(pid, 0) == 0);  // the tasks outlive their dcosd
  }
  writeFile(agentNode.dir / "state/agent/tasks/short/sandbox/go", "");
  REQUIRE(waitUntil([&] { return std::filesystem::exists(agentNode.dir / "state/agent/tasks/short/meta/exit"); }, 10s, 10ms));
  size_t before;
  {
    std::lock_guard lock(mutex);
    before = seen.size();
  }

  agent = agentNode.start();
  REQUIRE(agentNode.notify.waitFor("READY=1", 30s));
  // Every running task adopted: the same pids.
  auto list = Poco::JSON::Parser().parse(http(agentNode.port, "/agent/v1/tasks").body).extract<Poco::JSON::Object::Ptr>();
  auto tasks = list->getArray("tasks");
  int adopted = 0;
  for (size_t i = 0; i < tasks->size(); ++i) {
    auto t = tasks->getObject(static_cast<unsigned>(i));
    std::string id = t->getValue<std::string>("id");
    if (id.rfind("t.", 0) == 0 && id != "t.19") {
      CHECK(t->getValue<std::string>("state") == "TASK_RUNNING");
      CHECK(t->getValue<int>("pid") == pids[id]);
      ++adopted;
    }
    if (id == "short") {
      CHECK(t->getValue<std::string>("state") == "TASK_FAILED");
      CHECK(t->getValue<int>("exit_code") == 7);
    }
  }
  CHECK(adopted == 19);
  // The unacknowledged updates come again, in order, with the news of "short".
  REQUIRE(waitUntil([&] {
    std::lock_guard lock(mutex);
    std::vector<std::string> after(seen.begin() + static_cast<long>(before), seen.end());
    auto killing = std::find(after.begin(), after.end(), "t.19 TASK_KILLING");
    auto killed = std::find(after.begin(), after.end(), "t.19 TASK_KILLED");
    auto failed = std::find(after.begin(), after.end(), "short TASK_FAILED");
    return killing != after.end() && killed != after.end() && failed != after.end() && killing < killed;
  }, 15s, 20ms));
  acknowledge = true;
  CHECK(waitUntil([&] { return http(agentNode.port, "/agent/v1/info").body.find("\"pending_updates\":0") != std::string::npos; },
                  15s, 20ms));

  for (int i = 0; i < 19; ++i) http(agentNode.port, "/agent/v1/tasks/t." + std::to_string(i) + "/kill", "POST");
  CHECK(waitUntil([&] { return sawAll("TASK_KILLED", 20, "t."); }, 30s, 20ms));
  for (const auto &[id, pid] : pids) CHECK(waitUntil([&, p = pid] { return ::kill(p, 0) != 0; }, 5s, 10ms));
  agent->signal(SIGTERM);
  CHECK(agent->wait(10s).has_value());
  leader.stop();
  zk->close();
}
