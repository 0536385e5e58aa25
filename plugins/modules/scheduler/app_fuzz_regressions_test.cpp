// parseApp's answers to inputs the fuzzers (tests/fuzz) found wrong, one
// TEST_CASE per finding; the input is in tests/fuzz/corpus as well.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include "base/text.h"
#include "plugins/modules/scheduler/app.h"

using dcos::scheduler::parseApp;
using dcos::scheduler::Problem;

TEST_CASE("a body that is not UTF-8 gets a 400 whose message is", "[scheduler][fuzz]") {
  // Poco's message quoted the byte it stopped at, raw: the 400's JSON body
  // was not UTF-8, and clients could not read it.
  for (std::string body : {std::string("{\"id\": \"w\", \"cmd\": \x9c\"x\"}"), std::string("\xff\xfe{}"),
                           std::string("{\"id\": \"w\", \"cmd\": \"x\"} \xc3")}) {
    INFO(body);
    std::vector<Problem> problems;
    auto app = parseApp(body, problems);
    REQUIRE_FALSE(app);
    CHECK(app.error().code == 400);
    CHECK(problems.empty());
    const std::string &m = app.error().message;
    CHECK_THAT(m, Catch::StartsWith("Invalid JSON: "));
    for (char c : m) CHECK((static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f));
    // As the scheduler answers it (messageJson): valid JSON.
    CHECK_NOTHROW(Poco::JSON::Parser().parse("{\"message\": " + dcos::text::quote(m) + "}"));
  }
  std::vector<Problem> problems;
  auto app = parseApp("{\"id\": \"w\", \"cmd\": \x9c}", problems);
  REQUIRE_FALSE(app);
  CHECK_THAT(app.error().message, Catch::Contains("\\x9c"));
}

TEST_CASE("an app too big to store in ZooKeeper is refused with 422, however small its body", "[scheduler][fuzz]") {
  // 7000 empty health checks: 28 KB in, 1.1 MB written out. ZooKeeper
  // refused the znode: POST /v2/apps answered 503, and in a group the apps
  // before it were stored (a 503 with a partial write).
  std::string checks;
  for (int i = 0; i < 7000; ++i) checks += i ? ", {}" : "{}";
  std::vector<Problem> problems;
  auto app = parseApp(R"({"id": "h", "cmd": "x", "healthChecks": [)" + checks + "]}", problems);
  REQUIRE_FALSE(app);
  CHECK(app.error().code == 422);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "/");
  CHECK_THAT(problems[0].message, Catch::Contains("bytes as stored, over the limit of 524288"));

  SECTION("a change that makes an app too big is refused too") {
    std::vector<Problem> none;
    auto base = parseApp(R"({"id": "h", "cmd": "x"})", none);
    REQUIRE(base);
    std::vector<Problem> more;
    auto changed = parseApp(R"({"healthChecks": [)" + checks + "]}", more, &*base);
    REQUIRE_FALSE(changed);
    CHECK(changed.error().code == 422);
  }
  SECTION("an app well under the limit is taken") {
    std::vector<Problem> fine;
    CHECK(parseApp(R"({"id": "h", "cmd": "x", "healthChecks": [{}, {}, {}]})", fine));
  }
}

TEST_CASE("a change of the ports alone is checked against the health checks the app keeps", "[scheduler][fuzz]") {
  // PATCH {"portDefinitions": []} over an app with an HTTP health check was
  // taken: stored, it no longer parsed, and a new leader left it unloaded.
  std::vector<Problem> none;
  auto base = parseApp(R"({"id": "w", "cmd": "x", "healthChecks": [{"protocol": "HTTP"}]})", none);
  REQUIRE(base);
  std::vector<Problem> problems;
  auto changed = parseApp(R"({"portDefinitions": []})", problems, &*base);
  REQUIRE_FALSE(changed);
  CHECK(changed.error().code == 422);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "/healthChecks(0)/portIndex");

  SECTION("a COMMAND check or a check with its own port needs no port definition") {
    std::vector<Problem> fine;
    auto own = parseApp(R"({"id": "w", "cmd": "x", "healthChecks": [{"protocol": "TCP", "port": 80},
                                                                  {"protocol": "COMMAND", "command": {"value": "true"}}]})",
                        fine);
    REQUIRE(own);
    CHECK(parseApp(R"({"portDefinitions": []})", fine, &*own));
  }
}
