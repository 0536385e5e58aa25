// The agent core with the real supervisor and real processes.
#include "plugins/modules/agent/agent.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "tests/support/process.h"

using namespace dcos::agent;
using namespace std::chrono_literals;

namespace {

const std::string kSupervisor = std::string(DCOS_TEST_BUILD_DIR) + "/plugins/dcos-task-supervisor";

AgentConfig config(const std::string &dir) {
  AgentConfig c;
  // One id per test process: the agent's cgroup subtree is named by it, and
  // an agent that starts removes the empty cgroups there it does not know
  // (those of another test's agent, run at the same time).
  c.id = "test-agent-" + std::to_string(::getpid()) + "-S1";
  c.address = "127.0.0.1";
  c.hostname = "localhost";
  c.zone = "private";
  c.resourceRole = "*";
  c.total = {2, 1024, 10000, {{31000, 31010}}};
  c.stateDir = dir;
  c.supervisor = kSupervisor;
  c.allowRoot = ::geteuid() == 0 ? false : true;
  c.defaultUser = ::geteuid() == 0 ? "nobody" : std::string(::getenv("USER") ? ::getenv("USER") : "nobody");
  return c;
}

Poco::JSON::Object::Ptr task(Agent &a, const std::string &id) {
  auto r = a.handle("GET", "/agent/v1/tasks/" + id, "", "");
  if (r.status != 200) return nullptr;
  return Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
}

std::string state(Agent &a, const std::string &id) {
  auto t = task(a, id);
  return t ? t->getValue<std::string>("state") : "";
}

bool waitState(Agent &a, const std::string &id, const std::string &want, std::chrono::milliseconds within = 10s) {
  return dcos::test::waitUntil([&] { return state(a, id) == want; }, within, 5ms);
}

std::string readFile(Agent &a, const std::string &id, const std::string &file) {
  auto r = a.handle("GET", "/agent/v1/tasks/" + id + "/files/read", "path=" + file, "");
  if (r.status != 200) return "";
  return Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("data");
}

bool pidAlive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

}  // namespace

TEST_CASE("agent: a task runs with Marathon's environment, its output is read back, it finishes", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  Agent &a = **agent;
  auto r = a.launch(R"({"id": "env.1", "cmd": "echo port=$PORT0 host=$HOST id=$MESOS_TASK_ID app=$MARATHON_APP_ID; id -un; echo oops >&2",
                       "ports": [31001], "appId": "/prod/env", "cpus": 0.1, "mem": 32})");
  REQUIRE(r.status == 201);
  REQUIRE(waitState(a, "env.1", "TASK_FINISHED"));
  std::string out = readFile(a, "env.1", "stdout");
  CHECK_THAT(out, Catch::Contains("port=31001 host=127.0.0.1 id=env.1 app=/prod/env"));
  if (::geteuid() == 0) CHECK_THAT(out, Catch::Contains("nobody"));
  CHECK(readFile(a, "env.1", "stderr") == "oops\n");
  // Offsets and lengths, as a tail reads them; -1 asks for the size.
  auto part = a.handle("GET", "/agent/v1/tasks/env.1/files/read", "path=stderr&offset=1&length=2", "");
  CHECK_THAT(part.body, Catch::Contains("\"data\":\"op\""));
  auto size = a.handle("GET", "/agent/v1/tasks/env.1/files/read", "path=stderr&offset=-1", "");
  CHECK_THAT(size.body, Catch::Contains("\"offset\":5"));
  CHECK(a.handle("GET", "/agent/v1/tasks/env.1/files/read", "path=../meta/launch", "").status == 400);
  // The updates, in order, each checkpointed.
  auto pending = a.updates().pending();
  std::vector<std::string> states;
  for (const auto &u : pending) states.push_back(stateName(u.state));
  CHECK(states == std::vector<std::string>{"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"});
  // Resources are free again.
  CHECK_THAT(a.infoJson(), Catch::Contains("\"used_resources\":{\"cpus\":0,"));
}

