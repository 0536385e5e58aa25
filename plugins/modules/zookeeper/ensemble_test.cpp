#include "plugins/modules/zookeeper/ensemble.h"

#include <catch2/catch.hpp>

using namespace dcos::zookeeper;

TEST_CASE("ensemble from the cluster config, and this server's id", "[zookeeper]") {
  auto e = parseEnsemble(R"({"masters": ["127.0.0.1", "127.0.0.2", "127.0.0.3"],
    "zookeeper": {"client_port": 12181, "peer_port": 12888, "election_port": 13888, "session_timeout_ms": 3000}})");
  REQUIRE(e.servers.size() == 3);
  CHECK(e.servers[2].id == 3);
  CHECK(e.clientPort == 12181);
  std::string error;
  CHECK(serverId(e, "127.0.0.2", error) == 2);
  CHECK(serverId(e, "127.0.0.9", error) == 0);
  CHECK(error == "this master's address 127.0.0.9 is not in cluster.json /masters [127.0.0.1, 127.0.0.2, "
                 "127.0.0.3]: a ZooKeeper server's id is its place in that list");
  auto cfg = zooCfg(e, 2, "/var/lib/dcos/zookeeper/data");
  CHECK_THAT(cfg, Catch::Contains("tickTime=300\n"));
  CHECK_THAT(cfg, Catch::Contains("clientPort=12181\nclientPortAddress=127.0.0.2\n"));
  CHECK_THAT(cfg, Catch::Contains("server.1=127.0.0.1:12888:13888\nserver.2=127.0.0.2:12888:13888\n"
                                  "server.3=127.0.0.3:12888:13888\n"));
  CHECK_THAT(cfg, Catch::Contains("4lw.commands.whitelist=ruok,srvr,mntr,stat,conf\n"));
}

TEST_CASE("a single master runs standalone", "[zookeeper]") {
  auto e = parseEnsemble(R"({"masters": ["10.0.0.1"]})");
  CHECK(e.clientPort == 2181);
  CHECK_THAT(zooCfg(e, 1, "/d"), !Catch::Contains("server.1="));
}

TEST_CASE("srvr answers", "[zookeeper]") {
  CHECK(serverMode("Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n") ==
        "follower");
  CHECK_FALSE(serverMode("This ZooKeeper instance is not currently serving requests\n"));
  CHECK_FALSE(serverMode(""));
}
