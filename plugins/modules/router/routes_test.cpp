#include "plugins/modules/router/routes.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

using namespace dcos::router;

namespace {

using Labels = std::map<std::string, std::string>;
using Apps = std::map<std::string, AppInfo>;

AppInfo app(const std::string &id, Labels labels, std::vector<int> servicePorts = {10000}) {
  AppInfo a;
  a.id = id;
  a.labels = std::move(labels);
  a.servicePorts = std::move(servicePorts);
  return a;
}

TaskInfo task(const std::string &id, const std::string &appId, std::vector<int> ports, const std::string &host = "10.0.0.1",
              const std::string &state = "TASK_RUNNING") {
  return TaskInfo{id, appId, host, state, std::move(ports), std::nullopt, false};
}

Apps apps(std::initializer_list<AppInfo> list) {
  Apps out;
  for (const auto &a : list) out[a.id] = a;
  return out;
}

EdgeConfig group(const std::string &g) {
  EdgeConfig c;
  c.group = g;
  return c;
}

std::vector<std::string> keys(const Plan &p) {
  std::vector<std::string> out;
  for (const auto &s : p.services) out.push_back(s.key());
  return out;
}

const Service *find(const Plan &p, const std::string &key) {
  for (const auto &s : p.services)
    if (s.key() == key) return &s;
  return nullptr;
}

// How many problems start with `prefix` (and contain `part`, when given).
size_t problemsWith(const Plan &p, const std::string &prefix, const std::string &part = "") {
  return static_cast<size_t>(std::count_if(p.problems.begin(), p.problems.end(), [&](const std::string &m) {
    return m.rfind(prefix, 0) == 0 && m.find(part) != std::string::npos;
  }));
}

}  // namespace

TEST_CASE("plan: an external app with a virtual host, its running tasks") {
  AppInfo a;
  a.id = "/web";
  a.labels = {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "Web.Example.com, www.example.com"}};
  a.servicePorts = {10000};
  TaskInfo t{"web.1", "/web", "10.0.0.5", "TASK_RUNNING", {31000}, std::nullopt, false};
  auto p = plan(EdgeConfig{}, {{a.id, a}}, {t});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].mode == Mode::Http);
  CHECK(p.services[0].vhosts == std::vector<std::string>{"web.example.com", "www.example.com"});
  CHECK(p.services[0].backends == std::vector<Backend>{{"web.1", "10.0.0.5", 31000}});
  CHECK(p.problems.empty());
}

// --- Groups -----------------------------------------------------------------

TEST_CASE("group: an app without HAPROXY_GROUP is not served") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_0_VHOST", "a.example.com"}})}), {});
  CHECK(p.services.empty());
  CHECK(p.problems.empty());
}

TEST_CASE("group: an app in another group is not served") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "internal"}})}), {});
  CHECK(p.services.empty());
  CHECK(p.problems.empty());
}

TEST_CASE("group: a router in group * serves apps of every group") {
  auto p = plan(group("*"),
                apps({app("/a", {{"HAPROXY_GROUP", "external"}}, {10001}), app("/b", {{"HAPROXY_GROUP", "internal"}}, {10002})}),
                {});
  CHECK(keys(p) == std::vector<std::string>{"/a:0", "/b:0"});
}

TEST_CASE("group: a router in group * serves apps without HAPROXY_GROUP too") {
  // As marathon-lb reads it.
  auto p = plan(group("*"), apps({app("/a", {})}), {});
  CHECK(keys(p) == std::vector<std::string>{"/a:0"});
}

TEST_CASE("group: an app in group * is not served by every router") {
  // As marathon-lb reads it.
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "*"}})}), {});
  CHECK(p.services.empty());
}

TEST_CASE("group: HAPROXY_GROUP is a comma-separated list, any one matching serves") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "internal, external"}}, {10001}),
                      app("/b", {{"HAPROXY_GROUP", "internal,other"}}, {10002})}),
                {});
  CHECK(keys(p) == std::vector<std::string>{"/a:0"});
}

TEST_CASE("group: HAPROXY_{n}_GROUP overrides the app's group for port n") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "internal"}, {"HAPROXY_1_GROUP", "external"}}, {10001, 10002}),
                      app("/b", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_GROUP", "internal"}}, {10003, 10004})}),
                {});
  CHECK(keys(p) == std::vector<std::string>{"/a:1", "/b:1"});
  CHECK(p.problems.empty());
}