TEST_CASE("agent: exit codes and signals are reported as Mesos does", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  Agent &a = **agent;
  REQUIRE(a.launch(R"({"id": "fail.1", "cmd": "exit 3"})").status == 201);
  REQUIRE(waitState(a, "fail.1", "TASK_FAILED"));
  CHECK(task(a, "fail.1")->getValue<std::string>("message") == "exited with status 3");
  CHECK(task(a, "fail.1")->getValue<int>("exit_code") == 3);
  REQUIRE(a.launch(R"({"id": "nocmd.1", "args": ["/nonexistent/program"]})").status == 201);
  REQUIRE(waitState(a, "nocmd.1", "TASK_FAILED"));
  CHECK_THAT(task(a, "nocmd.1")->getValue<std::string>("message"), Catch::Contains("cannot start the task: exec /nonexistent/program"));
  // A reason longer than a pipe holds: the supervisor reads it only once
  // the task exec'd or ended, so it is cut, never left blocking the task.
  const std::string longName = "/" + std::string(70000, 'x');
  REQUIRE(a.launch(R"({"id": "longcmd.1", "args": [")" + longName + R"("]})").status == 201);
  REQUIRE(waitState(a, "longcmd.1", "TASK_FAILED"));
  CHECK_THAT(task(a, "longcmd.1")->getValue<std::string>("message"), Catch::Contains("cannot start the task: exec /xxx"));
}

