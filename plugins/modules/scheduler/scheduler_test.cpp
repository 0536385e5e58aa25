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

namespace {

struct Harness {
  std::shared_ptr<coord::MemoryEnsemble> ensemble = std::make_shared<coord::MemoryEnsemble>();
  coord::MemoryClient zk{ensemble};
  FakeAgents agents;
  std::unique_ptr<Scheduler> s;
  explicit Harness(std::chrono::milliseconds agentLostGrace = std::chrono::milliseconds(5000)) {
    addAgent(zk, "a1", "10.0.0.65", "*", 8, 8192);
    SchedulerConfig config;
    config.agentLostGrace = agentLostGrace;
    config.zk = &zk;
    config.agents = &agents;
    config.address = "10.0.0.11:61001";
    config.hostname = "m1";
    s = std::make_unique<Scheduler>(config);
    s->reconcileOnce();
  }
  // Every launched task not yet reported reports `state` (one update each).
  void report(const std::string &state) {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(agents.m);
      for (const auto &[a, req] : agents.launched) ids.push_back(req->getValue<std::string>("id"));
    }
    for (const auto &id : ids) {
      if (reported.insert(id + state).second) {
        auto r = s->handle("POST", "/scheduler/v1/updates", "", update(id, state, id + "-" + state));
        REQUIRE(r.status == 200);
      }
    }
  }
  std::set<std::string> reported;
};

}  // namespace

TEST_CASE("scheduler: the event stream tells each change in order, deployments step by step", "[scheduler]") {
  Harness h;
  std::vector<std::string> frames;
  std::mutex m;
  int sub = h.s->events().subscribe({}, [&](const std::string &f) {
    std::lock_guard lock(m);
    frames.push_back(f);
    return true;
  });
  std::vector<std::string> healthOnly;
  h.s->events().subscribe({"health_status_changed_event"}, [&](const std::string &f) {
    healthOnly.push_back(f);
    return true;
  });
  REQUIRE(h.s->handle("POST", "/v2/apps", "", R"({"id": "/web", "cmd": "x", "instances": 1, "cpus": 0.1, "mem": 16})",
                      "10.0.0.254")
              .status == 201);
  h.s->reconcileOnce();
  h.report("TASK_RUNNING");
  h.s->reconcileOnce();  // the deployment is done
  std::vector<std::string> types;
  for (const auto &f : frames) {
    REQUIRE(f.rfind("event: ", 0) == 0);
    REQUIRE(f.find("\ndata: {") != std::string::npos);
    REQUIRE(f.substr(f.size() - 2) == "\n\n");
    types.push_back(f.substr(7, f.find('\n') - 7));
    auto data = json(f.substr(f.find("data: ") + 6));
    CHECK(data->getValue<std::string>("eventType") == types.back());
    CHECK(data->getValue<std::string>("timestamp").back() == 'Z');
  }
  std::vector<std::string> expected = {"api_post_event", "deployment_info", "status_update_event",
                                       "instance_changed_event", "deployment_step_success", "deployment_success"};
  CHECK(types == expected);
  auto post = json(frames[0].substr(frames[0].find("data: ") + 6));
  CHECK(post->getValue<std::string>("clientIp") == "10.0.0.254");
  CHECK(post->getObject("appDefinition")->getValue<std::string>("id") == "/web");
  auto info = json(frames[1].substr(frames[1].find("data: ") + 6));
  CHECK(info->getObject("plan")->getArray("steps")->getObject(0)->getArray("actions")->getObject(0)->getValue<std::string>(
            "action") == "StartApplication");
  CHECK(info->getObject("plan")->getObject("original")->getArray("apps")->size() == 0);
  CHECK(info->getObject("plan")->getObject("target")->getArray("apps")->size() == 1);
  auto status = json(frames[2].substr(frames[2].find("data: ") + 6));
  CHECK(status->getValue<std::string>("taskStatus") == "TASK_RUNNING");
  CHECK(status->getValue<std::string>("appId") == "/web");
  CHECK(status->getValue<std::string>("host") == "10.0.0.65");
  CHECK(healthOnly.empty());  // filtered: nothing of its type happened
  h.s->events().unsubscribe(sub);
  CHECK(h.s->events().subscribers() == 1);

  // A sink that says it is gone is dropped.
  h.s->events().subscribe({}, [](const std::string &) { return false; });
  h.s->handle("POST", "/v2/apps", "", R"({"id": "/other", "cmd": "x", "instances": 0})");
  CHECK(h.s->events().subscribers() == 1);
}

