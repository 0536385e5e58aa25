#include "plugins/modules/dns/zone.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <set>

#include "plugins/modules/dns/names.h"
#include "plugins/modules/dns/server.h"

using namespace dcos::dns;

namespace {

ClusterState sample() {
  ClusterState s;
  s.masters = {"10.0.0.11", "10.0.0.12", "10.0.0.13"};
  s.leader = "10.0.0.12";
  s.leaderPort = 61001;
  s.agents["a-1-S1"] = {"a-1-S1", "10.0.1.21", "a1", 61001};
  s.agents["a-1-S2"] = {"a-1-S2", "10.0.1.22", "a2", 61001};
  ClusterState::App web;
  web.id = "/prod/web";
  web.ports = {{10000, "tcp", "http"}, {10001, "udp,tcp", ""}};
  s.apps[web.id] = web;
  s.tasks.push_back({"prod_web.1111", "/prod/web", "a-1-S1", "TASK_RUNNING", {31000, 31001}});
  s.tasks.push_back({"prod_web.2222", "/prod/web", "a-1-S2", "TASK_RUNNING", {31005, 31006}});
  s.tasks.push_back({"prod_web.3333", "/prod/web", "a-1-S2", "TASK_STAGING", {31007, 31008}});
  return s;
}

std::string ip(const Record &r) {
  char buf[INET6_ADDRSTRLEN];
  if (auto *v4 = std::get_if<Ipv4>(&r.data)) return ::inet_ntop(AF_INET, v4->data(), buf, sizeof buf);
  if (auto *v6 = std::get_if<Ipv6>(&r.data)) return ::inet_ntop(AF_INET6, v6->data(), buf, sizeof buf);
  return "";
}

std::set<std::string> ips(const Answer &a) {
  std::set<std::string> out;
  for (const auto &r : a.answer) out.insert(ip(r));
  return out;
}

Question q(const std::string &name, uint16_t t) { return Question{name, t, kClassIN}; }

}  // namespace

