#include "dcosd/node_state.h"

#include <catch2/catch.hpp>

using namespace dcos::dcosd;
using dcos::pluginhost::PluginStatus;
using dcos::pluginhost::State;

namespace {

PluginStatus plugin(const std::string &name, State state, dcos_health health = DCOS_HEALTH_HEALTHY,
                    bool optional = false) {
  PluginStatus p;
  p.name = name;
  p.kind = "module";
  p.state = state;
  p.health = health;
  p.optional = optional;
  return p;
}

NodeSnapshot running(std::vector<PluginStatus> plugins) {
  NodeSnapshot s;
  s.phase = Phase::Running;
  s.plugins = std::move(plugins);
  s.firewallEnabled = false;
  s.firewallState = "disabled";
  return s;
}

}  // namespace

TEST_CASE("health verdict", "[health]") {
  CHECK(verdict(running({plugin("a", State::Running)})).status == "healthy");
  CHECK(verdict(running({plugin("a", State::Running)})).httpStatus == 200);
  CHECK(verdict(running({plugin("a", State::Running, DCOS_HEALTH_DEGRADED)})).status == "degraded");
  CHECK(verdict(running({plugin("a", State::Running), plugin("b", State::Failed, DCOS_HEALTH_UNHEALTHY, true)}))
            .status == "degraded");
  auto bad = verdict(running({plugin("a", State::Running, DCOS_HEALTH_UNHEALTHY)}));
  CHECK(bad.status == "unhealthy");
  CHECK(bad.httpStatus == 503);
  NodeSnapshot starting;
  CHECK(verdict(starting).status == "starting");
  CHECK(verdict(starting).httpStatus == 503);
  auto fw = running({});
  fw.firewallEnabled = true;
  fw.firewallState = "failed";
  CHECK(verdict(fw).status == "unhealthy");
}

TEST_CASE("a node without a session is degraded, and says why", "[health]") {
  auto s = running({plugin("a", State::Running)});
  s.coordination = true;
  s.coordinationConnected = false;
  s.coordinationMessage = "no session with the ensemble at 10.0.0.1:2181";
  CHECK(verdict(s).status == "degraded");
  CHECK(verdict(s).httpStatus == 200);
  CHECK_THAT(healthJson(s), Catch::Contains("\"message\":\"no session with the ensemble at 10.0.0.1:2181\""));
  s.coordinationConnected = true;
  s.coordinationRegistered = true;
  CHECK(verdict(s).status == "healthy");
}

TEST_CASE("JSON documents carry what operators look for", "[health]") {
  auto s = running({plugin("dns", State::Failed, DCOS_HEALTH_UNHEALTHY, true)});
  s.plugins[0].message = "dns.so: cannot load: No such file or directory";
  s.role = "master";
  s.version = "9.9.9";
  auto health = healthJson(s);
  CHECK_THAT(health, Catch::Contains("\"status\":\"degraded\""));
  CHECK_THAT(health, Catch::Contains("\"message\":\"dns.so: cannot load: No such file or directory\""));
  auto node = nodeJson(s);
  CHECK_THAT(node, Catch::Contains("\"version\":\"9.9.9\""));
  CHECK_THAT(node, Catch::Contains("\"role\":\"master\""));
}

TEST_CASE("metrics are Prometheus text with escaped labels", "[metrics]") {
  auto s = running({plugin("a\"b", State::Running)});
  auto text = metricsText(s, {{200, 3}, {404, 1}}, 4096);
  CHECK_THAT(text, Catch::Contains("# TYPE dcosd_plugin_up gauge\n"));
  CHECK_THAT(text, Catch::Contains("dcosd_plugin_up{plugin=\"a\\\"b\",kind=\"module\",version=\"\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("dcosd_api_responses_total{code=\"404\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("dcosd_resident_memory_bytes 4096\n"));
  CHECK_THAT(text, Catch::Contains("dcosd_healthy 1\n"));
  CHECK_THAT(text, Catch::Contains("dcosd_coordination_connected 0\n"));
}
