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

#include "base/text.h"

namespace dcos::dns {

namespace {

constexpr size_t kTcpLimit = 65535;
constexpr int kMaxTcpConnections = 256;
constexpr int kTcpIdleMs = 10'000;     // between messages
constexpr int kTcpMessageMs = 5'000;   // for a message once its length came

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
  // Several masters in one network namespace (tests, a node running two
  // clusters' masters) share the port; only processes of the same user can.
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (type == SOCK_DGRAM) {
    // Room for a burst while the server thread is off its cpu (the default
    // buffer holds ~160 queries: a few ms): 4 MiB, as NSD asks for its own.
    int bytes = 4 << 20;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
      (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
  }
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

// Reads n bytes by `deadline` (the whole message, not each piece: a client
// dribbling a byte at a time is cut off all the same).
bool readFull(int fd, void *buf, size_t n, std::chrono::steady_clock::time_point deadline) {
  auto *p = static_cast<uint8_t *>(buf);
  size_t got = 0;
  while (got < n) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, left);
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

std::chrono::steady_clock::time_point after(int ms) { return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms); }

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
  if (q.question.type == type::kAXFR || q.question.type == 251 /* IXFR */) {
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
  // Each address on its own: one that cannot be had (not on this host, or
  // taken by another server in the same network namespace) costs only
  // itself, and is said in problems().
  for (const auto &l : config_.listen) {
    std::string where = (l.find(':') != std::string::npos ? "[" + l + "]" : l) + ":" + std::to_string(config_.port);
    auto a = parseAddress(l, config_.port);
    if (!a) {
      problems_.push_back("not an address to listen on: " + l);
      continue;
    }
    auto u = bindSocket(*a, SOCK_DGRAM);
    if (!u) {
      problems_.push_back("udp " + where + ": " + u.error().message);
      continue;
    }
    auto t = bindSocket(*a, SOCK_STREAM);
    if (!t) {
      ::close(*u);
      problems_.push_back("tcp " + where + ": " + t.error().message);
      continue;
    }
    udp_.push_back(*u);
    tcp_.push_back(*t);
    listening_.push_back(where);
  }
  if (listening_.empty()) return makeError(text::join(problems_, "; "));
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
                 },
                 {}});
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
      if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;  // a full buffer: lost, as UDP allows
      // One peer that cannot be sent to (unreachable, refused by a rule)
      // costs its own answer only.
      sent += k > 0 ? k : 1;
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
    if (c < 0) {
      // Out of descriptors: the pending connection stays readable and poll
      // would spin; a pause lets others close.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        pollfd stop{stopFd_, POLLIN, 0};
        (void)::poll(&stop, 1, 100);
      }
      continue;
    }
    // A client that does not read its answers holds a thread 5 s at most.
    timeval sendTimeout{5, 0};
    (void)::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, sizeof sendTimeout);
    std::lock_guard lock(mutex_);
    if (stopping_ || static_cast<int>(connections_.size()) >= kMaxTcpConnections) {
      ::close(c);
      continue;
    }
    connections_.push_back(c);
    try {
      connectionThreads_.emplace_back([this, c] { tcpConnection(c); });
    } catch (const std::system_error &) {
      connections_.pop_back();
      ::close(c);
    }
  }
}

void Server::tcpConnection(int fd) {
  for (;;) {
    uint8_t len[2];
    if (!readFull(fd, len, 2, after(kTcpIdleMs))) break;
    size_t n = (static_cast<size_t>(len[0]) << 8) | len[1];
    std::string msg(n, '\0');
    if (n > 0 && !readFull(fd, msg.data(), n, after(kTcpMessageMs))) break;
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
  f.queuedAt = std::chrono::steady_clock::now();
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
    // Waited longer than a client waits (its resolver has asked again, or
    // given up): not sent on, so a backlog does not feed itself.
    if (std::chrono::steady_clock::now() - f.queuedAt > config_.forwardTimeout) continue;
    f.reply(forward(f.packet, false));
  }
}

