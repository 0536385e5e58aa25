#include "cli/marathon.h"

#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include "cli/args.h"
#include "cli/local_cluster.h"

using namespace dcos::cli;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

Array::Ptr array(const std::string &json) { return Poco::JSON::Parser().parse(json).extract<Array::Ptr>(); }

}  // namespace

TEST_CASE("PROP=VALUE: JSON where it parses, a string otherwise", "[cli]") {
  SECTION("values") {
    CHECK(propertyValue("2").convert<int>() == 2);
    CHECK(propertyValue("0.5").convert<double>() == 0.5);
    CHECK(propertyValue("true").extract<bool>());
    CHECK(propertyValue("\"true\"").extract<std::string>() == "true");
    CHECK(propertyValue("sleep 100").extract<std::string>() == "sleep 100");
    CHECK(propertyValue("100 abc").extract<std::string>() == "100 abc");
    CHECK(propertyValue("1,2").extract<std::string>() == "1,2");  // not one JSON value
    CHECK(propertyValue("").extract<std::string>().empty());
    CHECK(propertyValue("{\"A\": \"b\"}").extract<Object::Ptr>()->getValue<std::string>("A") == "b");
    CHECK(propertyValue("[1, 2]").extract<Array::Ptr>()->size() == 2);
    CHECK(propertyValue("null").isEmpty());
  }
  SECTION("the body, in the order given") {
    auto body = propertiesBody({"instances=2", "cmd=echo a=b", "env={\"X\":\"1\"}", "labels={}"});
    REQUIRE(body.ok());
    CHECK(*body == R"({"instances":2,"cmd":"echo a=b","env":{"X":"1"},"labels":{}})");
  }
  SECTION("what is refused") {
    auto none = propertiesBody({"instances"});
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().message == "expected PROP=VALUE, found \"instances\"");
    auto empty = propertiesBody({"=2"});
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().message == "no property before = in \"=2\"");
    auto twice = propertiesBody({"cpus=1", "cpus=2"});
    REQUIRE_FALSE(twice.ok());
    CHECK(twice.error().message == "property \"cpus\" given twice");
  }
}

TEST_CASE("Marathon's errors as lines: the message, then path: error per problem", "[cli]") {
  SECTION("a 422 with details") {
    auto lines = errorLines(422, R"({"message": "Object is not valid", "details": [
        {"path": "/cpus", "errors": ["must be at least 0"]},
        {"path": "/healthChecks(0)/portIndex", "errors": ["no port at that index", "and another"]}]})");
    CHECK(lines == std::vector<std::string>{"Object is not valid", "/cpus: must be at least 0",
                                            "/healthChecks(0)/portIndex: no port at that index",
                                            "/healthChecks(0)/portIndex: and another"});
  }
  SECTION("the older attribute/error shape") {
    CHECK(errorLines(422, R"({"message": "bad", "details": [{"attribute": "id", "error": "is empty"}]})") ==
          std::vector<std::string>{"bad", "id: is empty"});
  }
  SECTION("a message alone") {
    CHECK(errorLines(409, R"({"message": "An app with id [/a] already exists."})") ==
          std::vector<std::string>{"An app with id [/a] already exists."});
  }
  SECTION("no JSON, or JSON without a message") {
    CHECK(errorLines(502, "Bad Gateway\n<html>") == std::vector<std::string>{"HTTP 502: Bad Gateway"});
    CHECK(errorLines(500, "") == std::vector<std::string>{"HTTP 500"});
    CHECK(errorLines(404, "[1]") == std::vector<std::string>{"HTTP 404: [1]"});
  }
}

TEST_CASE("app list's table", "[cli]") {
  auto apps = array(R"([
    {"id": "/web", "cmd": "exec python3 -m http.server $PORT0", "cpus": 0.1, "mem": 32, "instances": 2,
     "tasksRunning": 1, "tasksHealthy": 1, "healthChecks": [{"protocol": "HTTP"}], "deployments": [{"id": "d1"}]},
    {"id": "/batch", "args": ["sleep", "100"], "cpus": 1, "mem": 128.5, "instances": 0, "tasksRunning": 0,
     "healthChecks": [], "deployments": []},
    {"id": "/multi", "cmd": "a\nb", "cpus": 0.25, "mem": 64, "instances": 1, "tasksRunning": 1,
     "deployments": [{"id": "d2"}, {"id": "d3"}]}])");
  auto deployments = array(R"([
    {"id": "d1", "currentActions": [{"action": "ScaleApplication", "app": "/web"}]},
    {"id": "d2", "currentActions": [{"action": "RestartApplication", "app": "/multi"}, {"action": "StartApplication", "app": "/other"}]},
    {"id": "d3", "currentActions": [{"action": "SomethingNew", "app": "/multi"}]}])");
  auto rows = appTable(apps, deployments);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0] == std::vector<std::string>{"ID", "MEM", "CPUS", "TASKS", "HEALTH", "DEPLOYMENT", "CMD"});
  CHECK(rows[1] == std::vector<std::string>{"/batch", "128.5", "1", "0/0", "---", "---", "sleep 100"});
  CHECK(rows[2] == std::vector<std::string>{"/multi", "64", "0.25", "1/1", "---", "(restart, SomethingNew)", "a b"});
  CHECK(rows[3] ==
        std::vector<std::string>{"/web", "32", "0.1", "1/2", "1/1", "scale", "exec python3 -m http.server $PORT0"});
  CHECK(formatTable(rows).substr(0, 40) == "ID      MEM    CPUS  TASKS  HEALTH  DEPL");
  CHECK(appTable(array("[]"), array("[]")).size() == 1);
}