TEST_CASE("scheduler: versions are kept; a deployment rolls back or is stopped; the queue's delay resets",
          "[scheduler]") {
  Harness h;
  REQUIRE(h.s->handle("POST", "/v2/apps", "", R"({"id": "/web", "cmd": "x", "instances": 1, "cpus": 0.1, "mem": 16})")
              .status == 201);
  h.s->reconcileOnce();
  h.report("TASK_RUNNING");
  h.s->reconcileOnce();
  REQUIRE(json("{\"d\":" + h.s->handle("GET", "/v2/deployments", "", "").body + "}")->getArray("d")->size() == 0);
  std::string v1 = json(h.s->handle("GET", "/v2/apps/web", "", "").body)->getObject("app")->getValue<std::string>("version");

  // A new command that never runs: its deployment stays, and is rolled back.
  auto put = h.s->handle("PUT", "/v2/apps/web", "", R"({"cmd": "y"})");
  REQUIRE(put.status == 200);
  std::string dep = json(put.body)->getValue<std::string>("deploymentId");
  auto locked = h.s->handle("PUT", "/v2/apps/web", "", R"({"cmd": "z"})");
  CHECK(locked.status == 409);
  CHECK(locked.body.find(dep) != std::string::npos);
  auto versions = json(h.s->handle("GET", "/v2/apps//web/versions", "", "").body)->getArray("versions");
  REQUIRE(versions->size() == 2);
  CHECK(versions->getElement<std::string>(1) == v1);  // newest first
  auto old = h.s->handle("GET", "/v2/apps/web/versions/" + v1, "", "");
  REQUIRE(old.status == 200);
  CHECK(json(old.body)->getValue<std::string>("cmd") == "x");
  CHECK(h.s->handle("GET", "/v2/apps/web/versions/2001-01-01T00:00:00.000Z", "", "").status == 404);

  auto deployments = json("{\"d\":" + h.s->handle("GET", "/v2/deployments", "", "").body + "}")->getArray("d");
  REQUIRE(deployments->size() == 1);
  auto d = deployments->getObject(0);
  CHECK(d->getValue<std::string>("id") == dep);
  CHECK(d->getArray("currentActions")->getObject(0)->getValue<std::string>("action") == "RestartApplication");
  CHECK(d->getValue<int>("totalSteps") == 1);

  CHECK(h.s->handle("DELETE", "/v2/deployments/nope", "", "").status == 404);
  auto back = h.s->handle("DELETE", "/v2/deployments/" + dep, "", "");
  REQUIRE(back.status == 200);
  std::string rollback = json(back.body)->getValue<std::string>("deploymentId");
  CHECK(rollback != dep);
  CHECK(json(h.s->handle("GET", "/v2/apps/web", "", "").body)->getObject("app")->getValue<std::string>("cmd") == "x");
  // Stopped with force: 202, no deployment left, the app as it is.
  auto stopped = h.s->handle("DELETE", "/v2/deployments/" + rollback, "force=true", "");
  CHECK(stopped.status == 202);
  CHECK(json("{\"d\":" + h.s->handle("GET", "/v2/deployments", "", "").body + "}")->getArray("d")->size() == 0);

  // A failed task backs the app off; DELETE .../delay ends the wait.
  h.report("TASK_FAILED");
  h.s->reconcileOnce();
  auto queue = json(h.s->handle("GET", "/v2/queue", "", "").body)->getArray("queue");
  REQUIRE(queue->size() == 1);
  CHECK(queue->getObject(0)->getObject("delay")->getValue<bool>("overdue") == false);
  CHECK(h.s->handle("DELETE", "/v2/queue//web/delay", "", "").status == 204);
  CHECK(h.s->handle("DELETE", "/v2/queue/nope/delay", "", "").status == 404);
  size_t before = h.agents.launched.size();
  h.s->reconcileOnce();
  CHECK(h.agents.launched.size() > before);  // launched again at once
}

