// The nftables expressions used here (ct, fib, limit, reject, socket, ...)
// live in kernel modules: a new one belongs in the node images'
// /etc/modules-load.d list too (image/builder.cpp), or its module is loaded
// on demand while dcosd waits.
#include "firewall/translate.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>

#include <cstring>
#include <map>
#include <memory>

namespace dcos::firewall {

namespace {

constexpr const char *kChain = "input";
constexpr const char *kOutputChain = "output";
constexpr size_t kMessageMax = 16384;
constexpr size_t kElementsPerMessage = 400;  // keeps each message far below netlink's 64 KiB attribute limit

// nft's data type ids, so that `nft list` prints elements as addresses and services.
constexpr uint32_t kTypeIpv4Addr = 7;
constexpr uint32_t kTypeIpv6Addr = 8;
constexpr uint32_t kTypeInetService = 13;

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T *p) const { Free(p); }
};
using TablePtr = std::unique_ptr<nftnl_table, Deleter<nftnl_table_free>>;
using ChainPtr = std::unique_ptr<nftnl_chain, Deleter<nftnl_chain_free>>;
using SetPtr = std::unique_ptr<nftnl_set, Deleter<nftnl_set_free>>;
using RulePtr = std::unique_ptr<nftnl_rule, Deleter<nftnl_rule_free>>;
using UdataPtr = std::unique_ptr<nftnl_udata_buf, Deleter<nftnl_udata_buf_free>>;

// Builds one rule's expressions; each helper appends one expression.
class RuleBuilder {
 public:
  RuleBuilder(const std::string &table, const char *chain = kChain) : rule_(nftnl_rule_alloc()) {
    nftnl_rule_set_u32(rule_.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
    nftnl_rule_set_str(rule_.get(), NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(rule_.get(), NFTNL_RULE_CHAIN, chain);
  }

  RuleBuilder &meta(uint32_t key) {
    auto *e = nftnl_expr_alloc("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
    return add(e);
  }
  RuleBuilder &cmp(uint32_t op, const void *data, uint32_t len) {
    auto *e = nftnl_expr_alloc("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
    return add(e);
  }
  RuleBuilder &cmpU8(uint8_t v) { return cmp(NFT_CMP_EQ, &v, 1); }
  RuleBuilder &range(const void *from, const void *to, uint32_t len) {
    auto *e = nftnl_expr_alloc("range");
    nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
    nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, from, len);
    nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, to, len);
    return add(e);
  }
  RuleBuilder &payload(uint32_t base, uint32_t offset, uint32_t len) {
    auto *e = nftnl_expr_alloc("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
    return add(e);
  }
  RuleBuilder &bitwise(const void *mask, const void *xorValue, uint32_t len) {
    auto *e = nftnl_expr_alloc("bitwise");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xorValue, len);
    return add(e);
  }
  RuleBuilder &lookup(const std::string &set, uint32_t setId) {
    auto *e = nftnl_expr_alloc("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
    if (setId != 0) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, setId);
    return add(e);
  }
  RuleBuilder &ctState(uint32_t bits) {
    auto *e = nftnl_expr_alloc("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
    add(e);
    uint32_t zero = 0;
    bitwise(&bits, &zero, sizeof bits);
    return cmp(NFT_CMP_NEQ, &zero, sizeof zero);
  }
  RuleBuilder &limitPerSecond(uint64_t rate, uint32_t burst) {
    auto *e = nftnl_expr_alloc("limit");
    nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
    nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
    return add(e);
  }
  RuleBuilder &counter() { return add(nftnl_expr_alloc("counter")); }
  // socket cgroupv2 level L == id: the socket was made in that subtree.
  RuleBuilder &socketCgroup(uint32_t level, uint64_t id) {
    auto *e = nftnl_expr_alloc("socket");
    nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
    nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, level);
    nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
    add(e);
    return cmp(NFT_CMP_EQ, &id, sizeof id);  // host byte order, as nft stores it
  }
  // fib daddr type local: the destination is one of this node's addresses.
  RuleBuilder &fibDaddrLocal() {
    auto *e = nftnl_expr_alloc("fib");
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
    add(e);
    uint32_t local = RTN_LOCAL;
    return cmp(NFT_CMP_EQ, &local, sizeof local);
  }
  RuleBuilder &rejectTcpReset() {
    auto *e = nftnl_expr_alloc("reject");
    nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
    nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
    return add(e);
  }
  RuleBuilder &verdict(int v) {
    auto *e = nftnl_expr_alloc("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(v));
    return add(e);
  }
  RuleBuilder &family(Family f) {
    meta(NFT_META_NFPROTO);
    return cmpU8(f == Family::V4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
  }
  RuleBuilder &l4proto(uint8_t proto) {
    meta(NFT_META_L4PROTO);
    return cmpU8(proto);
  }
  RuleBuilder &comment(const std::string &text) {
    if (text.empty()) return *this;
    UdataPtr buf(nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 16));
    std::string cut = text.substr(0, NFTNL_UDATA_COMMENT_MAXLEN - 1);
    nftnl_udata_put_strz(buf.get(), NFTNL_UDATA_RULE_COMMENT, cut.c_str());
    nftnl_rule_set_data(rule_.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(buf.get()),
                        nftnl_udata_buf_len(buf.get()));
    return *this;
  }

  void emit(Batch &batch, const std::string &what) {
    char *at = batch.prepare(kMessageMax);
    auto *nlh = nftnl_rule_nlmsg_build_hdr(at, NFT_MSG_NEWRULE, NFPROTO_INET,
                                           NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, batch.nextSeq());
    nftnl_rule_nlmsg_build_payload(nlh, rule_.get());
    batch.commit(what);
  }

 private:
  RuleBuilder &add(nftnl_expr *e) {
    nftnl_rule_add_expr(rule_.get(), e);  // the rule owns it from here
    return *this;
  }
  RulePtr rule_;
};

void addTable(Batch &batch, const std::string &table, uint16_t type, uint16_t flags, const std::string &what) {
  TablePtr t(nftnl_table_alloc());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, NFPROTO_INET);
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
  char *at = batch.prepare(kMessageMax);
  auto *nlh = nftnl_table_nlmsg_build_hdr(at, type, NFPROTO_INET, flags | NLM_F_ACK, batch.nextSeq());
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  batch.commit(what);
}

void addSet(Batch &batch, const std::string &table, const std::string &name, uint32_t keyType, uint32_t keyLen,
            bool intervals, uint32_t id) {
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, keyType);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, keyLen);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, id);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, intervals ? NFT_SET_INTERVAL : 0);
  char *at = batch.prepare(kMessageMax);
  auto *nlh = nftnl_set_nlmsg_build_hdr(at, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, batch.nextSeq());
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  batch.commit("set " + name);
}

