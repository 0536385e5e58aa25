// The loader against deliberately broken plugins: each must end in one line
// naming the file and the reason.
#include "pluginhost/loader.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

using namespace dcos;
using pluginhost::Loader;

namespace {

std::string plugin(const std::string &name) {
  const char *build = DCOS_TEST_BUILD_DIR;
  return std::string(build) + "/testplugins/" + name + ".so";
}

std::string loadError(Loader &loader, const std::string &path, dcos_plugin_kind kind = DCOS_PLUGIN_MODULE) {
  auto r = loader.load(path, kind);
  REQUIRE_FALSE(r.ok());
  const std::string &m = r.error().message;
  CHECK(m.find('\n') == std::string::npos);
  CHECK_THAT(m, Catch::StartsWith(path + ": "));
  return m.substr(path.size() + 2);
}

}  // namespace

TEST_CASE("loader accepts a good plugin", "[loader]") {
  Loader loader;
  auto r = loader.load(plugin("mod-a"), DCOS_PLUGIN_MODULE);
  REQUIRE(r.ok());
  CHECK(std::string(r->descriptor->name) == "mod-a");
  CHECK(std::string(r->descriptor->version) == "0.0.1");
}

TEST_CASE("loader rejects broken plugins with one clear line", "[loader]") {
  Loader loader;
  SECTION("missing file") {
    CHECK(loadError(loader, plugin("does-not-exist")) == "cannot load: No such file or directory");
  }
  SECTION("not a shared object") {
    const char *src = DCOS_TEST_SOURCE_DIR;
    std::string path = std::string(src) + "/pluginhost/testplugins/broken.c";
    CHECK_THAT(loadError(loader, path), Catch::StartsWith("cannot load: "));
  }
  SECTION("unresolved symbol") {
    CHECK_THAT(loadError(loader, plugin("unresolved")),
               Catch::Contains("cannot load: ") && Catch::Contains("undefined symbol: dcos_symbol_that_does_not_exist"));
  }
  SECTION("no entry symbol") {
    CHECK_THAT(loadError(loader, plugin("no-entry")), Catch::StartsWith("no entry symbol dcos_plugin_entry_v1"));
  }
  SECTION("wrong ABI major") {
    CHECK(loadError(loader, plugin("wrong-abi")) == "ABI major 99, this dcosd speaks 1");
  }
  SECTION("descriptor too small") {
    CHECK_THAT(loadError(loader, plugin("too-small")), Catch::StartsWith("descriptor too small: 16 bytes"));
  }
  SECTION("descriptor without create") {
    CHECK_THAT(loadError(loader, plugin("no-create")), Catch::Contains("is incomplete"));
  }
  SECTION("a module where a role is expected") {
    CHECK(loadError(loader, plugin("mod-a"), DCOS_PLUGIN_ROLE) ==
          "\"mod-a\" is a module plugin, expected a role plugin here");
  }
  SECTION("a role where a module is expected") {
    CHECK(loadError(loader, plugin("role-test"), DCOS_PLUGIN_MODULE) ==
          "\"test\" is a role plugin, expected a module plugin here");
  }
  SECTION("duplicate name") {
    REQUIRE(loader.load(plugin("dup-1"), DCOS_PLUGIN_MODULE).ok());
    CHECK(loadError(loader, plugin("dup-2")) ==
          "duplicate plugin name \"dup\" (already loaded from " + plugin("dup-1") + ")");
  }
}