TEST_CASE("scheduler: groups make apps together, in dependency order, and go together", "[scheduler]") {
  Harness h;
  auto bad = h.s->handle("POST", "/v2/groups", "", R"({"id": "/shop", "apps": [{"id": "db", "cmd": "x", "cpus": -1}]})");
  REQUIRE(bad.status == 422);
  CHECK(json(bad.body)->getArray("details")->getObject(0)->getValue<std::string>("path") == "/apps(0)/cpus");
  CHECK(h.s->handle("GET", "/v2/groups/shop", "", "").status == 404);  // nothing written

  auto made = h.s->handle("POST", "/v2/groups", "", R"({"id": "/shop", "apps": [
      {"id": "web", "cmd": "x", "cpus": 0.1, "mem": 16, "dependencies": ["/shop/db"]},
      {"id": "db", "cmd": "x", "cpus": 0.1, "mem": 16}],
      "groups": [{"id": "tools", "apps": [{"id": "cron", "cmd": "x", "cpus": 0.1, "mem": 16}]}]})");
  INFO(made.body);
  REQUIRE(made.status == 201);
  CHECK(h.s->handle("POST", "/v2/groups", "", R"({"id": "/shop"})").status == 409);
  auto d = json("{\"d\":" + h.s->handle("GET", "/v2/deployments", "", "").body + "}")->getArray("d")->getObject(0);
  REQUIRE(d->getValue<int>("totalSteps") == 2);
  auto step1 = d->getArray("steps")->getObject(0)->getArray("actions");
  auto step2 = d->getArray("steps")->getObject(1)->getArray("actions");
  CHECK(step1->size() == 2);  // db and cron
  CHECK(step2->getObject(0)->getValue<std::string>("app") == "/shop/web");

  // web waits for db: only db and cron launch until they run.
  h.s->reconcileOnce();
  {
    std::lock_guard lock(h.agents.m);
    REQUIRE(h.agents.launched.size() == 2);
    for (const auto &[a, req] : h.agents.launched) CHECK(req->getValue<std::string>("appId") != "/shop/web");
  }
  h.report("TASK_RUNNING");
  h.s->reconcileOnce();
  CHECK(h.agents.launched.size() == 3);

  auto tree = json(h.s->handle("GET", "/v2/groups", "", "").body);
  CHECK(tree->getValue<std::string>("id") == "/");
  auto shop = tree->getArray("groups")->getObject(0);
  CHECK(shop->getValue<std::string>("id") == "/shop");
  CHECK(shop->getArray("apps")->size() == 2);
  CHECK(shop->getArray("groups")->getObject(0)->getValue<std::string>("id") == "/shop/tools");
  for (const char *key : {"id", "apps", "groups", "pods", "dependencies", "version"}) CHECK(shop->has(key));

  // scaleBy doubles each app; then the group goes, all of it.
  REQUIRE(h.s->handle("PUT", "/v2/groups/shop", "force=true", R"({"scaleBy": 2})").status == 200);
  CHECK(json(h.s->handle("GET", "/v2/apps/shop/db", "", "").body)->getObject("app")->getValue<int>("instances") == 2);
  // A PUT listing apps removes the group's apps it leaves out.
  REQUIRE(h.s->handle("PUT", "/v2/groups/shop", "force=true", R"({"apps": [{"id": "db", "cmd": "x", "mem": 16, "cpus": 0.1}]})")
              .status == 200);
  CHECK(h.s->handle("GET", "/v2/apps/shop/web", "", "").status == 404);
  CHECK(h.s->handle("GET", "/v2/apps/shop/tools/cron", "", "").status == 200);  // "groups" not given: kept
  REQUIRE(h.s->handle("DELETE", "/v2/groups/shop", "force=true", "").status == 200);
  CHECK(h.s->handle("GET", "/v2/apps/shop/db", "", "").status == 404);
  CHECK(h.s->handle("GET", "/v2/apps/shop/tools/cron", "", "").status == 404);
  CHECK(h.s->handle("GET", "/v2/groups/shop", "", "").status == 404);
  CHECK(h.s->handle("DELETE", "/v2/groups/shop", "", "").status == 404);
}