TEST_CASE("group: problems are only reported for apps this router serves") {
  // As marathon-lb reads it.
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "internal"}, {"HAPROXY_3_VHOST", "a.example.com"}})}), {});
  CHECK(p.services.empty());
  CHECK(p.problems.empty());
}

// --- Enabled, port indexes --------------------------------------------------

TEST_CASE("enabled: HAPROXY_{n}_ENABLED false leaves port n out") {
  for (std::string off : {"false", "0", "no", "off", "FALSE"}) {
    CAPTURE(off);
    auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_ENABLED", off}}, {10001, 10002})}),
                  {});
    CHECK(keys(p) == std::vector<std::string>{"/a:1"});
    CHECK(p.problems.empty());
  }
}

TEST_CASE("enabled: a disabled port does not claim its service port") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_ENABLED", "false"}}, {10001}),
                      app("/b", {{"HAPROXY_GROUP", "external"}}, {10001})}),
                {});
  REQUIRE(keys(p) == std::vector<std::string>{"/b:0"});
  CHECK(p.services[0].servicePort == 10001);
  CHECK(p.problems.empty());
}

TEST_CASE("enabled: an ENABLED value that is not a boolean is a problem, the port stays enabled") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_ENABLED", "maybe"}})}), {});
  CHECK(keys(p) == std::vector<std::string>{"/a:0"});
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_ENABLED: ", "maybe") == 1);
}

TEST_CASE("labels: a port index the app lacks is a problem naming app and label, the rest is served") {
  auto p = plan(EdgeConfig{},
                apps({app("/x", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "x.example.com"}, {"HAPROXY_3_VHOST", "y.example.com"}},
                          {10001, 10002})}),
                {});
  CHECK(keys(p) == std::vector<std::string>{"/x:0", "/x:1"});
  REQUIRE(p.problems.size() == 1);
  CHECK(p.problems[0].rfind("app /x: label HAPROXY_3_VHOST: ", 0) == 0);
  CHECK(p.problems[0].find("no port index 3") != std::string::npos);
  REQUIRE(find(p, "/x:0"));
  CHECK(find(p, "/x:0")->vhosts == std::vector<std::string>{"x.example.com"});
}

TEST_CASE("labels: an unknown per-port label is a problem, the port is still served") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_FROBNICATE", "yes"}})}), {});
  CHECK(keys(p) == std::vector<std::string>{"/a:0"});
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_FROBNICATE: ") == 1);
}

TEST_CASE("labels: labels other than HAPROXY_GROUP and HAPROXY_{n}_* are ignored") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_DEPLOYMENT_GROUP", "a"}, {"OTHER", "x"}})}), {});
  CHECK(keys(p) == std::vector<std::string>{"/a:0"});
  CHECK(p.problems.empty());
}

TEST_CASE("labels: a port index with a leading zero is not port n's label") {
  // As marathon-lb reads it.
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_00_VHOST", "a.example.com"}})}), {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].vhosts.empty());
}

// --- Mode -------------------------------------------------------------------

TEST_CASE("mode: defaults to http with a virtual host") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "a.example.com"}})}), {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].mode == Mode::Http);
}

TEST_CASE("mode: defaults to http with an HTTP health check") {
  auto a = app("/a", {{"HAPROXY_GROUP", "external"}});
  a.healthChecked = a.httpHealthCheck = true;
  auto p = plan(EdgeConfig{}, apps({a}), {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].mode == Mode::Http);
}

TEST_CASE("mode: defaults to tcp without a virtual host or an HTTP health check") {
  auto a = app("/a", {{"HAPROXY_GROUP", "external"}});
  a.healthChecked = true;  // a TCP or command health check
  auto p = plan(EdgeConfig{}, apps({a}), {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].mode == Mode::Tcp);
}

TEST_CASE("mode: an invalid virtual host does not make the default http") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "bad_host"}})}), {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].mode == Mode::Tcp);
}

