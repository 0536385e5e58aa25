// netprobe: real listeners and reachability probes for firewall tests that run
// in network namespaces. See README.md beside this file.
//
//   netprobe serve --tcp 22,80 --udp 53 [--ready-file PATH]
//   netprobe probe [--timeout-ms 400] [--json] tcp:ADDR:PORT udp:[ADDR6]:PORT ...
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"

namespace {

using dcos::Error;
using dcos::makeError;
using dcos::Result;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kDefaultTimeoutMs = 400;
constexpr int kMaxTimeoutMs = 600000;
constexpr char kGreeting[] = "hello\n";
constexpr char kProbePayload[] = "netprobe\n";

constexpr char kUsage[] =
    "usage: netprobe serve --tcp PORTS --udp PORTS [--ready-file PATH]\n"
    "       netprobe probe [--timeout-ms MS] [--json] TARGET...\n"
    "\n"
    "serve  Listens on every port given (comma separated) on the IPv6 wildcard,\n"
    "       dual stack, so IPv4 and IPv6 both reach it. TCP: accept, write\n"
    "       \"hello\\n\", close. UDP: echo each datagram to its sender, from the\n"
    "       address it was sent to. Once every port is bound it writes PATH\n"
    "       (atomically; removed at start and on exit). Runs until SIGTERM or\n"
    "       SIGINT, then exits 0. A port it cannot bind: one error line, exit 1.\n"
    "\n"
    "probe  Probes every TARGET at once within one deadline (--timeout-ms,\n"
    "       default 400) and prints \"TARGET VERDICT\" per target in input order,\n"
    "       or one JSON object {\"TARGET\": \"VERDICT\", ...} with --json.\n"
    "       TARGET is tcp:ADDR:PORT or udp:ADDR:PORT, IPv6 in brackets:\n"
    "       tcp:172.31.254.2:80, udp:[fd00:dc05::2]:53. Verdicts:\n"
    "         open      TCP connected; UDP got a reply\n"
    "         closed    refused: TCP RST, or ICMP port unreachable\n"
    "         filtered  no answer before the deadline, or another ICMP\n"
    "                   unreachable (host, admin prohibited), or dropped by a\n"
    "                   local output rule (EPERM)\n"
    "         error     the probe could not be sent (e.g. no route); see stderr\n"
    "\n"
    "exit status: 0 done (every probe got a verdict), 1 failure (a port could not\n"
    "be bound, a probe could not be sent), 2 usage error\n";

int usageError(const std::string &message) {
  std::fprintf(stderr, "netprobe: %s\n(netprobe --help for usage)\n", message.c_str());
  return kExitUsage;
}

std::string errnoText(int err) { return std::strerror(err); }

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd &&other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd &operator=(Fd &&other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Command-line options as NAME VALUE or NAME=VALUE; flags take no value.
class Args {
 public:
  Args(int argc, char **argv, int first) {
    for (int i = first; i < argc; ++i) {
      rest_.emplace_back(argv[i]);
    }
  }
  bool empty() const { return at_ >= rest_.size(); }
  const std::string &peek() const { return rest_[at_]; }
  std::string next() { return rest_[at_++]; }
  // For "--name VALUE" or "--name=VALUE" at the front: the value.
  Result<std::string> value(const std::string &name) {
    std::string arg = next();
    if (arg.size() > name.size() && arg.compare(0, name.size() + 1, name + "=") == 0) {
      return arg.substr(name.size() + 1);
    }
    if (empty()) {
      return makeError(name + " needs a value");
    }
    return next();
  }
  static bool is(const std::string &arg, const std::string &name) {
    return arg == name || arg.rfind(name + "=", 0) == 0;
  }

 private:
  std::vector<std::string> rest_;
  size_t at_ = 0;
};

Result<int> parseNumber(const std::string &text, int min, int max, const std::string &what) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) {
    return makeError("not a " + what + ": \"" + text + "\"");
  }
  int n = std::stoi(text);
  if (n < min || n > max) {
    return makeError(what + " out of range " + std::to_string(min) + "-" + std::to_string(max) + ": " + text);
  }
  return n;
}

Result<std::vector<uint16_t>> parsePorts(const std::string &list, const std::string &proto) {
  std::vector<uint16_t> ports;
  std::set<int> seen;
  size_t start = 0;
  for (;;) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto port = parseNumber(item, 1, 65535, proto + " port");
    if (!port) {
      return port.error();
    }
    if (!seen.insert(*port).second) {
      return makeError("duplicate " + proto + " port " + item);
    }
    ports.push_back(static_cast<uint16_t>(*port));
    if (comma == std::string::npos) {
      return ports;
    }
    start = comma + 1;
  }
}