TEST_CASE("scheduler: Mesos's state and slaves; without ZooKeeper nothing changes and the API says why",
          "[scheduler]") {
  Harness h;
  REQUIRE(h.s->handle("POST", "/v2/apps", "",
                      R"({"id": "/g/web", "cmd": "x", "cpus": 0.5, "mem": 64, "portDefinitions": [{"port": 0, "name": "http"}]})")
              .status == 201);
  h.s->reconcileOnce();
  h.report("TASK_RUNNING");
  auto slaves = json(h.s->handle("GET", "/mesos/master/slaves", "", "").body)->getArray("slaves");
  REQUIRE(slaves->size() == 1);
  CHECK(slaves->getObject(0)->getObject("resources")->getValue<double>("cpus") == 8);
  CHECK(slaves->getObject(0)->getObject("used_resources")->getValue<double>("cpus") == 0.5);
  CHECK(slaves->getObject(0)->getObject("resources")->getValue<std::string>("ports") == "[31000-31010]");
  auto state = json(h.s->handle("GET", "/mesos/master/state", "", "").body);
  auto task = state->getArray("frameworks")->getObject(0)->getArray("tasks")->getObject(0);
  CHECK(state->getArray("frameworks")->getObject(0)->getValue<std::string>("name") == "marathon");
  CHECK(task->getValue<std::string>("name") == "web.g");
  CHECK(task->getValue<std::string>("state") == "TASK_RUNNING");
  CHECK(task->getObject("discovery")->getObject("ports")->getArray("ports")->getObject(0)->getValue<std::string>("name") ==
        "http");

  size_t launched = h.agents.launched.size();
  h.zk.disconnect();
  auto info = json(h.s->handle("GET", "/v2/info", "", "").body);
  CHECK(info->getValue<bool>("elected") == false);
  CHECK(info->get("leader").isEmpty());
  auto refused = h.s->handle("POST", "/v2/apps", "", R"({"id": "/new", "cmd": "x"})");
  CHECK(refused.status == 503);
  CHECK(refused.body.find("ZooKeeper") != std::string::npos);
  CHECK(h.s->handle("PUT", "/v2/apps/g/web", "", R"({"instances": 3})").status == 503);
  CHECK(h.s->handle("POST", "/scheduler/v1/updates", "", update("x.1", "TASK_RUNNING", "u1")).status == 503);
  h.s->reconcileOnce();
  CHECK(h.agents.launched.size() == launched);
  CHECK(h.agents.killed.empty());
  h.zk.reconnect();
  CHECK(h.s->handle("PUT", "/v2/apps/g/web", "force=true", R"({"instances": 2})").status == 200);
  h.s->reconcileOnce();
  CHECK(h.agents.launched.size() == launched + 1);
}

TEST_CASE("scheduler: an unreachable task is expunged after expungeAfterSeconds, and killed if its agent returns",
          "[scheduler]") {
  Harness h;
  REQUIRE(h.s->handle("POST", "/v2/apps", "",
                      R"({"id": "/web", "cmd": "x", "cpus": 0.1, "mem": 16,
                          "unreachableStrategy": {"inactiveAfterSeconds": 0.05, "expungeAfterSeconds": 0.2}})")
              .status == 201);
  h.s->reconcileOnce();
  h.report("TASK_RUNNING");
  std::string first = json(h.s->handle("GET", "/v2/apps/web/tasks", "", "").body)
                          ->getArray("tasks")->getObject(0)->getValue<std::string>("id");
  std::vector<std::string> states;
  h.s->events().subscribe({"status_update_event"}, [&](const std::string &f) {
    states.push_back(json(f.substr(f.find("data: ") + 6))->getValue<std::string>("taskStatus"));
    return true;
  });
  REQUIRE(h.zk.remove("/dcos/agents/a1").ok());  // the agent goes away
  addAgent(h.zk, "a2", "10.0.0.66", "*", 8, 8192);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool expunged = false;
  while (!expunged && std::chrono::steady_clock::now() < deadline) {
    h.s->reconcileOnce();
    auto ids = json(h.s->handle("GET", "/v2/apps/web/tasks", "", "").body)->getArray("tasks");
    expunged = true;
    for (size_t i = 0; i < ids->size(); ++i) expunged &= ids->getObject(static_cast<unsigned>(i))->getValue<std::string>("id") != first;
  }
  REQUIRE(expunged);
  CHECK_FALSE(h.zk.exists("/dcos/scheduler/tasks/" + first)->has_value());
  CHECK(std::find(states.begin(), states.end(), "TASK_UNREACHABLE") != states.end());  // told, as any change
  // Its agent back, reporting it: a task nobody asked for, killed.
  addAgent(h.zk, "a1", "10.0.0.65", "*", 8, 8192);
  auto r = h.s->handle("POST", "/scheduler/v1/updates", "", update(first, "TASK_RUNNING", "late"));
  CHECK(r.status == 200);
  CHECK(std::find(h.agents.killed.begin(), h.agents.killed.end(), first) != h.agents.killed.end());
}

