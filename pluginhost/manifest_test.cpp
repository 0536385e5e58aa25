#include "pluginhost/manifest.h"

#include <catch2/catch.hpp>

using namespace dcos;
using namespace dcos::pluginhost;

namespace {

std::vector<std::string> orderOf(const std::vector<ModuleSpec> &mods) {
  auto order = startOrder(mods);
  REQUIRE(order.ok());
  std::vector<std::string> names;
  for (size_t i : *order) names.push_back(mods[i].name);
  return names;
}

ModuleSpec mod(std::string name, std::vector<std::string> requires_ = {}) {
  ModuleSpec s;
  s.name = std::move(name);
  s.requires_ = std::move(requires_);
  return s;
}

}  // namespace

TEST_CASE("a manifest parses with defaults", "[manifest]") {
  auto m = parseManifest(R"({"zone": "public", "resource_role": "slave_public", "attributes": {"public_ip": true},
    "modules": [{"name": "router", "config": {"mode": "edge", "ports": [80]}},
                {"name": "agent", "library": "/opt/agent.so", "optional": true, "requires": ["router"]}],
    "image": {"packages": ["nftables"], "units": ["dcosd.service"]}})", "m");
  REQUIRE(m.ok());
  CHECK(m->zone == "public");
  CHECK(m->attributes.at("public_ip") == "true");
  REQUIRE(m->modules.size() == 2);
  CHECK(m->modules[0].library == "router.so");
  CHECK(m->modules[0].configJson == R"({"mode":"edge","ports":[80]})");
  CHECK(m->modules[1].optional);
  CHECK(m->modules[1].configJson == "{}");
  CHECK(m->image.units == std::vector<std::string>{"dcosd.service"});
  auto bare = parseManifest(R"({"zone": "private"})", "m");
  REQUIRE(bare.ok());
  CHECK(bare->resourceRole == "*");
  CHECK(bare->modules.empty());
}

TEST_CASE("a bad manifest names every problem", "[manifest]") {
  auto m = parseManifest(R"({"zone": "dmz", "modules": [{"name": "a"}, {"name": "a", "config": 3}, {"nmae": "b"}]})",
                         "role-x.so: manifest");
  REQUIRE_FALSE(m.ok());
  const auto &e = m.error().message;
  CHECK_THAT(e, Catch::Contains("role-x.so: manifest: /zone: unknown zone \"dmz\" (known: admin, private, public)"));
  CHECK_THAT(e, Catch::Contains("/modules/1/name: duplicate module \"a\""));
  CHECK_THAT(e, Catch::Contains("/modules/1/config: expected an object, found a number"));
  CHECK_THAT(e, Catch::Contains("/modules/2/name: missing (required)"));
  CHECK_THAT(e, Catch::Contains("/modules/2/nmae: unknown key \"nmae\" (did you mean \"name\"?)"));
}

TEST_CASE("modules start after what they require, otherwise in listed order", "[manifest][lifecycle]") {
  CHECK(orderOf({mod("a"), mod("b"), mod("c")}) == std::vector<std::string>{"a", "b", "c"});
  CHECK(orderOf({mod("scheduler", {"zookeeper"}), mod("dns", {"zookeeper"}), mod("zookeeper")}) ==
        std::vector<std::string>{"zookeeper", "scheduler", "dns"});
  CHECK(orderOf({mod("d", {"c", "b"}), mod("c", {"a"}), mod("b", {"a"}), mod("a")}) ==
        std::vector<std::string>{"a", "c", "b", "d"});
}

TEST_CASE("start order refuses unknown dependencies and cycles", "[manifest][lifecycle]") {
  auto unknown = startOrder({mod("a", {"ghost"})});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "module \"a\" requires \"ghost\", which the role does not list");
  auto cycle = startOrder({mod("a", {"b"}), mod("b", {"c"}), mod("c", {"a"})});
  REQUIRE_FALSE(cycle.ok());
  CHECK(cycle.error().message == "modules require each other in a cycle: a -> b -> c -> a");
  auto self = startOrder({mod("a", {"a"})});
  REQUIRE_FALSE(self.ok());
  CHECK(self.error().message == "modules require each other in a cycle: a -> a");
}

