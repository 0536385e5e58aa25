#include "plugins/modules/agent/task.h"

#include <catch2/catch.hpp>

using namespace dcos::agent;

namespace {

std::vector<Problem> problemsOf(const std::string &json, SpecLimits limits = {4, 4096, 10000}) {
  std::vector<Problem> problems;
  auto spec = parseTaskSpec(json, limits, problems);
  if (spec) return {};
  if (problems.empty()) problems.push_back({"", spec.error().message});
  return problems;
}

bool has(const std::vector<Problem> &ps, const std::string &path, const std::string &part) {
  for (const auto &p : ps) {
    if (p.path == path && p.message.find(part) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("task spec: a whole launch request", "[agent]") {
  std::vector<Problem> problems;
  auto spec = parseTaskSpec(R"({"id": "web.1", "cmd": "python3 -m http.server $PORT0", "cpus": 0.5, "mem": 64,
      "ports": [31001, 31002], "portNames": ["http", "admin-ui"], "env": {"A": "b"}, "appId": "/prod/web",
      "appVersion": "2026-12-01T10:00:00.000Z", "killGracePeriodSeconds": 5,
      "healthChecks": [{"protocol": "HTTP", "path": "/ok", "portIndex": 1, "intervalSeconds": 2}]})",
                            {4, 4096, 10000}, problems);
  REQUIRE(spec.ok());
  CHECK(spec->id == "web.1");
  CHECK(spec->ports == std::vector<int>{31001, 31002});
  CHECK(spec->healthChecks.at(0).portIndex == 1);
  auto env = taskEnvironment(*spec, "10.0.0.5", "/sb");
  auto hasEnv = [&](const std::string &e) { return std::find(env.begin(), env.end(), e) != env.end(); };
  CHECK(hasEnv("PORT0=31001"));
  CHECK(hasEnv("PORT1=31002"));
  CHECK(hasEnv("PORT=31001"));
  CHECK(hasEnv("PORTS=31001,31002"));
  CHECK(hasEnv("PORT_HTTP=31001"));
  CHECK(hasEnv("PORT_ADMIN_UI=31002"));
  CHECK(hasEnv("HOST=10.0.0.5"));
  CHECK(hasEnv("MESOS_TASK_ID=web.1"));
  CHECK(hasEnv("MESOS_SANDBOX=/sb"));
  CHECK(hasEnv("MARATHON_APP_ID=/prod/web"));
  CHECK(hasEnv("MARATHON_APP_VERSION=2026-12-01T10:00:00.000Z"));
  CHECK(hasEnv("A=b"));
  // Round trip through the checkpoint.
  std::vector<Problem> again;
  auto back = parseTaskSpec(taskSpecJson(*spec), {}, again);
  REQUIRE(back.ok());
  CHECK(back->cmd == spec->cmd);
  CHECK(back->portNames == spec->portNames);
}

TEST_CASE("task spec: every bad field is named", "[agent]") {
  CHECK(problemsOf("{nope")[0].message.find("malformed JSON") != std::string::npos);
  CHECK(has(problemsOf(R"({"cmd": "x"})"), "/id", "required"));
  CHECK(has(problemsOf(R"({"id": "a/b", "cmd": "x"})"), "/id", "expected 1 to 200"));
  CHECK(has(problemsOf(R"({"id": "a"})"), "/cmd", "needs cmd or args"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "args": ["y"]})"), "/args", "not both"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "cpus": -1})"), "/cpus", "expected a number from 0"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "mem": 1e300})"), "/mem", "expected a number"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "cpus": 64})"), "/cpus", "more than this agent has (4)"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "mem": "lots"})"), "/mem", "expected a number, found a string"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "ports": [0]})"), "/ports/0", "1 to 65535"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "ports": [5, 5]})"), "/ports/1", "given twice"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "user": "-root"})"), "/user", "not a user name"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "env": {"A": 1}})"), "/env/A", "expected a string"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "healthChecks": [{"protocol": "HTTP"}]})"), "/healthChecks/0/portIndex",
            "no port at index 0"));
  CHECK(has(problemsOf(R"({"id": "a", "cmd": "x", "healthChecks": [{"protocol": "UDP"}]})"), "/healthChecks/0/protocol",
            "unknown protocol"));
  // Several problems at once, each with its path.
  CHECK(problemsOf(R"({"id": "", "cpus": "x", "mem": -5})").size() >= 3);
}

TEST_CASE("task states have Mesos's names", "[agent]") {
  CHECK(std::string(stateName(TaskState::Running)) == "TASK_RUNNING");
  CHECK(stateFromName("TASK_KILLING") == TaskState::Killing);
  CHECK(isTerminal(TaskState::Gone));
  CHECK_FALSE(isTerminal(TaskState::Killing));
  CHECK(dcos::isoTime(1796119200123) == "2026-12-01T10:00:00.123Z");
}
