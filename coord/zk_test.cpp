// ZkClient against a real ZooKeeper server (Debian's), started by the test on
// a free loopback port; what it writes is read back with kazoo too.
#include "coord/zk_client.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <mutex>

#include "coord/recipes.h"
#include "plugins/modules/zookeeper/ensemble.h"
#include "tests/support/netns.h"
#include "tests/support/process.h"

using namespace dcos;
using namespace dcos::coord;
using namespace dcos::test;
using namespace std::chrono_literals;

namespace {

std::string fourLetter(int port, const std::string &word) {
  return dcos::zookeeper::fourLetterWord("127.0.0.1", port, word, 500ms);
}

// The classic trick (a second handle on the session, closed at once) races
// with the client's own reconnect, which can take the session back first:
// repeat it until the client has seen the expiry.
void forceExpiry(const std::string &hosts, ZkClient &client, const std::function<bool()> &expired) {
  for (int attempt = 0; attempt < 10 && !expired(); ++attempt) {
    REQUIRE(expireSession(hosts, client.sessionId(), client.sessionPassword()).ok());
    if (waitUntil(expired, 3s)) return;
  }
}

struct Server {
  TempDir dir{"dcos-zk"};
  int port = freeLoopbackPort();
  std::unique_ptr<Child> java;

  Server() { start(); }
  void start() {
    std::filesystem::create_directories(dir / "data");
    writeFile(dir / "zoo.cfg", "tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=" + (dir / "data") +
                                   "\nclientPort=" + std::to_string(port) +
                                   "\nclientPortAddress=127.0.0.1\nmaxSessionTimeout=4000\n"
                                   "4lw.commands.whitelist=srvr\nadmin.enableServer=false\n");
    java = std::make_unique<Child>(
        std::vector<std::string>{"/usr/bin/java", "-Xmx64m", "-XX:+UseSerialGC", "-cp", "/usr/share/java/zookeeper.jar",
                                 "org.apache.zookeeper.server.quorum.QuorumPeerMain", dir / "zoo.cfg"},
        std::map<std::string, std::string>{}, dir / "server.log");
    REQUIRE(waitUntil([&] { return fourLetter(port, "srvr").find("Mode: standalone") != std::string::npos; }, 30s,
                      50ms));
  }
  std::string hosts() const { return "127.0.0.1:" + std::to_string(port); }
};

}  // namespace