TEST_CASE("mode: HAPROXY_{n}_MODE sets http or tcp, case-insensitively") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_MODE", " HTTP "}}, {10001}),
                      app("/b", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_MODE", "tcp"}}, {10002})}),
                {});
  REQUIRE(p.services.size() == 2);
  CHECK(p.services[0].mode == Mode::Http);
  CHECK(p.services[1].mode == Mode::Tcp);
  CHECK(p.problems.empty());
}

TEST_CASE("mode: an unknown MODE is a problem and the default mode is used") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_MODE", "udp"}, {"HAPROXY_0_VHOST", "a.example.com"}}, {10001}),
                      app("/b", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_MODE", "udp"}}, {10002})}),
                {});
  REQUIRE(p.services.size() == 2);
  CHECK(p.services[0].mode == Mode::Http);
  CHECK(p.services[1].mode == Mode::Tcp);
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_MODE: ", "\"udp\"") == 1);
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_MODE: ", "http used") == 1);
  CHECK(problemsWith(p, "app /b: label HAPROXY_0_MODE: ", "tcp used") == 1);
  CHECK(p.problems.size() == 2);
}

TEST_CASE("mode: tcp mode drops virtual hosts, path, stickiness and redirect, each with a problem") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"},
                                              {"HAPROXY_0_MODE", "tcp"},
                                              {"HAPROXY_0_VHOST", "a.example.com"},
                                              {"HAPROXY_0_PATH", "/api"},
                                              {"HAPROXY_0_STICKY", "true"},
                                              {"HAPROXY_0_REDIRECT_TO_HTTPS", "true"}})}),
                {});
  REQUIRE(p.services.size() == 1);
  const auto &s = p.services[0];
  CHECK(s.mode == Mode::Tcp);
  CHECK(s.vhosts.empty());
  CHECK(s.path.empty());
  CHECK_FALSE(s.sticky);
  CHECK_FALSE(s.redirectToHttps);
  CHECK(s.servicePort == 10000);
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_VHOST: ") == 1);
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_PATH: ") == 1);
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_STICKY: ") == 1);
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_REDIRECT_TO_HTTPS: ") == 1);
  CHECK(p.problems.size() == 4);
}

TEST_CASE("mode: http mode keeps path, stickiness and the redirect to https") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"},
                                              {"HAPROXY_0_VHOST", "a.example.com"},
                                              {"HAPROXY_0_PATH", "/api"},
                                              {"HAPROXY_0_STICKY", "true"},
                                              {"HAPROXY_0_REDIRECT_TO_HTTPS", "yes"}})}),
                {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].path == "/api");
  CHECK(p.services[0].sticky);
  CHECK(p.services[0].redirectToHttps);
  CHECK(p.problems.empty());
}

TEST_CASE("mode: a REDIRECT_TO_HTTPS that is not a boolean is a problem, no redirect") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"},
                                              {"HAPROXY_0_VHOST", "a.example.com"},
                                              {"HAPROXY_0_REDIRECT_TO_HTTPS", "always"}})}),
                {});
  REQUIRE(p.services.size() == 1);
  CHECK_FALSE(p.services[0].redirectToHttps);
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_REDIRECT_TO_HTTPS: ", "always") == 1);
}

// --- Balance ----------------------------------------------------------------

TEST_CASE("balance: a known BALANCE is used, lower-cased") {
  for (std::string b : {"roundrobin", "static-rr", "leastconn", "first", "source", "random"}) {
    CAPTURE(b);
    std::string upper = b;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_BALANCE", " " + upper}})}), {});
    REQUIRE(p.services.size() == 1);
    CHECK(p.services[0].balance == b);
    CHECK(p.problems.empty());
  }
}

TEST_CASE("balance: defaults to roundrobin") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}})}), {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].balance == "roundrobin");
}

TEST_CASE("balance: an unknown BALANCE is a problem and roundrobin is used") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_BALANCE", "fastest"}})}), {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].balance == "roundrobin");
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_BALANCE: ", "\"fastest\"") == 1);
  CHECK(p.problems.size() == 1);
}

// --- Virtual hosts and paths -------------------------------------------------

TEST_CASE("vhost: names that are not host names are rejected with problems, the good ones kept") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "external"},
                                 {"HAPROXY_0_VHOST", "good.example.com,bad_name,-lead.com,trail-,.dot.com,a..b,with space,a/b,"
                                                     " GOOD.example.com"}})}),
                {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].vhosts == std::vector<std::string>{"good.example.com"});
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_VHOST: ", "is not a host name") == 7);
  CHECK(p.problems.size() == 7);
}

