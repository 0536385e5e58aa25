// The DNS benchmark's helper (tests/bench/dns.py runs it): the zone of a
// synthetic cluster, our server serving it, and two clients of its own.
//
// Usage:
//   dns_bench zone-file OUT [--apps N] [--instances M]  the zone in master-file form (for NSD)
//   dns_bench queries OUT [--apps N] [--instances M] [--count K]
//                                         a dnsperf query file ("name type" a line)
//   dns_bench serve PORT [--apps N] [--instances M]
//                                         our Server on 127.0.0.1:PORT (UDP and TCP, no
//                                         forwarding) until SIGTERM or SIGINT; "ready" on stdout
//   dns_bench echo PORT                   every packet back with QR set (the floor: no DNS work)
//   dns_bench latency PORT QUERYFILE QPS SECONDS [--spin]
//                                         queries sent at a fixed rate (on schedule, so a
//                                         slow answer does not hold the next query back),
//                                         each answer timed by the kernel's receive stamp:
//                                         p50/p90/p99/p99.9/max
//   dns_bench blast PORT QUERYFILE SECONDS [--window W]
//                                         as many queries as answered: W outstanding,
//                                         sent and received in batches (sendmmsg/recvmmsg)
//   dns_bench respond QUERYFILE SECONDS [--apps N] [--instances M]
//                                         respond() in a loop, no sockets: the server's own
//                                         cost per query (ns) and its heap allocations
//
// The cluster: APPS apps (/bench/app<i>) of INSTANCES TASK_RUNNING tasks
// (1,000 x 10 = 10,000 by default) over 100 agents (10.1.0.1...), each
// app's tasks on distinct agents; every task has a host port for its app's
// "http" port (tcp) and odd apps a second, "metrics" (udp). 3 masters, the
// first the leader. Queries carry EDNS0 (as dnsperf -e sends them), so an
// app's SRV answer (10 records with uncompressed targets, about 560 bytes,
// and their A records in the additional section) is whole; without it both
// servers would answer every SRV query with TC. With 100 instances an SRV
// answer (about 5.5 KB) would be truncated even so.
//
// Queries (seeded, the same file every run): 80% A (40% task labels, 40%
// canonical names, 10% each under slave.), 15% SRV (_L._tcp and
// _http._L._tcp), 5% names that do not exist (NXDOMAIN).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "plugins/modules/dns/names.h"
#include "plugins/modules/dns/server.h"
#include "plugins/modules/dns/wire.h"
#include "plugins/modules/dns/zone.h"

// Heap allocations of this thread, for `respond`'s allocations per query.
// A plain thread_local count: next to malloc's own cost, nothing.
namespace {
thread_local uint64_t tAllocations = 0;
// Every delete through one out-of-line function: GCC takes a free() beside
// an inlined operator new[] for a mismatched pair.
[[gnu::noinline]] void releaseBlock(void *p) noexcept { std::free(p); }
}  // namespace

void *operator new(std::size_t n) {
  ++tAllocations;
  if (void *p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void *operator new[](std::size_t n) { return operator new(n); }
void operator delete(void *p) noexcept { releaseBlock(p); }
void operator delete[](void *p) noexcept { releaseBlock(p); }
void operator delete(void *p, std::size_t) noexcept { releaseBlock(p); }
void operator delete[](void *p, std::size_t) noexcept { releaseBlock(p); }

using namespace dcos::dns;

namespace {

constexpr int kAgents = 100;

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "dns_bench: %s\n", message.c_str());
  std::exit(1);
}

struct Options {
  int apps = 1000;
  int instances = 10;
  int count = 100000;
  int window = 256;
  bool spin = false;
  std::vector<std::string> positional;
};

Options parseOptions(int argc, char **argv) {
  Options o;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto number = [&](int &out) {
      if (i + 1 >= argc) die(a + ": a number expected");
      out = std::atoi(argv[++i]);
      if (out <= 0) die(a + ": a positive number expected");
    };
    if (a == "--apps") {
      number(o.apps);
    } else if (a == "--instances") {
      number(o.instances);
    } else if (a == "--count") {
      number(o.count);
    } else if (a == "--window") {
      number(o.window);
    } else if (a == "--spin") {
      o.spin = true;
    } else {
      o.positional.push_back(a);
    }
  }
  if (o.instances > kAgents) die("--instances: at most " + std::to_string(kAgents) + " (one task of an app per agent)");
  return o;
}