TEST_CASE("task tables: marathon task list and dcos task", "[cli]") {
  auto tasks = array(R"([
    {"appId": "/web", "id": "web.2", "host": "10.0.0.2", "startedAt": null, "state": "TASK_STAGING",
     "slaveId": "a2", "healthCheckResults": []},
    {"appId": "/web", "id": "web.1", "host": "10.0.0.1", "startedAt": "2026-12-01T10:00:00.000Z",
     "state": "TASK_RUNNING", "slaveId": "a1", "healthCheckResults": [{"alive": true}, {"alive": false}]},
    {"appId": "/api", "id": "api.1", "host": "10.0.0.1", "startedAt": "2026-12-01T10:00:01.000Z",
     "state": "TASK_RUNNING", "slaveId": "a1", "healthCheckResults": [{"alive": true}]}])");
  auto rows = taskTable(tasks);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0] == std::vector<std::string>{"APP", "HEALTHY", "STARTED", "HOST", "ID"});
  CHECK(rows[1] == std::vector<std::string>{"/api", "True", "2026-12-01T10:00:01.000Z", "10.0.0.1", "api.1"});
  CHECK(rows[2] == std::vector<std::string>{"/web", "False", "2026-12-01T10:00:00.000Z", "10.0.0.1", "web.1"});
  CHECK(rows[3] == std::vector<std::string>{"/web", "True", "N/A", "10.0.0.2", "web.2"});

  auto all = clusterTaskTable(tasks, {{"web.1", "nobody"}, {"api.1", ""}});
  REQUIRE(all.size() == 4);
  CHECK(all[0] == std::vector<std::string>{"ID", "HOST", "USER", "STATE", "APP"});
  CHECK(all[1] == std::vector<std::string>{"api.1", "10.0.0.1", "---", "TASK_RUNNING", "/api"});
  CHECK(all[2] == std::vector<std::string>{"web.1", "10.0.0.1", "nobody", "TASK_RUNNING", "/web"});
  CHECK(all[3] == std::vector<std::string>{"web.2", "10.0.0.2", "---", "TASK_STAGING", "/web"});
}

TEST_CASE("deployment list's table, all or one app's", "[cli]") {
  auto deployments = array(R"([
    {"id": "d2", "affectedApps": ["/b", "/c"], "currentStep": 1, "totalSteps": 2,
     "currentActions": [{"action": "StartApplication", "app": "/b"}, {"action": "StartApplication", "app": "/c"}]},
    {"id": "d1", "affectedApps": ["/a"], "currentStep": 1, "totalSteps": 1,
     "currentActions": [{"action": "StopApplication", "app": "/a"}]}])");
  auto rows = deploymentTable(deployments, "");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == std::vector<std::string>{"APP", "ACTION", "PROGRESS", "ID"});
  CHECK(rows[1] == std::vector<std::string>{"/a", "stop", "1/1", "d1"});
  CHECK(rows[2] == std::vector<std::string>{"/b, /c", "start", "1/2", "d2"});
  auto one = deploymentTable(deployments, "/c");
  REQUIRE(one.size() == 2);
  CHECK(one[1].back() == "d2");
}

TEST_CASE("a task FILTER: part of the id or a glob", "[cli]") {
  CHECK(taskMatches("web.1234", ""));
  CHECK(taskMatches("web.1234", "web"));
  CHECK(taskMatches("web.1234", "123"));
  CHECK(taskMatches("web.1234", "w*4"));
  CHECK(taskMatches("web.1234", "web.12?4"));
  CHECK_FALSE(taskMatches("web.1234", "api"));
  CHECK_FALSE(taskMatches("web.1234", "w*5"));
}

TEST_CASE("the last lines of a log", "[cli]") {
  CHECK(lastLines("a\nb\nc\n", 2) == "b\nc\n");
  CHECK(lastLines("a\nb\nc", 2) == "b\nc");
  CHECK(lastLines("a\nb\nc\n", 3) == "a\nb\nc\n");
  CHECK(lastLines("a\nb\nc\n", 10) == "a\nb\nc\n");
  CHECK(lastLines("a\nb\nc\n", 0).empty());
  CHECK(lastLines("", 5).empty());
  CHECK(lastLines("\n\n\n", 2) == "\n\n");
  // A tail read from the middle of a file holds the last n lines once it
  // holds the newline before them.
  CHECK(holdsLastLines("rtial\nb\nc\n", 2));
  CHECK_FALSE(holdsLastLines("b\nc\n", 2));
  CHECK(holdsLastLines("", 0));
}

