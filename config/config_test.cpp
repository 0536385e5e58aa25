#include "config/config.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace dcos;
namespace fs = std::filesystem;

namespace {

const char *kCluster = R"({
  "cluster_name": "test",
  "masters": ["10.0.0.1"],
  "zones": {"admin": {"networks": ["10.0.0.0/24"]}, "private": {"networks": ["10.0.1.0/24"]},
            "public": {"networks": ["10.0.2.0/24", "fd00::/64"]}},
  "operators": {"networks": ["192.168.0.0/16"], "ssh": true},
  "public_ports": {"tcp": [80, "443", "10000-10100"], "udp": ["5353"]},
  "agent_ports": ["31000-32000"],
  "resolvers": ["127.0.0.53", "::1"],
  "dns": {"domain": "DCOS.Example", "ttl": 5}
})";

const char *kNode = R"({"role": "master", "address": "10.0.0.1", "hostname": "m1",
  "attributes": {"rack": "r1", "ssd": true, "slots": 4}, "api": {"listen": "127.0.0.1:61001"},
  "log_level": "debug", "firewall": {"enabled": false}})";

std::string clusterError(const std::string &text) {
  auto r = config::parseCluster(text);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

std::string nodeError(const std::string &text) {
  auto r = config::parseNode(text);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

}  // namespace

TEST_CASE("a full cluster.json parses with every field", "[config]") {
  auto c = config::parseCluster(kCluster);
  REQUIRE(c.ok());
  CHECK(c->name == "test");
  CHECK(c->masters == std::vector<std::string>{"10.0.0.1"});
  CHECK(c->publicZone.networks.size() == 2);
  CHECK(c->operatorSsh);
  CHECK(c->publicTcpPorts == std::vector<config::PortRange>{{80, 80}, {443, 443}, {10000, 10100}});
  CHECK(c->publicUdpPorts == std::vector<config::PortRange>{{5353, 5353}});
  CHECK(c->resolvers.size() == 2);
  CHECK(c->dnsDomain == "dcos.example");
  CHECK(c->dnsTtl == 5);
}

TEST_CASE("cluster.json defaults", "[config]") {
  auto c = config::parseCluster(R"({"cluster_name": "x", "masters": ["127.0.0.1"]})");
  REQUIRE(c.ok());
  CHECK(c->publicTcpPorts == std::vector<config::PortRange>{{80, 80}, {443, 443}});
  CHECK(c->agentPorts == std::vector<config::PortRange>{{31000, 32000}});
  CHECK(c->resolvers.empty());
  CHECK_FALSE(c->operatorSsh);
  CHECK(c->dnsDomain == "mesos");
  CHECK(c->dnsTtl == 60);
}

TEST_CASE("cluster.json's dns: a domain of DNS labels, a TTL in range", "[config]") {
  auto base = std::string(R"({"cluster_name": "x", "masters": ["127.0.0.1"], "dns": )");
  CHECK_THAT(clusterError(base + R"({"domain": "bad_domain"}})"), Catch::Contains("cluster.json: /dns/domain: not a DNS domain"));
  CHECK_THAT(clusterError(base + R"({"domain": "a..b"}})"), Catch::Contains("/dns/domain: not a DNS domain"));
  CHECK_THAT(clusterError(base + R"({"domain": "-a.b"}})"), Catch::Contains("/dns/domain: not a DNS domain"));
  CHECK_THAT(clusterError(base + R"({"ttl": -1}})"), Catch::Contains("/dns/ttl: "));
  CHECK_THAT(clusterError(base + R"({"tll": 5}})"), Catch::Contains("/dns/tll: unknown key"));
  auto c = config::parseCluster(base + R"({"domain": "cluster.internal"}})");
  REQUIRE(c.ok());
  CHECK(c->dnsDomain == "cluster.internal");
}

TEST_CASE("cluster.json's tls: pairs of absolute paths, each both or none", "[config]") {
  auto base = std::string(R"({"cluster_name": "x", "masters": ["127.0.0.1"], "tls": )");
  CHECK_THAT(clusterError(base + R"({"cert": "/etc/dcos/admin.crt"}})"), Catch::Contains("cluster.json: /tls/key: "));
  CHECK_THAT(clusterError(base + R"({"cert": "admin.crt", "key": "/k"}})"),
             Catch::Contains("cluster.json: /tls/cert: expected an absolute path, found \"admin.crt\""));
  CHECK_THAT(clusterError(base + R"({"cert": "/c", "key": "/k", "ca": "/x"}})"), Catch::Contains("/tls/ca: unknown key"));
  auto c = config::parseCluster(base + R"({"cert": "/etc/dcos/admin.crt", "key": "/etc/dcos/admin.key"}})");
  REQUIRE(c.ok());
  CHECK(c->tlsCert == "/etc/dcos/admin.crt");
  CHECK(c->tlsKey == "/etc/dcos/admin.key");
  auto again = config::parseCluster(config::clusterToJson(*c));
  REQUIRE(again.ok());
  CHECK(again->tlsKey == "/etc/dcos/admin.key");
  auto edge = config::parseCluster(base + R"({"edge_cert": "/e.crt", "edge_key": "/e.key"}})");
  REQUIRE(edge.ok());
  CHECK(edge->tlsCert.empty());
  CHECK(edge->tlsEdgeKey == "/e.key");
  CHECK_THAT(clusterError(base + R"({"edge_key": "/e.key"}})"), Catch::Contains("cluster.json: /tls/edge_cert: "));
  auto none = config::parseCluster(R"({"cluster_name": "x", "masters": ["127.0.0.1"]})");
  REQUIRE(none.ok());
  CHECK(none->tlsCert.empty());
}

TEST_CASE("addresses are kept in one written form: a master, a resolver, the node's", "[config]") {
  auto c = config::parseCluster(
      R"({"cluster_name": "x", "masters": ["FD00::12", "10.0.0.1", "fd00:0:0:0:0:0:0:13"], "resolvers": ["2001:DB8::53"]})");
  REQUIRE(c.ok());
  CHECK(c->masters == std::vector<std::string>{"fd00::12", "10.0.0.1", "fd00::13"});
  CHECK(c->resolvers == std::vector<std::string>{"2001:db8::53"});
  CHECK_THAT(clusterError(R"({"cluster_name": "x", "masters": ["FD00::12", "fd00::12", "10.0.0.1"]})"),
             Catch::Contains("cluster.json: /masters/1: duplicate master \"fd00::12\""));
  auto n = config::parseNode(R"({"role": "master", "address": "FD00:0::12"})");
  REQUIRE(n.ok());
  CHECK(n->address == "fd00::12");
}

TEST_CASE("cluster.json's ip_detect_filename: a plain path, kept through clusterToJson", "[config]") {
  auto base = std::string(R"({"cluster_name": "x", "masters": ["127.0.0.1"], "ip_detect_filename": )");
  auto c = config::parseCluster(base + R"("genconf/ip-detect"})");
  REQUIRE(c.ok());
  CHECK(c->ipDetectFilename == "genconf/ip-detect");
  auto again = config::parseCluster(config::clusterToJson(*c));
  REQUIRE(again.ok());
  CHECK(again->ipDetectFilename == "genconf/ip-detect");
  CHECK(config::clusterToJson(*config::parseCluster(R"({"cluster_name": "x", "masters": ["127.0.0.1"]})"))
            .find("ip_detect") == std::string::npos);
  CHECK_THAT(clusterError(base + R"("ip detect"})"),
             Catch::Contains("cluster.json: /ip_detect_filename: expected a path of letters, digits and . _ / - "
                             "(the node's ip-detect script), found \"ip detect\""));
  CHECK_THAT(clusterError(base + R"(""})"), Catch::Contains("cluster.json: /ip_detect_filename: expected a path"));
  CHECK_THAT(clusterError(base + R"(7})"), Catch::Contains("cluster.json: /ip_detect_filename: "));
}

TEST_CASE("bad cluster.json names the path and what was expected", "[config]") {
  SECTION("not JSON") { CHECK_THAT(clusterError("{\"cluster_name\": "), Catch::StartsWith("cluster.json: not valid JSON")); }
  SECTION("not an object") { CHECK(clusterError("[1]") == "cluster.json: /: expected an object, found an array"); }
  SECTION("missing keys") {
    auto e = clusterError("{}");
    CHECK_THAT(e, Catch::Contains("cluster.json: /cluster_name: missing (required)"));
    CHECK_THAT(e, Catch::Contains("cluster.json: /masters: missing (required)"));
  }
  SECTION("unknown key with a suggestion") {
    CHECK(clusterError(R"({"cluster_name": "x", "masters": ["127.0.0.1"], "resolver": []})") ==
          "cluster.json: /resolver: unknown key \"resolver\" (did you mean \"resolvers\"?)");
  }
  SECTION("unknown key far from any known one lists the known keys") {
    CHECK_THAT(clusterError(R"({"cluster_name": "x", "masters": ["127.0.0.1"], "zzz": 1})"),
               Catch::Contains("unknown key \"zzz\" (known: "));
  }
  SECTION("unknown nested key") {
    CHECK(clusterError(R"({"cluster_name": "x", "masters": ["127.0.0.1"], "zones": {"admin": {"netwrks": []}}})") ==
          "cluster.json: /zones/admin/netwrks: unknown key \"netwrks\" (did you mean \"networks\"?)");
  }
  SECTION("bad CIDR") {
    CHECK(clusterError(R"({"cluster_name": "x", "masters": ["127.0.0.1"],
                          "zones": {"public": {"networks": ["10.0.0/8"]}}})") ==
          "cluster.json: /zones/public/networks/0: not a CIDR (address/prefix): \"10.0.0/8\"");
    CHECK_THAT(clusterError(R"({"cluster_name": "x", "masters": ["127.0.0.1"],
                          "operators": {"networks": ["10.0.0.0/33"]}})"),
               Catch::Contains("/operators/networks/0: not a CIDR"));
  }
  SECTION("bad master address and wrong type") {
    auto e = clusterError(R"({"cluster_name": "x", "masters": ["10.0.0.300", 5]})");
    CHECK_THAT(e, Catch::Contains("/masters/0: not an IP address: \"10.0.0.300\""));
    CHECK_THAT(e, Catch::Contains("/masters/1: expected a string, found a number"));
  }
  SECTION("even master count") {
    CHECK_THAT(clusterError(R"({"cluster_name": "x", "masters": ["10.0.0.1", "10.0.0.2"]})"),
               Catch::Contains("/masters: expected 1, 3, 5 or 7 masters"));
  }
  SECTION("duplicate master") {
    CHECK(clusterError(R"({"cluster_name": "x", "masters": ["10.0.0.1", "10.0.0.2", "10.0.0.1"]})") ==
          "cluster.json: /masters/2: duplicate master \"10.0.0.1\"");
  }
  SECTION("bad ports") {
    auto e = clusterError(R"({"cluster_name": "x", "masters": ["127.0.0.1"],
                             "public_ports": {"tcp": ["0", "100-50", "70000", true]}})");
    CHECK_THAT(e, Catch::Contains("/public_ports/tcp/0: not a port (1-65535): \"0\""));
    CHECK_THAT(e, Catch::Contains("/public_ports/tcp/1: port range runs backwards: \"100-50\""));
    CHECK_THAT(e, Catch::Contains("/public_ports/tcp/2: not a port"));
    CHECK_THAT(e, Catch::Contains("/public_ports/tcp/3: expected a port or a range"));
  }
  SECTION("every problem is reported, not only the first") {
    auto e = clusterError(R"({"cluster_name": 3, "masters": [], "resolvers": ["x"], "extra": 1})");
    CHECK(std::count(e.begin(), e.end(), '\n') == 3);
  }
}

