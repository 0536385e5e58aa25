// The scheduler's core over an in-memory ZooKeeper and a fake of the agents'
// API: Marathon's shapes and codes, placement by role and resources,
// healing with backoff, and a second scheduler that finds it all in
// ZooKeeper. The real agents and ZooKeeper are in the local cluster test.
#include "plugins/modules/scheduler/scheduler.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <mutex>

#include "coord/memory_client.h"

using namespace dcos;
using namespace dcos::scheduler;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

struct FakeAgents : AgentPort {
  std::mutex m;
  std::vector<std::pair<std::string, Object::Ptr>> launched;  // agent id, request
  std::vector<std::string> killed;
  int answer = 201;  // what the agent says to a launch
  Result<int> launch(const AgentInfo &agent, const std::string &json) override {
    std::lock_guard lock(m);
    launched.emplace_back(agent.id, Poco::JSON::Parser().parse(json).extract<Object::Ptr>());
    return answer;
  }
  Status kill(const AgentInfo &, const std::string &taskId) override {
    std::lock_guard lock(m);
    killed.push_back(taskId);
    return Status::Ok();
  }
  // What the agents say they run: every task launched and not killed, plus
  // `extra` (tasks nobody asked for).
  std::map<std::string, std::string> extra;
  bool answerReconcile = false;
  Result<std::map<std::string, std::string>> reconcile(const AgentInfo &agent) override {
    std::lock_guard lock(m);
    if (!answerReconcile) return makeError("not asked in this test");
    std::map<std::string, std::string> out = extra;
    for (const auto &[a, req] : launched) {
      std::string id = req->getValue<std::string>("id");
      if (a == agent.id && std::find(killed.begin(), killed.end(), id) == killed.end()) out[id] = "TASK_RUNNING";
    }
    return out;
  }
};

Object::Ptr json(const std::string &s) { return Poco::JSON::Parser().parse(s).extract<Object::Ptr>(); }

void addAgent(coord::Client &zk, const std::string &id, const std::string &address, const std::string &role,
              double cpus = 2, double mem = 1024) {
  REQUIRE(zk.ensurePath("/dcos/agents").ok());
  Object::Ptr o = new Object;
  o->set("id", id);
  o->set("hostname", "host-" + id);
  o->set("address", address);
  o->set("api", address + ":61001");
  o->set("resource_role", role);
  Object::Ptr r = new Object;
  r->set("cpus", cpus);
  r->set("mem", mem);
  r->set("disk", 1000.0);
  r->set("ports", std::string("[31000-31010]"));
  o->set("resources", r);
  std::ostringstream s;
  o->stringify(s);
  REQUIRE(zk.create("/dcos/agents/" + id, s.str(), coord::CreateMode::Ephemeral).ok());
}

std::string update(const std::string &taskId, const std::string &state, const std::string &uuid,
                   const std::string &extra = "") {
  return R"({"agent_id": "a1", "updates": [{"uuid": ")" + uuid + R"(", "task_id": ")" + taskId + R"(", "state": ")" +
         state + R"(", "message": "")" + extra + R"(, "timestamp_ms": 1796119200004}]})";
}

}  // namespace

