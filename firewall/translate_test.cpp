// The model-to-nftnl translation, offline: the batch is parsed back with
// libnftnl and checked message by message, without a kernel.
#include "firewall/translate.h"

#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "firewall/policy.h"

using namespace dcos;
using namespace dcos::firewall;

namespace {

struct Message {
  uint16_t type;  // NFT_MSG_* or NFNL_MSG_BATCH_*
  uint16_t flags;
  uint32_t seq;
  std::string text;  // a rule or element list as libnftnl prints it
};

// "set <name>: <key hex>[/end] ..." from a NEWSETELEM/DELSETELEM message,
// walked attribute by attribute (libnftnl's own parser refuses elements
// that carry flags before their key, which the kernel accepts).
std::string elements(const nlmsghdr *nlh) {
  // The attributes after `offset` bytes of `payload` (of `len` bytes), one by one.
  auto each = [](const void *payload, size_t len, const auto &f) {
    auto *a = static_cast<const nlattr *>(payload);
    int left = static_cast<int>(len);
    while (mnl_attr_ok(a, left)) {
      f(a);
      left -= static_cast<int>(MNL_ALIGN(a->nla_len));
      a = mnl_attr_next(a);
    }
  };
  std::string out;
  const char *payload = static_cast<const char *>(mnl_nlmsg_get_payload(nlh)) + MNL_ALIGN(sizeof(nfgenmsg));
  size_t len = mnl_nlmsg_get_payload_len(nlh) - MNL_ALIGN(sizeof(nfgenmsg));
  each(payload, len, [&](const nlattr *attr) {
    if (mnl_attr_get_type(attr) == NFTA_SET_ELEM_LIST_SET) out += std::string("set ") + mnl_attr_get_str(attr) + ":";
    if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_LIST_ELEMENTS) return;
    each(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr), [&](const nlattr *elem) {
      std::string key;
      bool end = false;
      each(mnl_attr_get_payload(elem), mnl_attr_get_payload_len(elem), [&](const nlattr *part) {
        if (mnl_attr_get_type(part) == NFTA_SET_ELEM_FLAGS) {
          end = (ntohl(mnl_attr_get_u32(part)) & NFT_SET_ELEM_INTERVAL_END) != 0;
        }
        if (mnl_attr_get_type(part) == NFTA_SET_ELEM_KEY) {
          const auto *value = static_cast<const nlattr *>(mnl_attr_get_payload(part));
          const auto *bytes = static_cast<const uint8_t *>(mnl_attr_get_payload(value));
          char hex[3];
          for (uint16_t i = 0; i < mnl_attr_get_payload_len(value); ++i) {
            std::snprintf(hex, sizeof hex, "%02x", bytes[i]);
            key += hex;
          }
        }
      });
      out += " " + key + (end ? "/end" : "");
    });
  });
  return out;
}