std::string agentId(int k) { return "4f1c3a2e-8b7d-4e21-9c55-0d2b6e7f9a10-S" + std::to_string(k); }

// uuid-shaped, from the generator: task ids as Marathon makes them.
std::string uuid(std::mt19937_64 &r) {
  char buf[40];
  uint64_t a = r(), b = r();
  std::snprintf(buf, sizeof buf, "%08" PRIx64 "-%04" PRIx64 "-11ee-%04" PRIx64 "-%012" PRIx64, a >> 32,
                (a >> 16) & 0xffff, b >> 48, b & uint64_t{0xffffffffffff});
  return buf;
}

ClusterState cluster(const Options &o) {
  ClusterState s;
  s.masters = {"10.0.0.11", "10.0.0.12", "10.0.0.13"};
  s.leader = "10.0.0.11";
  s.leaderPort = 8080;
  for (int k = 0; k < kAgents; ++k) {
    ClusterState::Agent a;
    a.id = agentId(k);
    a.address = "10.1." + std::to_string(k / 200) + "." + std::to_string(k % 200 + 1);
    a.hostname = "agent-" + std::to_string(k);
    a.apiPort = 5051;
    s.agents[a.id] = a;
  }
  std::mt19937_64 r(42);
  std::vector<int> nextPort(kAgents, 20000);
  for (int i = 0; i < o.apps; ++i) {
    ClusterState::App app;
    app.id = "/bench/app" + std::to_string(i);
    app.ports.push_back({0, "tcp", "http"});
    if (i % 2 == 1) app.ports.push_back({0, "udp", "metrics"});
    for (int j = 0; j < o.instances; ++j) {
      int k = (i * o.instances + j) % kAgents;
      ClusterState::Task t;
      t.id = "bench_app" + std::to_string(i) + "." + uuid(r);
      t.appId = app.id;
      t.agentId = agentId(k);
      t.state = "TASK_RUNNING";
      for (size_t p = 0; p < app.ports.size(); ++p) t.ports.push_back(nextPort[k]++);
      s.tasks.push_back(std::move(t));
    }
    s.apps[app.id] = std::move(app);
  }
  return s;
}

ZoneConfig zoneConfig() {
  ZoneConfig c;
  c.self = "10.0.0.11";
  return c;
}

std::shared_ptr<const Zone> buildZone(const Options &o) { return Zone::build(zoneConfig(), cluster(o), 1); }

void writeFile(const std::string &path, const std::string &text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f.flush()) die(path + ": cannot write");
}

std::string queries(const Options &o) {
  ClusterState s = cluster(o);
  ZoneConfig c = zoneConfig();
  std::vector<TaskLabels> labels;
  labels.reserve(s.tasks.size());
  for (const auto &t : s.tasks) labels.push_back(taskLabels(t.appId, t.id, t.agentId, c.framework, c.domain));
  std::mt19937_64 r(7);
  auto pick = [&] { return labels[r() % labels.size()]; };
  const std::string fd = ".marathon.mesos", fsd = ".marathon.slave.mesos";
  std::string out;
  for (int n = 0; n < o.count; ++n) {
    int roll = static_cast<int>(r() % 100);
    const TaskLabels l = pick();
    if (roll < 32) {
      out += l.label + fd + " A\n";
    } else if (roll < 64) {
      out += l.canonical + fd + " A\n";
    } else if (roll < 72) {
      out += l.label + fsd + " A\n";
    } else if (roll < 80) {
      out += l.canonical + fsd + " A\n";
    } else if (roll < 89) {
      out += "_" + l.label + "._tcp" + fd + " SRV\n";
    } else if (roll < 95) {
      out += "_http._" + l.label + "._tcp" + fd + " SRV\n";
    } else {
      out += "nx" + std::to_string(r() % 1000000) + "-bench" + fd + " A\n";
    }
  }
  return out;
}

