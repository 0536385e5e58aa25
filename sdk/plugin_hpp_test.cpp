// The C++ adapter keeps exceptions on its side of the ABI and turns them into
// (negative errno, message), and the descriptors it makes are well formed.
#include <dcos/plugin.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

namespace {

struct Recorded {
  std::vector<std::string> logs;
  int health = -1;
};

void hostLog(void *ctx, dcos_log_level, const char *m) { static_cast<Recorded *>(ctx)->logs.push_back(m); }
const char *hostNode(void *) { return "{\"role\":\"test\"}"; }
const char *hostState(void *) { return "/nonexistent"; }
void hostHealth(void *ctx, dcos_health h, const char *) { static_cast<Recorded *>(ctx)->health = h; }

dcos_host_v1 makeHost(Recorded &r) {
  dcos_host_v1 h{};
  h.struct_size = sizeof h;
  h.abi_major = DCOS_ABI_MAJOR;
  h.ctx = &r;
  h.log = hostLog;
  h.node_json = hostNode;
  h.state_dir = hostState;
  h.report_health = hostHealth;
  return h;
}

class Good : public dcos::sdk::Module {
 public:
  Good(dcos::sdk::Host host, std::string_view config) : host_(host), config_(config) {}
  void start() override {
    if (config_ == "fail-start") throw dcos::sdk::Error("port busy", EADDRINUSE);
    if (config_ == "throw-int") throw 42;
    host_.info("started");
    host_.reportHealth(DCOS_HEALTH_DEGRADED, "warming up");
  }
  void stop() override { throw std::runtime_error("stop must not leak this"); }

 private:
  dcos::sdk::Host host_;
  std::string config_;
};

class Failing : public dcos::sdk::Module {
 public:
  Failing(dcos::sdk::Host, std::string_view) { throw std::runtime_error("/port: expected a number"); }
  void start() override {}
  void stop() override {}
};

class ARole : public dcos::sdk::Role {
 public:
  ARole(dcos::sdk::Host, std::string_view) {}
  std::string manifest() const override { return "{\"zone\":" + dcos::sdk::jsonQuote("pri\"vate") + "}"; }
};

}  // namespace

TEST_CASE("module descriptor is well formed", "[sdk]") {
  auto d = dcos::sdk::detail::moduleDescriptor<Good>("good", "1.0.0", "a test module");
  CHECK(d.struct_size == sizeof(dcos_plugin_v1));
  CHECK(d.abi_major == DCOS_ABI_MAJOR);
  CHECK(d.kind == DCOS_PLUGIN_MODULE);
  CHECK(std::string(d.name) == "good");
  CHECK(d.role_manifest == nullptr);
}

TEST_CASE("exceptions become errno and message, never escape", "[sdk]") {
  Recorded rec;
  auto host = makeHost(rec);
  auto d = dcos::sdk::detail::moduleDescriptor<Good>("good", "1.0.0", "");
  char err[128] = "untouched";
  void *instance = nullptr;

  SECTION("a good start logs and reports health through the host") {
    REQUIRE(d.create(&host, "ok", &instance, err, sizeof err) == 0);
    REQUIRE(d.start(instance, err, sizeof err) == 0);
    CHECK(rec.logs == std::vector<std::string>{"started"});
    CHECK(rec.health == DCOS_HEALTH_DEGRADED);
    d.stop(instance);  // throws inside; must be swallowed
    d.destroy(instance);
  }
  SECTION("dcos::sdk::Error chooses the errno") {
    REQUIRE(d.create(&host, "fail-start", &instance, err, sizeof err) == 0);
    CHECK(d.start(instance, err, sizeof err) == -EADDRINUSE);
    CHECK(std::string(err) == "port busy");
    d.destroy(instance);
  }
  SECTION("a non-standard exception is reported, not propagated") {
    REQUIRE(d.create(&host, "throw-int", &instance, err, sizeof err) == 0);
    CHECK(d.start(instance, err, sizeof err) == -EINVAL);
    CHECK(std::string(err) == "unknown exception");
    d.destroy(instance);
  }
  SECTION("a throwing constructor fails create and leaves instance untouched") {
    auto f = dcos::sdk::detail::moduleDescriptor<Failing>("failing", "1.0.0", "");
    void *sentinel = &rec;
    instance = sentinel;
    CHECK(f.create(&host, "{}", &instance, err, sizeof err) == -EINVAL);
    CHECK(std::string(err) == "/port: expected a number");
    CHECK(instance == sentinel);
  }
  SECTION("a message longer than the buffer is truncated, not overflowed") {
    char small[5];
    REQUIRE(d.create(&host, "fail-start", &instance, small, sizeof small) == 0);
    CHECK(d.start(instance, small, sizeof small) == -EADDRINUSE);
    CHECK(std::string(small) == "port");
    d.destroy(instance);
  }
}

TEST_CASE("role descriptor returns the manifest it was built with", "[sdk]") {
  Recorded rec;
  auto host = makeHost(rec);
  auto d = dcos::sdk::detail::roleDescriptor<ARole>("a-role", "1.0.0", "");
  CHECK(d.kind == DCOS_PLUGIN_ROLE);
  void *instance = nullptr;
  char err[64];
  REQUIRE(d.create(&host, "{}", &instance, err, sizeof err) == 0);
  REQUIRE(d.role_manifest != nullptr);
  CHECK(std::string(d.role_manifest(instance)) == "{\"zone\":\"pri\\\"vate\"}");
  d.destroy(instance);
}

TEST_CASE("jsonQuote escapes what JSON needs and never lets a byte that is not UTF-8 through", "[sdk]") {
  using dcos::sdk::jsonQuote;
  CHECK(jsonQuote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
  CHECK(jsonQuote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82\"");
  CHECK(jsonQuote("/\xff") == "\"/\\ufffd\"");
  CHECK(jsonQuote("\xc3") == "\"\\ufffd\"");                  // cut short
  CHECK(jsonQuote("\xc0\xaf") == "\"\\ufffd\\ufffd\"");       // overlong
  CHECK(jsonQuote("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  CHECK(jsonQuote("\xf4\x90\x80\x80x") == "\"\\ufffd\\ufffd\\ufffd\\ufffdx\"");  // past U+10FFFF
}