// A key as the kernel stores it, plus whether it closes an interval.
struct Key {
  std::array<uint8_t, 16> bytes{};
  bool intervalEnd = false;
};

// Interval sets hold each range as its first key and the key after its last,
// flagged as an interval end (none when the range runs to the top).
void intervalKeys(const std::array<uint8_t, 16> &first, const std::array<uint8_t, 16> &last, size_t len,
                  std::vector<Key> &out) {
  out.push_back(Key{first, false});
  Key end{last, true};
  for (size_t i = len; i-- > 0;) {
    if (++end.bytes[i] != 0) {
      out.push_back(end);
      return;
    }
  }
}

void addElementMessages(Batch &batch, const std::string &table, const std::string &set, uint32_t setId,
                        const std::vector<Key> &keys, size_t len, bool add) {
  for (size_t start = 0; start < keys.size(); start += kElementsPerMessage) {
    SetPtr s(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.c_str());
    if (setId != 0) nftnl_set_set_u32(s.get(), NFTNL_SET_ID, setId);
    size_t end = std::min(keys.size(), start + kElementsPerMessage);
    for (size_t i = start; i < end; ++i) {
      nftnl_set_elem *e = nftnl_set_elem_alloc();
      nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, keys[i].bytes.data(), static_cast<uint32_t>(len));
      if (keys[i].intervalEnd) nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
      nftnl_set_elem_add(s.get(), e);
    }
    char *at = batch.prepare(kMessageMax + (end - start) * 64);
    auto *nlh = nftnl_nlmsg_build_hdr(at, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, NFPROTO_INET,
                                      (add ? NLM_F_CREATE : 0) | NLM_F_ACK, batch.nextSeq());
    nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
    batch.commit(std::string(add ? "add" : "delete") + " elements " + std::to_string(start) + ".." +
                 std::to_string(end - 1) + " of set " + set);
  }
}