TEST_CASE("scheduler: apps through Marathon's API run on agents, heal with backoff, and survive a new leader",
          "[scheduler]") {
  auto ensemble = std::make_shared<coord::MemoryEnsemble>();
  coord::MemoryClient zk(ensemble);
  addAgent(zk, "a1", "10.0.0.65", "*");
  addAgent(zk, "p1", "10.0.0.129", "slave_public");
  FakeAgents agents;
  SchedulerConfig config;
  config.zk = &zk;
  config.agents = &agents;
  config.address = "10.0.0.11:61001";
  config.hostname = "m1";
  Scheduler s(config);
  s.reconcileOnce();  // leads (no election in this test)

  auto created = s.handle("POST", "/v2/apps", "",
                          R"({"id": "web", "cmd": "sleep 1000", "instances": 2, "cpus": 0.5, "mem": 64,
                              "portDefinitions": [{"port": 0, "name": "http"}], "labels": {"HAPROXY_GROUP": "external"},
                              "tasks": [], "tasksRunning": 7})");
  INFO(created.body);
  REQUIRE(created.status == 201);
  auto app = json(created.body);
  CHECK(app->getValue<std::string>("id") == "/web");
  CHECK(app->getArray("deployments")->size() == 1);
  CHECK(app->getArray("portDefinitions")->getObject(0)->getValue<int>("port") == 10000);  // a service port
  CHECK(app->getValue<std::string>("version").back() == 'Z');
  CHECK(s.handle("POST", "/v2/apps", "", R"({"id": "/web", "cmd": "x"})").status == 409);

  s.reconcileOnce();
  REQUIRE(agents.launched.size() == 2);
  for (const auto &[agent, req] : agents.launched) {
    CHECK(agent == "a1");  // never a public agent by default
    CHECK(req->getValue<std::string>("cmd") == "sleep 1000");
    CHECK(req->getValue<std::string>("appId") == "/web");
    CHECK(req->getArray("portNames")->getElement<std::string>(0) == "http");
  }
  std::string t1 = agents.launched[0].second->getValue<std::string>("id");
  std::string t2 = agents.launched[1].second->getValue<std::string>("id");
  CHECK(t1.rfind("web.", 0) == 0);
  CHECK(zk.children("/dcos/scheduler/tasks")->size() == 2);  // stored before launched

  // Status updates: stored, then acknowledged.
  auto ack = s.handle("POST", "/scheduler/v1/updates", "", update(t1, "TASK_RUNNING", "u1"));
  REQUIRE(ack.status == 200);
  CHECK(json(ack.body)->getArray("acknowledged")->getElement<std::string>(0) == "u1");
  s.handle("POST", "/scheduler/v1/updates", "", update(t2, "TASK_RUNNING", "u2"));
  auto got = s.handle("GET", "/v2/apps//web", "embed=app.tasks", "");  // marathon-python's path
  REQUIRE(got.status == 200);
  auto view = json(got.body)->getObject("app");
  CHECK(view->getValue<int>("tasksRunning") == 2);
  auto task = view->getArray("tasks")->getObject(0);
  for (const char *key : {"appId", "healthCheckResults", "host", "id", "ipAddresses", "ports", "servicePorts", "slaveId",
                          "stagedAt", "startedAt", "state", "version"}) {
    CHECK(task->has(key));
  }
  CHECK(task->size() == 12);  // Marathon's keys only
  auto list = json(s.handle("GET", "/v2/apps", "embed=apps.tasks&label=HAPROXY_GROUP==external", "").body);
  REQUIRE(list->getArray("apps")->size() == 1);
  CHECK(list->getArray("apps")->getObject(0)->getArray("tasks")->size() == 2);
  s.reconcileOnce();
  CHECK(s.handle("GET", "/v2/deployments", "", "").body == "[]");  // done: both running

  // A task fails: replaced after a backoff, which the queue shows.
  s.handle("POST", "/scheduler/v1/updates", "", update(t1, "TASK_FAILED", "u3", R"(, "exit_code": 1)"));
  agents.launched.clear();
  s.reconcileOnce();
  CHECK(agents.launched.empty());  // backoffSeconds 1: not yet
  auto queue = json(s.handle("GET", "/v2/queue", "", "").body)->getArray("queue");
  REQUIRE(queue->size() == 1);
  CHECK(queue->getObject(0)->getValue<int>("count") == 1);

  // Invalid apps: 422 with Marathon's paths; malformed JSON: 400.
  auto bad = s.handle("POST", "/v2/apps", "", R"({"id": "Bad_Id", "cpus": -1, "healthChecks": [{"portIndex": 3}]})");
  REQUIRE(bad.status == 422);
  std::set<std::string> paths;
  auto details = json(bad.body)->getArray("details");
  for (size_t i = 0; i < details->size(); ++i) paths.insert(details->getObject(static_cast<unsigned>(i))->getValue<std::string>("path"));
  CHECK(paths.count("/id") == 1);
  CHECK(paths.count("/cpus") == 1);
  CHECK(paths.count("/healthChecks(0)/portIndex") == 1);
  CHECK(paths.count("/") == 1);  // no cmd nor args
  CHECK(s.handle("POST", "/v2/apps", "", "{\"id\":").status == 400);
  CHECK(s.handle("POST", "/v2/apps", "", R"({"id": "d", "cmd": "x", "container": {"docker": {"image": "x"}}})").status == 422);
  CHECK(s.handle("GET", "/v2/apps/nope", "", "").status == 404);

  // slave_public only: on the public agent.
  agents.launched.clear();
  REQUIRE(s.handle("POST", "/v2/apps", "", R"({"id": "/edge/lb", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16,
                                              "acceptedResourceRoles": ["slave_public"]})").status == 201);
  s.reconcileOnce();
  REQUIRE(agents.launched.size() == 1);
  CHECK(agents.launched[0].first == "p1");
  CHECK(agents.launched[0].second->getValue<std::string>("id").rfind("edge_lb.", 0) == 0);

  // A second scheduler (a new leader) finds everything in ZooKeeper.
  coord::MemoryClient zk2(ensemble);
  FakeAgents agents2;
  SchedulerConfig config2 = config;
  config2.zk = &zk2;
  config2.agents = &agents2;
  Scheduler s2(config2);
  s2.reconcileOnce();
  auto apps2 = json(s2.handle("GET", "/v2/apps", "embed=apps.tasks", "").body)->getArray("apps");
  CHECK(apps2->size() == 2);
  auto web2 = json(s2.handle("GET", "/v2/apps/web", "", "").body)->getObject("app");
  CHECK(web2->getValue<int>("instances") == 2);
  CHECK(web2->getValue<int>("tasksRunning") == 1);
  CHECK(web2->getArray("portDefinitions")->getObject(0)->getValue<int>("port") == 10000);

  // Removal kills the app's tasks.
  auto removed = s2.handle("DELETE", "/v2/apps/web", "", "");
  REQUIRE(removed.status == 200);
  CHECK(json(removed.body)->has("deploymentId"));
  s2.reconcileOnce();
  CHECK(std::find(agents2.killed.begin(), agents2.killed.end(), t2) != agents2.killed.end());
}

