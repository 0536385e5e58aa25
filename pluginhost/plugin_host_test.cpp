// The plugin host with real plugins from the test plugin dir: lifecycle
// order, optional modules, and failures at every step.
#include "pluginhost/plugin_host.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

using namespace dcos;
using namespace dcos::pluginhost;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  fs::path dir;
  std::string pluginDir;
  std::string logPath;

  Fixture() {
    const char *build = DCOS_TEST_BUILD_DIR;
    pluginDir = std::string(build) + "/testplugins";
    static int counter = 0;
    dir = fs::temp_directory_path() /
          ("dcos-host-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(dir);
    logPath = (dir / "events").string();
  }
  ~Fixture() { fs::remove_all(dir); }

  // A module entry whose recorder config logs to this fixture's file.
  std::string module(const std::string &name, const std::string &extra = "", const std::string &requires_ = "",
                     bool optional = false) const {
    return R"({"name": ")" + name + R"(", "optional": )" + (optional ? "true" : "false") + R"(, "requires": [)" +
           requires_ + R"(], "config": {"log": ")" + logPath + "\"" + extra + "}}";
  }

  config::Config config(const std::string &modules) const {
    std::string manifest = (dir / "manifest.json").string();
    std::ofstream(manifest) << R"({"zone": "private", "resource_role": "gpu", "attributes": {"gpu": "true",
      "rack": "role-default"}, "modules": [)" + modules + "]}";
    config::Config c;
    c.dir = dir.string();
    c.cluster.name = "test";
    c.cluster.masters = {"127.0.0.1"};
    c.node.role = "test";
    c.node.address = "127.0.0.1";
    c.node.hostname = "node-1";
    c.node.attributes = {{"test_manifest", manifest}, {"rack", "r9"}};
    return c;
  }

  HostOptions options() const { return HostOptions{pluginDir, (dir / "state").string(), {}}; }

  std::vector<std::string> events() const {
    std::ifstream in(logPath);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
};

const PluginStatus &find(const std::vector<PluginStatus> &all, const std::string &name) {
  for (const auto &s : all) {
    if (s.name == name) return s;
  }
  FAIL("no plugin " << name);
  return all.front();
}

}  // namespace

TEST_CASE("modules start in dependency order and stop in reverse", "[pluginhost][lifecycle]") {
  Fixture f;
  PluginHost host(f.options(), f.config(f.module("mod-c", "", "\"mod-a\", \"mod-b\"") + "," + f.module("mod-a") +
                                        "," + f.module("mod-b", "", "\"mod-a\"")));
  std::vector<std::string> progress;
  host.onProgress = [&](const std::string &line) { progress.push_back(line); };
  REQUIRE(host.load().ok());
  REQUIRE(host.start().ok());
  auto status = host.status();
  REQUIRE(status.size() == 4);
  CHECK(status[0].kind == "role");
  CHECK(status[0].name == "test");
  for (const auto &s : status) CHECK(s.state == State::Running);
  CHECK(fs::is_directory(f.dir / "state" / "mod-a"));
  host.stop();
  CHECK(f.events() == std::vector<std::string>{"create mod-a", "create mod-b", "create mod-c", "start mod-a",
                                               "start mod-b", "start mod-c", "stop mod-c", "stop mod-b",
                                               "stop mod-a", "destroy mod-c", "destroy mod-b", "destroy mod-a"});
  CHECK(progress.front() == "loading role test");
  CHECK(host.status()[1].state == State::Stopped);
}

TEST_CASE("the node identity merges role and node attributes", "[pluginhost]") {
  Fixture f;
  PluginHost host(f.options(), f.config(f.module("mod-a")));
  REQUIRE(host.load().ok());
  CHECK(host.attributes().at("gpu") == "true");
  CHECK(host.attributes().at("rack") == "r9");  // node.json wins over the role
  CHECK_THAT(host.nodeJson(), Catch::Contains("\"zone\":\"private\""));
  CHECK_THAT(host.nodeJson(), Catch::Contains("\"resource_role\":\"gpu\""));
  CHECK(host.manifest().resourceRole == "gpu");
}