TEST_CASE("zk client against a real server: nodes, watches, expiry, elections", "[coord][zookeeper]") {
  Server server;
  auto c = ZkClient::connect(server.hosts(), 2000ms);
  REQUIRE(c->waitConnected(10s));

  SECTION("a batch of writes: every kind, each with its own result, in order") {
    REQUIRE(c->ensurePath("/b").ok());
    REQUIRE(c->create("/b/there", "old", CreateMode::Persistent).ok());
    std::vector<Write> writes;
    for (int i = 0; i < 1000; ++i) writes.push_back({Write::Kind::Create, "/b/n" + std::to_string(i), std::to_string(i)});
    writes.push_back({Write::Kind::Upsert, "/b/there", "new"});      // exists: set
    writes.push_back({Write::Kind::Upsert, "/b/missing", "made"});   // missing: created
    writes.push_back({Write::Kind::Create, "/b/there-too", "x"});
    writes.push_back({Write::Kind::Set, "/b/nowhere", "x"});         // NoNode
    writes.push_back({Write::Kind::Create, "/b/n0", "again"});      // NodeExists: n0 was made first
    writes.push_back({Write::Kind::Remove, "/b/there-too", ""});    // after its create
    auto results = c->writeAll(writes);
    REQUIRE(results.size() == writes.size());
    for (int i = 0; i < 1000; ++i) REQUIRE(results[static_cast<size_t>(i)].ok());
    CHECK(results[1000].ok());
    CHECK(results[1001].ok());
    CHECK(results[1002].ok());
    CHECK(codeOf(results[1003].error()) == Code::NoNode);
    CHECK(codeOf(results[1004].error()) == Code::NodeExists);
    CHECK(results[1005].ok());
    CHECK(c->get("/b/n999")->first == "999");
    CHECK(c->get("/b/n0")->first == "0");
    CHECK(c->get("/b/there")->first == "new");
    CHECK(c->get("/b/missing")->first == "made");
    CHECK_FALSE(c->exists("/b/there-too")->has_value());
    CHECK(c->children("/b")->size() == 1002);
    std::vector<std::string> paths;
    for (int i = 0; i < 3000; ++i) paths.push_back("/b/n" + std::to_string(i % 1000));
    paths.push_back("/b/nowhere");
    auto read = c->readAll(paths);
    REQUIRE(read.size() == paths.size());
    for (int i = 0; i < 3000; ++i) REQUIRE(read[static_cast<size_t>(i)].value() == std::to_string(i % 1000));
    CHECK(codeOf(read.back().error()) == Code::NoNode);
  }

  SECTION("nodes and errors") {
    REQUIRE(c->ensurePath("/t/a").ok());
    CHECK(c->create("/t/a/x", "1", CreateMode::Persistent).value() == "/t/a/x");
    auto dup = c->create("/t/a/x", "1", CreateMode::Persistent);
    REQUIRE_FALSE(dup.ok());
    CHECK(codeOf(dup.error()) == Code::NodeExists);
    CHECK(dup.error().message == "create /t/a/x: node exists");
    CHECK(codeOf(c->set("/t/a/x", "2", 7).error()) == Code::BadVersion);
    CHECK(c->set("/t/a/x", "2", 0)->version == 1);
    CHECK(c->get("/t/a/x")->first == "2");
    auto seq = c->create("/t/a/s-", "", CreateMode::EphemeralSequential);
    CHECK(seq.value() == "/t/a/s-0000000001");
    CHECK(codeOf(c->remove("/t/a").error()) == Code::NotEmpty);
  }

  SECTION("a standing watch fires on every change") {
    REQUIRE(c->ensurePath("/w").ok());
    std::atomic<int> calls{0};
    c->watchChildren("/w", [&] { ++calls; });
    REQUIRE(waitUntil([&] { return calls >= 1; }, 5s));
    REQUIRE(c->create("/w/1", "", CreateMode::Persistent).ok());
    CHECK(waitUntil([&] { return calls >= 2; }, 5s));
    REQUIRE(c->create("/w/2", "", CreateMode::Persistent).ok());
    CHECK(waitUntil([&] { return calls >= 3; }, 5s));
  }

  SECTION("session expiry: owned ephemerals come back, listeners are told") {
    REQUIRE(c->ensurePath("/dcos/nodes").ok());
    REQUIRE(c->create("/dcos/nodes/n1", "{\"a\":1}", CreateMode::Ephemeral, Ownership::Owned).ok());
    REQUIRE(c->create("/dcos/nodes/plain", "", CreateMode::Ephemeral).ok());
    std::vector<SessionEvent> events;
    std::mutex mu;
    c->onSession([&](SessionEvent e) {
      std::lock_guard lock(mu);
      events.push_back(e);
    });
    int64_t old = c->sessionId();
    // The client first loses its connection (the session moved), then learns
    // the session is gone, then has a new one.
    auto expiredThenConnected = [&] {
      std::lock_guard lock(mu);
      auto e = std::find(events.begin(), events.end(), SessionEvent::Expired);
      return e != events.end() && std::find(e, events.end(), SessionEvent::Connected) != events.end();
    };
    forceExpiry(server.hosts(), *c, expiredThenConnected);
    REQUIRE(expiredThenConnected());
    CHECK(c->sessionId() != old);
    CHECK(waitUntil([&] { auto g = c->get("/dcos/nodes/n1"); return g.ok() && g->first == "{\"a\":1}"; }, 5s));
    CHECK_FALSE(c->exists("/dcos/nodes/plain").value().has_value());
    // An independent client sees the re-created node as ephemeral.
    auto kazoo = runCommand({std::string(DCOS_TEST_SOURCE_DIR) + "/tests/integration/zk_children.py", server.hosts(),
                             "/dcos/nodes"},
                            20s);
    REQUIRE(kazoo.status == 0);
    CHECK_THAT(kazoo.out, Catch::Contains("\"n1\": {\"data\": \"{\\\"a\\\":1}\", \"ephemeral\": true}"));
  }

  SECTION("election across clients: graceful and crash handover, and after expiry") {
    std::vector<std::unique_ptr<ZkClient>> cs;
    std::vector<std::unique_ptr<LeaderElection>> es;
    std::mutex mu;
    std::vector<bool> third;  // what the third candidate was told, in order
    for (int i = 0; i < 3; ++i) {
      cs.push_back(ZkClient::connect(server.hosts(), 2000ms));
      REQUIRE(cs[i]->waitConnected(10s));
      es.push_back(std::make_unique<LeaderElection>(*cs[i], "/el", std::to_string(i), [&, i](bool leader) {
        std::lock_guard lock(mu);
        if (i == 2) third.push_back(leader);
      }));
      REQUIRE(es[i]->start().ok());
    }
    CHECK(waitUntil([&] { return es[0]->isLeader() && !es[1]->isLeader() && !es[2]->isLeader(); }, 5s));
    auto t0 = Clock::now();
    es[0]->stop();
    REQUIRE(waitUntil([&] { return es[1]->isLeader(); }, 5s, 1ms));
    auto graceful = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    auto t1 = Clock::now();
    cs[1]->close();  // as if the process died: the node goes with the session
    REQUIRE(waitUntil([&] { return es[2]->isLeader(); }, 10s, 1ms));
    auto crash = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t1).count();
    WARN("zk client election handover: graceful " << graceful << " ms, closed session " << crash << " ms");
    // The leader's session expires: it loses, then stands again and, alone, leads again.
    auto lostAndBack = [&] {
      std::lock_guard lock(mu);
      return third == std::vector<bool>{true, false, true};
    };
    forceExpiry(server.hosts(), *cs[2], lostAndBack);
    CHECK(lostAndBack());
    CHECK(es[2]->isLeader());
    es.clear();
  }

  SECTION("a node withdrawn while the server is gone goes once the same session is back") {
    auto w = ZkClient::connect(server.hosts(), 4000ms);  // the longest the server grants
    REQUIRE(w->waitConnected(10s));
    REQUIRE(w->create("/w", "", CreateMode::Ephemeral).ok());
    int64_t session = w->sessionId();
    server.java->signal(SIGKILL);
    REQUIRE(server.java->wait(10s));
    REQUIRE(waitUntil([&] { return !w->connected(); }, 10s));
    w->withdraw("/w");  // fails now: kept for the reconnect
    server.start();
    REQUIRE(w->waitConnected(15s));
    if (w->sessionId() != session) {
      WARN("the session expired while the server was gone: nothing shown");
      return;
    }
    CHECK(waitUntil([&] { auto e = c->exists("/w"); return e.ok() && !e->has_value(); }, 10s));
  }

  SECTION("server gone: retryable errors; back: reconnected") {
    REQUIRE(c->ensurePath("/r").ok());
    server.java->signal(SIGKILL);
    REQUIRE(server.java->wait(10s));
    CHECK(waitUntil([&] { return !c->connected(); }, 10s));
    auto lost = c->get("/r");
    REQUIRE_FALSE(lost.ok());
    CHECK(isRetryable(lost.error()));
    server.start();
    CHECK(c->waitConnected(15s));
    CHECK(c->get("/r").ok());
  }
}
