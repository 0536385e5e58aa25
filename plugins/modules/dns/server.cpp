#include "plugins/modules/dns/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace dcos::dns {

namespace {

constexpr size_t kTcpLimit = 65535;
constexpr int kMaxTcpConnections = 256;
constexpr int kTcpIdleMs = 10'000;

struct Address {
  sockaddr_storage ss{};
  socklen_t len = 0;
};

// "ip", "ip:port", "[ipv6]:port", "ipv6".
std::optional<Address> parseAddress(const std::string &text, uint16_t defaultPort) {
  std::string host = text;
  uint16_t port = defaultPort;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return std::nullopt;
      port = static_cast<uint16_t>(std::atoi(text.c_str() + close + 2));
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    size_t colon = text.find(':');
    host = text.substr(0, colon);
    port = static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1));
  }
  Address a;
  auto *v4 = reinterpret_cast<sockaddr_in *>(&a.ss);
  auto *v6 = reinterpret_cast<sockaddr_in6 *>(&a.ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof *v4;
    return a;
  }
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof *v6;
    return a;
  }
  return std::nullopt;
}

Result<int> bindSocket(const Address &a, int type) {
  int fd = ::socket(a.ss.ss_family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(std::string("socket: ") + std::strerror(errno), errno);
  int one = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (a.ss.ss_family == AF_INET6) (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr *>(&a.ss), a.len) != 0) {
    int e = errno;
    ::close(fd);
    return makeError(std::string("bind: ") + std::strerror(e), e);
  }
  if (type == SOCK_STREAM && ::listen(fd, 128) != 0) {
    int e = errno;
    ::close(fd);
    return makeError(std::string("listen: ") + std::strerror(e), e);
  }
  return fd;
}

bool readFull(int fd, void *buf, size_t n, int timeoutMs) {
  auto *p = static_cast<uint8_t *>(buf);
  size_t got = 0;
  while (got < n) {
    pollfd pfd{fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, timeoutMs);
    if (r <= 0) return false;
    ssize_t k = ::recv(fd, p + got, n - got, 0);
    if (k <= 0) {
      if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      return false;
    }
    got += static_cast<size_t>(k);
  }
  return true;
}