TEST_CASE("a required module that fails to start stops what already started", "[pluginhost][lifecycle]") {
  Fixture f;
  PluginHost host(f.options(), f.config(f.module("mod-a") + "," + f.module("mod-b", ", \"fail_start\": true") +
                                        "," + f.module("mod-c")));
  REQUIRE(host.load().ok());
  auto started = host.start();
  REQUIRE_FALSE(started.ok());
  CHECK_THAT(started.error().message, Catch::EndsWith("mod-b.so: start failed: told to fail start"));
  CHECK(f.events() == std::vector<std::string>{"create mod-a", "create mod-b", "create mod-c", "start mod-a",
                                               "start mod-b", "stop mod-a", "destroy mod-c", "destroy mod-b",
                                               "destroy mod-a"});
}

TEST_CASE("an optional module may fail and what requires it fails with it", "[pluginhost][lifecycle]") {
  Fixture f;
  SECTION("failing to start") {
    PluginHost host(f.options(), f.config(f.module("mod-a", ", \"fail_start\": true", "", true) + "," +
                                          f.module("mod-b", "", "\"mod-a\"", true) + "," + f.module("mod-c")));
    REQUIRE(host.load().ok());
    REQUIRE(host.start().ok());
    auto status = host.status();
    CHECK(find(status, "mod-a").state == State::Failed);
    CHECK_THAT(find(status, "mod-a").message, Catch::Contains("start failed: told to fail start"));
    CHECK(find(status, "mod-b").state == State::Failed);
    CHECK(find(status, "mod-b").message == "requires module \"mod-a\", which failed");
    CHECK(find(status, "mod-c").state == State::Running);
    host.stop();
  }
  SECTION("missing library") {
    PluginHost host(f.options(), f.config(R"({"name": "ghost", "optional": true})" + std::string(",") + f.module("mod-a")));
    REQUIRE(host.load().ok());
    REQUIRE(host.start().ok());
    CHECK(find(host.status(), "ghost").state == State::Failed);
    CHECK_THAT(find(host.status(), "ghost").message, Catch::EndsWith("ghost.so: cannot load: No such file or directory"));
    CHECK(find(host.status(), "mod-a").state == State::Running);
    host.stop();
  }
  SECTION("a required module that requires a failed optional one fails the node") {
    PluginHost host(f.options(), f.config(f.module("mod-a", ", \"fail_create\": true", "", true) + "," +
                                          f.module("mod-b", "", "\"mod-a\"")));
    auto loaded = host.load();
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message == "module \"mod-b\": requires module \"mod-a\", which failed");
  }
}

TEST_CASE("load failures name the file and the reason", "[pluginhost]") {
  Fixture f;
  SECTION("unknown role lists the known ones") {
    auto c = f.config("");
    c.node.role = "tset";
    PluginHost host(f.options(), c);
    auto loaded = host.load();
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message == (f.dir / "node.json").string() +
                                        ": /role: unknown role \"tset\" (known: test); did you mean \"test\"?");
  }
  SECTION("a required module whose create fails") {
    PluginHost host(f.options(), f.config(R"({"name": "create-fails"})"));
    auto loaded = host.load();
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message == f.pluginDir + "/create-fails.so: create failed: /listen: address already in use");
  }
  SECTION("a library that calls itself something else") {
    PluginHost host(f.options(), f.config(R"({"name": "mod-x", "library": "mod-a.so"})"));
    auto loaded = host.load();
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message ==
          f.pluginDir + "/mod-a.so: the plugin is named \"mod-a\", but the role lists it as \"mod-x\"");
  }
  SECTION("duplicate plugin name across two libraries") {
    PluginHost host(f.options(), f.config(R"({"name": "dup", "library": "dup-1.so"}, {"name": "dup2", "library": "dup-2.so"})"));
    auto loaded = host.load();
    REQUIRE_FALSE(loaded.ok());
    CHECK_THAT(loaded.error().message, Catch::Contains("dup-2.so: duplicate plugin name \"dup\""));
  }
  SECTION("a dependency cycle in the manifest") {
    PluginHost host(f.options(), f.config(f.module("mod-a", "", "\"mod-b\"") + "," + f.module("mod-b", "", "\"mod-a\"")));
    auto loaded = host.load();
    REQUIRE_FALSE(loaded.ok());
    CHECK_THAT(loaded.error().message, Catch::EndsWith("role-test.so: manifest: modules require each other in a cycle: mod-a -> mod-b -> mod-a"));
  }
}

