#include "firewall/model.h"

#include <catch2/catch.hpp>

#include "firewall/nft_text.h"
#include "firewall/policy.h"
#include "firewall/translate.h"

using namespace dcos;
using namespace dcos::firewall;

namespace {

Interval iv(const std::string &text) {
  auto r = parseInterval(text);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("intervals parse and format in their shortest form", "[firewall][model]") {
  CHECK(formatInterval(iv("10.0.0.0/8")) == "10.0.0.0/8");
  CHECK(formatInterval(iv("10.1.2.3/8")) == "10.0.0.0/8");  // host bits dropped
  CHECK(formatInterval(iv("10.0.0.1")) == "10.0.0.1");
  CHECK(formatInterval(iv("fd00::/64")) == "fd00::/64");
  CHECK(formatInterval(iv("0.0.0.0/0")) == "0.0.0.0/0");
  CHECK(iv("::1").family == Family::V6);
  CHECK(iv("192.168.1.0/24").last[3] == 255);
  CHECK_FALSE(parseInterval("10.0.0/8").ok());
  CHECK_FALSE(parseInterval("10.0.0.0/33").ok());
  CHECK_FALSE(parseInterval("10.0.0.0/").ok());
  CHECK_FALSE(parseInterval("host").ok());
}

TEST_CASE("intervals merge when they overlap or touch, per family", "[firewall][model]") {
  auto merged = mergeIntervals({iv("10.0.0.16/28"), iv("10.0.0.0/28"), iv("10.0.0.5"), iv("fd00::/64"),
                                iv("10.0.1.0/24"), iv("10.0.0.64/26")});
  REQUIRE(merged.size() == 4);
  CHECK(formatInterval(merged[0]) == "10.0.0.0/27");
  CHECK(formatInterval(merged[1]) == "10.0.0.64/26");
  CHECK(formatInterval(merged[2]) == "10.0.1.0/24");
  CHECK(formatInterval(merged[3]) == "fd00::/64");
  auto top = mergeIntervals({iv("255.255.255.0/24"), iv("255.255.255.255")});
  REQUIRE(top.size() == 1);
  CHECK(formatInterval(top[0]) == "255.255.255.0/24");
  CHECK(contains(iv("10.0.0.0/8"), iv("10.2.3.4")));
  CHECK_FALSE(contains(iv("10.0.0.0/8"), iv("fd00::1")));
}

TEST_CASE("port ranges merge", "[firewall][model]") {
  CHECK(mergePorts({{443, 443}, {80, 80}, {81, 90}, {85, 100}}) == std::vector<PortRange>{{80, 100}, {443, 443}});
  CHECK(mergePorts({{65535, 65535}, {65000, 65534}}) == std::vector<PortRange>{{65000, 65535}});
}

TEST_CASE("a ruleset names what is wrong with it", "[firewall][model]") {
  Ruleset rs;
  rs.addressSets.push_back({"nodes", false, {}});
  Rule r;
  r.sourceKind = Rule::SourceKind::Set;
  r.sourceSet = "ndoes";
  r.comment = "typo";
  rs.rules.push_back(r);
  CHECK(rs.validate().error().message == "rule 0 (typo): no address set \"ndoes\"");
  rs.rules[0].sourceSet = "nodes";
  rs.rules[0].ports = PortRange{80, 80};
  CHECK(rs.validate().error().message == "rule 0 (typo): ports without a protocol");
  rs.rules[0].proto = Proto::Tcp;
  CHECK(rs.validate().ok());
  rs.table = "bad-name";
  CHECK(rs.validate().error().message == "table \"bad-name\": not an nft identifier");
}

TEST_CASE("the zone policy", "[firewall][policy]") {
  config::ClusterConfig c;
  c.name = "t";
  c.masters = {"10.0.0.11"};
  c.admin.networks = {"10.0.0.0/28"};
  c.privateZone.networks = {"10.0.0.16/28"};
  c.publicZone.networks = {"10.0.0.32/28", "fd00:dc05::/64"};
  c.operatorNetworks = {"192.168.0.0/16"};
  c.publicTcpPorts = {{80, 80}, {443, 443}, {10000, 10100}};
  c.publicUdpPorts = {{5353, 5353}};

  SECTION("admin: operators reach 80 and 443, and 22 only when configured") {
    auto rs = zoneRuleset(c, Zone::Admin);
    REQUIRE(rs.ok());
    CHECK(rs->portSet(kExposedTcp)->elements == std::vector<PortRange>{{80, 80}, {443, 443}});
    CHECK(rs->portSet(kExposedUdp)->elements.empty());
    auto text = nftTable(*rs);
    CHECK_THAT(text, Catch::Contains("ip saddr @operators4 tcp dport @exposed_tcp counter accept"));
    CHECK_THAT(text, Catch::Contains("ip6 saddr @operators6 tcp dport @exposed_tcp counter accept"));
    CHECK_THAT(text, !Catch::Contains("\t\ttcp dport @exposed_tcp"));
    c.operatorSsh = true;
    CHECK(zoneRuleset(c, Zone::Admin)->portSet(kExposedTcp)->elements ==
          std::vector<PortRange>{{22, 22}, {80, 80}, {443, 443}});
  }
  SECTION("public: anyone reaches the advertised ports") {
    auto rs = zoneRuleset(c, Zone::Public);
    REQUIRE(rs.ok());
    CHECK(rs->portSet(kExposedTcp)->elements == std::vector<PortRange>{{80, 80}, {443, 443}, {10000, 10100}});
    auto text = nftTable(*rs);
    CHECK_THAT(text, Catch::Contains("\t\ttcp dport @exposed_tcp counter accept"));
    CHECK_THAT(text, Catch::Contains("\t\tudp dport @exposed_udp counter accept"));
    CHECK_THAT(text, Catch::Contains("elements = { 80, 443, 10000-10100 }"));
  }
  SECTION("private: only the cluster") {
    auto rs = zoneRuleset(c, Zone::Private);
    REQUIRE(rs.ok());
    REQUIRE(rs->rules.size() == 2);
    CHECK(rs->rules[0].sourceSet == kClusterNets);
    CHECK(rs->rules[1].sourceSet == kClusterNodes);
    CHECK(rs->addressSet(kClusterNodes)->elements == std::vector<Interval>{iv("10.0.0.11")});
    auto text = nftTable(*rs);
    CHECK_THAT(text, Catch::Contains("elements = { 10.0.0.0-10.0.0.47 }"));
    CHECK_THAT(text, Catch::Contains("elements = { fd00:dc05::/64 }"));
    CHECK_THAT(text, Catch::Contains("type filter hook input priority 0; policy drop;"));
  }
  SECTION("task cgroups: an output chain refuses them the control plane's TCP ports") {
    c.zookeeper.clientPort = 2281;
    auto rs = zoneRuleset(c, Zone::Private, {{"unified/dcos-tasks", 1, 4242}}, 61002);
    REQUIRE(rs.ok());
    REQUIRE(rs->taskGuard.has_value());
    CHECK(rs->portSet(kControlTcp)->elements ==
          std::vector<PortRange>{{2281, 2281}, {2888, 2888}, {3888, 3888}, {61001, 61002}});
    auto text = nftTable(*rs);
    CHECK_THAT(text, Catch::Contains("type filter hook output priority 0; policy accept;"));
    CHECK_THAT(text, Catch::Contains("ip daddr @cluster_nets4 tcp dport @control_tcp socket cgroupv2 level 1 "
                                     "\"unified/dcos-tasks\" counter reject with tcp reset"));
    CHECK_THAT(text, Catch::Contains("fib daddr type local tcp dport @control_tcp"));
    CHECK_THAT(text, Catch::Contains("ip daddr @masters4 tcp dport @admin_tcp socket cgroupv2"));
    // The control ports: two address sets, each family, and this node's
    // addresses; the admin ports: the masters, each family.
    CHECK(chainRuleCount(*rs) == chainRuleCount(*zoneRuleset(c, Zone::Private)) + 7);
    // Without task cgroups, no output chain at all.
    CHECK_THAT(nftTable(*zoneRuleset(c, Zone::Private)), !Catch::Contains("chain output"));
    rs->taskGuard->cgroups[0].id = 0;
    CHECK(rs->validate().error().message == "task guard: cgroup \"unified/dcos-tasks\": no id, level or path");
  }
  SECTION("unknown zone") { CHECK(parseZone("dmz").error().message == "unknown zone \"dmz\" (known: admin, private, public)"); }
}