TEST_CASE("agent: spare supervisors that die are replaced, and launches still run", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  Agent &a = **agent;
  // The spares: this process's children waiting for a task (not yet in a
  // session of their own, as a supervisor with a task is).
  auto spares = [] {
    std::vector<pid_t> out;
    for (const auto &e : std::filesystem::directory_iterator("/proc")) {
      const std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream cmd(e.path() / "cmdline");
      std::string line((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
      std::ifstream stat(e.path() / "stat");
      std::string st((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
      size_t close = st.rfind(')');
      if (close == std::string::npos || line.find(std::string("--wait\0", 7)) == std::string::npos) continue;
      std::istringstream rest(st.substr(close + 2));
      std::string state;
      pid_t ppid = 0, group = 0, session = 0;
      rest >> state >> ppid >> group >> session;
      if (ppid == ::getpid() && state != "Z" && session != std::stoi(name)) out.push_back(std::stoi(name));
    }
    return out;
  };
  REQUIRE(dcos::test::waitUntil([&] { return spares().size() == 2; }, 10s));
  const std::vector<pid_t> killed = spares();
  for (pid_t p : killed) ::kill(p, SIGKILL);
  // Dead (a zombie or reaped) before the launch: one killed while it is
  // handed a task would fail that task, as any supervisor killed would.
  auto dead = [](pid_t p) {
    std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
    std::string st((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    size_t close = st.rfind(')');
    return close == std::string::npos || st.compare(close + 2, 1, "Z") == 0;
  };
  REQUIRE(dcos::test::waitUntil([&] { return std::all_of(killed.begin(), killed.end(), dead); }, 10s));
  // Reaped and replaced by the monitor (woken by a launch, or within 1 s).
  REQUIRE(a.launch(R"({"id": "afterkill.1", "cmd": "sleep 100"})").status == 201);
  REQUIRE(waitState(a, "afterkill.1", "TASK_RUNNING"));
  REQUIRE(dcos::test::waitUntil([&] { return task(a, "afterkill.1")->has("pid"); }, 10s));
  CHECK(dcos::test::waitUntil([&] { return spares().size() == 2; }, 10s));
  REQUIRE(a.launch(R"({"id": "afterkill.2", "cmd": "sleep 100"})").status == 201);
  REQUIRE(dcos::test::waitUntil([&] { return task(a, "afterkill.2")->has("pid"); }, 10s));
  a.kill("afterkill.1");
  a.kill("afterkill.2");
  CHECK(waitState(a, "afterkill.1", "TASK_KILLED"));
  CHECK(waitState(a, "afterkill.2", "TASK_KILLED"));
}

TEST_CASE("agent: a kill sends SIGTERM, then SIGKILL to the whole tree after the grace period", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  Agent &a = **agent;
  SECTION("a task that traps SIGTERM ends at once") {
    REQUIRE(a.launch(R"({"id": "polite.1", "cmd": "trap 'echo bye; exit 0' TERM; touch trapped; while true; do sleep 0.1; done",
                         "killGracePeriodSeconds": 30})").status == 201);
    REQUIRE(waitState(a, "polite.1", "TASK_RUNNING"));
    // Once its trap is set.
    REQUIRE(dcos::test::waitUntil(
        [&] { return a.handle("GET", "/agent/v1/tasks/polite.1/files/read", "path=trapped", "").status == 200; }, 5s));
    auto t0 = std::chrono::steady_clock::now();
    CHECK(a.kill("polite.1").status == 202);
    REQUIRE(waitState(a, "polite.1", "TASK_KILLED"));
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    CHECK_THAT(readFile(a, "polite.1", "stdout"), Catch::Contains("bye"));
  }
  SECTION("a task that ignores SIGTERM, and its children, are killed after the grace period") {
    REQUIRE(a.launch(R"({"id": "stubborn.1", "cmd": "trap '' TERM; sleep 1000 & echo $! > child; wait",
                         "killGracePeriodSeconds": 1})").status == 201);
    REQUIRE(waitState(a, "stubborn.1", "TASK_RUNNING"));
    REQUIRE(dcos::test::waitUntil([&] { return !readFile(a, "stubborn.1", "child").empty(); }, 5s, 5ms));
    int child = std::stoi(readFile(a, "stubborn.1", "child"));
    CHECK(pidAlive(child));
    CHECK(a.kill("stubborn.1").status == 202);
    CHECK(state(a, "stubborn.1") == "TASK_KILLING");
    REQUIRE(waitState(a, "stubborn.1", "TASK_KILLED", 10s));
    CHECK_THAT(task(a, "stubborn.1")->getValue<std::string>("message"), Catch::Contains("SIGKILL"));
    CHECK(dcos::test::waitUntil([&] { return !pidAlive(child); }, 5s, 10ms));
  }
}

TEST_CASE("agent: bad launch requests are refused with the field named, and nothing runs", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  Agent &a = **agent;
  CHECK(a.launch("{not json").status == 400);
  auto noCmd = a.launch(R"({"id": "x.1"})");
  CHECK(noCmd.status == 422);
  CHECK_THAT(noCmd.body, Catch::Contains("\"path\":\"/cmd\""));
  auto big = a.launch(R"({"id": "x.2", "cmd": "true", "mem": 999999})");
  CHECK(big.status == 422);
  CHECK_THAT(big.body, Catch::Contains("\"path\":\"/mem\""));
  auto port = a.launch(R"({"id": "x.3", "cmd": "true", "ports": [80]})");
  CHECK(port.status == 422);
  CHECK_THAT(port.body, Catch::Contains("outside this agent's ranges [31000-31010]"));
  auto user = a.launch(R"({"id": "x.4", "cmd": "true", "user": "no-such-user-here"})");
  CHECK(user.status == 422);
  CHECK_THAT(user.body, Catch::Contains("no such user on this agent"));
  if (::geteuid() == 0) {
    auto root = a.launch(R"({"id": "x.5", "cmd": "true", "user": "root"})");
    CHECK(root.status == 422);
    CHECK_THAT(root.body, Catch::Contains("may not run as root"));
  }
  REQUIRE(a.launch(R"({"id": "x.6", "cmd": "sleep 100", "ports": [31005], "mem": 600})").status == 201);
  CHECK(a.launch(R"({"id": "x.6", "cmd": "true"})").status == 409);
  auto taken = a.launch(R"({"id": "x.7", "cmd": "true", "ports": [31005]})");
  CHECK(taken.status == 409);
  CHECK_THAT(taken.body, Catch::Contains("port 31005 is in use"));
  auto full = a.launch(R"({"id": "x.8", "cmd": "true", "mem": 600})");
  CHECK(full.status == 409);
  CHECK_THAT(full.body, Catch::Contains("not enough free mem"));
  CHECK(a.handle("GET", "/agent/v1/tasks/x.7", "", "").status == 404);
  a.kill("x.6");
  REQUIRE(waitState(a, "x.6", "TASK_KILLED"));
}

TEST_CASE("agent: tasks outlive the agent and are re-adopted; one that ended meanwhile is reported as it ended", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  std::vector<int> pids;
  {
    auto agent = Agent::open(config(dir.path()));
    REQUIRE(agent.ok());
    Agent &a = **agent;
    for (int i = 0; i < 5; ++i) {
      REQUIRE(a.launch(R"({"id": "long.)" + std::to_string(i) + R"(", "cmd": "sleep 1000"})").status == 201);
    }
    REQUIRE(a.launch(R"({"id": "short.1", "cmd": "while [ ! -e go ]; do sleep 0.05; done; exit 7"})").status == 201);
    for (int i = 0; i < 5; ++i) {
      REQUIRE(waitState(a, "long." + std::to_string(i), "TASK_RUNNING"));
      // The task's pid is known shortly after TASK_RUNNING.
      REQUIRE(dcos::test::waitUntil([&] { return task(a, "long." + std::to_string(i))->has("pid"); }, 5s, 1ms));
      pids.push_back(task(a, "long." + std::to_string(i))->getValue<int>("pid"));
    }
    REQUIRE(waitState(a, "short.1", "TASK_RUNNING"));
    a.updates().acknowledge([&] {
      std::vector<std::string> all;
      for (const auto &u : a.updates().pending()) all.push_back(u.uuid);
      return all;
    }());
  }  // the agent is gone; its tasks are not
  for (int pid : pids) CHECK(pidAlive(pid));
  dcos::test::writeFile(dir / "tasks/short.1/sandbox/go", "");
  REQUIRE(dcos::test::waitUntil([&] { return std::filesystem::exists(dir / "tasks/short.1/meta/exit"); }, 5s, 5ms));

  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  Agent &a = **agent;
  for (int i = 0; i < 5; ++i) {
    auto t = task(a, "long." + std::to_string(i));
    REQUIRE(t);
    CHECK(t->getValue<std::string>("state") == "TASK_RUNNING");
    CHECK(t->getValue<int>("pid") == pids[static_cast<size_t>(i)]);  // adopted, not restarted
  }
  CHECK(state(a, "short.1") == "TASK_FAILED");
  CHECK(task(a, "short.1")->getValue<int>("exit_code") == 7);
  auto pending = a.updates().pending();
  REQUIRE(pending.size() == 1);  // just the news of short.1
  CHECK(pending[0].taskId == "short.1");
  // An adopted task is still watched: killing it works as before.
  CHECK(a.kill("long.0").status == 202);
  CHECK(waitState(a, "long.0", "TASK_KILLED"));
  for (int i = 1; i < 5; ++i) a.kill("long." + std::to_string(i));
  for (int i = 1; i < 5; ++i) CHECK(waitState(a, "long." + std::to_string(i), "TASK_KILLED"));
}

TEST_CASE("agent: unacknowledged updates survive a restart and keep their order", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  {
    auto agent = Agent::open(config(dir.path()));
    REQUIRE(agent.ok());
    REQUIRE((*agent)->launch(R"({"id": "u.1", "cmd": "true"})").status == 201);
    REQUIRE(waitState(**agent, "u.1", "TASK_FINISHED"));
  }
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  auto pending = (*agent)->updates().pending();
  std::vector<std::string> states;
  for (const auto &u : pending) states.push_back(stateName(u.state));
  CHECK(states == std::vector<std::string>{"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"});
  (*agent)->updates().acknowledge({pending[0].uuid, pending[1].uuid});
  CHECK((*agent)->updates().pendingCount() == 2);
  CHECK((*agent)->updates().pending()[0].state == TaskState::Running);
}

TEST_CASE("agent: status updates are one log, appended to and rewritten small", "[agent]") {
  dcos::test::TempDir dir("dcos-updates");
  const std::string updates = dir.path() + "/updates";
  auto status = [](const std::string &task, TaskState state) {
    TaskStatus s;
    s.taskId = task;
    s.state = state;
    return s;
  };
  auto open = [&] {
    auto u = StatusUpdates::open(updates);
    REQUIRE(u.ok());
    return std::move(*u);
  };
  auto states = [](const StatusUpdates &u) {
    std::vector<std::string> out;
    for (const auto &s : u.pending()) out.push_back(s.taskId + " " + stateName(s.state));
    return out;
  };
  SECTION("acknowledged updates stay gone after a restart; the others keep their order") {
    {
      auto u = open();
      for (auto state : {TaskState::Staging, TaskState::Starting, TaskState::Running}) {
        auto s = status("a.1", state);
        REQUIRE(u->record(s).ok());
      }
      u->acknowledge({u->pending()[0].uuid, "not-an-update"});
    }
    auto u = open();
    CHECK(states(*u) == std::vector<std::string>{"a.1 TASK_STARTING", "a.1 TASK_RUNNING"});
    CHECK(std::filesystem::directory_iterator(updates)->path().filename() == "log");
  }
  SECTION("a line a crash cut short is dropped, and what follows it is read") {
    {
      auto u = open();
      auto s = status("a.1", TaskState::Running);
      REQUIRE(u->record(s).ok());
    }
    std::string log = dcos::test::readFile(updates + "/log");
    dcos::test::writeFile(updates + "/log", log + log.substr(0, log.size() / 2));
    {
      auto u = open();
      CHECK(u->pendingCount() == 1);
      auto s = status("a.2", TaskState::Running);
      REQUIRE(u->record(s).ok());
    }
    CHECK(states(*open()) == std::vector<std::string>{"a.1 TASK_RUNNING", "a.2 TASK_RUNNING"});
  }
  SECTION("an older agent's updates, a file each, come first and are moved into the log") {
    std::filesystem::create_directories(updates);
    auto old = status("old.1", TaskState::Finished);
    old.uuid = "00000000-0000-0000-0000-000000000001";
    dcos::test::writeFile(updates + "/0000000000000007-" + old.uuid + ".json", statusJson(old));
    {
      auto u = open();
      auto s = status("new.1", TaskState::Running);
      REQUIRE(u->record(s).ok());
    }
    CHECK(!std::filesystem::exists(updates + "/0000000000000007-" + old.uuid + ".json"));
    CHECK(states(*open()) == std::vector<std::string>{"old.1 TASK_FINISHED", "new.1 TASK_RUNNING"});
  }
  SECTION("once the acknowledged lines outnumber the pending ones, the log is rewritten with these alone") {
    auto u = open();
    for (int i = 0; i < 600; ++i) {
      auto s = status("t." + std::to_string(i), TaskState::Running);
      REQUIRE(u->record(s).ok());
    }
    const auto full = std::filesystem::file_size(updates + "/log");
    for (const auto &s : u->pending(598)) u->acknowledge({s.uuid});
    CHECK(std::filesystem::file_size(updates + "/log") < full / 2);
    CHECK(states(*u) == std::vector<std::string>{"t.598 TASK_RUNNING", "t.599 TASK_RUNNING"});
    CHECK(states(*open()) == std::vector<std::string>{"t.598 TASK_RUNNING", "t.599 TASK_RUNNING"});
  }
}

TEST_CASE("agent: empty cgroups of tasks the agent does not know are removed at its start", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  const auto cgroups = Cgroups::detect("dcos-tasks/" + config(dir.path()).id);
  if (cgroups.kind() == "none") {
    WARN("no cgroup hierarchy here: skipped");
    return;
  }
  // What a wiped state dir leaves: a task's cgroups, nobody in them.
  for (const auto &d : cgroups.setup("stray.1", 0.1, 16).dirs) REQUIRE(::mkdir(d.c_str(), 0755) == 0);
  REQUIRE(cgroups.exists("stray.1"));
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  CHECK_FALSE(cgroups.exists("stray.1"));
  const auto left = cgroups.tasks();
  CHECK(std::find(left.begin(), left.end(), "stray.1") == left.end());
}

TEST_CASE("agent: memory and cpu limits through cgroups; a task over its memory is killed and said so", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  Agent &a = **agent;
  auto info = Poco::JSON::Parser().parse(a.infoJson()).extract<Poco::JSON::Object::Ptr>();
  if (info->getValue<std::string>("limits") == "none") {
    WARN("no cgroup hierarchy to enforce limits here: skipped");
    return;
  }
  REQUIRE(a.launch(R"({"id": "hog.1", "cmd": "python3 -c 'b = bytearray(256 * 1024 * 1024)'",
                       "mem": 48, "cpus": 0.25})").status == 201);
  REQUIRE(waitState(a, "hog.1", "TASK_FAILED", 30s));
  CHECK_THAT(task(a, "hog.1")->getValue<std::string>("message"), Catch::StartsWith("memory limit exceeded"));
  REQUIRE(a.launch(R"({"id": "cpu.1", "cmd": "sleep 100", "mem": 48, "cpus": 0.25})").status == 201);
  REQUIRE(waitState(a, "cpu.1", "TASK_RUNNING"));
  REQUIRE(dcos::test::waitUntil([&] { return task(a, "cpu.1")->has("pid"); }, 5s, 1ms));
  int pid = task(a, "cpu.1")->getValue<int>("pid");
  std::string cgroups = dcos::test::readFile("/proc/" + std::to_string(pid) + "/cgroup");
  CHECK_THAT(cgroups, Catch::Contains("dcos-tasks/" + config(dir.path()).id + "/cpu.1"));
  a.kill("cpu.1");
  REQUIRE(waitState(a, "cpu.1", "TASK_KILLED"));
}

TEST_CASE("agent: a task whose cgroups cannot be made fails with the reason, and runs nothing", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto c = config(dir.path());
  c.id = "test-agent-S2";
  auto agent = Agent::open(c);
  REQUIRE(agent.ok());
  Agent &a = **agent;
  auto info = Poco::JSON::Parser().parse(a.infoJson()).extract<Poco::JSON::Object::Ptr>();
  if (info->getValue<std::string>("limits") == "none") {
    WARN("no cgroup hierarchy here: skipped");
    return;
  }
  // The agent's subtree gone from under it: the supervisor cannot make the
  // task's cgroups there.
  for (const char *h : {"memory/", "cpu/", "cpu,cpuacct/", "unified/", ""}) {
    ::rmdir(("/sys/fs/cgroup/" + std::string(h) + "dcos-tasks/" + c.id).c_str());
  }
  REQUIRE(a.launch(R"({"id": "nocg.1", "cmd": "touch ran"})").status == 201);
  REQUIRE(waitState(a, "nocg.1", "TASK_FAILED"));
  CHECK_THAT(task(a, "nocg.1")->getValue<std::string>("message"), Catch::Contains("cannot make cgroup"));
  CHECK(!std::filesystem::exists(dir.path() + "/tasks/nocg.1/sandbox/ran"));
}

TEST_CASE("agent: a task may run on every cpu dcosd may", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  Agent &a = **agent;
  REQUIRE(a.launch(R"({"id": "cpus.1", "cmd": "grep Cpus_allowed_list /proc/self/status"})").status == 201);
  REQUIRE(waitState(a, "cpus.1", "TASK_FINISHED"));
  std::string mine;
  std::istringstream status(dcos::test::readFile("/proc/self/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Cpus_allowed_list", 0) == 0) mine = line;
  }
  CHECK(readFile(a, "cpus.1", "stdout") == mine + "\n");
}

TEST_CASE("agent: a simulated agent speaks the same protocol and runs no process", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto c = config(dir.path());
  c.simulate = true;
  c.supervisor = "/nonexistent";  // never started
  {
    auto agent = Agent::open(c);
    REQUIRE(agent.ok());
    Agent &a = **agent;
    REQUIRE(a.launch(R"({"id": "sim.1", "cmd": "exit 1", "ports": [31002]})").status == 201);
    REQUIRE(a.launch(R"({"id": "sim.2", "cmd": "exit 1"})").status == 201);
    CHECK(state(a, "sim.1") == "TASK_RUNNING");
    CHECK_FALSE(task(a, "sim.1")->has("pid"));
    CHECK(a.launch(R"({"id": "sim.3", "cmd": "x", "ports": [31002]})").status == 409);  // the same bookkeeping
    CHECK(a.kill("sim.2").status == 202);
    CHECK(state(a, "sim.2") == "TASK_KILLED");
    CHECK_THAT(a.infoJson(), Catch::Contains("\"simulated\":true"));
  }
  auto again = Agent::open(c);  // its tasks "survive" a restart, as real ones do
  REQUIRE(again.ok());
  CHECK(state(**again, "sim.1") == "TASK_RUNNING");
  CHECK(state(**again, "sim.2") == "TASK_KILLED");
}

TEST_CASE("agent: launches and kills in batches, each answered as its own call would be", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto c = config(dir.path());
  c.simulate = true;
  c.supervisor = "/nonexistent";
  auto agent = Agent::open(c);
  REQUIRE(agent.ok());
  Agent &a = **agent;
  auto r = a.handle("POST", "/agent/v1/launch", "",
                    R"({"tasks": [{"id": "b.1", "cmd": "x", "ports": [31002]}, {"id": "b.2", "cmd": "x", "ports": [31002]},
                                  {"id": "b.3", "cmd": "x", "cpus": -1}, 7, {"id": "b.4", "cmd": "x"}]})");
  REQUIRE(r.status == 200);
  auto results = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>()->getArray("results");
  REQUIRE(results->size() == 5);
  CHECK(results->getObject(0)->getValue<std::string>("id") == "b.1");
  CHECK(results->getObject(0)->getValue<int>("status") == 201);
  CHECK(results->getObject(1)->getValue<int>("status") == 409);  // b.1 took the port
  CHECK_THAT(results->getObject(1)->getValue<std::string>("message"), Catch::Contains("port 31002"));
  CHECK(results->getObject(2)->getValue<int>("status") == 422);
  CHECK(results->getObject(2)->getArray("details")->size() == 1);
  CHECK(results->getObject(3)->getValue<int>("status") == 422);
  CHECK_THAT(results->getObject(3)->getValue<std::string>("message"), Catch::Contains("/tasks/3"));
  CHECK(results->getObject(4)->getValue<int>("status") == 201);
  CHECK(state(a, "b.1") == "TASK_RUNNING");
  CHECK(state(a, "b.4") == "TASK_RUNNING");
  CHECK_FALSE(task(a, "b.2"));

  r = a.handle("POST", "/agent/v1/kill", "", R"({"ids": ["b.4", "nosuch", "../x"]})");
  REQUIRE(r.status == 200);
  results = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>()->getArray("results");
  REQUIRE(results->size() == 3);
  CHECK(results->getObject(0)->getValue<int>("status") == 202);
  CHECK(results->getObject(1)->getValue<int>("status") == 404);
  CHECK(results->getObject(2)->getValue<int>("status") == 404);
  CHECK(state(a, "b.4") == "TASK_KILLED");
  CHECK(state(a, "b.1") == "TASK_RUNNING");

  // The body as a whole: nothing is launched when it is not a batch.
  CHECK(a.handle("POST", "/agent/v1/launch", "", "{").status == 400);
  CHECK(a.handle("POST", "/agent/v1/launch", "", R"({"id": "b.5", "cmd": "x"})").status == 422);
  CHECK(a.handle("POST", "/agent/v1/kill", "", R"({"ids": "b.1"})").status == 422);
  CHECK(a.handle("GET", "/agent/v1/launch", "", "").status == 405);
  std::string many = R"({"tasks": [)";
  for (int i = 0; i < 1001; ++i) many += std::string(i ? "," : "") + R"({"id": "m.)" + std::to_string(i) + R"(", "cmd": "x"})";
  r = a.handle("POST", "/agent/v1/launch", "", many + "]}");
  CHECK(r.status == 422);
  CHECK_THAT(r.body, Catch::Contains("at most 1000"));
  CHECK_FALSE(task(a, "b.5"));
  CHECK_FALSE(task(a, "m.0"));
}

TEST_CASE("agent: what a task could turn against the node is refused or confined", "[agent]") {
  dcos::test::TempDir dir("dcos-agent");
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  Agent &a = **agent;
  SECTION("a NUL inside a string is refused, not passed on") {
    auto r = a.launch(R"({"id": "nul.1", "cmd": "id", "env": {"ZZ": "x\u0000user\u0000root"}})");
    CHECK(r.status == 422);
    CHECK_THAT(r.body, Catch::Contains("\"path\":\"/env/ZZ\""));
    CHECK_THAT(r.body, Catch::Contains("NUL"));
    CHECK(a.launch(R"({"id": "nul.2", "args": ["a\u0000b"]})").status == 422);
  }
  SECTION("no descriptor of the agent reaches the task") {
    REQUIRE(a.launch(R"({"id": "fds.1", "cmd": "ls /proc/self/fd | tr '\\n' ' '"})").status == 201);
    REQUIRE(waitState(a, "fds.1", "TASK_FINISHED"));
    CHECK(readFile(a, "fds.1", "stdout") == "0 1 2 3 ");  // 3: ls's own look at the directory
  }
  SECTION("a COMMAND check runs as the task's user") {
    if (::geteuid() != 0) return;
    REQUIRE(a.launch(R"({"id": "hc.1", "cmd": "sleep 100", "healthChecks": [{"protocol": "COMMAND",
                         "command": {"value": "test \"$(id -u)\" != 0"}, "gracePeriodSeconds": 0, "intervalSeconds": 0.1,
                         "timeoutSeconds": 5}]})").status == 201);
    CHECK(dcos::test::waitUntil([&] { auto t = task(a, "hc.1"); return t && t->has("healthy") && t->getValue<bool>("healthy"); },
                                10s, 10ms));
    a.kill("hc.1");
    CHECK(waitState(a, "hc.1", "TASK_KILLED"));
  }
  SECTION("an HTTPS check: a GET over TLS, the task's own certificate not verified") {
    // openssl's test server: a self-signed certificate made by the task,
    // and -www answers a GET with 200.
    REQUIRE(a.launch(R"({"id": "tls.1", "ports": [31008], "cmd": "openssl req -x509 -nodes -newkey rsa:2048 -subj /CN=task -keyout k.pem -out c.pem -days 1 2>/dev/null && exec openssl s_server -quiet -www -accept $PORT0 -cert c.pem -key k.pem",
                         "healthChecks": [{"protocol": "HTTPS", "portIndex": 0, "gracePeriodSeconds": 30,
                         "intervalSeconds": 0.2, "timeoutSeconds": 2}]})").status == 201);
    CHECK(dcos::test::waitUntil([&] { auto t = task(a, "tls.1"); return t && t->has("healthy") && t->getValue<bool>("healthy"); },
                                20s, 20ms));
    a.kill("tls.1");
    CHECK(waitState(a, "tls.1", "TASK_KILLED"));
    // A plain HTTP server is not healthy for an HTTPS check.
    REQUIRE(a.launch(R"({"id": "plain.1", "ports": [31009], "cmd": "exec python3 -m http.server $PORT0",
                         "healthChecks": [{"protocol": "HTTPS", "portIndex": 0, "gracePeriodSeconds": 0,
                         "intervalSeconds": 0.2, "timeoutSeconds": 1, "maxConsecutiveFailures": 2}]})").status == 201);
    CHECK(dcos::test::waitUntil([&] {
      for (const auto &u : a.updates().pending()) {
        if (u.taskId == "plain.1" && u.message.find("HTTPS health check failed 2 times in a row") != std::string::npos) return true;
      }
      return false;
    }, 20s, 20ms));
    a.kill("plain.1");
    CHECK(waitState(a, "plain.1", "TASK_KILLED"));
  }
  SECTION("with maxConsecutiveFailures 1, the first failure says the limit is reached") {
    REQUIRE(a.launch(R"({"id": "hc.2", "cmd": "sleep 100", "healthChecks": [{"protocol": "COMMAND",
                         "command": {"value": "false"}, "gracePeriodSeconds": 0, "intervalSeconds": 0.1,
                         "maxConsecutiveFailures": 1}]})").status == 201);
    CHECK(dcos::test::waitUntil([&] {
      for (const auto &u : a.updates().pending()) {
        if (u.taskId == "hc.2" && u.message.find("in a row (maxConsecutiveFailures 1)") != std::string::npos) return true;
      }
      return false;
    }, 10s, 10ms));
    a.kill("hc.2");
    CHECK(waitState(a, "hc.2", "TASK_KILLED"));
  }
  SECTION("the files API reads regular files of the sandbox only, through no link") {
    REQUIRE(a.launch(R"({"id": "fs.1", "cmd": "ln -s /etc d; ln -s /etc/shadow s; mkfifo f; mkdir sub; echo hi > sub/x"})").status == 201);
    REQUIRE(waitState(a, "fs.1", "TASK_FINISHED"));
    CHECK(a.handle("GET", "/agent/v1/tasks/fs.1/files/read", "path=d/passwd", "").status == 400);
    CHECK(a.handle("GET", "/agent/v1/tasks/fs.1/files/read", "path=s", "").status == 400);
    CHECK(a.handle("GET", "/agent/v1/tasks/fs.1/files/read", "path=f", "").status == 400);  // and no hang
    CHECK(a.handle("GET", "/agent/v1/tasks/fs.1/files/read", "path=/etc/passwd", "").status == 400);
    CHECK(readFile(a, "fs.1", "sub/x") == "hi\n");
  }
}

