// MemoryClient's semantics and the recipes on top of it.
#include "coord/memory_client.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <tuple>

#include "coord/recipes.h"
#include "tests/support/process.h"

using namespace dcos;
using namespace dcos::coord;
using namespace std::chrono_literals;
using dcos::test::waitUntil;

TEST_CASE("memory client: nodes, versions, sequences, errors", "[coord]") {
  auto ens = std::make_shared<MemoryEnsemble>();
  MemoryClient c(ens);
  REQUIRE(c.ensurePath("/a/b").ok());
  CHECK(c.create("/a/b/x", "1", CreateMode::Persistent).value() == "/a/b/x");
  CHECK(codeOf(c.create("/a/b/x", "1", CreateMode::Persistent).error()) == Code::NodeExists);
  CHECK(codeOf(c.create("/nope/x", "1", CreateMode::Persistent).error()) == Code::NoNode);
  CHECK(c.create("/a/s-", "", CreateMode::PersistentSequential).value() == "/a/s-0000000000");
  CHECK(c.create("/a/s-", "", CreateMode::PersistentSequential).value() == "/a/s-0000000001");
  auto stat = c.set("/a/b/x", "2", 0);
  REQUIRE(stat.ok());
  CHECK(stat->version == 1);
  CHECK(codeOf(c.set("/a/b/x", "3", 0).error()) == Code::BadVersion);
  CHECK(c.get("/a/b/x")->first == "2");
  CHECK(codeOf(c.remove("/a/b").error()) == Code::NotEmpty);
  CHECK(c.children("/a").value() == std::vector<std::string>{"b", "s-0000000000", "s-0000000001"});
  CHECK(isRetryable(Code::ConnectionLoss));
  CHECK_FALSE(isRetryable(Code::NodeExists));
  c.disconnect();
  auto lost = c.get("/a/b/x");
  REQUIRE_FALSE(lost.ok());
  CHECK(isRetryable(lost.error()));
  c.reconnect();
  CHECK(c.get("/a/b/x").ok());
}

TEST_CASE("memory client: ephemerals, owned ones after expiry, watches", "[coord]") {
  auto ens = std::make_shared<MemoryEnsemble>();
  MemoryClient a(ens);
  MemoryClient b(ens);
  REQUIRE(a.ensurePath("/g").ok());
  REQUIRE(a.create("/g/plain", "p", CreateMode::Ephemeral).ok());
  REQUIRE(a.create("/g/owned", "o", CreateMode::Ephemeral, Ownership::Owned).ok());
  std::vector<SessionEvent> events;
  std::mutex mu;
  a.onSession([&](SessionEvent e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  });
  std::atomic<int> changes{0};
  b.watchChildren("/g", [&] { ++changes; });
  std::atomic<bool> deleted{false};
  REQUIRE(b.exists("/g/plain", [&](const WatchEvent &e) { deleted = e.type == WatchType::Deleted; }).ok());
  b.drain();
  int before = changes;

  int64_t old = a.sessionId();
  a.expireSession();
  a.drain();
  b.drain();
  CHECK(a.sessionId() != old);
  CHECK_FALSE(b.exists("/g/plain")->has_value());
  CHECK(b.get("/g/owned")->first == "o");
  CHECK(b.get("/g/owned")->second.ephemeralOwner == a.sessionId());
  CHECK(deleted);
  CHECK(changes > before);
  std::lock_guard lock(mu);
  CHECK(events == std::vector<SessionEvent>{SessionEvent::Expired, SessionEvent::Connected});
}

TEST_CASE("election on the memory client: order, handover, no herd, expiry", "[coord]") {
  auto ens = std::make_shared<MemoryEnsemble>();
  std::vector<std::atomic<int>> wakeups(3);  // outlives the elections, which call back as they stop
  std::vector<std::unique_ptr<MemoryClient>> clients;
  std::vector<std::unique_ptr<LeaderElection>> elections;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<MemoryClient>(ens));
    elections.push_back(std::make_unique<LeaderElection>(*clients[i], "/e", "c" + std::to_string(i),
                                                         [&, i](bool) { ++wakeups[i]; }));
    REQUIRE(elections[i]->start().ok());
  }
  auto leaderIs = [&](int who) {
    for (auto &c : clients) c->drain();
    for (int i = 0; i < 3; ++i) {
      if (elections[i]->isLeader() != (i == who)) return false;
    }
    return true;
  };
  CHECK(waitUntil([&] { return leaderIs(0); }, 2s));
  CHECK(elections[1]->leaderData().value() == "c0");
  // The last candidate watches only the middle one: the leader leaving wakes it not.
  int lastWakeups = wakeups[2];
  elections[0]->stop();
  CHECK(waitUntil([&] { return elections[1]->isLeader(); }, 2s));
  clients[2]->drain();
  CHECK(wakeups[2] == lastWakeups);
  // The leader's session expires: it loses, the next leads, it stands again at the back.
  clients[1]->expireSession();
  CHECK(waitUntil([&] { return elections[2]->isLeader() && !elections[1]->isLeader(); }, 2s));
}