TEST_CASE("health reported by a module shows in status", "[pluginhost]") {
  Fixture f;
  PluginHost host(f.options(), f.config(f.module("mod-a", ", \"health\": \"degraded\"")));
  REQUIRE(host.load().ok());
  REQUIRE(host.start().ok());
  auto s = find(host.status(), "mod-a");
  CHECK(s.health == DCOS_HEALTH_DEGRADED);
  CHECK(s.message == "told to be degraded");
  host.stop();
}

TEST_CASE("a module that fails to start after standing and routing is released before it is destroyed",
          "[pluginhost][lifecycle]") {
  Fixture f;
  auto options = f.options();
  std::function<void(bool)> onChange;  // what the election would call back
  std::string logPath = f.logPath;
  options.elections.stand = [&](const std::string &name, const std::string &, std::function<void(bool)> cb) {
    std::ofstream(logPath, std::ios::app) << "stand " << name << "\n";
    onChange = std::move(cb);
    return Status::Ok();
  };
  options.elections.resign = [&](const std::string &name) {
    std::ofstream(logPath, std::ios::app) << "resign " << name << "\n";
    onChange = nullptr;  // a resigned election calls back no more
  };
  SECTION("a required module") {
    PluginHost host(options, f.config(f.module("mod-a", R"(, "stand": "e1", "route": "/ra", "fail_start": true)")));
    REQUIRE(host.load().ok());
    REQUIRE_FALSE(host.start().ok());
    CHECK(f.events() == std::vector<std::string>{"create mod-a", "start mod-a", "stand e1", "resign e1", "destroy mod-a"});
    CHECK(!onChange);
  }
  SECTION("an optional module: the node runs on without its election and route") {
    PluginHost host(options, f.config(f.module("mod-a", R"(, "stand": "e1", "route": "/ra", "fail_start": true)", "",
                                               true)));
    REQUIRE(host.load().ok());
    REQUIRE(host.start().ok());
    CHECK(f.events() == std::vector<std::string>{"create mod-a", "start mod-a", "stand e1", "resign e1"});
    dcos_http_request req{};
    req.path = "/ra";
    dcos_http_response resp{};
    CHECK_FALSE(host.serveRoute(req, resp));
    host.stop();
  }
}

TEST_CASE("node.json's module config is laid over the role's", "[pluginhost]") {
  Fixture f;
  SECTION("a key of the node's wins") {
    auto c = f.config(f.module("mod-a") + "," + f.module("mod-b"));
    c.node.moduleConfig["mod-b"] = R"({"fail_start": true})";
    PluginHost host(f.options(), c);
    REQUIRE(host.load().ok());
    auto started = host.start();
    REQUIRE_FALSE(started.ok());
    CHECK_THAT(started.error().message, Catch::EndsWith("mod-b.so: start failed: told to fail start"));
    // The role's own keys stay: mod-b still logs where the role said.
    CHECK(f.events() == std::vector<std::string>{"create mod-a", "create mod-b", "start mod-a", "start mod-b",
                                                 "stop mod-a", "destroy mod-b", "destroy mod-a"});
  }
  SECTION("config for a module the role does not run is an error") {
    auto c = f.config(f.module("mod-a"));
    c.node.moduleConfig["zookeeper"] = R"({"executor": "process"})";
    PluginHost host(f.options(), c);
    auto loaded = host.load();
    REQUIRE_FALSE(loaded.ok());
    CHECK_THAT(loaded.error().message, Catch::EndsWith("node.json: /modules/zookeeper: role \"test\" runs no module \"zookeeper\""));
  }
}