TEST_CASE("a full node.json parses", "[config]") {
  auto n = config::parseNode(kNode);
  REQUIRE(n.ok());
  CHECK(n->role == "master");
  CHECK(n->attributes.at("ssd") == "true");
  CHECK(n->attributes.at("slots") == "4");
  CHECK(n->apiListen == "127.0.0.1:61001");
  CHECK(n->logLevel == "debug");
  CHECK_FALSE(n->firewall);
}

TEST_CASE("node.json defaults", "[config]") {
  auto n = config::parseNode(R"({"role": "agent-private", "address": "fd00::5"})");
  REQUIRE(n.ok());
  CHECK(n->apiListen == "[fd00::5]:61001");
  CHECK(n->firewall);
  CHECK_FALSE(n->hostname.empty());
}

TEST_CASE("node.json's admin listener and module config", "[config]") {
  auto n = config::parseNode(R"({"role": "master", "address": "10.0.1.1",
    "api": {"listen": "10.0.1.1:61001", "admin_listen": "10.0.1.1:80"},
    "modules": {"zookeeper": {"executor": "process", "heap": 3}}})");
  REQUIRE(n.ok());
  CHECK(n->adminListen == "10.0.1.1:80");
  REQUIRE(n->moduleConfig.count("zookeeper") == 1);
  CHECK(n->moduleConfig.at("zookeeper") == R"({"executor":"process","heap":3})");
  CHECK_THAT(config::nodeToJson(*n), Catch::Contains(R"("modules":{"zookeeper":{"executor":"process","heap":3}})"));

  CHECK(nodeError(R"({"role": "master", "address": "10.0.1.1", "api": {"admin_listen": "80"}})") ==
        "node.json: /api/admin_listen: expected address:port (e.g. \"127.0.0.1:61001\" or \"[::1]:61001\"), found "
        "\"80\"");
  CHECK(nodeError(R"({"role": "master", "address": "10.0.1.1", "modules": {"zookeeper": "process"}})") ==
        "node.json: /modules/zookeeper: expected a config object, found a string");
  CHECK(nodeError(R"({"role": "master", "address": "10.0.1.1", "modules": []})") ==
        "node.json: /modules: expected an object of module name to config object, found an array");
}

