#include "plugins/modules/router/routes.h"

#include <catch2/catch.hpp>

using namespace dcos::router;

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
