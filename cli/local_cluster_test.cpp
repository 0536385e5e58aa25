#include "cli/local_cluster.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

using namespace dcos::cli;

TEST_CASE("a local cluster's plan: addresses, names and configs", "[cli]") {
  UpOptions o;
  o.masters = 3;
  o.privateAgents = 2;
  o.publicAgents = 1;
  o.stateDir = "/state";
  auto c = planCluster(o);
  REQUIRE(c.ok());
  REQUIRE(c->nodes.size() == 6);
  CHECK(c->nodes[0].address == "172.31.254.11");
  CHECK(c->nodes[2].address == "172.31.254.13");
  CHECK(c->nodes[3].address == "172.31.254.65");
  CHECK(c->nodes[3].hostname == "agent-private-1");
  CHECK(c->nodes[5].address == "172.31.254.129");
  CHECK(c->nodes[5].netns == "dcos-local-p1");
  CHECK(c->hostAddress == "172.31.254.254");
  CHECK(c->hostLink == "dcos-local");
  CHECK(c->adminUrl() == "http://172.31.254.11");
  CHECK(c->nodeDir(c->nodes[0]) == "/state/local/m1");
  CHECK(c->summary() == "3 masters, 2 private agents, 1 public agent");

  auto cluster = Poco::JSON::Parser().parse(c->clusterJson()).extract<Poco::JSON::Object::Ptr>();
  CHECK(cluster->getArray("masters")->size() == 3);
  CHECK(cluster->getObject("operators")->getArray("networks")->getElement<std::string>(0) == "172.31.254.192/26");
  CHECK(cluster->getObject("zones")->getObject("public")->getArray("networks")->getElement<std::string>(0) ==
        "172.31.254.128/26");

  auto master = Poco::JSON::Parser().parse(c->nodeJson(c->nodes[0])).extract<Poco::JSON::Object::Ptr>();
  CHECK_FALSE(master->getObject("api")->has("admin_listen"));  // port 80 is the admin router's
  CHECK(master->getObject("modules")->getObject("zookeeper")->getValue<std::string>("executor") == "process");
  auto agent = Poco::JSON::Parser().parse(c->nodeJson(c->nodes[3])).extract<Poco::JSON::Object::Ptr>();
  CHECK_FALSE(agent->getObject("api")->has("admin_listen"));
  CHECK(agent->getObject("api")->getValue<std::string>("listen") == "172.31.254.65:61001");
}

TEST_CASE("a local cluster's plan refuses what cannot work, saying why", "[cli]") {
  auto error = [](UpOptions o) {
    auto c = planCluster(o);
    REQUIRE_FALSE(c.ok());
    return c.error().message;
  };
  UpOptions o;
  o.masters = 2;
  CHECK(error(o) == "--masters: expected 1, 3, 5 or 7 (a ZooKeeper ensemble needs an odd size), found 2");
  o = UpOptions{};
  o.publicAgents = 51;
  CHECK(error(o) == "--public-agents: expected 0 to 50, found 51");
  o = UpOptions{};
  o.name = "Prod_1";
  CHECK_THAT(error(o), Catch::StartsWith("--name: expected 1-10 lowercase letters"));
  o = UpOptions{};
  o.name = "averylongname";
  CHECK_THAT(error(o), Catch::StartsWith("--name: "));
  o = UpOptions{};
  o.network = "10.1.0.0/16";
  CHECK(error(o) == "--network: expected an IPv4 /24 such as 172.31.254.0/24, found \"10.1.0.0/16\"");
  o.network = "10.1.2.3/24";
  CHECK_THAT(error(o), Catch::StartsWith("--network: expected an IPv4 /24"));
  o.network = "8.8.8.0/24";
  CHECK_THAT(error(o), Catch::StartsWith("--network: 8.8.8.0/24 is not a private range"));
  o.network = "192.168.7.0/24";
  CHECK(planCluster(o).ok());
}

TEST_CASE("state.json round-trips", "[cli]") {
  UpOptions o;
  o.stateDir = "/nonexistent-dcos-state";
  auto c = planCluster(o);
  REQUIRE(c.ok());
  auto missing = loadCluster(o.stateDir, "local");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ENOENT);
  CHECK(formatTable({{"A", "BB"}, {"ccc", "d"}}) == "A    BB\nccc  d\n");
}