TEST_CASE("scheduler: a task change whose write is lost is stored by a later round", "[scheduler]") {
  Harness h(std::chrono::milliseconds(0));
  REQUIRE(h.s->handle("POST", "/v2/apps", "",
                      R"({"id": "/web", "cmd": "x", "cpus": 0.1, "mem": 16,
                          "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0}})")
              .status == 201);
  h.s->reconcileOnce();
  h.report("TASK_RUNNING");
  std::string id = json(h.s->handle("GET", "/v2/apps/web/tasks", "", "").body)
                       ->getArray("tasks")->getObject(0)->getValue<std::string>("id");
  const std::string record = "/dcos/scheduler/tasks/" + id;
  auto storedState = [&] { return json(h.zk.get(record)->first)->getValue<std::string>("state"); };
  REQUIRE(storedState() == "TASK_RUNNING");
  REQUIRE(h.zk.remove("/dcos/agents/a1").ok());  // its agent goes away
  h.zk.failSets(record, 1);                        // and the write of that news is lost
  h.s->reconcileOnce();
  auto state = [&] {
    return json(h.s->handle("GET", "/v2/apps/web/tasks", "", "").body)
        ->getArray("tasks")->getObject(0)->getValue<std::string>("state");
  };
  REQUIRE(state() == "TASK_UNREACHABLE");
  CHECK(storedState() == "TASK_RUNNING");  // the lost write
  h.s->reconcileOnce();
  CHECK(storedState() == "TASK_UNREACHABLE");  // written again from what the task is
}

TEST_CASE("scheduler: changes too big to record, scalings past the limit and odd bytes are refused cleanly",
          "[scheduler]") {
  Harness h;
  // Three apps with big definitions: a deployment changing all of them
  // would record more than a znode holds; refused before anything is written.
  std::string checks;
  for (int i = 0; i < 2500; ++i) checks += std::string(i ? "," : "") + R"({"protocol": "TCP", "portIndex": 0})";
  std::string group = R"({"id": "/big", "apps": [)";
  for (int a = 0; a < 3; ++a) {
    group += std::string(a ? "," : "") + R"({"id": "a)" + std::to_string(a) +
             R"(", "cmd": "x", "cpus": 0.01, "mem": 1, "healthChecks": [)" + checks + "]}";
  }
  group += "]}";
  REQUIRE(h.s->handle("POST", "/v2/groups", "", group).status == 201);
  std::string before = h.s->handle("GET", "/v2/apps/big/a0", "", "").body;
  std::string forced = group;
  forced.replace(forced.find(R"("cmd": "x")"), 10, R"("cmd": "y")");
  forced.replace(forced.find(R"("id": "/big", )"), 14, "");
  auto r = h.s->handle("PUT", "/v2/groups/big", "force=true", forced);
  INFO(r.body.substr(0, 300));
  CHECK(r.status == 422);
  CHECK(json(r.body)->getArray("details")->getObject(0)->getArray("errors")->getElement<std::string>(0).find("KiB") !=
        std::string::npos);
  CHECK(h.s->handle("GET", "/v2/apps/big/a0", "", "").body == before);

  // scaleBy past the instances a definition may have: 422, nothing scaled.
  REQUIRE(h.s->handle("PUT", "/v2/apps/many", "", R"({"cmd": "x", "instances": 100000, "cpus": 0, "mem": 0})").status ==
          201);
  auto scaled = h.s->handle("PUT", "/v2/groups/", "force=true", R"({"scaleBy": 2})");
  CHECK(scaled.status == 422);
  CHECK(json(h.s->handle("GET", "/v2/apps/many", "", "").body)->getObject("app")->getValue<int>("instances") == 100000);

  // A path that is not UTF-8 is echoed as valid JSON.
  auto odd = h.s->handle("DELETE", "/v2/apps/\xff", "", "");
  CHECK(odd.status == 404);
  CHECK(json(odd.body)->getValue<std::string>("message").find("\xef\xbf\xbd") != std::string::npos);
}