// A query in wire form as `dnsperf -e` sends it: RD set, an OPT record
// offering 4096 bytes.
std::string encodeQuery(uint16_t id, const std::string &name, uint16_t qtype) {
  std::string m;
  m.push_back(static_cast<char>(id >> 8));
  m.push_back(static_cast<char>(id & 0xff));
  m.push_back(0x01);  // RD
  m.push_back(0x00);
  const char counts[8] = {0, 1, 0, 0, 0, 0, 0, 1};
  m.append(counts, sizeof counts);
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    m.push_back(static_cast<char>(dot - start));
    m.append(name, start, dot - start);
    start = dot + 1;
  }
  m.push_back(0);
  m.push_back(static_cast<char>(qtype >> 8));
  m.push_back(static_cast<char>(qtype & 0xff));
  m.push_back(0);
  m.push_back(1);
  // OPT: root owner, type 41, class = UDP size 4096, TTL 0, no rdata.
  const char opt[11] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
  m.append(opt, sizeof opt);
  return m;
}

struct WireQuery {
  std::string packet;  // id 0: set before sending
};

std::vector<WireQuery> readQueries(const std::string &path) {
  std::ifstream f(path);
  if (!f) die(path + ": cannot read");
  std::vector<WireQuery> out;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string name, t;
    if (!(in >> name >> t)) continue;
    uint16_t qtype = t == "A" ? type::kA : t == "SRV" ? type::kSRV : t == "AAAA" ? type::kAAAA : 0;
    if (qtype == 0) die(path + ": " + t + ": not a type this client sends");
    if (!name.empty() && name.back() == '.') name.pop_back();
    out.push_back({encodeQuery(0, name, qtype)});
  }
  if (out.empty()) die(path + ": no queries");
  return out;
}

int connectUdp(int port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
  int buf = 4 << 20;
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) die(std::string("connect: ") + std::strerror(errno));
  return fd;
}

int64_t nowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double percentile(std::vector<int64_t> &sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]) / 1000.0;
}