namespace {

// One exchange with one upstream within `deadline`: UDP, then TCP when the
// UDP answer is truncated (or at once for a TCP client). Empty when it did
// not answer.
std::string exchange(const Address &a, const std::string &query, uint16_t id, bool tcpFirst,
                     std::chrono::steady_clock::time_point deadline) {
  auto left = [&] {
    return static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
  };
  std::string answer;
  bool viaTcp = tcpFirst;
  if (!viaTcp) {
    int fd = ::socket(a.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {};
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&a.ss), a.len) == 0 &&
        ::send(fd, query.data(), query.size(), 0) == static_cast<ssize_t>(query.size())) {
      std::string buf(65535, '\0');
      while (left() > 0) {
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, left()) <= 0) break;
        ssize_t k = ::recv(fd, buf.data(), buf.size(), MSG_TRUNC);
        if (k < 0) break;  // refused: the next upstream
        if (static_cast<size_t>(k) > buf.size()) {
          viaTcp = true;  // larger than a datagram can be: cut, ask over TCP
          break;
        }
        std::string got(buf.data(), static_cast<size_t>(k));
        if (got.size() < 12 || messageId(got) != id || (static_cast<uint8_t>(got[2]) & 0x80) == 0) continue;
        answer = std::move(got);
        break;
      }
    }
    ::close(fd);
    if (!answer.empty() && truncated(answer)) viaTcp = true;  // the whole answer, from the same upstream
  }
  if (viaTcp && left() > 0) {
    std::string whole;
    int fd = ::socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0) {
      int rc = ::connect(fd, reinterpret_cast<const sockaddr *>(&a.ss), a.len);
      bool up = rc == 0;
      if (!up && errno == EINPROGRESS) {
        pollfd pfd{fd, POLLOUT, 0};
        int err = 0;
        socklen_t elen = sizeof err;
        up = ::poll(&pfd, 1, std::max(left(), 0)) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 &&
             err == 0;
      }
      if (up) {
        int flags = ::fcntl(fd, F_GETFL);
        (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        timeval t{std::max(left(), 1) / 1000, (std::max(left(), 1) % 1000) * 1000};
        (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
        uint8_t len[2];
        if (writeMessage(fd, query) && readFull(fd, len, 2, deadline)) {
          size_t n = (static_cast<size_t>(len[0]) << 8) | len[1];
          std::string got(n, '\0');
          if (readFull(fd, got.data(), n, deadline) && got.size() >= 12 && messageId(got) == id) whole = std::move(got);
        }
      }
      ::close(fd);
    }
    // Without the whole answer, the truncated one: the client asks again.
    if (!whole.empty()) answer = std::move(whole);
  }
  return answer;
}

}  // namespace

// The upstreams in order (those that failed in the last 30 s after the
// others), each within the timeout: its answer with the client's id, or
// SERVFAIL when none answered.
std::string Server::forward(const std::string &packet, bool tcpClient) {
  forwarded_.fetch_add(1, std::memory_order_relaxed);
  const uint16_t clientId = messageId(packet);
  std::vector<size_t> order;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (failedUntil_.size() != config_.resolvers.size()) failedUntil_.assign(config_.resolvers.size(), {});
    for (size_t i = 0; i < config_.resolvers.size(); ++i) {
      if (failedUntil_[i] <= now) order.push_back(i);
    }
    for (size_t i = 0; i < config_.resolvers.size(); ++i) {
      if (failedUntil_[i] > now) order.push_back(i);
    }
  }
  Parsed p = parseQuery(reinterpret_cast<const uint8_t *>(packet.data()), packet.size());
  for (size_t i : order) {
    auto a = parseAddress(config_.resolvers[i], 53);
    if (!a) continue;
    const uint16_t id = randomId();
    std::string answer = exchange(*a, withId(packet, id), id, tcpClient, std::chrono::steady_clock::now() + config_.forwardTimeout);
    {
      std::lock_guard lock(mutex_);
      failedUntil_[i] = answer.empty() ? std::chrono::steady_clock::now() + std::chrono::seconds(30)
                                       : std::chrono::steady_clock::time_point{};
    }
    if (answer.empty()) continue;
    // An answer fetched over TCP may not fit the UDP client: TC, and the
    // client asks again over TCP.
    if (!tcpClient) {
      size_t limit = p.status == Parsed::Status::Ok ? p.query.udpSize : 512;
      if (answer.size() > limit) {
        Response r;
        r.id = clientId;
        r.opcode = p.query.opcode;
        r.rd = p.query.rd;
        r.ra = true;
        r.edns = p.query.edns;
        if (p.status == Parsed::Status::Ok) r.question = p.query.question;
        // One record too many for the limit: encode sets TC and drops it.
        Record filler{r.question ? r.question->name : "", type::kTXT, 0,
                      std::vector<std::string>(std::min<size_t>(limit / 255 + 2, 250), std::string(255, 'x'))};
        r.answer.push_back(filler);
        truncated_.fetch_add(1, std::memory_order_relaxed);
        return encode(r, limit);
      }
    }
    std::string out = withId(answer, clientId);
    out[3] = static_cast<char>(out[3] | 0x80);  // RA: this server recursed for the client
    return out;
  }
  servFail_.fetch_add(1, std::memory_order_relaxed);
  std::optional<Question> q;
  if (p.status == Parsed::Status::Ok) q = p.query.question;
  std::string out = encodeError(clientId, p.query.opcode, p.query.rd, Rcode::ServFail, q, p.query.edns);
  if (out.size() > 3) out[3] = static_cast<char>(out[3] | 0x80);
  return out;
}

}  // namespace dcos::dns