TEST_CASE("zone: a running task's A and SRV records, as Mesos-DNS names them") {
  ZoneConfig c;
  c.self = "10.0.0.11";
  auto z = Zone::build(c, sample(), 7);
  auto labels = taskLabels("/prod/web", "prod_web.1111", "a-1-S1", "marathon", "mesos");
  REQUIRE(labels.label == "web-prod");

  SECTION("A: every running task of the app, nothing for the staging one") {
    auto a = z->lookup(q("web-prod.marathon.mesos", type::kA));
    CHECK(a.rcode == Rcode::NoError);
    CHECK(ips(a) == std::set<std::string>{"10.0.1.21", "10.0.1.22"});
    CHECK(ips(z->lookup(q("web-prod.marathon.slave.mesos", type::kA))) == std::set<std::string>{"10.0.1.21", "10.0.1.22"});
    auto canon = z->lookup(q(labels.canonical + ".marathon.mesos", type::kA));
    CHECK(ips(canon) == std::set<std::string>{"10.0.1.21"});
    for (const auto &r : a.answer) CHECK(r.ttl == 60);
  }
  SECTION("the question's case is kept, the lookup is not case-sensitive") {
    auto a = z->lookup(q("Web-Prod.Marathon.MESOS", type::kA));
    REQUIRE(a.answer.size() == 2);
    CHECK(a.answer[0].name == "Web-Prod.Marathon.MESOS");
  }
  SECTION("SRV: one per port of the protocol, to the canonical name, its A in additional") {
    auto tcp = z->lookup(q("_web-prod._tcp.marathon.mesos", type::kSRV));
    REQUIRE(tcp.answer.size() == 4);  // 2 tasks x 2 tcp ports
    std::set<int> ports;
    for (const auto &r : tcp.answer) {
      auto srv = std::get<Srv>(r.data);
      ports.insert(srv.port);
      CHECK(srv.priority == 0);
      CHECK(srv.weight == 1);
    }
    CHECK(ports == std::set<int>{31000, 31001, 31005, 31006});
    CHECK(tcp.additional.size() == 2);
    auto udp = z->lookup(q("_web-prod._udp.marathon.mesos", type::kSRV));
    REQUIRE(udp.answer.size() == 2);  // only the udp,tcp port
    auto named = z->lookup(q("_http._web-prod._tcp.marathon.mesos", type::kSRV));
    REQUIRE(named.answer.size() == 2);
    for (const auto &r : named.answer) CHECK((std::get<Srv>(r.data).port == 31000 || std::get<Srv>(r.data).port == 31005));
    auto slave = z->lookup(q("_web-prod._tcp.marathon.slave.mesos", type::kSRV));
    CHECK(slave.answer.size() == 4);
    CHECK(std::get<Srv>(slave.answer[0].data).target.find(".marathon.slave.mesos") != std::string::npos);
  }
  SECTION("masters, leader, agents, framework, ns1") {
    CHECK(ips(z->lookup(q("leader.mesos", type::kA))) == std::set<std::string>{"10.0.0.12"});
    CHECK(ips(z->lookup(q("master.mesos", type::kA))).size() == 3);
    CHECK(ips(z->lookup(q("master0.mesos", type::kA))) == std::set<std::string>{"10.0.0.11"});
    CHECK(ips(z->lookup(q("master2.mesos", type::kA))) == std::set<std::string>{"10.0.0.13"});
    CHECK(ips(z->lookup(q("slave.mesos", type::kA))).size() == 2);
    CHECK(ips(z->lookup(q("agent.mesos", type::kA))).size() == 2);
    CHECK(ips(z->lookup(q("marathon.mesos", type::kA))) == std::set<std::string>{"10.0.0.12"});
    CHECK(ips(z->lookup(q("ns1.mesos", type::kA))) == std::set<std::string>{"10.0.0.11"});
    auto leader = z->lookup(q("_leader._tcp.mesos", type::kSRV));
    REQUIRE(leader.answer.size() == 1);
    CHECK(std::get<Srv>(leader.answer[0].data).port == 61001);
    CHECK(z->lookup(q("_leader._udp.mesos", type::kSRV)).answer.size() == 1);
    CHECK(z->lookup(q("_slave._tcp.mesos", type::kSRV)).answer.size() == 1);  // both agents' APIs on 61001: slave.mesos:61001
    CHECK(z->lookup(q("_framework._tcp.marathon.mesos", type::kSRV)).answer.size() == 1);
  }
  SECTION("the apex: SOA and NS") {
    auto soa = z->lookup(q("mesos", type::kSOA));
    REQUIRE(soa.answer.size() == 1);
    auto s = std::get<Soa>(soa.answer[0].data);
    CHECK(s.mname == "ns1.mesos");
    CHECK(s.rname == "root.ns1.mesos");
    CHECK(s.serial == 7);
    auto ns = z->lookup(q("mesos", type::kNS));
    REQUIRE(ns.answer.size() == 1);
    CHECK(std::get<std::string>(ns.answer[0].data) == "ns1.mesos");
    CHECK(ns.additional.size() == 1);
  }
  SECTION("NXDOMAIN with the SOA; NODATA for another type and for a branch") {
    auto nx = z->lookup(q("nosuch.marathon.mesos", type::kA));
    CHECK(nx.rcode == Rcode::NXDomain);
    REQUIRE(nx.authority.size() == 1);
    CHECK(nx.authority[0].type == type::kSOA);
    auto nodata = z->lookup(q("web-prod.marathon.mesos", type::kSRV));
    CHECK(nodata.rcode == Rcode::NoError);
    CHECK(nodata.answer.empty());
    CHECK(nodata.authority.size() == 1);
    auto branch = z->lookup(q("_tcp.marathon.mesos", type::kA));
    CHECK(branch.rcode == Rcode::NoError);
    CHECK(branch.answer.empty());
    CHECK(z->inZone("mesos"));
    CHECK(z->inZone("a.mesos"));
    CHECK_FALSE(z->inZone("amesos"));
    CHECK_FALSE(z->inZone("example.com"));
  }
  SECTION("answers come shuffled") {
    std::set<std::string> firsts;
    for (int i = 0; i < 64 && firsts.size() < 2; ++i) firsts.insert(ip(z->lookup(q("master.mesos", type::kA)).answer[0]));
    CHECK(firsts.size() == 2);
  }
  SECTION("the HTTP API's views") {
    auto hosts = z->hosts("web-prod.marathon.mesos.");
    CHECK(hosts.size() == 2);
    CHECK(hosts[0].host == "web-prod.marathon.mesos.");
    auto services = z->services("_web-prod._tcp.marathon.mesos");
    CHECK(services.size() == 4);
    CHECK(!services[0].ip.empty());
    CHECK(z->hosts("nosuch.mesos").empty());
  }
}