TEST_CASE("bad node.json names the path and what was expected", "[config]") {
  SECTION("role not a name") {
    CHECK(nodeError(R"({"role": "Master!", "address": "10.0.0.1"})") ==
          "node.json: /role: not a role name (lowercase letters, digits and dashes): \"Master!\"");
  }
  SECTION("role of the wrong type") {
    CHECK(nodeError(R"({"role": ["master"], "address": "10.0.0.1"})") ==
          "node.json: /role: expected a string, found an array");
  }
  SECTION("bad listen address") {
    CHECK_THAT(nodeError(R"({"role": "master", "address": "10.0.0.1", "api": {"listen": "localhost"}})"),
               Catch::Contains("/api/listen: expected address:port"));
    CHECK_THAT(nodeError(R"({"role": "master", "address": "10.0.0.1", "api": {"listen": "1.2.3.4:99999"}})"),
               Catch::Contains("/api/listen: expected address:port"));
  }
  SECTION("bad log level") {
    CHECK_THAT(nodeError(R"({"role": "master", "address": "10.0.0.1", "log_level": "loud"})"),
               Catch::Contains("/log_level: unknown level \"loud\""));
  }
  SECTION("bad firewall switch") {
    CHECK(nodeError(R"({"role": "master", "address": "10.0.0.1", "firewall": {"enabled": "no"}})") ==
          "node.json: /firewall/enabled: expected true or false, found a string");
  }
  SECTION("attribute of a nested type") {
    CHECK(nodeError(R"({"role": "master", "address": "10.0.0.1", "attributes": {"a/b": {}}})") ==
          "node.json: /attributes/a~1b: expected a string, number or boolean, found an object");
  }
  SECTION("typo at the top") {
    CHECK(nodeError(R"({"role": "master", "adress": "10.0.0.1"})") ==
          "node.json: /address: missing (required)\n"
          "node.json: /adress: unknown key \"adress\" (did you mean \"address\"?)");
  }
}

