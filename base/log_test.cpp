#include "base/log.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace dcos;

TEST_CASE("levels filter records before the sink", "[log]") {
  std::vector<std::string> seen;
  log::setSink([&](const log::Record &r) { seen.push_back(std::string(r.plugin) + "|" + std::string(r.message)); });
  log::setLevel(log::Level::Warning);
  log::info("dropped");
  log::warning("kept");
  log::write(log::Level::Error, "dns", "also kept");
  log::setLevel(log::Level::Info);
  log::setSink(nullptr);
  CHECK(seen == std::vector<std::string>{"|kept", "dns|also kept"});
}

TEST_CASE("level names parse both ways", "[log]") {
  for (auto level : {log::Level::Error, log::Level::Warning, log::Level::Notice, log::Level::Info, log::Level::Debug}) {
    CHECK(log::parseLevel(log::levelName(level)) == level);
  }
  CHECK_FALSE(log::parseLevel("verbose"));
}