TEST_CASE("agent: a slow health check holds back no other task's", "[agent]") {
  if (::geteuid() != 0) return;
  dcos::test::TempDir dir("dcos-agent");
  auto agent = Agent::open(config(dir.path()));
  REQUIRE(agent.ok());
  Agent &a = **agent;
  REQUIRE(a.launch(R"({"id": "slowcheck.1", "cmd": "sleep 100", "healthChecks": [{"protocol": "COMMAND",
                       "command": {"value": "sleep 30"}, "gracePeriodSeconds": 0, "intervalSeconds": 0.1,
                       "timeoutSeconds": 60}]})").status == 201);
  REQUIRE(waitState(a, "slowcheck.1", "TASK_RUNNING"));
  REQUIRE(a.launch(R"({"id": "quick.1", "cmd": "sleep 100", "healthChecks": [{"protocol": "COMMAND",
                       "command": {"value": "true"}, "gracePeriodSeconds": 0, "intervalSeconds": 0.1}]})").status == 201);
  CHECK(dcos::test::waitUntil([&] { auto t = task(a, "quick.1"); return t && t->has("healthy") && t->getValue<bool>("healthy"); },
                              5s, 10ms));
  a.kill("quick.1");
  a.kill("slowcheck.1");
  CHECK(waitState(a, "quick.1", "TASK_KILLED"));
  CHECK(waitState(a, "slowcheck.1", "TASK_KILLED"));
}