TEST_CASE("load reads both files and reports problems in both", "[config]") {
  fs::path dir = fs::temp_directory_path() / ("dcos-config-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const char *name, const std::string &text) { std::ofstream(dir / name) << text; };

  SECTION("good") {
    write("cluster.json", kCluster);
    write("node.json", kNode);
    auto c = config::load(dir.string());
    REQUIRE(c.ok());
    CHECK(c->node.role == "master");
    auto json = config::toJson(*c);
    CHECK_THAT(json, Catch::Contains("\"cluster_name\":\"test\""));
    CHECK_THAT(json, Catch::Contains("\"role\":\"master\""));
  }
  SECTION("both bad") {
    write("cluster.json", "{}");
    write("node.json", R"({"role": "master"})");
    auto c = config::load(dir.string());
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message, Catch::Contains("cluster.json: /masters: missing"));
    CHECK_THAT(c.error().message, Catch::Contains("node.json: /address: missing"));
  }
  SECTION("missing file") {
    auto c = config::load((dir / "nope").string());
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message, Catch::Contains("nope/cluster.json: cannot read: No such file or directory"));
  }
  fs::remove_all(dir);
}

TEST_CASE("the example configs in the repository are valid", "[config]") {
  const char *src = DCOS_TEST_SOURCE_DIR;
  int checked = 0;
  for (const auto &entry : fs::recursive_directory_iterator(fs::path(src) / "examples")) {
    if (entry.path().filename() == "cluster.json") {
      std::ifstream in(entry.path());
      std::string text((std::istreambuf_iterator<char>(in)), {});
      auto c = config::parseCluster(text, entry.path().string());
      CHECK(c.ok());
      if (!c.ok()) FAIL(c.error().message);
      ++checked;
    } else if (entry.path().extension() == ".json" && entry.path().filename().string().rfind("node", 0) == 0) {
      std::ifstream in(entry.path());
      std::string text((std::istreambuf_iterator<char>(in)), {});
      auto n = config::parseNode(text, entry.path().string());
      if (!n.ok()) FAIL(n.error().message);
      ++checked;
    }
  }
  CHECK(checked >= 5);
}

TEST_CASE("node.json: the node API's client limits", "[config]") {
  CHECK_THAT(nodeError(R"({"role": "master", "address": "10.0.0.1", "api": {"header_timeout_ms": 5}})"),
             Catch::Contains("/api/header_timeout_ms"));
  CHECK_THAT(nodeError(R"({"role": "master", "address": "10.0.0.1", "api": {"max_connections_per_client": 0}})"),
             Catch::Contains("/api/max_connections_per_client"));
}