bool writeFull(int fd, const void *buf, size_t n) {
  const auto *p = static_cast<const uint8_t *>(buf);
  size_t done = 0;
  while (done < n) {
    ssize_t k = ::send(fd, p + done, n - done, MSG_NOSIGNAL);
    if (k <= 0) {
      if (k < 0 && errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(k);
  }
  return true;
}

// A TCP message: its two-byte length, then itself.
bool writeMessage(int fd, const std::string &m) {
  std::string framed;
  framed.reserve(m.size() + 2);
  framed.push_back(static_cast<char>(m.size() >> 8));
  framed.push_back(static_cast<char>(m.size() & 0xff));
  framed += m;
  return writeFull(fd, framed.data(), framed.size());
}

uint16_t randomId() {
  thread_local std::mt19937 r{std::random_device{}()};
  return static_cast<uint16_t>(r());
}

}  // namespace

Reply respond(const Zone *zone, const uint8_t *packet, size_t size, bool tcp, bool canForward) {
  Reply out;
  Parsed p = parseQuery(packet, size);
  const Query &q = p.query;
  std::optional<Question> question;
  if (p.hasQuestion || p.status == Parsed::Status::Ok) question = q.question;
  switch (p.status) {
    case Parsed::Status::Drop:
      return out;
    case Parsed::Status::FormErr:
      out.kind = Reply::Kind::Answer;
      out.rcode = Rcode::FormErr;
      out.bytes = encodeError(q.id, q.opcode, q.rd, Rcode::FormErr, question, q.edns);
      return out;
    case Parsed::Status::NotImp:
      out.kind = Reply::Kind::Answer;
      out.rcode = Rcode::NotImp;
      out.bytes = encodeError(q.id, q.opcode, q.rd, Rcode::NotImp, question, q.edns);
      return out;
    case Parsed::Status::Ok:
      break;
  }
  Response r;
  r.id = q.id;
  r.opcode = q.opcode;
  r.rd = q.rd;
  r.cd = q.cd;
  r.ra = canForward;
  r.edns = q.edns;
  r.question = q.question;
  out.kind = Reply::Kind::Answer;
  if (q.edns && q.ednsVersion != 0) {
    // RFC 6891: BADVERS (16), its upper bits in the OPT record.
    r.extendedRcode = 16;
    out.bytes = encode(r, tcp ? kTcpLimit : q.udpSize);
    return out;
  }
  const std::string name = lower(q.question.name);
  if (zone == nullptr || !zone->inZone(name) || q.question.klass != kClassIN) {
    if (zone != nullptr && zone->inZone(name)) {
      r.rcode = Rcode::Refused;  // another class of our zone
    } else if (canForward) {
      out.kind = Reply::Kind::Forward;
      return out;
    } else {
      r.rcode = Rcode::Refused;
    }
    out.rcode = r.rcode;
    out.bytes = encode(r, tcp ? kTcpLimit : q.udpSize);
    return out;
  }
  if (q.question.type == type::kAXFR) {
    r.rcode = Rcode::NotImp;
    out.rcode = r.rcode;
    out.bytes = encode(r, tcp ? kTcpLimit : q.udpSize);
    return out;
  }
  Answer a = zone->lookup(q.question);
  r.aa = true;
  r.rcode = a.rcode;
  r.answer = std::move(a.answer);
  r.authority = std::move(a.authority);
  r.additional = std::move(a.additional);
  out.rcode = r.rcode;
  out.bytes = encode(r, tcp ? kTcpLimit : q.udpSize);
  out.truncated = truncated(out.bytes);
  return out;
}

Server::Server(ServerConfig config) : config_(std::move(config)) {}

Server::~Server() { stop(); }

void Server::setZone(std::shared_ptr<const Zone> zone) { zone_.store(std::move(zone)); }

std::shared_ptr<const Zone> Server::zone() const { return zone_.load(); }

Server::Counters Server::counters() const {
  Counters c;
  c.queries = queries_.load();
  c.forwarded = forwarded_.load();
  c.truncated = truncated_.load();
  c.formErr = formErr_.load();
  c.refused = refused_.load();
  c.servFail = servFail_.load();
  return c;
}

Status Server::start() {
  stopFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stopFd_ < 0) return makeError(std::string("eventfd: ") + std::strerror(errno), errno);
  for (const auto &l : config_.listen) {
    auto a = parseAddress(l, config_.port);
    if (!a) return makeError("not an address to listen on: " + l);
    std::string where = (l.find(':') != std::string::npos ? "[" + l + "]" : l) + ":" + std::to_string(config_.port);
    auto u = bindSocket(*a, SOCK_DGRAM);
    if (!u) return u.error().wrap("udp " + where);
    udp_.push_back(*u);
    auto t = bindSocket(*a, SOCK_STREAM);
    if (!t) return t.error().wrap("tcp " + where);
    tcp_.push_back(*t);
  }
  for (int fd : udp_) threads_.emplace_back([this, fd] { udpLoop(fd); });
  for (int fd : tcp_) threads_.emplace_back([this, fd] { tcpAccept(fd); });
  for (int i = 0; i < config_.forwarders; ++i) threads_.emplace_back([this] { forwardLoop(); });
  return Status::Ok();
}

void Server::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
  }
  wake_.notify_all();
  if (stopFd_ >= 0) {
    uint64_t one = 1;
    (void)!::write(stopFd_, &one, sizeof one);
  }
  for (auto &t : threads_) t.join();
  threads_.clear();
  std::vector<std::thread> conns;
  {
    std::lock_guard lock(mutex_);
    conns.swap(connectionThreads_);
  }
  for (auto &t : conns) t.join();
  for (int fd : udp_) ::close(fd);
  for (int fd : tcp_) ::close(fd);
  udp_.clear();
  tcp_.clear();
  if (stopFd_ >= 0) ::close(stopFd_);
  stopFd_ = -1;
}