TEST_CASE("scheduler: dependencies written relative to the app are read from its group", "[scheduler]") {
  Harness h;
  auto made = h.s->handle("POST", "/v2/groups", "", R"({"id": "/shop", "apps": [
      {"id": "db", "cmd": "x", "cpus": 0.1, "mem": 16},
      {"id": "web", "cmd": "x", "cpus": 0.1, "mem": 16, "dependencies": ["db"]},
      {"id": "cron", "cmd": "x", "cpus": 0.1, "mem": 16, "dependencies": ["../shop/web"]}]})");
  REQUIRE(made.status == 201);
  auto web = json(h.s->handle("GET", "/v2/apps/shop/web", "", "").body)->getObject("app");
  CHECK(web->getArray("dependencies")->getElement<std::string>(0) == "/shop/db");
  auto cron = json(h.s->handle("GET", "/v2/apps/shop/cron", "", "").body)->getObject("app");
  CHECK(cron->getArray("dependencies")->getElement<std::string>(0) == "/shop/web");
  auto d = json("{\"d\":" + h.s->handle("GET", "/v2/deployments", "", "").body + "}")->getArray("d")->getObject(0);
  CHECK(d->getValue<int>("totalSteps") == 3);  // db, then web, then cron
}

TEST_CASE("scheduler: an end already stored, or a resend after an end, is acknowledged and changes nothing",
          "[scheduler]") {
  Harness h;
  REQUIRE(h.s->handle("POST", "/v2/apps", "", R"({"id": "/web", "cmd": "x", "instances": 2, "cpus": 0.1, "mem": 16})")
              .status == 201);
  h.s->reconcileOnce();
  h.report("TASK_RUNNING");
  auto tasks = json(h.s->handle("GET", "/v2/apps/web/tasks", "", "").body)->getArray("tasks");
  REQUIRE(tasks->size() == 2);
  std::string a = tasks->getObject(0)->getValue<std::string>("id");
  std::string b = tasks->getObject(1)->getValue<std::string>("id");
  // An end, then a stale RUNNING resent behind it, in one batch.
  auto r = h.s->handle("POST", "/scheduler/v1/updates", "",
                       R"({"agent_id": "a1", "updates": [
                           {"uuid": "e1", "task_id": ")" + a + R"(", "state": "TASK_FAILED", "message": "boom"},
                           {"uuid": "e2", "task_id": ")" + a + R"(", "state": "TASK_RUNNING", "message": ""}]})");
  REQUIRE(r.status == 200);
  CHECK(json(r.body)->getArray("acknowledged")->size() == 2);
  CHECK_FALSE(h.zk.exists("/dcos/scheduler/tasks/" + a)->has_value());  // not brought back
  // The record of an end already gone from ZooKeeper (a reply lost): done.
  REQUIRE(h.zk.remove("/dcos/scheduler/tasks/" + b).ok());
  r = h.s->handle("POST", "/scheduler/v1/updates", "", update(b, "TASK_FINISHED", "e3"));
  REQUIRE(r.status == 200);
  CHECK(json(r.body)->getArray("acknowledged")->size() == 1);
  CHECK(json(h.s->handle("GET", "/v2/apps/web/tasks", "", "").body)->getArray("tasks")->size() == 0);
  // A task's record removed meanwhile (expunged, given up): its update is
  // acknowledged and brings no record back.
  REQUIRE(h.s->handle("POST", "/v2/apps", "", R"({"id": "/api", "cmd": "x", "instances": 1, "cpus": 0.1, "mem": 16})")
              .status == 201);
  h.s->reconcileOnce();
  tasks = json(h.s->handle("GET", "/v2/apps/api/tasks", "", "").body)->getArray("tasks");
  REQUIRE(tasks->size() == 1);
  std::string c = tasks->getObject(0)->getValue<std::string>("id");
  REQUIRE(h.zk.remove("/dcos/scheduler/tasks/" + c).ok());
  r = h.s->handle("POST", "/scheduler/v1/updates", "", update(c, "TASK_RUNNING", "e4"));
  REQUIRE(r.status == 200);
  CHECK(json(r.body)->getArray("acknowledged")->size() == 1);
  CHECK_FALSE(h.zk.exists("/dcos/scheduler/tasks/" + c)->has_value());
}