std::vector<Key> addressKeys(const std::vector<Interval> &elements, Family family, bool intervals) {
  std::vector<Key> keys;
  for (const auto &iv : elements) {
    if (iv.family != family) continue;
    if (intervals) {
      intervalKeys(iv.first, iv.last, iv.length(), keys);
    } else {
      keys.push_back(Key{iv.first, false});
    }
  }
  return keys;
}

std::vector<Key> portKeys(const std::vector<PortRange> &ranges) {
  std::vector<Key> keys;
  for (const auto &r : ranges) {
    std::array<uint8_t, 16> first{};
    std::array<uint8_t, 16> last{};
    first[0] = static_cast<uint8_t>(r.first >> 8);
    first[1] = static_cast<uint8_t>(r.first & 0xff);
    last[0] = static_cast<uint8_t>(r.last >> 8);
    last[1] = static_cast<uint8_t>(r.last & 0xff);
    intervalKeys(first, last, 2, keys);
  }
  return keys;
}

std::string setName(const std::string &base, Family family) { return base + (family == Family::V4 ? "4" : "6"); }

// Source match for one family: nfproto, the saddr payload, and the set or literal.
void matchSource(RuleBuilder &b, const Rule &rule, Family family, const std::map<std::string, uint32_t> &ids) {
  if (rule.sourceKind == Rule::SourceKind::Any) return;
  b.family(family);
  const uint32_t len = family == Family::V4 ? 4 : 16;
  b.payload(NFT_PAYLOAD_NETWORK_HEADER, family == Family::V4 ? 12 : 8, len);
  if (rule.sourceKind == Rule::SourceKind::Set) {
    std::string name = setName(rule.sourceSet, family);
    auto it = ids.find(name);
    b.lookup(name, it == ids.end() ? 0 : it->second);
    return;
  }
  const Interval &iv = rule.source;
  if (iv.single()) {
    b.cmp(NFT_CMP_EQ, iv.first.data(), len);
    return;
  }
  // A prefix is a mask and a compare; any other range, a range expression.
  std::array<uint8_t, 16> mask{};
  bool isPrefix = true;
  for (size_t i = 0; i < len; ++i) {
    mask[i] = static_cast<uint8_t>(~(iv.first[i] ^ iv.last[i]));
    if ((iv.first[i] & ~mask[i]) != 0 || (iv.last[i] | mask[i]) != 0xff) isPrefix = false;
  }
  if (isPrefix) {
    std::array<uint8_t, 16> zero{};
    b.bitwise(mask.data(), zero.data(), len);
    b.cmp(NFT_CMP_EQ, iv.first.data(), len);
  } else {
    b.range(iv.first.data(), iv.last.data(), len);
  }
}

void matchPorts(RuleBuilder &b, const Rule &rule, const std::map<std::string, uint32_t> &ids) {
  if (!rule.proto) return;
  b.l4proto(static_cast<uint8_t>(*rule.proto == Proto::Tcp ? int{IPPROTO_TCP} : int{IPPROTO_UDP}));
  if (rule.portSet.empty() && !rule.ports) return;
  b.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
  if (!rule.portSet.empty()) {
    auto it = ids.find(rule.portSet);
    b.lookup(rule.portSet, it == ids.end() ? 0 : it->second);
    return;
  }
  uint16_t first = htons(rule.ports->first);
  uint16_t last = htons(rule.ports->last);
  if (first == last) {
    b.cmp(NFT_CMP_EQ, &first, 2);
  } else {
    b.range(&first, &last, 2);
  }
}

// ICMP type t (or the range t..u) of a family.
void icmpRule(Batch &batch, const std::string &table, Family family, uint8_t t, uint8_t u, uint64_t limit,
              const std::string &what) {
  RuleBuilder b(table);
  b.family(family).l4proto(static_cast<uint8_t>(family == Family::V4 ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6}));
  b.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
  if (t == u) {
    b.cmpU8(t);
  } else {
    b.range(&t, &u, 1);
  }
  if (limit > 0) b.limitPerSecond(limit, 5);
  b.verdict(NF_ACCEPT).comment(what).emit(batch, "rule: " + what);
}