TEST_CASE("node list with the agents' resources from /mesos/master/slaves", "[cli]") {
  auto nodes = array(R"([
    {"hostname": "agent-public-1", "address": "10.0.0.129", "role": "agent-public", "zone": "public",
     "resource_role": "slave_public", "version": "0.1.0"},
    {"hostname": "master-1", "address": "10.0.0.11", "role": "master", "zone": "admin", "resource_role": "",
     "version": "0.1.0"},
    {"hostname": "agent-private-1", "address": "10.0.0.65", "role": "agent-private", "zone": "private",
     "resource_role": "*", "version": "0.1.0"}])");
  auto agents = parseSlaves(R"({"slaves": [
    {"id": "x-S65", "hostname": "agent-private-1", "pid": "slave(1)@10.0.0.65:61001", "active": true,
     "resources": {"cpus": 2, "mem": 1024, "disk": 9000, "ports": "[31000-32000]"},
     "used_resources": {"cpus": 0.5, "mem": 64, "disk": 0, "ports": "[31000-31000]"}, "attributes": {}},
    {"id": "x-S129", "hostname": "somewhere-else", "pid": "slave(1)@10.0.0.129:61001",
     "resources": {"cpus": 1, "mem": 512, "disk": 100}, "used_resources": {}}]})");
  REQUIRE(agents.ok());
  REQUIRE(agents->size() == 2);
  CHECK((*agents)[1].address == "10.0.0.129");
  auto rows = nodeTable(nodes, &*agents);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0] == std::vector<std::string>{"HOSTNAME", "ADDRESS", "ROLE", "ZONE", "RESOURCE-ROLE", "VERSION", "CPUS",
                                            "MEM", "DISK"});
  CHECK(rows[1] == std::vector<std::string>{"master-1", "10.0.0.11", "master", "admin", "", "0.1.0", "---", "---", "---"});
  CHECK(rows[2] == std::vector<std::string>{"agent-private-1", "10.0.0.65", "agent-private", "private", "*", "0.1.0",
                                            "0.5/2", "64/1024", "0/9000"});
  CHECK(rows[3].back() == "0/100");  // matched by the address in its pid
  // Without the agents: today's columns.
  auto plain = nodeTable(nodes, nullptr);
  CHECK(plain[0].size() == 6);
  CHECK(plain[1][0] == "master-1");

  CHECK_FALSE(parseSlaves("{\"agents\": []}").ok());
  CHECK_FALSE(parseSlaves("<html>").ok());
}

TEST_CASE("ids, paths, numbers and JSON as the commands use them", "[cli]") {
  CHECK(normalizeAppId("web") == "/web");
  CHECK(normalizeAppId("/a/b/") == "/a/b");
  CHECK(escapePath("/a/b.c_d-e") == "/a/b.c_d-e");
  CHECK(escapePath("x y?z&") == "x%20y%3Fz%26");
  CHECK(escapePath("2026-12-01T10:00:00.000Z") == "2026-12-01T10:00:00.000Z");
  CHECK(escapeQuery("a b&c=d/e") == "a%20b%26c%3Dd/e");
  CHECK(formatNumber(32) == "32");
  CHECK(formatNumber(0.1) == "0.1");
  CHECK(formatNumber(1.0 / 3) == "0.333");
  CHECK(formatNumber(23807) == "23807");
  auto v = parseJson(R"({"z": 1, "a": {"y": [true, null], "b": "/x"}})");
  REQUIRE(v.ok());
  CHECK(prettyJson(*v) == "{\n  \"z\": 1,\n  \"a\": {\n    \"y\": [\n      true,\n      null\n    ],\n    \"b\": \"/x\"\n  }\n}");
  CHECK(prettyJson(*parseJson("[]")) == "[]");
  CHECK(prettyJson(*parseJson(R"({"a": [], "b": {}, "c": "x\"y\n/"})")) ==
        "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": \"x\\\"y\\n/\"\n}");
  CHECK_FALSE(parseJson("{\"a\":").ok());
}

TEST_CASE("the command line: a negative number is an argument, not an option", "[cli]") {
  std::vector<std::string> words{"dcos", "marathon", "app", "show", "/web", "-1", "--url=http://m", "--force"};
  std::vector<char *> argv;
  for (auto &w : words) argv.push_back(w.data());
  auto a = parseArgs(static_cast<int>(argv.size()), argv.data(), 4, {"url"}, {"force", "help"});
  CHECK(a.error.empty());
  CHECK(a.positional == std::vector<std::string>{"/web", "-1"});
  CHECK(option(a, "url", "") == "http://m");
  CHECK(has(a, "force"));
  auto bad = parseArgs(static_cast<int>(argv.size()), argv.data(), 4, {"url"}, {"forse", "help"});
  CHECK(bad.error == "unknown option --force (did you mean --forse?)");
}
