#include "base/uuid.h"

#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <thread>
#include <vector>

TEST_CASE("newUuid: version 4 in RFC 4122's form, none repeated, across threads", "[uuid]") {
  const std::regex form("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::vector<std::vector<std::string>> made(4);
  std::vector<std::thread> threads;
  for (auto &list : made) {
    threads.emplace_back([&list] {
      for (int i = 0; i < 20000; ++i) list.push_back(dcos::newUuid());  // several refills of each thread's block
    });
  }
  for (auto &t : threads) t.join();
  std::set<std::string> all;
  for (const auto &list : made) {
    for (const auto &u : list) {
      REQUIRE(std::regex_match(u, form));
      all.insert(u);
    }
  }
  CHECK(all.size() == 80000);
}