TEST_CASE("vhost: a host name longer than 253 characters is rejected") {
  std::string longName;
  while (longName.size() < 254) longName += "abcdefghi.";
  longName += "com";
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", longName}})}), {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].vhosts.empty());
  CHECK(problemsWith(p, "app /a: label HAPROXY_0_VHOST: ") == 1);
}

TEST_CASE("path: paths not starting with / or with spaces, ? or # are rejected with problems") {
  for (std::string bad : {"api", "/a b", "/a?x", "/a#x", "/caf\xc3\xa9", "", "/a\tb"}) {
    CAPTURE(bad);
    auto p = plan(EdgeConfig{},
                  apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "a.example.com"}, {"HAPROXY_0_PATH", bad}})}),
                  {});
    REQUIRE(p.services.size() == 1);
    CHECK(p.services[0].path.empty());
    CHECK(problemsWith(p, "app /a: label HAPROXY_0_PATH: ") == 1);
    CHECK(p.problems.size() == 1);
  }
}

TEST_CASE("path: a good path is kept, trimmed") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "a.example.com"}, {"HAPROXY_0_PATH", " /api/v1 "}})}),
                {});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].path == "/api/v1");
  CHECK(p.problems.empty());
}

// --- Conflicts between apps --------------------------------------------------

TEST_CASE("conflict: a duplicate service port is bound for the first app by id, a problem for the other") {
  // "/b" is listed first: the order of apps by id decides, not insertion.
  auto p = plan(EdgeConfig{},
                apps({app("/b", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "b.example.com"}}, {10001}),
                      app("/a", {{"HAPROXY_GROUP", "external"}}, {10001})}),
                {});
  REQUIRE(keys(p) == std::vector<std::string>{"/a:0", "/b:0"});
  CHECK(p.services[0].servicePort == 10001);
  CHECK(p.services[1].servicePort == 0);                       // still reached by its virtual host
  CHECK(p.services[1].vhosts == std::vector<std::string>{"b.example.com"});
  CHECK(problemsWith(p, "app /b: ", "10001") == 1);
  CHECK(problemsWith(p, "app /b: ", "/a:0") == 1);
  CHECK(p.problems.size() == 1);
}

TEST_CASE("conflict: a duplicate vhost and path is routed to the first app by id, a problem for the other") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "www.example.com"}, {"HAPROXY_0_PATH", "/api"}}, {10001}),
                      app("/b", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "WWW.example.com, b.example.com"},
                                 {"HAPROXY_0_PATH", "/api"}}, {10002}),
                      app("/c", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "www.example.com"}, {"HAPROXY_0_PATH", "/web"}}, {10003})}),
                {});
  REQUIRE(keys(p) == std::vector<std::string>{"/a:0", "/b:0", "/c:0"});
  CHECK(p.services[0].vhosts == std::vector<std::string>{"www.example.com"});
  CHECK(p.services[1].vhosts == std::vector<std::string>{"b.example.com"});
  CHECK(p.services[2].vhosts == std::vector<std::string>{"www.example.com"});  // another path: no conflict
  CHECK(problemsWith(p, "app /b: label HAPROXY_0_VHOST: ", "www.example.com/api") == 1);
  CHECK(problemsWith(p, "app /b: label HAPROXY_0_VHOST: ", "/a:0") == 1);
  CHECK(p.problems.size() == 1);
}

TEST_CASE("conflict: a service that loses both its service port and its virtual hosts is left out") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "www.example.com"}}, {10001}),
                      app("/b", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "www.example.com"}}, {10001})}),
                {});
  CHECK(keys(p) == std::vector<std::string>{"/a:0"});
  CHECK(p.problems.size() == 2);
}