int64_t realNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Paced: query k is due at start + k/qps, sent then whatever the answers do
// (open loop). Each answer is timed twice: by the kernel's receive stamp
// (SO_TIMESTAMPNS, taken as the server's answer enters loopback), the
// figure, which a client preempted on a shared machine does not move; and
// when the client read it ("app_"), which it does. Between sends the
// client sleeps in ppoll, or with --spin it spins (its core then never free
// for other work, which the scheduler puts on the server's core instead).
// An id is reused 65536 queries later; one still unanswered then is lost.
int latency(const Options &o) {
  if (o.positional.size() != 4) die("latency PORT QUERYFILE QPS SECONDS [--spin]");
  const int port = std::atoi(o.positional[0].c_str());
  auto qs = readQueries(o.positional[1]);
  const double qps = std::atof(o.positional[2].c_str());
  const double seconds = std::atof(o.positional[3].c_str());
  if (qps <= 0 || seconds <= 0) die("latency: QPS and SECONDS must be positive");
  const int fd = connectUdp(port);
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0) {
    die(std::string("SO_TIMESTAMPNS: ") + std::strerror(errno));
  }
  const int64_t total = static_cast<int64_t>(qps * seconds);
  const double interval = 1e9 / qps;
  std::vector<int64_t> sentAt(65536, -1);  // CLOCK_REALTIME, as the kernel's stamps
  std::vector<int64_t> lat, app;
  lat.reserve(static_cast<size_t>(total));
  app.reserve(static_cast<size_t>(total));
  int64_t sent = 0, lost = 0, late = 0, sendErrors = 0, unstamped = 0;
  int64_t maxBehind = 0;
  char buf[4096];
  alignas(cmsghdr) char control[256];
  const int64_t start = nowNs() + 1'000'000;
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  const int64_t drainUntil = end + 200'000'000;  // answers still on their way
  for (;;) {
    int64_t now = nowNs();
    if (now >= drainUntil) break;
    while (sent < total) {
      int64_t due = start + static_cast<int64_t>(static_cast<double>(sent) * interval);
      if (due > now) break;
      maxBehind = std::max(maxBehind, now - due);
      uint16_t id = static_cast<uint16_t>(sent & 0xffff);
      std::string &p = qs[static_cast<size_t>(sent) % qs.size()].packet;
      p[0] = static_cast<char>(id >> 8);
      p[1] = static_cast<char>(id & 0xff);
      if (sentAt[id] >= 0) ++lost;
      // From when it went (a late send is the client's doing, not the
      // server's; how late is reported).
      sentAt[id] = realNs();
      if (::send(fd, p.data(), p.size(), 0) != static_cast<ssize_t>(p.size())) ++sendErrors;
      ++sent;
    }
    for (;;) {
      iovec iov{buf, sizeof buf};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = control;
      m.msg_controllen = sizeof control;
      ssize_t k = ::recvmsg(fd, &m, MSG_DONTWAIT);
      if (k < 2) break;
      int64_t t = realNs();
      int64_t stamp = -1;
      for (cmsghdr *c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          stamp = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
        }
      }
      uint16_t id = static_cast<uint16_t>((static_cast<uint8_t>(buf[0]) << 8) | static_cast<uint8_t>(buf[1]));
      if (sentAt[id] < 0) {
        ++late;
        continue;
      }
      if (stamp < 0) {
        ++unstamped;
        stamp = t;
      }
      lat.push_back(stamp - sentAt[id]);
      app.push_back(t - sentAt[id]);
      sentAt[id] = -1;
    }
    if (sent >= total && static_cast<int64_t>(lat.size()) + lost >= total) break;
    if (!o.spin) {
      // Asleep until an answer comes or the next query is due.
      int64_t due = sent < total ? start + static_cast<int64_t>(static_cast<double>(sent) * interval) : drainUntil;
      int64_t wait = due - nowNs();
      if (wait > 0) {
        pollfd pfd{fd, POLLIN, 0};
        timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
        (void)::ppoll(&pfd, 1, &ts, nullptr);
      }
    }
  }
  for (int64_t t : sentAt) lost += t >= 0 ? 1 : 0;
  ::close(fd);
  std::sort(lat.begin(), lat.end());
  std::sort(app.begin(), app.end());
  std::printf("sent %" PRId64 " answered %zu lost %" PRId64 " late %" PRId64 " send_errors %" PRId64
              " unstamped %" PRId64 " qps %.0f p50_us %.1f p90_us %.1f p99_us %.1f p999_us %.1f max_us %.1f"
              " app_p50_us %.1f app_p99_us %.1f client_behind_max_us %.1f\n",
              sent, lat.size(), lost, late, sendErrors, unstamped, static_cast<double>(sent) / seconds,
              percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), percentile(lat, 99.9),
              lat.empty() ? 0.0 : static_cast<double>(lat.back()) / 1000.0, percentile(app, 50), percentile(app, 99),
              static_cast<double>(maxBehind) / 1000.0);
  return 0;
}