void Server::udpLoop(int fd) {
  constexpr int kBatch = 32;
  constexpr size_t kMax = 4096;
  std::vector<std::array<uint8_t, kMax>> bufs(kBatch);
  std::vector<sockaddr_storage> peers(kBatch);
  std::vector<iovec> iov(kBatch), outIov(kBatch);
  std::vector<mmsghdr> msgs(kBatch), outMsgs(kBatch);
  std::vector<std::string> replies(kBatch);
  for (;;) {
    pollfd pfd[2] = {{fd, POLLIN, 0}, {stopFd_, POLLIN, 0}};
    if (::poll(pfd, 2, -1) < 0 && errno != EINTR) return;
    if (pfd[1].revents != 0) return;
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[i].data(), kMax};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = ::recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    auto zone = zone_.load();
    int out = 0;
    for (int i = 0; i < n; ++i) {
      queries_.fetch_add(1, std::memory_order_relaxed);
      Reply r = respond(zone.get(), bufs[i].data(), msgs[i].msg_len, false, !config_.resolvers.empty());
      if (r.kind == Reply::Kind::Drop) continue;
      if (r.kind == Reply::Kind::Forward) {
        sockaddr_storage peer = peers[i];
        socklen_t plen = msgs[i].msg_hdr.msg_namelen;
        enqueue({std::string(reinterpret_cast<const char *>(bufs[i].data()), msgs[i].msg_len),
                 [fd, peer, plen](const std::string &answer) {
                   (void)::sendto(fd, answer.data(), answer.size(), MSG_DONTWAIT,
                                  reinterpret_cast<const sockaddr *>(&peer), plen);
                 }});
        continue;
      }
      if (r.rcode == Rcode::FormErr) formErr_.fetch_add(1, std::memory_order_relaxed);
      if (r.rcode == Rcode::Refused) refused_.fetch_add(1, std::memory_order_relaxed);
      if (r.truncated) truncated_.fetch_add(1, std::memory_order_relaxed);
      replies[out] = std::move(r.bytes);
      outIov[out] = {replies[out].data(), replies[out].size()};
      outMsgs[out] = {};
      outMsgs[out].msg_hdr.msg_name = &peers[i];
      outMsgs[out].msg_hdr.msg_namelen = msgs[i].msg_hdr.msg_namelen;
      outMsgs[out].msg_hdr.msg_iov = &outIov[out];
      outMsgs[out].msg_hdr.msg_iovlen = 1;
      ++out;
    }
    int sent = 0;
    while (sent < out) {
      int k = ::sendmmsg(fd, outMsgs.data() + sent, static_cast<unsigned>(out - sent), MSG_DONTWAIT);
      if (k <= 0) break;  // a full socket buffer: those answers are lost, as UDP allows
      sent += k;
    }
  }
}

void Server::tcpAccept(int fd) {
  for (;;) {
    pollfd pfd[2] = {{fd, POLLIN, 0}, {stopFd_, POLLIN, 0}};
    if (::poll(pfd, 2, -1) < 0 && errno != EINTR) return;
    if (pfd[1].revents != 0) return;
    if ((pfd[0].revents & POLLIN) == 0) continue;
    int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::lock_guard lock(mutex_);
    if (stopping_ || static_cast<int>(connections_.size()) >= kMaxTcpConnections) {
      ::close(c);
      continue;
    }
    connections_.push_back(c);
    connectionThreads_.emplace_back([this, c] { tcpConnection(c); });
  }
}

void Server::tcpConnection(int fd) {
  for (;;) {
    uint8_t len[2];
    if (!readFull(fd, len, 2, kTcpIdleMs)) break;
    size_t n = (static_cast<size_t>(len[0]) << 8) | len[1];
    std::string msg(n, '\0');
    if (n > 0 && !readFull(fd, msg.data(), n, kTcpIdleMs)) break;
    queries_.fetch_add(1, std::memory_order_relaxed);
    auto zone = zone_.load();
    Reply r = respond(zone.get(), reinterpret_cast<const uint8_t *>(msg.data()), n, true, !config_.resolvers.empty());
    if (r.kind == Reply::Kind::Drop) break;
    if (r.kind == Reply::Kind::Forward) r.bytes = forward(msg, true);
    if (r.rcode == Rcode::FormErr) formErr_.fetch_add(1, std::memory_order_relaxed);
    if (!writeMessage(fd, r.bytes)) break;
  }
  std::lock_guard lock(mutex_);
  connections_.erase(std::remove(connections_.begin(), connections_.end(), fd), connections_.end());
  ::close(fd);
  // The thread's own std::thread is joined at stop (or reaped below).
  for (auto it = connectionThreads_.begin(); it != connectionThreads_.end(); ++it) {
    if (it->get_id() == std::this_thread::get_id()) {
      it->detach();
      connectionThreads_.erase(it);
      break;
    }
  }
}

void Server::enqueue(Forward f) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= 1024) return;  // upstreams far behind: dropped, the client retries
    queue_.push_back(std::move(f));
  }
  wake_.notify_one();
}