TEST_CASE("scheduler: GET /v2/apps shows every change at once, whatever it kept from the GET before", "[scheduler]") {
  // Each app's text and each task's view are kept between GETs: a change
  // of state, health, message, scale or definition must show in the next.
  auto ensemble = std::make_shared<coord::MemoryEnsemble>();
  coord::MemoryClient zk(ensemble);
  addAgent(zk, "a1", "10.0.0.65", "*", 8, 4096);
  FakeAgents agents;
  SchedulerConfig config;
  config.zk = &zk;
  config.agents = &agents;
  config.address = "10.0.0.11:61001";
  config.killDrain = std::chrono::milliseconds(0);
  Scheduler s(config);
  s.reconcileOnce();
  REQUIRE(s.handle("POST", "/v2/apps", "", R"({"id": "web", "cmd": "x", "instances": 2, "cpus": 0.1, "mem": 16})").status ==
          201);
  REQUIRE(s.handle("POST", "/v2/apps", "", R"({"id": "other", "cmd": "y", "instances": 1, "cpus": 0.1, "mem": 16})")
              .status == 201);
  s.reconcileOnce();
  REQUIRE(agents.launched.size() == 3);
  std::string t1;
  for (const auto &[a, req] : agents.launched) {
    if (req->getValue<std::string>("appId") == "/web") t1 = req->getValue<std::string>("id");
  }
  const std::string all = "embed=apps.tasks&embed=apps.readiness";
  auto web = [&](const std::string &query) -> Object::Ptr {
    auto r = s.handle("GET", "/v2/apps", query, "");
    REQUIRE(r.status == 200);
    auto apps = json(r.body)->getArray("apps");
    for (size_t i = 0; i < apps->size(); ++i) {
      auto a = apps->getObject(static_cast<unsigned>(i));
      if (a->getValue<std::string>("id") == "/web") return a;
    }
    FAIL("no /web in " << r.body);
    return nullptr;
  };
  auto stateOf = [&](const Object::Ptr &app, const std::string &task) {
    auto tasks = app->getArray("tasks");
    for (size_t i = 0; tasks && i < tasks->size(); ++i) {
      auto t = tasks->getObject(static_cast<unsigned>(i));
      if (t->getValue<std::string>("id") == task) return t->getValue<std::string>("state");
    }
    return std::string("(none)");
  };
  // Twice the same answer; the readiness results after the tasks, as before.
  auto first = s.handle("GET", "/v2/apps", all, "");
  CHECK(s.handle("GET", "/v2/apps", all, "").body == first.body);
  CHECK(first.body.find("\"readinessCheckResults\":[]") > first.body.find("\"tasks\":["));
  CHECK(stateOf(web(all), t1) == "TASK_STAGING");

  s.handle("POST", "/scheduler/v1/updates", "", update(t1, "TASK_RUNNING", "g1"));
  auto running = web(all);
  CHECK(stateOf(running, t1) == "TASK_RUNNING");
  CHECK(running->getValue<int>("tasksRunning") == 1);
  CHECK(running->getArray("tasks")->getObject(0)->has("startedAt"));

  // Health and its message.
  s.handle("POST", "/scheduler/v1/updates", "", update(t1, "TASK_RUNNING", "g2", R"(, "healthy": false)"));
  CHECK(web(all)->getValue<int>("tasksUnhealthy") == 1);
  s.handle("POST", "/scheduler/v1/updates", "", update(t1, "TASK_RUNNING", "g3", R"(, "healthy": true)"));
  CHECK(web(all)->getValue<int>("tasksHealthy") == 1);

  // A scaling: the count, the version and every task's version change.
  auto scaled = s.handle("PUT", "/v2/apps/web", "force=true", R"({"instances": 3})");  // its deployment is under way
  REQUIRE(scaled.status == 200);
  const std::string version = json(scaled.body)->getValue<std::string>("version");
  auto after = web(all);
  CHECK(after->getValue<int>("instances") == 3);
  CHECK(after->getValue<std::string>("version") == version);
  auto tasks = after->getArray("tasks");
  for (size_t i = 0; i < tasks->size(); ++i) CHECK(tasks->getObject(static_cast<unsigned>(i))->getValue<std::string>("version") == version);

  // Its end: gone from the list, the other app as it was.
  s.handle("POST", "/scheduler/v1/updates", "", update(t1, "TASK_FAILED", "g4"));
  CHECK(stateOf(web(all), t1) == "(none)");
  CHECK(stateOf(web(""), t1) == "(none)");
  CHECK_FALSE(web("")->has("tasks"));  // not embedded: no tasks, whatever was kept
}