std::vector<Message> parse(const Batch &batch) {
  std::vector<Message> out;
  int len = static_cast<int>(batch.size());
  for (auto *nlh = reinterpret_cast<const nlmsghdr *>(batch.data()); mnl_nlmsg_ok(nlh, len);
       nlh = mnl_nlmsg_next(nlh, &len)) {
    Message m{static_cast<uint16_t>(nlh->nlmsg_type & 0xff), nlh->nlmsg_flags, nlh->nlmsg_seq, ""};
    if (nlh->nlmsg_type < NLMSG_MIN_TYPE + 6 && (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END)) {
      m.type = nlh->nlmsg_type;
    }
    char buf[4096] = {};
    if (m.type == NFT_MSG_NEWRULE && (nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES) {
      nftnl_rule *r = nftnl_rule_alloc();
      REQUIRE(nftnl_rule_nlmsg_parse(nlh, r) >= 0);
      nftnl_rule_snprintf(buf, sizeof buf, r, NFTNL_OUTPUT_DEFAULT, 0);
      nftnl_rule_free(r);
      m.text = buf;
    } else if ((m.type == NFT_MSG_NEWSETELEM || m.type == NFT_MSG_DELSETELEM) &&
               (nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES) {
      m.text = elements(nlh);
    }
    out.push_back(m);
  }
  return out;
}

config::ClusterConfig cluster() {
  config::ClusterConfig c;
  c.name = "t";
  c.masters = {"10.0.0.11"};
  c.admin.networks = {"10.0.0.0/28"};
  c.operatorNetworks = {"192.168.0.0/16"};
  return c;
}

}  // namespace

TEST_CASE("a replace batch: begin, table dance, sets, chain, rules, end", "[firewall][translate]") {
  auto rs = zoneRuleset(cluster(), Zone::Admin);
  REQUIRE(rs.ok());
  Batch batch(100);
  addReplace(batch, *rs);
  batch.finish();
  auto msgs = parse(batch);
  REQUIRE(msgs.size() >= 4);
  CHECK(msgs.front().type == NFNL_MSG_BATCH_BEGIN);
  CHECK(msgs.back().type == NFNL_MSG_BATCH_END);
  CHECK(msgs[1].type == NFT_MSG_NEWTABLE);
  CHECK(msgs[2].type == NFT_MSG_DELTABLE);
  CHECK(msgs[3].type == NFT_MSG_NEWTABLE);
  CHECK((msgs[3].flags & NLM_F_EXCL) != 0);
  // Sequence numbers run on from the first, one per message.
  for (size_t i = 0; i < msgs.size(); ++i) CHECK(msgs[i].seq == 100 + i);
  // Every message but BEGIN and END asks for an acknowledgement.
  size_t acked = 0;
  for (const auto &m : msgs) acked += (m.flags & NLM_F_ACK) != 0;
  CHECK(acked == batch.acked());
  CHECK(acked == msgs.size() - 2);

  size_t rules = 0;
  size_t sets = 0;
  for (const auto &m : msgs) {
    rules += m.type == NFT_MSG_NEWRULE;
    sets += m.type == NFT_MSG_NEWSET;
  }
  CHECK(rules == chainRuleCount(*rs));
  CHECK(sets == 3 * 2 + 2);  // three address sets, two families each, two port sets
  CHECK(batch.describe(101) == "create table inet dcos");
  CHECK(batch.describe(100 + msgs.size() - 2) == "rule: counter of what the policy drops");
  CHECK(batch.describe(99).empty());
}

TEST_CASE("rules carry the expressions their model says", "[firewall][translate]") {
  auto rs = zoneRuleset(cluster(), Zone::Admin);
  REQUIRE(rs.ok());
  Batch batch;
  addReplace(batch, *rs);
  batch.finish();
  std::vector<std::string> rules;
  for (const auto &m : parse(batch)) {
    if (m.type == NFT_MSG_NEWRULE) rules.push_back(m.text);
  }
  auto has = [&](const std::vector<std::string> &needles) {
    for (const auto &r : rules) {
      bool all = true;
      for (const auto &n : needles) all = all && r.find(n) != std::string::npos;
      if (all) return true;
    }
    return false;
  };
  CHECK(has({"[ ct load state => reg 1 ]", "[ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]",
             "[ immediate reg 0 accept ]"}));
  CHECK(has({"[ ct load state => reg 1 ]", "0x00000001", "[ immediate reg 0 drop ]"}));
  CHECK(has({"[ meta load iifname => reg 1 ]", "[ cmp eq reg 1 0x00006f6c ]"}));
  CHECK(has({"[ payload load 4b @ network header + 12 => reg 1 ]", "[ lookup reg 1 set cluster_nets4 ]"}));
  CHECK(has({"[ payload load 16b @ network header + 8 => reg 1 ]", "[ lookup reg 1 set cluster_nodes6 ]"}));
  CHECK(has({"[ lookup reg 1 set operators4 ]", "[ payload load 2b @ transport header + 2 => reg 1 ]",
             "[ lookup reg 1 set exposed_tcp ]"}));
  CHECK(has({"[ limit rate 10/second burst 5 type packets flags 0x0 ]"}));
  CHECK_FALSE(has({"exposed_tcp", "[ meta load nfproto", "cluster_nets"}));
}

TEST_CASE("the task guard's rules: daddr, tcp dport, socket cgroupv2, reject with a reset", "[firewall][translate]") {
  auto rs = zoneRuleset(cluster(), Zone::Private, {{"dcos.slice/dcos-tasks.slice", 2, 0x1234}});
  REQUIRE(rs.ok());
  Batch batch;
  addReplace(batch, *rs);
  batch.finish();
  std::vector<std::string> guard;
  size_t rules = 0;
  for (const auto &m : parse(batch)) {
    if (m.type != NFT_MSG_NEWRULE) continue;
    ++rules;
    if (m.text.find("output") != std::string::npos) guard.push_back(m.text);
  }
  CHECK(rules == chainRuleCount(*rs));
  REQUIRE(guard.size() == 7);
  for (size_t i = 0; i < guard.size(); ++i) {
    const auto &r = guard[i];
    INFO(r);
    CHECK(r.find("[ socket load cgroupv2 => reg 1 ]") != std::string::npos);  // (the level is not printed)
    CHECK(r.find("[ cmp eq reg 1 0x00001234 0x00000000 ]") != std::string::npos);
    CHECK(r.find(i < 5 ? "[ lookup reg 1 set control_tcp ]" : "[ lookup reg 1 set admin_tcp ]") != std::string::npos);
    CHECK(r.find("[ reject type 1 code 0 ]") != std::string::npos);
  }
  CHECK(guard[5].find("[ lookup reg 1 set masters4 ]") != std::string::npos);
  CHECK(guard[0].find("[ payload load 4b @ network header + 16 => reg 1 ]") != std::string::npos);
  CHECK(guard[0].find("[ lookup reg 1 set cluster_nets4 ]") != std::string::npos);
  CHECK(guard[4].find("[ fib daddr type => reg 1 ]") != std::string::npos);
  CHECK(guard[4].find("[ cmp eq reg 1 0x00000002 ]") != std::string::npos);
}

TEST_CASE("interval elements are a start and the key after the end", "[firewall][translate]") {
  AddressSet set{"nets", true, {}};
  Batch batch;
  auto a = parseInterval("10.0.0.0/24");
  auto b = parseInterval("255.255.255.255");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  addAddressElements(batch, "dcos", set, {*a, *b}, true);
  addPortElements(batch, "dcos", "ports", {{80, 80}, {10000, 10100}}, false);
  batch.finish();
  auto msgs = parse(batch);
  REQUIRE(msgs.size() == 4);
  CHECK(msgs[1].type == NFT_MSG_NEWSETELEM);
  // 10.0.0.0, 10.0.1.0 (end), 255.255.255.255 (a range to the top has no end element)
  CHECK(msgs[1].text == "set nets4: 0a000000 0a000100/end ffffffff");
  CHECK(msgs[2].type == NFT_MSG_DELSETELEM);
  CHECK(msgs[2].text == "set ports: 0050 0051/end 2710 2775/end");
  CHECK(batch.describe(2) == "add elements 0..2 of set nets4");
}

TEST_CASE("large element lists are split across messages", "[firewall][translate]") {
  AddressSet set{"nodes", false, {}};
  std::vector<Interval> many;
  for (int i = 0; i < 1000; ++i) {
    auto iv = parseInterval("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256));
    REQUIRE(iv.ok());
    many.push_back(*iv);
  }
  Batch batch;
  addAddressElements(batch, "dcos", set, many, true);
  batch.finish();
  CHECK(batch.acked() == 3);  // 400 + 400 + 200
}