void Server::forwardLoop() {
  for (;;) {
    Forward f;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      f = std::move(queue_.front());
      queue_.pop_front();
    }
    f.reply(forward(f.packet, false));
  }
}

// The upstreams in order, each once: its answer with the client's id, or
// SERVFAIL when none answered.
std::string Server::forward(const std::string &packet, bool tcpClient) {
  forwarded_.fetch_add(1, std::memory_order_relaxed);
  const uint16_t clientId = messageId(packet);
  const int timeoutMs = static_cast<int>(config_.forwardTimeout.count());
  for (const auto &upstream : config_.resolvers) {
    auto a = parseAddress(upstream, 53);
    if (!a) continue;
    const uint16_t id = randomId();
    const std::string query = withId(packet, id);
    std::string answer;
    bool viaTcp = tcpClient;
    if (!viaTcp) {
      int fd = ::socket(a->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      if (::connect(fd, reinterpret_cast<const sockaddr *>(&a->ss), a->len) == 0 &&
          ::send(fd, query.data(), query.size(), 0) == static_cast<ssize_t>(query.size())) {
        auto deadline = std::chrono::steady_clock::now() + config_.forwardTimeout;
        for (;;) {
          int left = static_cast<int>(
              std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
          if (left <= 0) break;
          pollfd pfd{fd, POLLIN, 0};
          if (::poll(&pfd, 1, left) <= 0) break;
          char buf[4096];
          ssize_t k = ::recv(fd, buf, sizeof buf, 0);
          if (k < 0) break;  // refused: the next upstream
          std::string got(buf, static_cast<size_t>(k));
          if (messageId(got) != id) continue;  // not ours (late, or spoofed)
          answer = std::move(got);
          break;
        }
      }
      ::close(fd);
      if (!answer.empty() && truncated(answer)) {
        answer.clear();
        viaTcp = true;  // the whole answer, from the same upstream
      }
    }
    if (viaTcp) {
      int fd = ::socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) continue;
      int rc = ::connect(fd, reinterpret_cast<const sockaddr *>(&a->ss), a->len);
      bool up = rc == 0;
      if (!up && errno == EINPROGRESS) {
        pollfd pfd{fd, POLLOUT, 0};
        int err = 0;
        socklen_t elen = sizeof err;
        up = ::poll(&pfd, 1, timeoutMs) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0;
      }
      if (up) {
        int flags = ::fcntl(fd, F_GETFL);
        (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        uint8_t len[2];
        if (writeMessage(fd, query) && readFull(fd, len, 2, timeoutMs)) {
          size_t n = (static_cast<size_t>(len[0]) << 8) | len[1];
          std::string got(n, '\0');
          if (readFull(fd, got.data(), n, timeoutMs) && messageId(got) == id) answer = std::move(got);
        }
      }
      ::close(fd);
    }
    if (!answer.empty()) {
      // An answer fetched over TCP may not fit the UDP client: TC, and the
      // client asks again over TCP.
      if (!tcpClient) {
        Parsed p = parseQuery(reinterpret_cast<const uint8_t *>(packet.data()), packet.size());
        size_t limit = p.status == Parsed::Status::Ok ? p.query.udpSize : 512;
        if (answer.size() > limit) {
          Response r;
          r.id = clientId;
          r.opcode = p.query.opcode;
          r.rd = p.query.rd;
          r.ra = true;
          r.edns = p.query.edns;
          if (p.status == Parsed::Status::Ok) r.question = p.query.question;
          // One record too many for the limit: encode sets TC and drops them.
          Record filler{r.question ? r.question->name : "", type::kTXT, 0,
                        std::vector<std::string>(static_cast<size_t>(limit / 255 + 2), std::string(255, 'x'))};
          r.answer.push_back(filler);
          truncated_.fetch_add(1, std::memory_order_relaxed);
          return encode(r, limit);
        }
      }
      std::string out = withId(answer, clientId);
      if (out.size() > 3) out[3] = static_cast<char>(out[3] | 0x80);  // RA: this server recursed for the client
      return out;
    }
  }
  servFail_.fetch_add(1, std::memory_order_relaxed);
  Parsed p = parseQuery(reinterpret_cast<const uint8_t *>(packet.data()), packet.size());
  std::optional<Question> q;
  if (p.status == Parsed::Status::Ok) q = p.query.question;
  return encodeError(clientId, p.query.opcode, p.query.rd, Rcode::ServFail, q, p.query.edns);
}

}  // namespace dcos::dns
