#include "dcosd/options.h"

#include <catch2/catch.hpp>

using namespace dcos::dcosd;

TEST_CASE("options parse with defaults and overrides", "[options]") {
  auto d = parseOptions({}, "/usr/lib/dcos/plugins");
  REQUIRE(d.ok());
  CHECK(d->configDir == "/etc/dcos");
  CHECK(d->pluginDir == "/usr/lib/dcos/plugins");
  CHECK(d->stateDir == "/var/lib/dcos");
  CHECK_FALSE(d->check);

  auto o = parseOptions({"--config-dir", "/c", "--plugin-dir=/p", "--state-dir", "/s", "--check", "--log-level",
                         "debug", "--stop-timeout", "5"},
                        "/x");
  REQUIRE(o.ok());
  CHECK(o->configDir == "/c");
  CHECK(o->pluginDir == "/p");
  CHECK(o->stateDir == "/s");
  CHECK(o->check);
  CHECK(o->logLevel == "debug");
  CHECK(o->stopTimeoutSeconds == 5);
}

TEST_CASE("bad options name the argument", "[options]") {
  auto err = [](std::vector<std::string> args) {
    auto r = parseOptions(args, "/x");
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK(err({"--config-dir"}) == "--config-dir: needs a value");
  CHECK(err({"--plugin-dir="}) == "--plugin-dir: needs a non-empty value");
  CHECK(err({"--log-level", "loud"}) == "--log-level: unknown level \"loud\" (known: error, warning, notice, info, debug)");
  CHECK(err({"--stop-timeout", "0"}) == "--stop-timeout: expected seconds from 1 to 3600, found \"0\"");
  CHECK(err({"--stop-timeout", "5s"}) == "--stop-timeout: expected seconds from 1 to 3600, found \"5s\"");
  CHECK(err({"--confg-dir", "/c"}) == "unknown argument \"--confg-dir\" (did you mean --config-dir?)");
  CHECK(err({"serve"}) == "unknown argument \"serve\"");
}

TEST_CASE("usage documents every option", "[options]") {
  auto text = usage();
  for (const char *option : {"--config-dir", "--plugin-dir", "--state-dir", "--log-level", "--stop-timeout", "--check",
                             "--help", "--version"}) {
    CHECK_THAT(text, Catch::Contains(option));
  }
}