TEST_CASE("a manifest's image path filters: absolute globs, in order", "[manifest]") {
  auto m = parseManifest(R"({"zone": "admin", "image": {"path_exclude": ["/usr/share/java/*"],
    "path_include": ["/usr/share/java/zookeeper*.jar", "/usr/share/java/log4j-1.2*"]}})", "m");
  REQUIRE(m.ok());
  CHECK(m->image.pathExclude == std::vector<std::string>{"/usr/share/java/*"});
  CHECK(m->image.pathInclude == std::vector<std::string>{"/usr/share/java/zookeeper*.jar", "/usr/share/java/log4j-1.2*"});
  auto bad = parseManifest(R"({"zone": "admin", "image": {"path_exclude": ["usr/*", "/a b"], "path_include": ["/x/../y"]}})",
                           "m");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains(R"(m: /image/path_exclude/0: expected an absolute path glob without spaces or .. parts, got "usr/*")"));
  CHECK_THAT(bad.error().message, Catch::Contains(R"(m: /image/path_exclude/1: expected an absolute path glob)"));
  CHECK_THAT(bad.error().message, Catch::Contains(R"(m: /image/path_include/0: expected an absolute path glob)"));
}

TEST_CASE("a manifest's image commands: argv arrays of absolute programs, in order", "[manifest]") {
  auto m = parseManifest(R"({"zone": "admin", "image": {"commands": [["/usr/lib/dcos/dcos-zookeeper-cds"],
    ["/bin/sh", "-c", "true"]]}})", "m");
  REQUIRE(m.ok());
  REQUIRE(m->image.commands.size() == 2);
  CHECK(m->image.commands[0] == std::vector<std::string>{"/usr/lib/dcos/dcos-zookeeper-cds"});
  CHECK(m->image.commands[1] == std::vector<std::string>{"/bin/sh", "-c", "true"});
  auto bad = parseManifest(R"({"zone": "admin", "image": {"commands": [["sh", "-c"], [], ["/x", 1], "/y"]}})", "m");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message,
             Catch::Contains(R"(m: /image/commands/0/0: expected the program's absolute path in the image, got "sh")"));
  CHECK_THAT(bad.error().message, Catch::Contains("m: /image/commands/1: expected a non-empty array of strings"));
  CHECK_THAT(bad.error().message, Catch::Contains("m: /image/commands/2: expected a non-empty array of strings"));
  CHECK_THAT(bad.error().message, Catch::Contains("m: /image/commands/3: expected a non-empty array of strings"));
  auto notList = parseManifest(R"({"zone": "admin", "image": {"commands": "/x"}})", "m");
  REQUIRE_FALSE(notList.ok());
  CHECK_THAT(notList.error().message, Catch::Contains("m: /image/commands: expected an array of commands"));
}

TEST_CASE("a manifest's image packages and units are names, never options", "[manifest]") {
  auto m = parseManifest(R"({"zone": "admin", "image": {"packages": ["libzookeeper-java", "g++", "zstd=1.5.4+dfsg2-5"],
    "units": ["dcosd.service", "getty@ttyS0.service", "fstrim.timer"]}})", "m");
  REQUIRE(m.ok());
  CHECK(m->image.packages.size() == 3);
  CHECK(m->image.units.size() == 3);
  auto bad = parseManifest(R"({"zone": "admin", "image": {
    "packages": ["-oDPkg::Pre-Invoke::=touch${IFS}/tmp/x", "/tmp/evil.deb", "Foo", "a b"],
    "units": ["--root=/", "dcosd", "x.service;reboot"]}})", "m");
  REQUIRE_FALSE(bad.ok());
  for (const char *where : {"/image/packages/0", "/image/packages/1", "/image/packages/2", "/image/packages/3"}) {
    CHECK_THAT(bad.error().message, Catch::Contains(std::string("m: ") + where + ": expected a Debian package name"));
  }
  for (const char *where : {"/image/units/0", "/image/units/1", "/image/units/2"}) {
    CHECK_THAT(bad.error().message, Catch::Contains(std::string("m: ") + where + ": expected a systemd unit name"));
  }
}

TEST_CASE("a manifest's image files: absolute paths only", "[manifest]") {
  auto m = parseManifest(R"({"zone": "admin", "image": {"packages": ["libzookeeper-java"],
    "files": {"/usr/lib/sysusers.d/zk.conf": "u zookeeper - - -\n"}}})", "m");
  REQUIRE(m.ok());
  CHECK(m->image.files.at("/usr/lib/sysusers.d/zk.conf") == "u zookeeper - - -\n");
  auto bad = parseManifest(R"({"zone": "admin", "image": {"files": {"etc/x": "", "/etc/../x": "", "/etc/": ""}}})", "m");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("m: /image/files/etc~1x: expected an absolute file path"));
  CHECK_THAT(bad.error().message, Catch::Contains("m: /image/files/~1etc~1..~1x: expected an absolute file path"));
  CHECK_THAT(bad.error().message, Catch::Contains("m: /image/files/~1etc~1: expected an absolute file path"));
}