TEST_CASE("scheduler: a rolling upgrade never goes below minimumHealthCapacity, and an agent away crashes nothing",
          "[scheduler]") {
  auto ensemble = std::make_shared<coord::MemoryEnsemble>();
  coord::MemoryClient zk(ensemble);
  addAgent(zk, "a1", "10.0.0.65", "*", 8, 8192);
  addAgent(zk, "a2", "10.0.0.66", "*", 8, 8192);
  FakeAgents agents;
  SchedulerConfig config;
  config.zk = &zk;
  config.agents = &agents;
  config.address = "10.0.0.11:61001";
  Scheduler s(config);
  s.reconcileOnce();
  REQUIRE(s.handle("POST", "/v2/apps", "", R"({"id": "/r", "cmd": "v1", "instances": 2, "cpus": 0.1, "mem": 16,
      "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0},
      "constraints": [["hostname", "UNIQUE"]], "unreachableStrategy": {"inactiveAfterSeconds": 60}})").status == 201);
  s.reconcileOnce();
  REQUIRE(agents.launched.size() == 2);
  int n = 0;
  for (const auto &[agent, req] : agents.launched) {
    s.handle("POST", "/scheduler/v1/updates", "", update(req->getValue<std::string>("id"), "TASK_RUNNING", "r" + std::to_string(n++)));
  }
  s.reconcileOnce();  // the deployment is done
  agents.launched.clear();
  // A new definition: one new task may start (over capacity 0, health 1:
  // one over), and no old one goes before a new one is ready.
  REQUIRE(s.handle("PUT", "/v2/apps/r", "", R"({"cmd": "v2"})").status == 200);
  for (int round = 0; round < 5; ++round) s.reconcileOnce();
  CHECK(agents.launched.size() <= 1);
  CHECK(agents.killed.empty());
  // An agent away within inactiveAfterSeconds, with a UNIQUE constraint to
  // evaluate: nothing is killed or placed on its account, nothing crashes.
  REQUIRE(zk.remove("/dcos/agents/a2").ok());
  for (int round = 0; round < 3; ++round) s.reconcileOnce();
  CHECK(agents.killed.empty());
  // A constraint value that is not a string is refused, and stored apps
  // parse back (a second scheduler loads them all).
  CHECK(s.handle("POST", "/v2/apps", "", R"({"id": "/c", "cmd": "x", "constraints": [["rack", "CLUSTER", 5]]})").status == 422);
  coord::MemoryClient zk2(ensemble);
  FakeAgents agents2;
  SchedulerConfig config2 = config;
  config2.zk = &zk2;
  config2.agents = &agents2;
  Scheduler s2(config2);
  s2.reconcileOnce();
  CHECK(json(s2.handle("GET", "/v2/apps", "", "").body)->getArray("apps")->size() == 1);
  CHECK(agents2.killed.empty());  // no task of a loaded app is taken for nobody's
}

