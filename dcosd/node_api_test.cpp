// The node API over real HTTP on loopback.
#include "dcosd/node_api.h"


#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <sstream>

#include "tests/support/netns.h"
#include "tests/support/process.h"

using namespace dcos::dcosd;

namespace {

struct Reply {
  int status;
  std::string contentType;
  std::string allow;
  std::string body;
};

Reply call(const std::string &address, const std::string &method, const std::string &path) {
  auto r = dcos::test::http(std::stoi(address.substr(address.rfind(':') + 1)), path, method);
  return {r.status, r.headers["Content-Type"], r.headers["Allow"], r.body};
}

}  // namespace

TEST_CASE("node API answers its paths and refuses the rest with JSON errors", "[nodeapi]") {
  std::atomic<int> phase{static_cast<int>(Phase::Running)};
  NodeApi api([&] {
    NodeSnapshot s;
    s.phase = static_cast<Phase>(phase.load());
    s.role = "master";
    s.version = "0.1.0";
    s.firewallEnabled = false;
    s.firewallState = "disabled";
    return s;
  });
  REQUIRE(api.start("127.0.0.1:0").ok());
  const std::string at = api.address();

  SECTION("health") {
    auto r = call(at, "GET", "/health");
    CHECK(r.status == 200);
    CHECK(r.contentType == "application/json");
    CHECK_THAT(r.body, Catch::Contains("\"status\":\"healthy\""));
    phase = static_cast<int>(Phase::Starting);
    CHECK(call(at, "GET", "/health").status == 503);
  }
  SECTION("node") {
    auto r = call(at, "GET", "/v1/node?pretty=1");
    CHECK(r.status == 200);
    CHECK_THAT(r.body, Catch::Contains("\"role\":\"master\""));
  }
  SECTION("metrics count responses") {
    call(at, "GET", "/nope");
    auto r = call(at, "GET", "/metrics");
    CHECK(r.status == 200);
    CHECK_THAT(r.contentType, Catch::StartsWith("text/plain; version=0.0.4"));
    CHECK_THAT(r.body, Catch::Contains("dcosd_api_responses_total{code=\"404\"} 1"));
  }
  SECTION("HEAD has no body") {
    auto r = call(at, "HEAD", "/health");
    CHECK(r.status == 200);
    CHECK(r.body.empty());
  }
  SECTION("unknown path") {
    auto r = call(at, "GET", "/v2/apps");
    CHECK(r.status == 404);
    CHECK(r.body == "{\"message\":\"no such path: /v2/apps\"}");
  }
  SECTION("bad method") {
    auto r = call(at, "DELETE", "/v1/node");
    CHECK(r.status == 405);
    CHECK(r.allow == "GET, HEAD");
    CHECK_THAT(r.body, Catch::Contains("method DELETE not allowed on /v1/node"));
  }
  api.stop();
}

TEST_CASE("node API reports a port it cannot bind", "[nodeapi]") {
  NodeApi first([] { return NodeSnapshot{}; });
  REQUIRE(first.start("127.0.0.1:0").ok());
  NodeApi second([] { return NodeSnapshot{}; });
  auto s = second.start(first.address());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error().message, Catch::StartsWith("node API: cannot listen on " + first.address() + ": "));
}

TEST_CASE("a plugin route gets a body whole, or the request is refused with 413", "[nodeapi]") {
  std::atomic<size_t> seen{0};
  NodeApi api([] { return NodeSnapshot{}; },
              [&](const dcos_http_request &req, const dcos_http_response &) {
                seen = req.body_len;
                return true;
              });
  REQUIRE(api.start("127.0.0.1:0").ok());
  dcos::test::TempDir dir("dcos-api-body");
  auto post = [&](size_t bytes, bool chunked = false) {
    dcos::test::writeFile(dir / "body", std::string(bytes, 'x'));
    std::vector<std::string> argv{"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary",
                                  "@" + (dir / "body"), "http://" + api.address() + "/plugin/x"};
    if (chunked) argv.insert(argv.begin() + 1, {"-H", "Transfer-Encoding: chunked"});
    return dcos::test::runCommand(argv).out;
  };
  CHECK(post(1000) == "200");
  CHECK(seen == 1000);
  seen = 0;
  CHECK(post(3u << 20) == "413");
  CHECK(seen == 0);  // the plugin never saw a cut body
  CHECK(post(3u << 20, true) == "413");  // no length given: counted as it comes
  CHECK(seen == 0);
  CHECK(post(1000, true) == "200");
  CHECK(seen == 1000);
  api.stop();
}


// The scheduler's API is a plugin route: a Marathon client's body over the
// limit gets the server's own 413, in JSON as every other refusal, and the
// scheduler never sees a cut app definition.
TEST_CASE("a 1.5 MB POST /v2/apps is refused with 413 and a JSON message", "[nodeapi]") {
  std::atomic<int> calls{0};
  NodeApi api([] { return NodeSnapshot{}; },
              [&](const dcos_http_request &, const dcos_http_response &) {
                ++calls;
                return true;
              });
  REQUIRE(api.start("127.0.0.1:0").ok());
  dcos::test::TempDir dir("dcos-api-413");
  // A well-formed app, only too big: 1.5 MB of labels.
  std::string app = R"({"id": "/big", "cmd": "sleep 1000", "labels": {)";
  for (int i = 0; app.size() < 1'500'000; ++i) {
    app += (i ? ", " : "") + std::string("\"L") + std::to_string(i) + "\": \"" + std::string(1000, 'x') + "\"";
  }
  app += "}}";
  dcos::test::writeFile(dir / "app.json", app);
  auto post = [&](bool chunked) {
    std::vector<std::string> argv{"/usr/bin/curl", "-s", "-o", dir / "body", "-D", dir / "headers", "-w", "%{http_code}",
                                  "-H", "Content-Type: application/json", "--data-binary", "@" + (dir / "app.json"),
                                  "http://" + api.address() + "/v2/apps"};
    if (chunked) argv.insert(argv.begin() + 1, {"-H", "Transfer-Encoding: chunked"});
    return dcos::test::runCommand(argv).out;
  };
  for (bool chunked : {false, true}) {
    INFO("chunked: " << chunked);
    CHECK(post(chunked) == "413");
    CHECK_THAT(dcos::test::readFile(dir / "headers"), Catch::Contains("Content-Type: application/json"));
    auto body = dcos::test::readFile(dir / "body");
    INFO(body);
    auto parsed = Poco::JSON::Parser().parse(body);
    REQUIRE(parsed.type() == typeid(Poco::JSON::Object::Ptr));
    auto message = parsed.extract<Poco::JSON::Object::Ptr>()->optValue<std::string>("message", "");
    CHECK_THAT(message, Catch::Contains("request body over 1048576 bytes"));
  }
  CHECK(calls == 0);
  api.stop();
}