std::vector<Family> ruleFamilies(const Rule &rule) {
  switch (rule.sourceKind) {
    case Rule::SourceKind::Any: return {Family::V4};  // no family match at all
    case Rule::SourceKind::Set: return {Family::V4, Family::V6};
    case Rule::SourceKind::Literal: return {rule.source.family};
  }
  return {};
}

constexpr size_t kFixedRules = 11;

// A guarded destination: ports, and an address set of one family, or this
// node's own addresses (either family).
struct GuardTarget {
  std::string portSet;
  Family family;
  std::string set;  // empty: local
};

std::vector<GuardTarget> guardTargets(const TaskGuard &guard) {
  std::vector<GuardTarget> out;
  for (const auto &g : guard.guarded) {
    for (const auto &s : g.addressSets) {
      out.push_back({g.portSet, Family::V4, s});
      out.push_back({g.portSet, Family::V6, s});
    }
    if (g.local) out.push_back({g.portSet, Family::V4, ""});
  }
  return out;
}

void addOutputChain(Batch &batch, const Ruleset &rs, const std::map<std::string, uint32_t> &ids) {
  const TaskGuard &g = *rs.taskGuard;
  const std::string &table = rs.table;
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, kOutputChain);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, "filter");
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_OUT);
  nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, rs.priority);
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  char *at = batch.prepare(kMessageMax);
  auto *nlh = nftnl_chain_nlmsg_build_hdr(at, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK,
                                          batch.nextSeq());
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  batch.commit("chain output");

  for (const auto &cg : g.cgroups) {
    for (const auto &t : guardTargets(g)) {
      // In nft's order of printing: ip daddr, tcp dport, socket.
      RuleBuilder b(table, kOutputChain);
      std::string where;
      if (!t.set.empty()) {
        b.family(t.family);
        const uint32_t len = t.family == Family::V4 ? 4 : 16;
        b.payload(NFT_PAYLOAD_NETWORK_HEADER, t.family == Family::V4 ? 16 : 24, len);
        std::string name = setName(t.set, t.family);
        auto it = ids.find(name);
        b.lookup(name, it == ids.end() ? 0 : it->second);
        where = "@" + name;
      } else {
        b.fibDaddrLocal();
        where = "this node's addresses";
      }
      b.l4proto(IPPROTO_TCP);
      auto portsId = ids.find(t.portSet);
      b.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2).lookup(t.portSet, portsId == ids.end() ? 0 : portsId->second);
      b.socketCgroup(cg.level, cg.id);
      std::string what = "tasks in " + cg.path + " to @" + t.portSet + " on " + where;
      b.counter().rejectTcpReset().comment("tasks: no control plane").emit(batch, "rule: " + what);
    }
  }
}

}  // namespace

size_t chainRuleCount(const Ruleset &ruleset) {
  size_t n = kFixedRules + 1;  // + the final counter
  for (const auto &r : ruleset.rules) n += ruleFamilies(r).size();
  if (ruleset.taskGuard) n += ruleset.taskGuard->cgroups.size() * guardTargets(*ruleset.taskGuard).size();
  return n;
}

void addDeleteTable(Batch &batch, const std::string &table) {
  addTable(batch, table, NFT_MSG_NEWTABLE, NLM_F_CREATE, "create table inet " + table);
  addTable(batch, table, NFT_MSG_DELTABLE, 0, "delete table inet " + table);
}