// Closed loop with a window: up to W queries outstanding, topped up in
// batches of 64 (sendmmsg), answers read in batches (recvmmsg). A query
// unanswered for 100 ms is taken as lost and its slot reused.
int blast(const Options &o) {
  if (o.positional.size() != 3) die("blast PORT QUERYFILE SECONDS [--window W]");
  const int port = std::atoi(o.positional[0].c_str());
  auto qs = readQueries(o.positional[1]);
  const double seconds = std::atof(o.positional[2].c_str());
  const int fd = connectUdp(port);
  constexpr int kBatch = 64;
  const int window = std::min(o.window, 32768);
  std::vector<int64_t> sentAt(65536, -1);
  std::vector<mmsghdr> out(kBatch), in(kBatch);
  std::vector<iovec> outIov(kBatch), inIov(kBatch);
  std::vector<std::array<char, 4096>> bufs(kBatch);
  std::vector<std::string> pending(kBatch);
  uint64_t next = 0, answered = 0, lost = 0;
  int outstanding = 0;
  const int64_t start = nowNs();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  int64_t lastCheck = start;
  while (nowNs() < end) {
    int n = 0;
    while (outstanding + n < window && n < kBatch) {
      uint16_t id = static_cast<uint16_t>(next & 0xffff);
      if (sentAt[id] >= 0) break;  // that id is still out
      pending[n] = qs[next % qs.size()].packet;
      pending[n][0] = static_cast<char>(id >> 8);
      pending[n][1] = static_cast<char>(id & 0xff);
      sentAt[id] = nowNs();
      outIov[n] = {pending[n].data(), pending[n].size()};
      out[n] = {};
      out[n].msg_hdr.msg_iov = &outIov[n];
      out[n].msg_hdr.msg_iovlen = 1;
      ++n;
      ++next;
    }
    if (n > 0) {
      int k = ::sendmmsg(fd, out.data(), static_cast<unsigned>(n), 0);
      k = std::max(k, 0);
      for (int i = k; i < n; ++i) {  // not sent: their ids are free again
        uint16_t id = static_cast<uint16_t>((next - static_cast<uint64_t>(n - i)) & 0xffff);
        sentAt[id] = -1;
      }
      outstanding += k;
      if (k < n) next -= static_cast<uint64_t>(n - k);
    }
    pollfd pfd{fd, POLLIN, 0};
    if (outstanding >= window || n == 0) (void)::poll(&pfd, 1, 1);
    for (int i = 0; i < kBatch; ++i) {
      inIov[i] = {bufs[i].data(), bufs[i].size()};
      in[i] = {};
      in[i].msg_hdr.msg_iov = &inIov[i];
      in[i].msg_hdr.msg_iovlen = 1;
    }
    int got = ::recvmmsg(fd, in.data(), kBatch, MSG_DONTWAIT, nullptr);
    for (int i = 0; i < got; ++i) {
      if (in[i].msg_len < 2) continue;
      uint16_t id = static_cast<uint16_t>((static_cast<uint8_t>(bufs[i][0]) << 8) | static_cast<uint8_t>(bufs[i][1]));
      if (sentAt[id] < 0) continue;
      sentAt[id] = -1;
      --outstanding;
      ++answered;
    }
    int64_t now = nowNs();
    if (now - lastCheck > 20'000'000) {
      lastCheck = now;
      for (auto &t : sentAt) {
        if (t >= 0 && now - t > 100'000'000) {
          t = -1;
          --outstanding;
          ++lost;
        }
      }
    }
  }
  ::close(fd);
  const double took = static_cast<double>(nowNs() - start) / 1e9;
  std::printf("answered %" PRIu64 " lost %" PRIu64 " qps %.0f window %d\n", answered, lost,
              static_cast<double>(answered) / took, window);
  return 0;
}

int respondLoop(const Options &o) {
  if (o.positional.size() != 2) die("respond QUERYFILE SECONDS");
  auto qs = readQueries(o.positional[0]);
  const double seconds = std::atof(o.positional[1].c_str());
  auto zone = buildZone(o);
  uint64_t n = 0, bytes = 0;
  const uint64_t allocBefore = tAllocations;
  const int64_t start = nowNs();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  uint64_t byKind[3] = {0, 0, 0}, allocByKind[3] = {0, 0, 0};  // A, SRV, NXDOMAIN
  while (nowNs() < end) {
    for (int i = 0; i < 1000; ++i, ++n) {
      const std::string &p = qs[n % qs.size()].packet;
      uint64_t a0 = tAllocations;
      Reply r = respond(zone.get(), reinterpret_cast<const uint8_t *>(p.data()), p.size(), false, false);
      bytes += r.bytes.size();
      // The question's type sits before its class and the 11-byte OPT.
      uint16_t qtype = static_cast<uint16_t>((static_cast<uint8_t>(p[p.size() - 15]) << 8) |
                                             static_cast<uint8_t>(p[p.size() - 14]));
      int kind = r.rcode == Rcode::NXDomain ? 2 : qtype == type::kSRV ? 1 : 0;
      ++byKind[kind];
      allocByKind[kind] += tAllocations - a0;
    }
  }
  const double took = static_cast<double>(nowNs() - start);
  const double allocs = static_cast<double>(tAllocations - allocBefore) / static_cast<double>(n);
  auto per = [&](int k) { return byKind[k] ? static_cast<double>(allocByKind[k]) / static_cast<double>(byKind[k]) : 0.0; };
  std::printf("queries %" PRIu64 " ns_per_query %.0f allocations_per_query %.1f (A %.1f, SRV %.1f, NXDOMAIN %.1f) "
              "mean_answer_bytes %.0f names %zu\n",
              n, took / static_cast<double>(n), allocs, per(0), per(1), per(2),
              static_cast<double>(bytes) / static_cast<double>(n), zone->names());
  return 0;
}