// ---------------------------------------------------------------- serve

enum class Proto { kTcp, kUdp };

const char *protoName(Proto proto) { return proto == Proto::kTcp ? "tcp" : "udp"; }

struct Listener {
  Fd fd;
  Proto proto;
  uint16_t port;
  int family;
};

// Binds the wildcard for `port`: IPv6 dual stack, or IPv4 when the namespace
// has no IPv6 at all.
Result<Listener> bindPort(Proto proto, uint16_t port) {
  auto fail = [&](const std::string &what, int err) {
    return makeError(std::string("cannot ") + what + " " + protoName(proto) + " port " + std::to_string(port) +
                     ": " + errnoText(err));
  };
  int type = (proto == Proto::kTcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  int family = AF_INET6;
  Fd fd(::socket(AF_INET6, type, 0));
  if (!fd.valid() && errno == EAFNOSUPPORT) {
    family = AF_INET;
    fd = Fd(::socket(AF_INET, type, 0));
  }
  if (!fd.valid()) {
    return fail("open a socket for", errno);
  }
  int one = 1;
  int zero = 0;
  // TCP: restart at once over our own TIME_WAIT connections. Not for UDP,
  // where SO_REUSEADDR would let a second server share the port silently.
  if (proto == Proto::kTcp && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return fail("set SO_REUSEADDR on", errno);
  }
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (family == AF_INET6) {
    if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) {
      return fail("clear IPV6_V6ONLY on", errno);
    }
    if (proto == Proto::kUdp && ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) != 0) {
      return fail("set IPV6_RECVPKTINFO on", errno);
    }
    auto *a = reinterpret_cast<sockaddr_in6 *>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_any;
    a->sin6_port = htons(port);
    len = sizeof *a;
  } else {
    if (proto == Proto::kUdp && ::setsockopt(fd.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) {
      return fail("set IP_PKTINFO on", errno);
    }
    auto *a = reinterpret_cast<sockaddr_in *>(&addr);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    a->sin_port = htons(port);
    len = sizeof *a;
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&addr), len) != 0) {
    return fail("bind", errno);
  }
  if (proto == Proto::kTcp && ::listen(fd.get(), SOMAXCONN) != 0) {
    return fail("listen on", errno);
  }
  return Listener{std::move(fd), proto, port, family};
}

void acceptAll(const Listener &l) {
  for (;;) {
    int conn = ::accept4(l.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
      return;  // EAGAIN, or a connection reset before we took it
    }
    // A fresh socket's send buffer always takes six bytes; a peer that has
    // already gone only costs us an error we do not need.
    (void)!::send(conn, kGreeting, sizeof kGreeting - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(conn);
  }
}

// Echoes every queued datagram, from the address it was sent to, so a client
// that connected its socket to that address accepts the reply.
void echoAll(const Listener &l) {
  static char buf[65536];
  for (;;) {
    sockaddr_storage peer{};
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char control[256];
    msghdr msg{};
    msg.msg_name = &peer;
    msg.msg_namelen = sizeof peer;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(l.fd.get(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      }
      continue;  // a queued ICMP error from an earlier reply; keep reading
    }
    alignas(cmsghdr) char replyControl[256];
    msghdr reply{};
    reply.msg_name = &peer;
    reply.msg_namelen = msg.msg_namelen;
    iov.iov_len = static_cast<size_t>(n);
    reply.msg_iov = &iov;
    reply.msg_iovlen = 1;
    for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        if (!IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr)) {
          info.ipi6_ifindex = 0;  // let routing pick the way back
        }
        reply.msg_control = replyControl;
        reply.msg_controllen = CMSG_SPACE(sizeof info);
        cmsghdr *out = CMSG_FIRSTHDR(&reply);
        out->cmsg_level = IPPROTO_IPV6;
        out->cmsg_type = IPV6_PKTINFO;
        out->cmsg_len = CMSG_LEN(sizeof info);
        std::memcpy(CMSG_DATA(out), &info, sizeof info);
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        info.ipi_spec_dst = info.ipi_addr;
        info.ipi_ifindex = 0;
        reply.msg_control = replyControl;
        reply.msg_controllen = CMSG_SPACE(sizeof info);
        cmsghdr *out = CMSG_FIRSTHDR(&reply);
        out->cmsg_level = IPPROTO_IP;
        out->cmsg_type = IP_PKTINFO;
        out->cmsg_len = CMSG_LEN(sizeof info);
        std::memcpy(CMSG_DATA(out), &info, sizeof info);
      }
    }
    // A reply the kernel cannot queue is lost, as UDP may lose it anyway.
    (void)!::sendmsg(l.fd.get(), &reply, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
}