TEST_CASE("scheduler: a new leader reconciles with every agent: strangers killed, tasks no agent knows replaced",
          "[scheduler]") {
  auto ensemble = std::make_shared<coord::MemoryEnsemble>();
  coord::MemoryClient zk(ensemble);
  addAgent(zk, "a1", "10.0.0.65", "*");
  FakeAgents agents;
  SchedulerConfig config;
  config.zk = &zk;
  config.agents = &agents;
  config.address = "10.0.0.11:61001";
  {
    Scheduler s(config);
    s.reconcileOnce();
    REQUIRE(s.handle("POST", "/v2/apps", "", R"({"id": "/w", "cmd": "x", "instances": 2, "cpus": 0.1, "mem": 16})").status == 201);
    s.reconcileOnce();
    REQUIRE(agents.launched.size() == 2);
  }
  // The agent lost one of them, and runs one nobody asked for.
  std::string lost = agents.launched[1].second->getValue<std::string>("id");
  agents.killed.push_back(lost);
  agents.extra["stray.0b1c"] = "TASK_RUNNING";
  agents.answerReconcile = true;
  agents.launched.resize(1);
  agents.killed.clear();
  coord::MemoryClient zk2(ensemble);
  SchedulerConfig config2 = config;
  config2.zk = &zk2;
  Scheduler s2(config2);
  s2.reconcileOnce();
  CHECK(std::find(agents.killed.begin(), agents.killed.end(), "stray.0b1c") != agents.killed.end());
  CHECK_FALSE(zk2.exists("/dcos/scheduler/tasks/" + lost)->has_value());
  CHECK(agents.launched.size() == 2);  // its replacement
}

TEST_CASE("scheduler: a launch the agent refuses leaves no task behind and backs the app off", "[scheduler]") {
  auto ensemble = std::make_shared<coord::MemoryEnsemble>();
  coord::MemoryClient zk(ensemble);
  addAgent(zk, "a1", "10.0.0.65", "*");
  FakeAgents agents;
  agents.answer = 409;  // its real usage differs from what the scheduler counted
  SchedulerConfig config;
  config.zk = &zk;
  config.agents = &agents;
  config.address = "10.0.0.11:61001";
  Scheduler s(config);
  s.reconcileOnce();
  REQUIRE(s.handle("POST", "/v2/apps", "", R"({"id": "/x", "cmd": "x", "cpus": 0.1, "mem": 16, "backoffSeconds": 60})").status == 201);
  s.reconcileOnce();
  REQUIRE(agents.launched.size() == 1);
  CHECK(zk.children("/dcos/scheduler/tasks")->empty());  // the stored task went with the refusal
  CHECK(json(s.handle("GET", "/v2/apps/x/tasks", "", "").body)->getArray("tasks")->size() == 0);
  s.reconcileOnce();
  CHECK(agents.launched.size() == 1);  // not again at once
  auto queue = json(s.handle("GET", "/v2/queue", "", "").body)->getArray("queue");
  REQUIRE(queue->size() == 1);
  CHECK(queue->getObject(0)->getObject("delay")->getValue<int>("timeLeftSeconds") > 0);
  auto app = json(s.handle("GET", "/v2/apps/x", "", "").body)->getObject("app");
  CHECK_THAT(app->getObject("lastTaskFailure")->getValue<std::string>("message"), Catch::Contains("answered 409"));
}