void addReplace(Batch &batch, const Ruleset &rs) {
  const std::string &table = rs.table;
  addDeleteTable(batch, table);
  addTable(batch, table, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, "table inet " + table);

  std::map<std::string, uint32_t> ids;
  uint32_t nextId = 1;
  for (const auto &s : rs.addressSets) {
    for (Family f : {Family::V4, Family::V6}) {
      std::string name = setName(s.name, f);
      ids[name] = nextId;
      addSet(batch, table, name, f == Family::V4 ? kTypeIpv4Addr : kTypeIpv6Addr, f == Family::V4 ? 4 : 16,
             s.intervals, nextId++);
      auto keys = addressKeys(s.intervals ? mergeIntervals(s.elements) : s.elements, f, s.intervals);
      addElementMessages(batch, table, name, ids[name], keys, f == Family::V4 ? 4 : 16, true);
    }
  }
  for (const auto &s : rs.portSets) {
    ids[s.name] = nextId;
    addSet(batch, table, s.name, kTypeInetService, 2, true, nextId++);
    addElementMessages(batch, table, s.name, ids[s.name], portKeys(mergePorts(s.elements)), 2, true);
  }

  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, kChain);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, "filter");
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
  nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, rs.priority);
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_DROP);
  char *at = batch.prepare(kMessageMax);
  auto *nlh = nftnl_chain_nlmsg_build_hdr(at, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK,
                                          batch.nextSeq());
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  batch.commit("chain input");

  // The fixed rules (kFixedRules of them).
  RuleBuilder(table).ctState(NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED))
      .verdict(NF_ACCEPT).comment("replies").emit(batch, "rule: ct state established,related accept");
  RuleBuilder(table).ctState(NF_CT_STATE_INVALID_BIT).verdict(NF_DROP).comment("invalid")
      .emit(batch, "rule: ct state invalid drop");
  const char lo[] = "lo";
  RuleBuilder(table).meta(NFT_META_IIFNAME).cmp(NFT_CMP_EQ, lo, sizeof lo).verdict(NF_ACCEPT).comment("loopback")
      .emit(batch, "rule: iifname lo accept");
  const uint64_t echo = static_cast<uint64_t>(rs.icmpEchoPerSecond);
  icmpRule(batch, table, Family::V4, 8, 8, echo, "ping, rate-limited");
  icmpRule(batch, table, Family::V4, 3, 3, 0, "destination unreachable");
  icmpRule(batch, table, Family::V4, 11, 12, 0, "time exceeded, parameter problem");
  icmpRule(batch, table, Family::V6, 128, 128, echo, "ping6, rate-limited");
  icmpRule(batch, table, Family::V6, 1, 4, 0, "ICMPv6 errors");
  icmpRule(batch, table, Family::V6, 133, 136, 0, "neighbour discovery");
  // RFC 4890: switches that snoop MLD stop forwarding to a node that does
  // not answer their queries.
  icmpRule(batch, table, Family::V6, 130, 132, 0, "multicast listener discovery");
  icmpRule(batch, table, Family::V6, 143, 143, 0, "MLDv2 reports");

  for (size_t i = 0; i < rs.rules.size(); ++i) {
    const Rule &rule = rs.rules[i];
    for (Family f : ruleFamilies(rule)) {
      RuleBuilder b(table);
      matchSource(b, rule, f, ids);
      matchPorts(b, rule, ids);
      std::string what = "rule " + std::to_string(i) + (rule.comment.empty() ? "" : " (" + rule.comment + ")");
      if (rule.sourceKind == Rule::SourceKind::Set) what += f == Family::V4 ? " IPv4" : " IPv6";
      b.counter().verdict(NF_ACCEPT).comment(rule.comment).emit(batch, what);
    }
  }
  RuleBuilder(table).counter().comment("dropped by policy").emit(batch, "rule: counter of what the policy drops");
  if (rs.taskGuard) addOutputChain(batch, rs, ids);
}

void addAddressElements(Batch &batch, const std::string &table, const AddressSet &set,
                        const std::vector<Interval> &elements, bool add) {
  for (Family f : {Family::V4, Family::V6}) {
    auto keys = addressKeys(elements, f, set.intervals);
    if (!keys.empty()) addElementMessages(batch, table, setName(set.name, f), 0, keys, f == Family::V4 ? 4 : 16, add);
  }
}

void addPortElements(Batch &batch, const std::string &table, const std::string &set,
                     const std::vector<PortRange> &elements, bool add) {
  auto keys = portKeys(elements);
  if (!keys.empty()) addElementMessages(batch, table, set, 0, keys, 2, add);
}

void addRefusedRule(Batch &batch, const std::string &table, const std::string &what) {
  RuleBuilder b(table);
  b.family(Family::V4).payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4).lookup("no_such_set", 0);
  b.verdict(NF_ACCEPT).emit(batch, what);
}

}  // namespace dcos::firewall