dcos::Status writeReadyFile(const std::string &path, const std::string &text) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return makeError("cannot write ready file " + tmp + ": " + errnoText(errno));
  }
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    int err = errno;
    ::unlink(tmp.c_str());
    return makeError("cannot write ready file " + tmp + ": " + errnoText(err));
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return makeError("cannot rename " + tmp + " to " + path + ": " + errnoText(err));
  }
  return {};
}

std::string joinPorts(const std::vector<uint16_t> &ports) {
  std::string s;
  for (uint16_t p : ports) {
    s += (s.empty() ? "" : ",") + std::to_string(p);
  }
  return s;
}

int serve(Args args) {
  std::vector<uint16_t> tcp;
  std::vector<uint16_t> udp;
  std::string readyFile;
  while (!args.empty()) {
    std::string arg = args.peek();
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    bool isTcp = Args::is(arg, "--tcp");
    if (isTcp || Args::is(arg, "--udp")) {
      auto list = args.value(isTcp ? "--tcp" : "--udp");
      if (!list) {
        return usageError("serve: " + list.error().message);
      }
      auto ports = parsePorts(*list, isTcp ? "tcp" : "udp");
      if (!ports) {
        return usageError("serve: " + ports.error().message);
      }
      (isTcp ? tcp : udp) = std::move(*ports);
    } else if (Args::is(arg, "--ready-file")) {
      auto path = args.value("--ready-file");
      if (!path || path->empty()) {
        return usageError("serve: --ready-file needs a path");
      }
      readyFile = *path;
    } else {
      return usageError("serve: unknown argument \"" + arg + "\"");
    }
  }
  if (tcp.empty() && udp.empty()) {
    return usageError("serve: no ports: give --tcp and/or --udp");
  }
  if (!readyFile.empty()) {
    ::unlink(readyFile.c_str());  // a stale file must not look like this instance being ready
  }

  // Signals arrive through the poll loop, never interrupting it elsewhere.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  ::sigprocmask(SIG_BLOCK, &stop, nullptr);
  Fd signals(::signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signals.valid()) {
    std::fprintf(stderr, "netprobe: serve: signalfd: %s\n", errnoText(errno).c_str());
    return kExitFailure;
  }

  std::vector<Listener> listeners;
  for (auto [proto, ports] : {std::pair{Proto::kTcp, &tcp}, std::pair{Proto::kUdp, &udp}}) {
    for (uint16_t port : *ports) {
      auto l = bindPort(proto, port);
      if (!l) {
        std::fprintf(stderr, "netprobe: serve: %s\n", l.error().message.c_str());
        return kExitFailure;
      }
      listeners.push_back(std::move(*l));
    }
  }
  std::string summary = "tcp " + joinPorts(tcp) + "\nudp " + joinPorts(udp) + "\npid " +
                        std::to_string(::getpid()) + "\n";
  if (!readyFile.empty()) {
    if (auto st = writeReadyFile(readyFile, summary); !st) {
      std::fprintf(stderr, "netprobe: serve: %s\n", st.error().message.c_str());
      return kExitFailure;
    }
  }
  std::printf("netprobe: serving tcp [%s] udp [%s]%s\n", joinPorts(tcp).c_str(), joinPorts(udp).c_str(),
              listeners.front().family == AF_INET ? " (IPv4 only: no IPv6 here)" : "");
  std::fflush(stdout);

  std::vector<pollfd> fds;
  fds.push_back({signals.get(), POLLIN, 0});
  for (const auto &l : listeners) {
    fds.push_back({l.fd.get(), POLLIN, 0});
  }
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::fprintf(stderr, "netprobe: serve: poll: %s\n", errnoText(errno).c_str());
      return kExitFailure;
    }
    if (fds[0].revents != 0) {
      break;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      const Listener &l = listeners[i - 1];
      if (l.proto == Proto::kTcp) {
        acceptAll(l);
      } else {
        echoAll(l);
      }
    }
  }
  if (!readyFile.empty()) {
    ::unlink(readyFile.c_str());
  }
  return kExitOk;
}

// ---------------------------------------------------------------- probe

struct Target {
  std::string text;  // as given; the key of the output
  Proto proto;
  sockaddr_storage addr;
  socklen_t len;
};