namespace {

// Two sessions standing in one election; the first leads.
struct TwoCandidates {
  std::shared_ptr<MemoryEnsemble> ens = std::make_shared<MemoryEnsemble>();
  MemoryClient a{ens}, b{ens};
  LeaderElection ea{a, "/e", "a", {}}, eb{b, "/e", "b", {}};
  TwoCandidates() {
    REQUIRE(ea.start().ok());
    REQUIRE(eb.start().ok());
    a.drain();
    b.drain();
    REQUIRE(ea.isLeader());
    REQUIRE(!eb.isLeader());
  }
  std::tuple<MemoryClient &, MemoryClient &, LeaderElection &, LeaderElection &> parts() { return {a, b, ea, eb}; }
};

}  // namespace

TEST_CASE("election: a look that fails while disconnected is taken again on reconnect", "[coord]") {
  TwoCandidates two;
  auto [a, b, ea, eb] = two.parts();
  // b's event thread is held while the leader resigns, so the deletion
  // reaches b's watch only after b has lost its connection.
  std::mutex hold;
  std::unique_lock held(hold);
  b.post([&] { std::lock_guard wait(hold); });
  ea.stop();
  b.disconnect();
  held.unlock();
  b.drain();
  CHECK(!eb.isLeader());  // it could not read the candidates
  b.reconnect();
  CHECK(waitUntil([&] { b.drain(); return eb.isLeader(); }, 2s));
}

TEST_CASE("election: a leader that resigns while disconnected hands over once it is back", "[coord]") {
  TwoCandidates two;
  auto [a, b, ea, eb] = two.parts();
  a.disconnect();
  ea.stop();  // its delete cannot reach the ensemble now
  CHECK(!ea.isLeader());
  b.drain();
  CHECK(!eb.isLeader());
  a.reconnect();  // the same session: the node must go now, not with the session
  CHECK(waitUntil([&] { b.drain(); return eb.isLeader(); }, 2s));
}

TEST_CASE("election: a candidate finds its own node instead of standing twice", "[coord]") {
  auto ens = std::make_shared<MemoryEnsemble>();
  MemoryClient a(ens), b(ens);
  // As if a create by b had happened but its reply was lost: b's node is
  // there before b stands.
  char name[64];
  std::snprintf(name, sizeof name, "/e/c_%016llx-", static_cast<unsigned long long>(b.sessionId()));
  REQUIRE(b.ensurePath("/e").ok());
  REQUIRE(b.create(name, "b", CreateMode::EphemeralSequential).ok());
  LeaderElection ea(a, "/e", "a", {}), eb(b, "/e", "b", {});
  REQUIRE(eb.start().ok());
  REQUIRE(ea.start().ok());
  a.drain();
  b.drain();
  CHECK(eb.isLeader());
  CHECK(b.children("/e").value().size() == 2);
}

TEST_CASE("election: a watch that fires after its election is gone finds nothing", "[coord]") {
  auto ens = std::make_shared<MemoryEnsemble>();
  MemoryClient a(ens), b(ens);
  LeaderElection ea(a, "/e", "a", {});
  REQUIRE(ea.start().ok());
  int calls = 0;
  {
    LeaderElection eb(b, "/e", "b", [&](bool) { ++calls; });
    REQUIRE(eb.start().ok());
    b.drain();
    REQUIRE(!eb.isLeader());
  }  // b's watch on a's node stays registered with the ensemble
  ea.stop();  // fires it
  b.drain();
  b.expireSession();  // and the session listener, too
  b.drain();
  CHECK(calls == 0);
}