// The floor: a UDP server that answers every packet with itself (QR set),
// in the same recvmmsg/sendmmsg loop as ours but with no DNS work. What it
// shows is the kernel's and the machine's share of the figures.
int echo(const Options &o) {
  if (o.positional.size() != 1) die("echo PORT");
  int port = std::atoi(o.positional[0].c_str());
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    die(std::string("echo: bind: ") + std::strerror(errno));
  }
  std::thread loop([fd] {
    constexpr int kBatch = 32;
    std::vector<std::array<uint8_t, 4096>> bufs(kBatch);
    std::vector<sockaddr_storage> peers(kBatch);
    std::vector<iovec> iov(kBatch);
    std::vector<mmsghdr> msgs(kBatch);
    for (;;) {
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) return;
      if ((pfd.revents & POLLIN) == 0) return;
      for (int i = 0; i < kBatch; ++i) {
        iov[i] = {bufs[i].data(), bufs[i].size()};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_name = &peers[i];
        msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int n = ::recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) continue;
      for (int i = 0; i < n; ++i) {
        if (msgs[i].msg_len > 2) bufs[i][2] |= 0x80;
        iov[i].iov_len = msgs[i].msg_len;
      }
      (void)::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
    }
  });
  std::printf("ready: echo on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  loop.detach();
  return 0;
}

int serve(const Options &o) {
  if (o.positional.size() != 1) die("serve PORT");
  int port = std::atoi(o.positional[0].c_str());
  if (port < 1 || port > 65535) die("serve: not a port: " + o.positional[0]);
  // The signals are taken with sigwait below, not by a handler: blocked
  // before the server's threads start, which inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto zone = buildZone(o);
  ServerConfig c;
  c.listen = {"127.0.0.1"};
  c.port = static_cast<uint16_t>(port);
  c.forwarders = 0;
  Server server(c);
  server.setZone(zone);
  auto started = server.start();
  if (!started) die("serve: " + started.error().message);
  std::printf("ready: %zu names on 127.0.0.1:%d\n", zone->names(), port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server.stop();
  auto k = server.counters();
  std::printf("stopped: %" PRIu64 " queries, %" PRIu64 " truncated\n", k.queries, k.truncated);
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) die("usage: dns_bench zone-file|queries|serve|echo|latency|blast|respond ...");
  const std::string mode = argv[1];
  Options o = parseOptions(argc, argv);
  if (mode == "zone-file") {
    if (o.positional.size() != 1) die("zone-file OUT");
    writeFile(o.positional[0], buildZone(o)->zoneFile());
    return 0;
  }
  if (mode == "queries") {
    if (o.positional.size() != 1) die("queries OUT");
    writeFile(o.positional[0], queries(o));
    return 0;
  }
  if (mode == "serve") return serve(o);
  if (mode == "echo") return echo(o);
  if (mode == "latency") return latency(o);
  if (mode == "blast") return blast(o);
  if (mode == "respond") return respondLoop(o);
  die("unknown mode: " + mode);
}