Result<Target> parseTarget(const std::string &text) {
  auto bad = [&](const std::string &why) { return makeError("bad target \"" + text + "\": " + why); };
  Target t{text, Proto::kTcp, {}, 0};
  std::string rest;
  if (text.rfind("tcp:", 0) == 0) {
    t.proto = Proto::kTcp;
  } else if (text.rfind("udp:", 0) == 0) {
    t.proto = Proto::kUdp;
  } else {
    return bad("want tcp:ADDR:PORT or udp:ADDR:PORT");
  }
  rest = text.substr(4);
  std::string host;
  std::string port;
  bool bracketed = !rest.empty() && rest[0] == '[';
  if (bracketed) {
    size_t close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return bad("want [IPV6]:PORT");
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string::npos) {
      return bad("no port");
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return bad("an IPv6 address goes in brackets: [ADDR]:PORT");
    }
  }
  auto n = parseNumber(port, 1, 65535, "port");
  if (!n) {
    return bad(n.error().message);
  }
  if (bracketed) {
    auto *a = reinterpret_cast<sockaddr_in6 *>(&t.addr);
    if (::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) {
      return bad("not an IPv6 address: \"" + host + "\"");
    }
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(*n));
    t.len = sizeof *a;
  } else {
    auto *a = reinterpret_cast<sockaddr_in *>(&t.addr);
    if (::inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
      return bad("not an IPv4 address: \"" + host + "\"");
    }
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(*n));
    t.len = sizeof *a;
  }
  return t;
}

enum class Verdict { kPending, kOpen, kClosed, kFiltered, kError };

const char *verdictName(Verdict v) {
  switch (v) {
    case Verdict::kOpen:
      return "open";
    case Verdict::kClosed:
      return "closed";
    case Verdict::kFiltered:
      return "filtered";
    case Verdict::kError:
      return "error";
    case Verdict::kPending:
      break;
  }
  return "pending";
}

// What an error on a probe socket says about the target. ICMP errors other
// than "port unreachable" count as filtered, as nmap counts them; EPERM is a
// local output rule dropping the packet. Anything else means the probe could
// not be made at all (for instance no route).
Verdict classify(int err) {
  switch (err) {
    case ECONNREFUSED:
      return Verdict::kClosed;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EACCES:
    case EPERM:
    case ETIMEDOUT:
    case EHOSTDOWN:
    case ENONET:
      return Verdict::kFiltered;
    default:
      return Verdict::kError;
  }
}

struct Probe {
  Target target;
  Fd fd;
  Verdict verdict = Verdict::kPending;
  std::string error;
};

void settle(Probe &p, Verdict v, const std::string &error = {}) {
  p.verdict = v;
  p.error = error;
  p.fd.reset();
}

void start(Probe &p) {
  const Target &t = p.target;
  int type = (t.proto == Proto::kTcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  p.fd = Fd(::socket(t.addr.ss_family, type, 0));
  if (!p.fd.valid()) {
    settle(p, Verdict::kError, "socket: " + errnoText(errno));
    return;
  }
  // TCP: an ICMP error that arrives while connect() still holds the socket
  // (over veth the whole round trip can happen inside the call) only
  // becomes a "soft" error, and the SYN is retried a second later. With
  // RECVERR it is queued for us as well, so "reject" reads as closed at once.
  int one = 1;
  bool v6 = t.addr.ss_family == AF_INET6;
  if (t.proto == Proto::kTcp &&
      ::setsockopt(p.fd.get(), v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_RECVERR : IP_RECVERR, &one, sizeof one) !=
          0) {
    settle(p, Verdict::kError, "setsockopt RECVERR: " + errnoText(errno));
    return;
  }
  if (::connect(p.fd.get(), reinterpret_cast<const sockaddr *>(&t.addr), t.len) != 0) {
    if (t.proto == Proto::kTcp && errno == EINPROGRESS) {
      return;
    }
    // At once, no route is a local problem rather than an answer.
    int err = errno;
    Verdict v = err == ENETUNREACH ? Verdict::kError : classify(err);
    settle(p, v, v == Verdict::kError ? "connect: " + errnoText(err) : "");
    return;
  }
  if (t.proto == Proto::kTcp) {
    settle(p, Verdict::kOpen);  // loopback may connect at once
    return;
  }
  // Connected, so the kernel hands us ICMP port unreachable as ECONNREFUSED.
  if (::send(p.fd.get(), kProbePayload, sizeof kProbePayload - 1, MSG_NOSIGNAL) < 0) {
    int err = errno;
    Verdict v = err == ENETUNREACH ? Verdict::kError : classify(err);
    settle(p, v, v == Verdict::kError ? "send: " + errnoText(err) : "");
  }
}

// The errno of the next ICMP error queued on the socket (RECVERR), 0 if none.
int queuedIcmpError(int fd) {
  char data[256];
  iovec iov{data, sizeof data};
  alignas(cmsghdr) char control[512];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
    return 0;
  }
  for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    bool ours = (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR);
    if (!ours) {
      continue;
    }
    sock_extended_err ee{};
    std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
    if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6) {
      return static_cast<int>(ee.ee_errno);
    }
  }
  return 0;
}