TEST_CASE("election: a candidate back in a new session removes its own earlier node, no other", "[coord]") {
  auto ens = std::make_shared<MemoryEnsemble>();
  std::atomic<bool> otherLeads{false};
  // The one that died: its session lives on (until it would expire).
  MemoryClient before(ens), other(ens), after(ens);
  LeaderElection gone(before, "/e", "m1", [](bool) {}, true);
  REQUIRE(gone.start().ok());
  LeaderElection second(other, "/e", "m2", [&](bool l) { otherLeads = l; }, true);
  REQUIRE(second.start().ok());
  before.drain();
  REQUIRE(gone.isLeader());
  before.disconnect();  // it died: its session lives on in the ensemble, it does nothing more
  // Back as a new process: its old node goes, so m2 leads now (not once the
  // old session expires), and it stands behind m2.
  LeaderElection back(after, "/e", "m1", [](bool) {}, true);
  REQUIRE(back.start().ok());
  CHECK(waitUntil([&] { after.drain(); other.drain(); return otherLeads.load(); }, 2s));
  CHECK_FALSE(back.isLeader());
  CHECK(after.children("/e").value().size() == 2);
  // m2 leaves: the one that came back leads.
  second.stop();
  CHECK(waitUntil([&] { after.drain(); return back.isLeader(); }, 2s));
  // Without the flag the same data is no identity: nothing is removed.
  MemoryClient plain(ens);
  LeaderElection same(plain, "/e", "m1", [](bool) {});
  REQUIRE(same.start().ok());
  plain.drain();
  CHECK(after.children("/e").value().size() == 2);
  CHECK(back.isLeader());
}

TEST_CASE("election: a leader whose node is removed stops leading, and the next leads", "[coord]") {
  auto ens = std::make_shared<MemoryEnsemble>();
  MemoryClient a(ens), b(ens);
  std::atomic<int> aLosses{0};
  LeaderElection first(a, "/e", "a", [&](bool l) { aLosses += l ? 0 : 1; });
  LeaderElection second(b, "/e", "b", [](bool) {});
  REQUIRE(first.start().ok());
  REQUIRE(second.start().ok());
  a.drain();
  REQUIRE(first.isLeader());
  auto kids = b.children("/e").value();
  std::sort(kids.begin(), kids.end(), [](const std::string &x, const std::string &y) {
    return x.substr(x.size() - 10) < y.substr(y.size() - 10);
  });
  REQUIRE(b.remove("/e/" + kids.front()).ok());  // the leader's node, by another hand
  CHECK(waitUntil([&] { a.drain(); b.drain(); return second.isLeader(); }, 2s));
  CHECK(aLosses.load() >= 1);
  CHECK_FALSE(first.isLeader());  // stood again, behind
}

TEST_CASE("election: candidates stopped all at once leave no node behind", "[coord]") {
  for (int round = 0; round < 50; ++round) {
    auto ens = std::make_shared<MemoryEnsemble>();
    std::vector<std::unique_ptr<MemoryClient>> clients;
    std::vector<std::unique_ptr<LeaderElection>> elections;
    for (int i = 0; i < 3; ++i) {
      clients.push_back(std::make_unique<MemoryClient>(ens));
      elections.push_back(std::make_unique<LeaderElection>(*clients[i], "/e", "c", [](bool) {}));
      REQUIRE(elections[i]->start().ok());
    }
    std::vector<std::thread> stoppers;
    for (int i = 0; i < 3; ++i) stoppers.emplace_back([&, i] { elections[i]->stop(); });
    for (auto &t : stoppers) t.join();
    for (auto &c : clients) c->drain();
    INFO("round " << round);
    REQUIRE(clients[0]->children("/e").value().empty());
  }
}

TEST_CASE("membership on the memory client", "[coord]") {
  auto ens = std::make_shared<MemoryEnsemble>();
  MemoryClient a(ens);
  MemoryClient b(ens);
  Membership ma(a, "/dcos/nodes");
  Membership mb(b, "/dcos/nodes");
  std::map<std::string, std::string> seen;
  std::mutex mu;
  ma.watch([&](const std::map<std::string, std::string> &m) {
    std::lock_guard lock(mu);
    seen = m;
  });
  REQUIRE(ma.join("10.0.0.1", "{\"role\":\"master\"}").ok());
  REQUIRE(mb.join("10.0.0.2", "{\"role\":\"agent\"}").ok());
  auto count = [&] {
    a.drain();
    std::lock_guard lock(mu);
    return seen.size();
  };
  CHECK(waitUntil([&] { return count() == 2; }, 2s));
  b.expireSession();  // owned: back at once
  b.drain();
  CHECK(ma.members()->count("10.0.0.2") == 1);
  mb.leave();
  CHECK(waitUntil([&] { return count() == 1; }, 2s));
  b.close();
  CHECK(ma.members()->size() == 1);
}