TEST_CASE("ports: reserved service ports (80, 443, 9090, 61001) are not bound") {
  for (int port : {80, 443, 9090, 61001}) {
    CAPTURE(port);
    auto p = plan(EdgeConfig{},
                  apps({app("/a", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "a.example.com"}}, {port}),
                        app("/b", {{"HAPROXY_GROUP", "external"}}, {port})}),
                  {});
    // /a keeps its virtual host; /b has nothing left that reaches it.
    REQUIRE(keys(p) == std::vector<std::string>{"/a:0"});
    CHECK(p.services[0].servicePort == 0);
    CHECK(problemsWith(p, "app /a: ", std::to_string(port)) == 1);
    CHECK(problemsWith(p, "app /b: ", std::to_string(port)) == 1);
    CHECK(p.problems.size() == 2);
  }
}

TEST_CASE("ports: a service with neither a service port nor a virtual host is left out") {
  auto p = plan(EdgeConfig{},
                apps({app("/a", {{"HAPROXY_GROUP", "external"}}, {0}),
                      app("/b", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "b.example.com"}}, {0})}),
                {task("b.1", "/b", {31000})});
  REQUIRE(keys(p) == std::vector<std::string>{"/b:0"});
  CHECK(p.services[0].servicePort == 0);
  CHECK(p.problems.empty());
}

// --- Rotation ------------------------------------------------------------------

TEST_CASE("inRotation: a task that is not running is out") {
  AppInfo a = app("/a", {});
  for (std::string state : {"TASK_STAGING", "TASK_STARTING", "TASK_KILLING", "TASK_FINISHED", "TASK_UNREACHABLE"}) {
    CAPTURE(state);
    CHECK_FALSE(inRotation(task("a.1", "/a", {31000}, "h", state), a));
  }
  CHECK(inRotation(task("a.1", "/a", {31000}, "h", "TASK_RUNNING"), a));
}

TEST_CASE("inRotation: a running task being killed is out") {
  auto t = task("a.1", "/a", {31000});
  t.killing = true;
  t.healthy = true;
  AppInfo a = app("/a", {});
  CHECK_FALSE(inRotation(t, a));
  a.healthChecked = true;
  CHECK_FALSE(inRotation(t, a));
}

TEST_CASE("inRotation: when the app checks health, only tasks known healthy are in") {
  AppInfo a = app("/a", {});
  a.healthChecked = true;
  auto t = task("a.1", "/a", {31000});
  t.healthy = std::nullopt;
  CHECK_FALSE(inRotation(t, a));
  t.healthy = false;
  CHECK_FALSE(inRotation(t, a));
  t.healthy = true;
  CHECK(inRotation(t, a));
}

TEST_CASE("inRotation: when the app does not check health, a running task is in, health unknown") {
  AppInfo a = app("/a", {});
  auto t = task("a.1", "/a", {31000});
  CHECK(inRotation(t, a));
}

TEST_CASE("backends: only tasks in rotation are backends") {
  AppInfo a = app("/a", {{"HAPROXY_GROUP", "external"}});
  a.healthChecked = true;
  auto healthy = task("a.1", "/a", {31001});
  healthy.healthy = true;
  auto unknown = task("a.2", "/a", {31002});
  auto sick = task("a.3", "/a", {31003});
  sick.healthy = false;
  auto staging = task("a.4", "/a", {31004}, "10.0.0.1", "TASK_STAGING");
  staging.healthy = true;
  auto killing = task("a.5", "/a", {31005});
  killing.healthy = true;
  killing.killing = true;
  auto p = plan(EdgeConfig{}, apps({a}), {healthy, unknown, sick, staging, killing});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].backends == std::vector<Backend>{{"a.1", "10.0.0.1", 31001}});
}

// --- Backends -------------------------------------------------------------------

TEST_CASE("backends: tasks without a host port for the index, or without a host, are left out") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}}, {10001, 10002})}),
                {task("a.1", "/a", {31001, 31002}), task("a.2", "/a", {31003}), task("a.3", "/a", {31004, 31005}, ""),
                 task("a.4", "/a", {})});
  REQUIRE(keys(p) == std::vector<std::string>{"/a:0", "/a:1"});
  CHECK(p.services[0].backends == std::vector<Backend>{{"a.1", "10.0.0.1", 31001}, {"a.2", "10.0.0.1", 31003}});
  CHECK(p.services[1].backends == std::vector<Backend>{{"a.1", "10.0.0.1", 31002}});
}