void advance(Probe &p, short revents) {
  int err = 0;
  if (p.target.proto == Proto::kTcp) {
    socklen_t len = sizeof err;
    if (::getsockopt(p.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
      err = errno;
    }
    if (err == 0 && (revents & POLLERR) != 0) {
      err = queuedIcmpError(p.fd.get());
    }
    if (err == 0) {
      if ((revents & POLLOUT) != 0) {
        settle(p, Verdict::kOpen);
      }
      return;
    }
  } else {
    char buf[512];
    if (::recv(p.fd.get(), buf, sizeof buf, MSG_DONTWAIT) >= 0) {
      settle(p, Verdict::kOpen);
      return;
    }
    err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
      return;
    }
  }
  Verdict v = classify(err);
  settle(p, v, v == Verdict::kError ? errnoText(err) : "");
}

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

int probe(Args args) {
  int timeoutMs = kDefaultTimeoutMs;
  bool json = false;
  std::vector<Probe> probes;
  bool onlyTargets = false;
  while (!args.empty()) {
    std::string arg = args.peek();
    if (!onlyTargets && (arg == "--help" || arg == "-h")) {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (!onlyTargets && arg == "--") {
      args.next();
      onlyTargets = true;
    } else if (!onlyTargets && arg == "--json") {
      args.next();
      json = true;
    } else if (!onlyTargets && Args::is(arg, "--timeout-ms")) {
      auto value = args.value("--timeout-ms");
      if (!value) {
        return usageError("probe: " + value.error().message);
      }
      auto n = parseNumber(*value, 1, kMaxTimeoutMs, "--timeout-ms");
      if (!n) {
        return usageError("probe: " + n.error().message);
      }
      timeoutMs = *n;
    } else if (!onlyTargets && arg.rfind("-", 0) == 0) {
      return usageError("probe: unknown option \"" + arg + "\"");
    } else {
      auto target = parseTarget(args.next());
      if (!target) {
        return usageError("probe: " + target.error().message);
      }
      probes.push_back(Probe{std::move(*target), Fd(), Verdict::kPending, {}});
    }
  }
  if (probes.empty()) {
    return usageError("probe: no targets");
  }

  // Every target is validated before the first packet goes out; then all go
  // out together and share one deadline.
  auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  for (auto &p : probes) {
    start(p);
  }
  std::vector<pollfd> fds;
  std::vector<Probe *> polled;
  for (;;) {
    fds.clear();
    polled.clear();
    for (auto &p : probes) {
      if (p.verdict == Verdict::kPending) {
        fds.push_back({p.fd.get(), static_cast<short>(p.target.proto == Proto::kTcp ? POLLOUT : POLLIN), 0});
        polled.push_back(&p);
      }
    }
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (fds.empty() || left <= 0) {
      break;
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(left));
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "netprobe: probe: poll: %s\n", errnoText(errno).c_str());
      return kExitFailure;
    }
    for (size_t i = 0; n > 0 && i < fds.size(); ++i) {
      if (fds[i].revents != 0) {
        advance(*polled[i], fds[i].revents);
      }
    }
  }

  int status = kExitOk;
  std::string out = json ? "{" : "";
  bool first = true;
  for (auto &p : probes) {
    if (p.verdict == Verdict::kPending) {
      settle(p, Verdict::kFiltered);
    }
    if (p.verdict == Verdict::kError) {
      std::fprintf(stderr, "netprobe: probe: %s: %s\n", p.target.text.c_str(), p.error.c_str());
      status = kExitFailure;
    }
    if (json) {
      out += std::string(first ? "" : ", ") + jsonString(p.target.text) + ": " + jsonString(verdictName(p.verdict));
    } else {
      out += p.target.text + " " + verdictName(p.verdict) + "\n";
    }
    first = false;
  }
  if (json) {
    out += "}\n";
  }
  std::fputs(out.c_str(), stdout);
  return status;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    return usageError("no command: serve or probe");
  }
  std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (command == "serve") {
    return serve(Args(argc, argv, 2));
  }
  if (command == "probe") {
    return probe(Args(argc, argv, 2));
  }
  return usageError("unknown command \"" + command + "\": serve or probe");
}