TEST_CASE("zone: another domain and TTL from the config") {
  ZoneConfig c;
  c.domain = "dcos.example";
  c.ttl = 5;
  auto z = Zone::build(c, sample(), 1);
  auto a = z->lookup(q("web-prod.marathon.dcos.example", type::kA));
  REQUIRE(a.answer.size() == 2);
  CHECK(a.answer[0].ttl == 5);
  CHECK(z->lookup(q("web-prod.marathon.mesos", type::kA)).rcode == Rcode::NXDomain);
  CHECK_FALSE(z->inZone("web-prod.marathon.mesos"));
}

TEST_CASE("respond: queries in, packets out") {
  ZoneConfig c;
  auto z = Zone::build(c, sample(), 1);
  // A query for web-prod.marathon.mesos A, id 0x1234, RD.
  Response query;
  query.id = 0x1234;
  query.rd = true;
  query.question = Question{"web-prod.marathon.mesos", type::kA, kClassIN};
  std::string packet = encode(query, 512);
  // As a query: QR clear (encode writes a response; clear the bit).
  packet[2] = static_cast<char>(packet[2] & 0x7f);
  auto r = respond(z.get(), reinterpret_cast<const uint8_t *>(packet.data()), packet.size(), false, false);
  REQUIRE(r.kind == Reply::Kind::Answer);
  CHECK(messageId(r.bytes) == 0x1234);
  CHECK(r.rcode == Rcode::NoError);
  CHECK((static_cast<uint8_t>(r.bytes[2]) & 0x80) != 0);  // QR
  CHECK((static_cast<uint8_t>(r.bytes[2]) & 0x04) != 0);  // AA

  SECTION("a name outside the zone: forwarded, or REFUSED without resolvers") {
    query.question = Question{"example.com", type::kA, kClassIN};
    std::string out = encode(query, 512);
    out[2] = static_cast<char>(out[2] & 0x7f);
    auto f = respond(z.get(), reinterpret_cast<const uint8_t *>(out.data()), out.size(), false, true);
    CHECK(f.kind == Reply::Kind::Forward);
    auto refused = respond(z.get(), reinterpret_cast<const uint8_t *>(out.data()), out.size(), false, false);
    CHECK(refused.rcode == Rcode::Refused);
  }
  SECTION("garbage: FORMERR or nothing") {
    const char bytes[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3f";  // a label past the end
    std::string junk(bytes, sizeof bytes - 1);
    auto f = respond(z.get(), reinterpret_cast<const uint8_t *>(junk.data()), junk.size(), false, false);
    CHECK(f.kind == Reply::Kind::Answer);
    CHECK(f.rcode == Rcode::FormErr);
    auto d = respond(z.get(), reinterpret_cast<const uint8_t *>(junk.data()), 5, false, false);
    CHECK(d.kind == Reply::Kind::Drop);
  }
}

TEST_CASE("zone: before the first whole read, SERVFAIL for what it lacks, never NXDOMAIN") {
  ZoneConfig c;
  ClusterState s;
  s.masters = {"10.0.0.11"};
  auto z = Zone::build(c, s, 1, false);
  CHECK(z->lookup(q("web-prod.marathon.mesos", type::kA)).rcode == Rcode::ServFail);
  CHECK(ips(z->lookup(q("master.mesos", type::kA))) == std::set<std::string>{"10.0.0.11"});
  CHECK(z->lookup(q("mesos", type::kSOA)).answer.size() == 1);
  auto complete = Zone::build(c, s, 2, true);
  auto nx = complete->lookup(q("web-prod.marathon.mesos", type::kA));
  CHECK(nx.rcode == Rcode::NXDomain);
  // Negative answers are remembered 1 s, not the TTL.
  REQUIRE(nx.authority.size() == 1);
  CHECK(std::get<Soa>(nx.authority[0].data).minimum == 1);
}

TEST_CASE("zone: an address that is not an IP makes no name") {
  ZoneConfig c;
  ClusterState s;
  s.masters = {"m1.example"};
  auto z = Zone::build(c, s, 1);
  CHECK(z->lookup(q("master0.mesos", type::kA)).rcode == Rcode::NXDomain);
}

namespace {

// A query for `name` A, as a client sends it.
std::string queryPacket(const std::string &name, uint16_t id) {
  Response q;
  q.id = id;
  q.rd = true;
  q.question = Question{name, type::kA, kClassIN};
  std::string p = encode(q, 512);
  p[2] = static_cast<char>(p[2] & 0x7f);  // a query: QR clear
  return p;
}

}  // namespace

TEST_CASE("server on loopback: answers, a dead upstream is SERVFAIL, TCP garbage costs its own connection") {
  ServerConfig config;
  config.listen = {"127.0.0.1"};
  config.resolvers = {"127.0.0.1:1"};  // nothing listens there: refused at once
  config.forwardTimeout = std::chrono::milliseconds(500);
  // The server binds the port it is given, UDP and TCP. A port the kernel
  // just gave out for UDP may still be taken for TCP by another test's
  // connection, so a few ports are tried, each failure said.
  sockaddr_in a{};
  std::unique_ptr<Server> owned;
  for (int attempt = 0; attempt < 20 && !owned; ++attempt) {
    int probe = ::socket(AF_INET, SOCK_DGRAM, 0);
    a = sockaddr_in{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(probe, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(probe, reinterpret_cast<sockaddr *>(&a), &len);
    ::close(probe);
    config.port = ntohs(a.sin_port);
    auto candidate = std::make_unique<Server>(config);
    candidate->setZone(Zone::build(ZoneConfig{}, sample(), 1));
    auto started = candidate->start();
    if (started) {
      owned = std::move(candidate);
    } else {
      WARN("port " << config.port << ": " << started.error().message);
    }
  }
  REQUIRE(owned);
  Server &server = *owned;

  auto ask = [&](const std::string &packet) {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    timeval t{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
    ::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr *>(&a), sizeof a);
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ::close(fd);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  auto rcodeOf = [](const std::string &m) { return static_cast<int>(static_cast<uint8_t>(m[3]) & 0x0f); };

  // A TCP client that sends a length and then nothing, and one that sends garbage.
  int idle = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(::connect(idle, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
  (void)!::write(idle, "\x01", 1);
  int junk = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(::connect(junk, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
  (void)!::write(junk, "\x00\x03\xff\xff\xff", 5);

  auto answer = ask(queryPacket("web-prod.marathon.mesos", 7));
  REQUIRE(answer.size() > 12);
  CHECK(messageId(answer) == 7);
  CHECK(rcodeOf(answer) == 0);
  auto failed = ask(queryPacket("example.com", 8));
  REQUIRE(failed.size() >= 12);
  CHECK(messageId(failed) == 8);
  CHECK(rcodeOf(failed) == static_cast<int>(Rcode::ServFail));
  CHECK((static_cast<uint8_t>(failed[3]) & 0x80) != 0);  // RA
  CHECK(server.counters().servFail == 1);
  // The garbage connection got a FORMERR or was closed; either way, UDP answers still.
  CHECK(ask(queryPacket("leader.mesos", 9)).size() > 12);
  ::close(idle);
  ::close(junk);
  server.stop();
}