TEST_CASE("backends: host ports out of range are left out") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}})}),
                {task("a.1", "/a", {0}), task("a.2", "/a", {-1}), task("a.3", "/a", {65536}), task("a.4", "/a", {65535})});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].backends == std::vector<Backend>{{"a.4", "10.0.0.1", 65535}});
}

TEST_CASE("backends: only the app's own tasks, sorted by task id") {
  auto p = plan(EdgeConfig{}, apps({app("/a", {{"HAPROXY_GROUP", "external"}})}),
                {task("a.c", "/a", {31003}, "h3"), task("a.a", "/a", {31001}, "h1"), task("b.a", "/b", {32000}),
                 task("a.b", "/a", {31002}, "h2")});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].backends ==
        std::vector<Backend>{{"a.a", "h1", 31001}, {"a.b", "h2", 31002}, {"a.c", "h3", 31003}});
}

// --- Ordering ---------------------------------------------------------------------

TEST_CASE("services: sorted by key") {
  std::vector<int> twelve;
  for (int i = 0; i < 12; ++i) twelve.push_back(11000 + i);
  auto p = plan(EdgeConfig{},
                apps({app("/b", {{"HAPROXY_GROUP", "external"}}, {10001}), app("/a", {{"HAPROXY_GROUP", "external"}}, twelve),
                      app("/a-b", {{"HAPROXY_GROUP", "external"}}, {10002})}),
                {});
  auto k = keys(p);
  REQUIRE(k.size() == 14);
  CHECK(std::is_sorted(k.begin(), k.end()));
  CHECK(k.front() == "/a-b:0");
  CHECK(k.back() == "/b:0");
}

TEST_CASE("service: key is app id and port index") {
  Service s;
  s.appId = "/a/b";
  s.portIndex = 2;
  CHECK(s.key() == "/a/b:2");
}

// --- The admin router ----------------------------------------------------------

TEST_CASE("admin: every app with a port is at /service/<id>/ whatever its labels; one without ports is not") {
  auto a = app("/web", {});
  auto b = app("/prod/db", {{"HAPROXY_GROUP", "internal"}}, {10001, 10002});
  auto c = app("/worker", {}, {});
  auto p = adminPlan(apps({a, b, c}), {task("web.1", "/web", {31000}), task("db.1", "/prod/db", {31001, 31002}, "10.0.0.2")});
  REQUIRE(keys(p) == std::vector<std::string>{"/prod/db:0", "/web:0"});
  CHECK(p.services[0].path == "/service/prod/db/");
  CHECK(p.services[1].path == "/service/web/");
  for (const auto &s : p.services) {
    CHECK(s.mode == Mode::Http);
    CHECK(s.servicePort == 0);  // nothing bound: reached through port 80 only
    CHECK(s.vhosts.empty());
  }
  // The first port only.
  CHECK(p.services[0].backends == std::vector<Backend>{{"db.1", "10.0.0.2", 31001}});
  CHECK(p.services[1].backends == std::vector<Backend>{{"web.1", "10.0.0.1", 31000}});
  CHECK(p.problems.empty());
}

TEST_CASE("admin: only tasks in rotation are backends") {
  auto a = app("/web", {});
  a.healthChecked = true;
  auto sick = task("web.1", "/web", {31000});
  sick.healthy = false;
  auto well = task("web.2", "/web", {31001});
  well.healthy = true;
  auto going = task("web.3", "/web", {31002});
  going.healthy = true;
  going.killing = true;
  auto p = adminPlan(apps({a}), {sick, well, going, task("web.4", "/web", {31003}, "10.0.0.1", "TASK_STAGING")});
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].backends == std::vector<Backend>{{"web.2", "10.0.0.1", 31001}});
}

TEST_CASE("admin: an id deeper than the rules reach is a problem, not a route") {
  std::string deep;
  for (int i = 0; i <= kMaxServiceDepth; ++i) deep += "/g" + std::to_string(i);
  std::string deepest;
  for (int i = 0; i < kMaxServiceDepth; ++i) deepest += "/g" + std::to_string(i);
  auto p = adminPlan(apps({app(deep, {}), app(deepest, {})}), {});
  CHECK(keys(p) == std::vector<std::string>{deepest + ":0"});
  CHECK(problemsWith(p, "app " + deep + ": ", "too deep") == 1);
}
