// The dcos CLI's DC/OS-compatible commands (`dcos marathon app|task|
// deployment`, `dcos task`, `dcos task log`, `dcos node list`) driven as an
// operator runs them, against a local cluster of their own (name cli,
// 172.31.245.0/24, its own state dir), brought up with the CLI and taken
// down at the end. Needs root (label netns); the usage and help case does not.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "tests/support/netns.h"
#include "tests/support/process.h"

namespace {

using namespace dcos::test;
using namespace std::chrono_literals;
using Poco::JSON::Array;
using Poco::JSON::Object;
namespace fs = std::filesystem;

const std::string kDcos = std::string(DCOS_TEST_BUILD_DIR) + "/cli/dcos";
const std::string kName = "cli";
const std::string kNetwork = "172.31.245.0/24";
const std::string kMaster = "172.31.245.11";
const std::string kUrl = "http://" + kMaster;

CommandResult runDcos(std::vector<std::string> args, std::chrono::milliseconds timeout = 30s) {
  args.insert(args.begin(), kDcos);
  return runCommand(args, timeout);
}

// A marathon or task command against the test's cluster.
CommandResult cli(std::vector<std::string> args, std::chrono::milliseconds timeout = 30s) {
  args.insert(args.end(), {"--url", kUrl});
  return runDcos(args, timeout);
}

// `text` piped into the command's stdin.
CommandResult cliWithStdin(const std::string &text, const std::vector<std::string> &args) {
  std::string line = "printf '%s' \"$0\" | '" + kDcos + "'";
  for (const auto &a : args) line += " '" + a + "'";
  line += " --url " + kUrl;
  return runCommand({"/bin/sh", "-c", line, text}, 30s);
}

Array::Ptr jsonArray(const std::string &text) {
  try {
    return Poco::JSON::Parser().parse(text).extract<Array::Ptr>();
  } catch (...) {
    return nullptr;
  }
}

// The app's tasks, as `dcos marathon task list APP --json` prints them.
Array::Ptr tasksOf(const std::string &app) {
  auto r = cli({"marathon", "task", "list", app, "--json"});
  return r.status == 0 ? jsonArray(r.out) : nullptr;
}

std::vector<std::string> runningIds(const std::string &app) {
  std::vector<std::string> ids;
  auto tasks = tasksOf(app);
  for (size_t i = 0; tasks && i < tasks->size(); ++i) {
    auto t = tasks->getObject(static_cast<unsigned>(i));
    if (t->getValue<std::string>("state") == "TASK_RUNNING") ids.push_back(t->getValue<std::string>("id"));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

size_t deploymentsOf(const std::string &app) {
  auto r = cli({"marathon", "deployment", "list", app, "--json"});
  auto a = r.status == 0 ? jsonArray(r.out) : nullptr;
  return a ? a->size() : 99;
}

Object::Ptr taskRecord(const std::string &app, const std::string &id) {
  auto tasks = tasksOf(app);
  for (size_t i = 0; tasks && i < tasks->size(); ++i) {
    auto t = tasks->getObject(static_cast<unsigned>(i));
    if (t->getValue<std::string>("id") == id) return t;
  }
  return nullptr;
}

// GET on the master's admin port, as the CLI's own requests go: the status.
int httpStatus(const std::string &path) {
  auto r = runCommand({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", kUrl + path}, 10s);
  return std::atoi(r.out.c_str());
}

struct Cluster {
  TempDir state{"dcos-cli-test"};
  ~Cluster() {
    if (fs::exists(state.path() + "/" + kName) || fs::exists("/run/netns/dcos-" + kName + "-net")) {
      try {
        runDcos({"cluster", "down", "--name", kName, "--state-dir", state.path()}, 60s);
      } catch (...) {
      }
    }
  }
};

}  // namespace

TEST_CASE("dcos marathon and dcos task against a local cluster", "[cluster]") {
  skipUnlessRoot();
  Cluster c;
  auto up = runDcos({"cluster", "up", "--name", kName, "--state-dir", c.state.path(), "--network", kNetwork}, 200s);
  INFO(up.out << up.err);
  REQUIRE(up.status == 0);

  // Which cluster: the local one by --name and --state-dir, as node list finds it.
  auto none = runDcos({"marathon", "app", "list", "--name", kName, "--state-dir", c.state.path()});
  INFO(none.out << none.err);
  REQUIRE(none.status == 0);
  CHECK_THAT(none.out, Catch::StartsWith("ID  MEM  CPUS  TASKS  HEALTH  DEPLOYMENT  CMD"));

  // app add from a file and from stdin.
  TempDir files("dcos-cli-test-files");
  writeFile(files / "web.json", R"({"id": "/cli/web", "cmd": "echo hello from $MESOS_TASK_ID; exec python3 -m http.server $PORT0",
      "instances": 1, "cpus": 0.1, "mem": 32})");
  auto added = cli({"marathon", "app", "add", files / "web.json"});
  INFO(added.out << added.err);
  REQUIRE(added.status == 0);
  CHECK_THAT(added.out, Catch::StartsWith("Created deployment "));
  auto piped = cliWithStdin(R"({"id": "/cli/ticker", "cmd": "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done",
      "cpus": 0.1, "mem": 16})", {"marathon", "app", "add"});
  INFO(piped.out << piped.err);
  REQUIRE(piped.status == 0);
  CHECK_THAT(piped.out, Catch::StartsWith("Created deployment "));

  // list and show.
  auto list = cli({"marathon", "app", "list"});
  INFO(list.out << list.err);
  REQUIRE(list.status == 0);
  CHECK_THAT(list.out, Catch::Contains("/cli/web") && Catch::Contains("/cli/ticker") &&
                           Catch::Contains("exec python3 -m http.server $PORT0"));
  auto listed = jsonArray(cli({"marathon", "app", "list", "--json"}).out);
  REQUIRE(listed);
  CHECK(listed->size() == 2);
  auto show = cli({"marathon", "app", "show", "cli/web"});
  REQUIRE(show.status == 0);
  auto app = Poco::JSON::Parser().parse(show.out).extract<Object::Ptr>();
  CHECK(app->getValue<std::string>("id") == "/cli/web");
  auto version = app->getValue<std::string>("version");
  auto atVersion = cli({"marathon", "app", "show", "/cli/web", version});
  INFO(atVersion.err);
  REQUIRE(atVersion.status == 0);
  CHECK(Poco::JSON::Parser().parse(atVersion.out).extract<Object::Ptr>()->getValue<std::string>("version") == version);
  auto before = cli({"marathon", "app", "show", "/cli/web", "-1"});
  CHECK(before.status == 1);
  CHECK_THAT(before.err, Catch::Contains("app /cli/web has 1 version: there is no version -1"));

  // update instances=2: two running, within a deadline.
  REQUIRE(waitUntil([] { return runningIds("/cli/web").size() == 1 && deploymentsOf("/cli/web") == 0; }, 60s, 200ms));
  auto scaled = cli({"marathon", "app", "update", "/cli/web", "instances=2"});
  INFO(scaled.out << scaled.err);
  REQUIRE(scaled.status == 0);
  CHECK_THAT(scaled.out, Catch::StartsWith("Created deployment "));
  std::vector<std::string> web;
  REQUIRE(waitUntil([&] { return (web = runningIds("/cli/web")).size() == 2; }, 60s, 200ms));
  CHECK(Poco::JSON::Parser().parse(cli({"marathon", "app", "show", "/cli/web"}).out).extract<Object::Ptr>()
            ->getValue<int>("instances") == 2);
  // The version before, where the scheduler keeps it.
  auto previous = cli({"marathon", "app", "show", "/cli/web", "-1"});
  INFO(previous.out << previous.err);
  if (previous.status == 1 && previous.err.find("has 1 version") != std::string::npos) {
    WARN("the scheduler keeps no earlier versions: " << previous.err);
  } else {
    REQUIRE(previous.status == 0);
    auto earlier = Poco::JSON::Parser().parse(previous.out).extract<Object::Ptr>();
    CHECK(earlier->getValue<int>("instances") == 1);
    CHECK(earlier->getValue<std::string>("version") == version);
  }

  // task list, task show, dcos task.
  auto tasks = cli({"marathon", "task", "list"});
  INFO(tasks.out << tasks.err);
  REQUIRE(tasks.status == 0);
  CHECK_THAT(tasks.out, Catch::StartsWith("APP") && Catch::Contains("HEALTHY  STARTED") && Catch::Contains(web[0]) &&
                            Catch::Contains(web[1]) && Catch::Contains("172.31.245.65"));
  auto shown = cli({"marathon", "task", "show", web[0]});
  REQUIRE(shown.status == 0);
  CHECK(Poco::JSON::Parser().parse(shown.out).extract<Object::Ptr>()->getValue<std::string>("appId") == "/cli/web");
  CHECK(cli({"marathon", "task", "show", "cli_web.nosuch"}).status == 1);
  auto all = cli({"task", "cli_web"});
  INFO(all.out << all.err);
  REQUIRE(all.status == 0);
  CHECK_THAT(all.out, Catch::StartsWith("ID") && Catch::Contains("HOST") && Catch::Contains("USER") &&
                          Catch::Contains("TASK_RUNNING") && Catch::Contains(web[0]) && Catch::Contains(web[1]));
  CHECK_THAT(all.out, !Catch::Contains("cli_ticker"));
  auto globbed = jsonArray(cli({"task", "cli_*", "--json"}).out);
  REQUIRE(globbed);
  CHECK(globbed->size() == 3);

  // task log: the task's stdout, through the master's /agent/ route.
  auto record = taskRecord("/cli/web", web[0]);
  REQUIRE(record);
  const std::string proxy = "/agent/" + record->getValue<std::string>("slaveId") + "/agent/v1/tasks/" + web[0] +
                            "/files/read?path=stdout&offset=-1";
  int proxied = httpStatus(proxy);
  if (proxied == 404) {
    WARN("the master answers 404 to GET " << proxy << ": task log not checked");
  } else {
    // The user as the agent runs the task (its default, nobody).
    CHECK_THAT(cli({"task", web[0]}).out, Catch::Contains("  nobody  TASK_RUNNING  /cli/web"));
    auto log = cli({"task", "log", web[0]});
    INFO(log.out << log.err);
    REQUIRE(log.status == 0);
    CHECK(log.out == "hello from " + web[0] + "\n");
    // More than one task: each part under its header.
    auto both = cli({"task", "log", "cli_web", "stdout", "--lines", "1"});
    INFO(both.out << both.err);
    REQUIRE(both.status == 0);
    CHECK_THAT(both.out, Catch::Contains("==> " + web[0] + " stdout <==\nhello from " + web[0]) &&
                             Catch::Contains("==> " + web[1] + " stdout <==\nhello from " + web[1]));
    // The last lines of a growing log, then --follow prints what comes after.
    std::vector<std::string> ticker;
    REQUIRE(waitUntil([&] { return (ticker = runningIds("/cli/ticker")).size() == 1; }, 60s, 200ms));
    std::string last;
    REQUIRE(waitUntil([&] {
      auto r = cli({"task", "log", ticker[0], "--lines", "2"});
      last = r.out;
      return r.status == 0 && std::count(last.begin(), last.end(), '\n') == 2;
    }, 20s, 200ms));
    INFO(last);
    int seen = 0;
    REQUIRE(std::sscanf(last.substr(last.find('\n') + 1).c_str(), "tick %d", &seen) == 1);
    Child follow({kDcos, "task", "log", "--follow", "--lines", "0", ticker[0], "--url", kUrl}, {}, files / "follow.log");
    auto later = "tick " + std::to_string(seen + 10) + "\n";
    CHECK(waitUntil([&] { return follow.log().find(later) != std::string::npos; }, 20s, 100ms));
    INFO(follow.log());
    CHECK(follow.log().find("tick " + std::to_string(seen) + "\n") == std::string::npos);
  }

  // restart: every task replaced.
  REQUIRE(waitUntil([] { return deploymentsOf("/cli/web") == 0; }, 60s, 200ms));
  auto restarted = cli({"marathon", "app", "restart", "/cli/web"});
  INFO(restarted.out << restarted.err);
  REQUIRE(restarted.status == 0);
  CHECK_THAT(restarted.out, Catch::StartsWith("Created deployment "));
  CHECK(waitUntil([&] {
    auto now = runningIds("/cli/web");
    return now.size() == 2 && std::none_of(now.begin(), now.end(), [&](const std::string &id) {
             return std::find(web.begin(), web.end(), id) != web.end();
           }) && deploymentsOf("/cli/web") == 0;
  }, 90s, 200ms));

  // deployment commands on a deployment that is not there.
  auto deployments = jsonArray(cli({"marathon", "deployment", "list", "--json"}).out);
  REQUIRE(deployments);
  auto watched = cli({"marathon", "deployment", "watch", "nosuch"});
  CHECK(watched.status == 1);
  CHECK_THAT(watched.err, Catch::Contains("no deployment nosuch is under way"));
  CHECK(cli({"marathon", "deployment", "rollback", "nosuch"}).status == 1);
  CHECK(cli({"marathon", "deployment", "stop", "nosuch"}).status == 1);

  // A deployment that cannot finish (no agent has 64 cpus): listed, watched,
  // rolled back (its app, new, is gone again); another stopped where it is
  // (its app stays, waiting).
  auto deploymentOf = [](const std::string &appId) -> std::string {
    auto r = cli({"marathon", "deployment", "list", appId, "--json"});
    auto a = r.status == 0 ? jsonArray(r.out) : nullptr;
    return a && a->size() == 1 ? a->getObject(0)->getValue<std::string>("id") : "";
  };
  writeFile(files / "huge.json", R"({"id": "/cli/huge", "cmd": "sleep 1000", "cpus": 64, "mem": 16})");
  REQUIRE(cli({"marathon", "app", "add", files / "huge.json"}).status == 0);
  std::string stuck = deploymentOf("/cli/huge");
  REQUIRE_FALSE(stuck.empty());
  auto table = cli({"marathon", "deployment", "list", "/cli/huge"});
  CHECK_THAT(table.out, Catch::StartsWith("APP        ACTION  PROGRESS  ID\n/cli/huge  start   1/1       " + stuck));
  auto watching = cli({"marathon", "deployment", "watch", stuck, "--max-count", "2", "--interval", "0"});
  INFO(watching.out << watching.err);
  CHECK(watching.status == 0);
  size_t prints = 0;
  for (size_t at = watching.out.find("\"id\": \"" + stuck); at != std::string::npos;
       at = watching.out.find("\"id\": \"" + stuck, at + 1)) {
    ++prints;
  }
  CHECK(prints == 2);
  auto rolledBack = cli({"marathon", "deployment", "rollback", stuck});
  INFO(rolledBack.out << rolledBack.err);
  if (rolledBack.status == 1 && rolledBack.err.find("no such path") != std::string::npos) {
    WARN("the scheduler does not serve DELETE /v2/deployments/ID: " << rolledBack.err);
    CHECK(cli({"marathon", "app", "remove", "/cli/huge", "--force"}).status == 0);
  } else {
    REQUIRE(rolledBack.status == 0);
    CHECK_THAT(rolledBack.out, Catch::Contains("\"deploymentId\": "));
    CHECK(waitUntil([] { return cli({"marathon", "app", "show", "/cli/huge"}).status == 1; }, 30s, 200ms));
    REQUIRE(cli({"marathon", "app", "add", files / "huge.json"}).status == 0);
    stuck = deploymentOf("/cli/huge");
    REQUIRE_FALSE(stuck.empty());
    auto stoppedDeployment = cli({"marathon", "deployment", "stop", stuck});
    INFO(stoppedDeployment.out << stoppedDeployment.err);
    CHECK(stoppedDeployment.status == 0);
    CHECK(stoppedDeployment.out.empty());
    CHECK(waitUntil([&] { return deploymentOf("/cli/huge").empty(); }, 30s, 200ms));
    CHECK(cli({"marathon", "app", "show", "/cli/huge"}).status == 0);
    CHECK(cli({"marathon", "app", "remove", "/cli/huge"}).status == 0);
  }

  // kill: every task at once.
  auto killed = cli({"marathon", "app", "kill", "/cli/web"});
  INFO(killed.out << killed.err);
  if (killed.status != 0 && killed.err.find("not allowed") != std::string::npos) {
    WARN("the scheduler does not serve DELETE /v2/apps/ID/tasks: " << killed.err);
  } else {
    CHECK(killed.status == 0);
    CHECK_THAT(killed.out, Catch::StartsWith("Killed tasks: "));
  }

  // stop and start.
  REQUIRE(waitUntil([] { return deploymentsOf("/cli/web") == 0; }, 60s, 200ms));
  auto stopped = cli({"marathon", "app", "stop", "/cli/web"});
  INFO(stopped.out << stopped.err);
  REQUIRE(stopped.status == 0);
  CHECK_THAT(stopped.out, Catch::StartsWith("Created deployment "));
  CHECK(waitUntil([] { auto t = tasksOf("/cli/web"); return t && t->size() == 0; }, 60s, 200ms));
  auto again = cli({"marathon", "app", "stop", "/cli/web"});
  CHECK(again.status == 1);
  CHECK_THAT(again.err, Catch::Contains("app /cli/web is already stopped"));
  REQUIRE(waitUntil([] { return deploymentsOf("/cli/web") == 0; }, 60s, 200ms));
  auto started = cli({"marathon", "app", "start", "/cli/web"});
  INFO(started.out << started.err);
  REQUIRE(started.status == 0);
  CHECK(waitUntil([] { return runningIds("/cli/web").size() == 1; }, 60s, 200ms));
  CHECK_THAT(cli({"marathon", "app", "start", "/cli/web"}).err, Catch::Contains("is already started: 1 instance"));

  // Refusals: Marathon's message; a 422 names each problem as path: error.
  auto invalid = cliWithStdin(R"({"id": "/cli/bad", "cpus": -1, "mem": -5, "cmd": "true"})", {"marathon", "app", "add"});
  INFO(invalid.out << invalid.err);
  CHECK(invalid.status == 1);
  CHECK_THAT(invalid.err, Catch::StartsWith("dcos: Object is not valid\n") && Catch::Contains("\n/cpus: ") &&
                              Catch::Contains("\n/mem: "));
  auto duplicate = cli({"marathon", "app", "add", files / "web.json"});
  CHECK(duplicate.status == 1);
  CHECK_THAT(duplicate.err, Catch::Contains("already exists"));
  auto missing = cli({"marathon", "app", "update", "/cli/nosuch", "instances=1"});
  CHECK(missing.status == 1);
  CHECK_THAT(missing.err, Catch::Contains("does not exist"));
  auto notJson = cliWithStdin("{\"id\": ", {"marathon", "app", "add"});
  CHECK(notJson.status == 1);
  CHECK_THAT(notJson.err, Catch::Contains("stdin: not JSON"));

  // node list: the agents' resources where the masters serve them.
  auto nodes = runDcos({"node", "list", "--name", kName, "--state-dir", c.state.path()});
  INFO(nodes.out << nodes.err);
  REQUIRE(nodes.status == 0);
  if (httpStatus("/mesos/master/slaves") == 200) {
    CHECK_THAT(nodes.out, Catch::Contains("CPUS") && Catch::Contains("MEM") && Catch::Contains("DISK"));
  } else {
    WARN("the master does not serve /mesos/master/slaves: node list without resources");
    CHECK_THAT(nodes.out, !Catch::Contains("CPUS"));
  }

  // remove: the apps and their tasks gone.
  // Without --force, a remove waits out a deployment still under way (its
  // kills wait for the routers' drain): tried until it is taken.
  CHECK(waitUntil([] { return cli({"marathon", "app", "remove", "/cli/web"}).status == 0; }, 30s, 200ms));
  CHECK(cli({"marathon", "app", "remove", "/cli/ticker", "--force"}).status == 0);
  CHECK(waitUntil([] {
    auto apps = jsonArray(cli({"marathon", "app", "list", "--json"}).out);
    auto t = jsonArray(cli({"task", "--json"}).out);
    return apps && apps->size() == 0 && t && t->size() == 0;
  }, 60s, 200ms));
  auto removed = cli({"marathon", "app", "remove", "/cli/web"});
  CHECK(removed.status == 1);
  CHECK_THAT(removed.err, Catch::Contains("App '/cli/web' does not exist"));

  auto down = runDcos({"cluster", "down", "--name", kName, "--state-dir", c.state.path()}, 60s);
  INFO(down.out << down.err);
  CHECK(down.status == 0);
}

TEST_CASE("dcos marathon and dcos task: help, usage errors and exit codes", "[cli]") {
  for (auto help : std::vector<std::vector<std::string>>{
           {"marathon", "--help"}, {"marathon", "app", "--help"}, {"marathon", "app", "add", "--help"},
           {"marathon", "app", "list", "--help"}, {"marathon", "app", "show", "--help"},
           {"marathon", "app", "update", "--help"}, {"marathon", "app", "remove", "--help"},
           {"marathon", "app", "restart", "--help"}, {"marathon", "app", "kill", "--help"},
           {"marathon", "app", "start", "--help"}, {"marathon", "app", "stop", "--help"},
           {"marathon", "task", "--help"}, {"marathon", "task", "list", "--help"},
           {"marathon", "task", "show", "--help"}, {"marathon", "deployment", "--help"},
           {"marathon", "deployment", "list", "--help"}, {"marathon", "deployment", "watch", "--help"},
           {"marathon", "deployment", "rollback", "--help"}, {"marathon", "deployment", "stop", "--help"},
           {"task", "--help"}, {"task", "log", "--help"}, {"node", "list", "--help"}}) {
    auto h = runDcos(help);
    INFO(help[0] << " " << help[1]);
    CHECK(h.status == 0);
    CHECK_THAT(h.out, Catch::StartsWith("Usage: dcos"));
  }
  auto r = runDcos({"marathon", "app", "lst"});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("marathon app: unknown subcommand \"lst\" (did you mean \"list\"?)"));
  r = runDcos({"marathon", "app", "show"});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("missing the app's ID"));
  r = runDcos({"marathon", "app", "update", "/a", "instances", "--url", "http://127.0.0.1:1"});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("expected PROP=VALUE, found \"instances\""));
  r = runDcos({"marathon", "app", "start", "/a", "two", "--url", "http://127.0.0.1:1"});
  CHECK(r.status == 2);
  r = runDcos({"task", "log", "x", "--lines", "-3", "--url", "http://127.0.0.1:1"});
  CHECK(r.status == 2);
  r = runDcos({"marathon", "app", "list", "--url", "http://127.0.0.1:1"});
  CHECK(r.status == 3);
  CHECK_THAT(r.err, Catch::Contains("cannot reach the cluster at http://127.0.0.1:1"));
  r = runDcos({"task", "--url", "http://127.0.0.1:1"});
  CHECK(r.status == 3);
  r = runDcos({"marathon", "app", "add", "/nonexistent/app.json", "--url", "http://127.0.0.1:1"});
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("/nonexistent/app.json: No such file or directory"));
  r = runDcos({"marathon", "app", "list", "--name", "nosuch", "--state-dir", "/nonexistent"});
  CHECK(r.status == 3);
  CHECK_THAT(r.err, Catch::Contains("no cluster to talk to"));
}
