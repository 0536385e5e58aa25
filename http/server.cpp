#include "http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <set>
#include <thread>
#include <unordered_map>

#include "base/text.h"

namespace dcos::http {

using Clock = std::chrono::steady_clock;

const char *reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
  }
}

namespace {

constexpr uint64_t kWakeId = 0;
constexpr uint64_t kFirstConnId = 1024;  // ids below are listeners (1 + index)
constexpr std::chrono::seconds kLinger{2};  // reading what a closed connection's client still sends

std::string errorBody(const std::string &message) { return "{\"message\":" + text::quote(message) + "}"; }

std::string simpleResponse(int status, const std::string &message) {
  std::string body = errorBody(message);
  return "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

std::string formatAddress(const sockaddr_storage &ss, bool withPort) {
  char ip[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (ss.ss_family == AF_INET6) {
    const auto *a = reinterpret_cast<const sockaddr_in6 *>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    port = ntohs(a->sin6_port);
    // An IPv4 client on a dual-stack socket counts as its IPv4 address.
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      ::inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, sizeof ip);
      return withPort ? std::string(ip) + ":" + std::to_string(port) : ip;
    }
    return withPort ? "[" + std::string(ip) + "]:" + std::to_string(port) : ip;
  }
  const auto *a = reinterpret_cast<const sockaddr_in *>(&ss);
  ::inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
  port = ntohs(a->sin_port);
  return withPort ? std::string(ip) + ":" + std::to_string(port) : ip;
}

Result<int> listenOn(const std::string &where, std::string &bound) {
  std::string host;
  std::string port;
  if (!where.empty() && where.front() == '[') {
    size_t close = where.find(']');
    if (close == std::string::npos || close + 1 >= where.size() || where[close + 1] != ':') {
      return makeError("not an address: " + text::quote(where) + " (expected [ipv6]:port)");
    }
    host = where.substr(1, close - 1);
    port = where.substr(close + 2);
  } else {
    size_t colon = where.rfind(':');
    if (colon == std::string::npos) return makeError("not an address: " + text::quote(where) + " (expected ip:port)");
    host = where.substr(0, colon);
    port = where.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo *found = nullptr;
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) return makeError("cannot resolve " + text::quote(where) + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(std::string("socket: ") + std::strerror(errno), errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (found->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
    int e = errno;
    ::close(fd);
    return makeError(std::strerror(e), e);
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len);
  bound = formatAddress(ss, true);
  return fd;
}

}  // namespace

// ---------------------------------------------------------------------------
// Stream

std::shared_ptr<Stream> Stream::make() { return std::shared_ptr<Stream>(new Stream()); }

bool Stream::write(std::string_view data) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    if (closed_ || gone_) return false;
    if (limit_ != 0 && pending_.size() + data.size() + backlog_ > limit_) {
      gone_ = true;  // too slow: the server closes the connection
    } else {
      pending_.append(data);
    }
    if (!notified_ && notify_) {
      notified_ = true;
      wake = notify_;
    }
    if (gone_) {
      if (wake) wake();
      return false;
    }
  }
  if (wake) wake();
  return true;
}

void Stream::close() {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    if (!notified_ && notify_) {
      notified_ = true;
      wake = notify_;
    }
  }
  if (wake) wake();
}

bool Stream::gone() const {
  std::lock_guard lock(mutex_);
  return gone_ || closed_;
}

// ---------------------------------------------------------------------------
// The server's core: shared with the streams' wake-ups, which may outlive it.

struct Server::Core : std::enable_shared_from_this<Server::Core> {
  struct Conn {
    enum class Phase { Reading, Handling, Writing, Streaming, Draining };
    uint64_t id = 0;
    int fd = -1;
    std::string peer;
    Phase phase = Phase::Reading;
    RequestParser parser;
    std::string in;  // received, not parsed yet (a pipelined request)
    std::string out;
    size_t outOff = 0;
    // A big answer's body, sent after `out` without being copied into it
    // (a 4 MB GET /v2/apps was copied once more here). Empty unless the
    // answer was the last thing queued: queue() puts it into `out` first.
    std::string tail;
    bool closeAfterWrite = false;
    bool readClosed = false;  // the client shut its side
    bool sentContinue = false;
    bool chunked = false;
    bool streamKeepAlive = false;
    std::shared_ptr<Stream> stream;
    Clock::time_point headStart{};
    Clock::time_point bodyStart{};
    Clock::time_point deadline{};
    bool hasDeadline = false;
    uint32_t events = 0;
  };
  struct Job {
    uint64_t conn;
    Request request;
  };
  struct Done {
    uint64_t conn;
    bool head;
    bool keepAlive;
    int minorVersion;
    Response response;
  };

  Handler handler;
  Limits limits;
  int workerCount;

  int epfd = -1;
  int wakefd = -1;
  int sparefd = -1;  // given up to accept (and refuse) when out of fds
  std::vector<int> listeners;
  std::thread loop;
  std::vector<std::thread> workers;
  std::atomic<bool> running{false};

  std::mutex jobMutex;
  std::condition_variable jobReady;
  std::deque<Job> jobs;
  bool workersStop = false;

  std::mutex doneMutex;
  std::vector<Done> done;
  std::vector<uint64_t> wakes;

  // The I/O thread's own.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  std::unordered_map<std::string, size_t> perClient;
  std::set<std::pair<Clock::time_point, uint64_t>> deadlines;
  uint64_t nextId = kFirstConnId;

  std::atomic<uint64_t> nConnections{0}, nStreams{0}, nAccepted{0}, nRefused{0}, nTimedOut{0}, nRequests{0};

  void wake() {
    uint64_t one = 1;
    (void)!::write(wakefd, &one, sizeof one);
  }
  void wakeStream(uint64_t id) {
    {
      std::lock_guard lock(doneMutex);
      if (!running) return;
      wakes.push_back(id);
    }
    wake();
  }
  ~Core() {
    if (wakefd >= 0) ::close(wakefd);
  }

  // -- workers --
  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(jobMutex);
        jobReady.wait(lock, [&] { return workersStop || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      Done d{job.conn, job.request.method == "HEAD", job.request.keepAlive(), job.request.minorVersion, {}};
      try {
        d.response = handler(job.request);
      } catch (const std::exception &e) {
        d.response = Response{500, {{"Content-Type", "application/json"}}, errorBody(std::string("handler failed: ") + e.what()), nullptr};
      } catch (...) {
        d.response = Response{500, {{"Content-Type", "application/json"}}, errorBody("handler failed"), nullptr};
      }
      {
        std::lock_guard lock(doneMutex);
        done.push_back(std::move(d));
      }
      wake();
    }
  }

  // -- the I/O thread --
  void setDeadline(Conn &c, Clock::time_point when) {
    if (c.hasDeadline) deadlines.erase({c.deadline, c.id});
    c.deadline = when;
    c.hasDeadline = true;
    deadlines.insert({when, c.id});
  }
  void clearDeadline(Conn &c) {
    if (c.hasDeadline) deadlines.erase({c.deadline, c.id});
    c.hasDeadline = false;
  }

  void setEvents(Conn &c) {
    constexpr uint32_t kIn = EPOLLIN;
    constexpr uint32_t kOut = EPOLLOUT;
    uint32_t want = 0;
    bool pendingOut = c.outOff < c.out.size() || !c.tail.empty();
    switch (c.phase) {
      case Conn::Phase::Reading: want = (c.readClosed ? 0u : kIn) | (pendingOut ? kOut : 0u); break;
      case Conn::Phase::Handling: want = 0; break;
      case Conn::Phase::Writing: want = kOut; break;
      case Conn::Phase::Streaming: want = (c.readClosed ? 0u : kIn) | (pendingOut ? kOut : 0u); break;
      case Conn::Phase::Draining: want = kIn; break;
    }
    if (want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c.id;
    ::epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = want;
  }

  void closeConn(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Conn &c = *it->second;
    clearDeadline(c);
    ::epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    if (auto p = perClient.find(c.peer); p != perClient.end() && --p->second == 0) perClient.erase(p);
    if (c.stream) detachStream(c);
    conns.erase(it);
    nConnections = conns.size();
  }

  void detachStream(Conn &c) {
    {
      std::lock_guard lock(c.stream->mutex_);
      c.stream->gone_ = true;
      c.stream->notify_ = nullptr;
    }
    c.stream.reset();
    --nStreams;
  }

  std::vector<int> paused;
  Clock::time_point resumeAt{};
  void pauseListener(int lfd) {
    epoll_event ev{};
    ev.events = 0;
    for (size_t i = 0; i < listeners.size(); ++i) {
      if (listeners[i] == lfd) ev.data.u64 = i + 1;
    }
    ::epoll_ctl(epfd, EPOLL_CTL_MOD, lfd, &ev);
    paused.push_back(lfd);
    resumeAt = Clock::now() + std::chrono::milliseconds(100);
  }
  void resumeListeners() {
    if (paused.empty() || Clock::now() < resumeAt) return;
    if (sparefd < 0) sparefd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int lfd : paused) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      for (size_t i = 0; i < listeners.size(); ++i) {
        if (listeners[i] == lfd) ev.data.u64 = i + 1;
      }
      ::epoll_ctl(epfd, EPOLL_CTL_MOD, lfd, &ev);
    }
    paused.clear();
  }

  void accept(int lfd) {
    for (int i = 0; i < 256; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = ::accept4(lfd, reinterpret_cast<sockaddr *>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) && sparefd < 0) {
          // No spare to refuse with: stop watching this listener for a
          // moment, or the loop spins on it.
          pauseListener(lfd);
          return;
        }
        if ((errno == EMFILE || errno == ENFILE) && sparefd >= 0) {
          // Out of fds: take the connection with the spare one and refuse
          // it, or the listener stays readable and the loop spins.
          ::close(sparefd);
          int refused = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
          if (refused >= 0) {
            std::string r = simpleResponse(503, "server out of file descriptors");
            (void)!::send(refused, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            ::close(refused);
            ++nRefused;
          }
          sparefd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
          continue;
        }
        return;  // EAGAIN, or an error of that one connection
      }
      std::string peer = formatAddress(ss, false);
      size_t &fromPeer = perClient[peer];
      if (conns.size() >= limits.maxConnections || fromPeer >= limits.maxConnectionsPerClient) {
        if (fromPeer == 0) perClient.erase(peer);
        ++nRefused;  // counted before the client can see it
        std::string r = simpleResponse(503, conns.size() >= limits.maxConnections
                                                ? "too many connections"
                                                : "too many connections from " + peer);
        (void)!::send(fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        continue;
      }
      ++fromPeer;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->id = nextId++;
      c->fd = fd;
      c->peer = std::move(peer);
      c->parser = RequestParser(limits.parser);
      c->events = EPOLLIN;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = c->id;
      ::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
      // A new connection sends its request promptly, or goes.
      setDeadline(*c, Clock::now() + limits.headerTimeout);
      conns.emplace(c->id, std::move(c));
      nConnections = conns.size();
      ++nAccepted;
    }
  }

  void onReadable(Conn &c) {
    const uint64_t id = c.id;
    char buf[64 * 1024];
    for (int i = 0; i < 4; ++i) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        if (c.phase == Conn::Phase::Reading) c.in.append(buf, static_cast<size_t>(n));
        // While streaming or draining, what the client sends is not read as a
        // request; a connection that got some while streaming closes when
        // the stream ends, or what came would be taken for a request.
        if (c.phase == Conn::Phase::Streaming) c.streamKeepAlive = false;
        if (static_cast<size_t>(n) < sizeof buf) break;
        continue;
      }
      if (n == 0) {
        c.readClosed = true;
        // Nothing more will come: a request under way is answered first.
        if (c.phase == Conn::Phase::Streaming || c.phase == Conn::Phase::Draining ||
            (c.phase == Conn::Phase::Reading && c.in.empty() && !c.parser.started())) {
          closeConn(id);
          return;
        }
        break;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      closeConn(id);
      return;
    }
    if (c.phase == Conn::Phase::Reading) advance(c);
    if (conns.count(id) != 0) setEvents(c);
  }

  // Parses what is buffered and acts on it: a whole request goes to a
  // worker, a bad one is answered and the connection closed.
  void advance(Conn &c) {
    while (c.phase == Conn::Phase::Reading) {
      if (!c.in.empty()) {
        bool wasStarted = c.parser.started();
        auto wasState = c.parser.state();
        size_t used = c.parser.feed(c.in);
        c.in.erase(0, used);
        if (!wasStarted && c.parser.started()) c.headStart = Clock::now();
        if (wasState == RequestParser::State::Head && c.parser.state() != RequestParser::State::Head) {
          c.bodyStart = Clock::now();
        }
      }
      switch (c.parser.state()) {
        case RequestParser::State::Failed: {
          int status = c.parser.errorStatus();
          std::string message = c.parser.errorMessage();
          c.in.clear();
          queueSimple(c, status, message);
          return;
        }
        case RequestParser::State::Complete: {
          Request r = c.parser.take();
          r.peer = c.peer;
          dispatch(c, std::move(r));
          return;
        }
        case RequestParser::State::Body:
          if (c.parser.request().expectsContinue() && !c.sentContinue) {
            c.sentContinue = true;
            queue(c, "HTTP/1.1 100 Continue\r\n\r\n");
            if (!tryWrite(c)) return;
          }
          if (c.readClosed) {
            closeConn(c.id);
            return;
          }
          setDeadline(c, c.bodyStart + limits.bodyTimeout);
          return;
        case RequestParser::State::Head:
          if (c.readClosed) {
            closeConn(c.id);
            return;
          }
          if (c.parser.started()) {
            setDeadline(c, c.headStart + limits.headerTimeout);
          }
          return;
      }
    }
  }

  void dispatch(Conn &c, Request request) {
    ++nRequests;
    clearDeadline(c);
    {
      std::lock_guard lock(jobMutex);
      if (jobs.size() < limits.maxQueued) {
        c.phase = Conn::Phase::Handling;
        jobs.push_back(Job{c.id, std::move(request)});
        jobReady.notify_one();
        setEvents(c);
        return;
      }
    }
    queueSimple(c, 503, "server busy");
  }

  // An answer the server makes itself, after which the connection closes.
  void queueSimple(Conn &c, int status, const std::string &message) {
    queue(c, simpleResponse(status, message));
    c.phase = Conn::Phase::Writing;
    c.closeAfterWrite = true;
    setDeadline(c, Clock::now() + limits.writeTimeout);
    if (tryWrite(c)) setEvents(c);
  }

  void respond(Conn &c, Done &d) {
    Response &r = d.response;
    if (r.status < 200 || r.status > 599) {
      r = Response{500, {{"Content-Type", "application/json"}},
                   errorBody("handler answered with status " + std::to_string(r.status)), nullptr};
    }
    bool keep = d.keepAlive && !c.readClosed;
    std::string head = "HTTP/1." + std::to_string(d.minorVersion >= 1 ? 1 : 0) + " " + std::to_string(r.status) + " " +
                       reasonPhrase(r.status) + "\r\n";
    for (const auto &[name, value] : r.headers) {
      if (text::iequals(name, "Content-Length") || text::iequals(name, "Connection") || text::iequals(name, "Transfer-Encoding")) continue;
      // A header value is one line, whatever the handler gave.
      if (value.find_first_of("\r\n") != std::string::npos || name.find_first_of("\r\n: ") != std::string::npos) continue;
      head += name + ": " + value + "\r\n";
    }
    const bool noBody = d.head || r.status == 204 || r.status == 304;
    if (r.stream && !noBody) {
      c.chunked = d.minorVersion >= 1;
      c.streamKeepAlive = keep && c.chunked;
      head += c.chunked ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n";
      head += "\r\n";
      queue(c, head);
      c.stream = std::move(r.stream);
      c.phase = Conn::Phase::Streaming;
      ++nStreams;
      clearDeadline(c);
      {
        std::lock_guard lock(c.stream->mutex_);
        c.stream->limit_ = limits.maxStreamBacklog;
        std::weak_ptr<Core> core = weak_from_this();
        uint64_t id = c.id;
        c.stream->notify_ = [core, id] {
          if (auto strong = core.lock()) strong->wakeStream(id);
        };
      }
      flushStream(c);
      return;
    }
    // HEAD of a stream: the headers alone, and no length, which a GET would
    // not have either.
    const bool headOfStream = r.stream != nullptr;
    if (r.stream) r.stream->close();
    if (r.status != 204 && r.status != 304 && !headOfStream) {
      head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    }
    if (headOfStream && d.head) keep = false;  // nothing says where the body would end
    if (!keep) {
      head += "Connection: close\r\n";
    } else if (d.minorVersion == 0) {
      head += "Connection: keep-alive\r\n";
    }
    head += "\r\n";
    queue(c, head);
    if (!noBody) {
      if (r.body.size() >= (64u << 10)) {
        c.tail = std::move(r.body);
      } else {
        c.out += r.body;
      }
    }
    c.phase = Conn::Phase::Writing;
    c.closeAfterWrite = !keep;
    setDeadline(c, Clock::now() + limits.writeTimeout);
    if (tryWrite(c)) setEvents(c);
  }

  void flushStream(Conn &c) {
    std::string data;
    bool closed = false;
    bool gone = false;
    {
      std::lock_guard lock(c.stream->mutex_);
      data.swap(c.stream->pending_);
      closed = c.stream->closed_;
      gone = c.stream->gone_;
      c.stream->notified_ = false;
      c.stream->backlog_ = c.out.size() - c.outOff + data.size();
    }
    if (gone) {
      closeConn(c.id);
      return;
    }
    if (!data.empty()) {
      queue(c, "");
      if (c.chunked) {
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        c.out += size;
        c.out += data;
        c.out += "\r\n";
      } else {
        c.out += data;
      }
    }
    if (closed) {
      if (c.chunked) queue(c, "0\r\n\r\n");
      detachStream(c);
      c.phase = Conn::Phase::Writing;
      c.closeAfterWrite = !c.streamKeepAlive;
      setDeadline(c, Clock::now() + limits.writeTimeout);
    }
    if (!tryWrite(c)) return;
    if (c.stream) {
      std::lock_guard lock(c.stream->mutex_);
      c.stream->backlog_ = c.out.size() - c.outOff;
    }
    setEvents(c);
  }

  // Appends to what is to be sent, after a body waiting in `tail`.
  static void queue(Conn &c, std::string_view data) {
    if (!c.tail.empty()) {
      c.out += c.tail;
      c.tail = std::string();
    }
    c.out += data;
  }

  // Writes what it can. False when the connection was closed.
  bool tryWrite(Conn &c) {
    bool progress = false;
    while (c.outOff < c.out.size() || !c.tail.empty()) {
      if (c.outOff >= c.out.size()) {
        c.out = std::move(c.tail);
        c.tail = std::string();
        c.outOff = 0;
        continue;
      }
      // `out`, and the body after it, in one call.
      iovec iov[2] = {{c.out.data() + c.outOff, c.out.size() - c.outOff}, {c.tail.data(), c.tail.size()}};
      msghdr m{};
      m.msg_iov = iov;
      m.msg_iovlen = c.tail.empty() ? 1 : 2;
      ssize_t n = ::sendmsg(c.fd, &m, MSG_NOSIGNAL);
      if (n > 0) {
        size_t sent = static_cast<size_t>(n);
        const size_t first = c.out.size() - c.outOff;
        if (sent <= first) {
          c.outOff += sent;
        } else {
          c.out = std::move(c.tail);
          c.tail = std::string();
          c.outOff = sent - first;
        }
        progress = true;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      closeConn(c.id);
      return false;
    }
    if (c.phase == Conn::Phase::Streaming) {
      // A stream's client must keep reading: writeTimeout from the last
      // progress while something waits for it, no deadline while idle.
      if (c.outOff < c.out.size()) {
        if (progress || !c.hasDeadline) setDeadline(c, Clock::now() + limits.writeTimeout);
      } else {
        clearDeadline(c);
      }
    }
    if (c.outOff < c.out.size()) {
      // Compact once most of the buffer is sent.
      if (c.outOff > (1u << 20) && c.outOff * 2 > c.out.size()) {
        c.out.erase(0, c.outOff);
        c.outOff = 0;
      }
      return true;
    }
    c.out.clear();
    c.outOff = 0;
    if (c.phase == Conn::Phase::Writing) {
      if (c.closeAfterWrite) {
        // A lingering close: the client may still be sending (a body we
        // refused), and closing with unread data would reset the
        // connection, and the answer with it, before the client reads it.
        if (c.readClosed) {
          closeConn(c.id);
          return false;
        }
        ::shutdown(c.fd, SHUT_WR);
        c.phase = Conn::Phase::Draining;
        c.in.clear();
        setDeadline(c, Clock::now() + kLinger);
        return true;
      }
      c.phase = Conn::Phase::Reading;
      c.sentContinue = false;
      setDeadline(c, Clock::now() + limits.idleTimeout);
      // A pipelined request may be waiting already.
      uint64_t id = c.id;
      advance(c);
      return conns.count(id) != 0;
    }
    return true;
  }

  void onWritable(Conn &c) {
    uint64_t id = c.id;
    if (!tryWrite(c)) return;
    auto it = conns.find(id);
    if (it == conns.end()) return;
    if (c.stream) {
      std::lock_guard lock(c.stream->mutex_);
      c.stream->backlog_ = c.out.size() - c.outOff;
    }
    setEvents(c);
  }

  void expire() {
    auto now = Clock::now();
    while (!deadlines.empty() && deadlines.begin()->first <= now) {
      uint64_t id = deadlines.begin()->second;
      deadlines.erase(deadlines.begin());
      auto it = conns.find(id);
      if (it == conns.end()) continue;
      Conn &c = *it->second;
      c.hasDeadline = false;
      ++nTimedOut;
      if (c.phase == Conn::Phase::Reading && c.parser.started()) {
        c.in.clear();
        queueSimple(c, 408, c.parser.state() == RequestParser::State::Head ? "request head not received in time"
                                                                           : "request body not received in time");
      } else {
        closeConn(id);  // idle, or a client that does not read its answer
      }
    }
  }

  void finishWork() {
    std::vector<Done> finished;
    std::vector<uint64_t> woken;
    {
      std::lock_guard lock(doneMutex);
      finished.swap(done);
      woken.swap(wakes);
    }
    for (auto &d : finished) {
      auto it = conns.find(d.conn);
      if (it == conns.end()) {
        if (d.response.stream) {
          std::lock_guard lock(d.response.stream->mutex_);
          d.response.stream->gone_ = true;
        }
        continue;
      }
      respond(*it->second, d);
    }
    for (uint64_t id : woken) {
      auto it = conns.find(id);
      if (it != conns.end() && it->second->stream) flushStream(*it->second);
    }
  }

  void run() {
    std::vector<epoll_event> events(256);
    while (running) {
      int timeout = -1;
      if (!deadlines.empty()) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadlines.begin()->first - Clock::now()).count();
        timeout = static_cast<int>(std::clamp<long long>(ms + 1, 0, 60'000));
      }
      if (!paused.empty()) timeout = timeout < 0 ? 100 : std::min(timeout, 100);
      if (sparefd < 0) sparefd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      int n = ::epoll_wait(epfd, events.data(), static_cast<int>(events.size()), timeout);
      if (n < 0 && errno != EINTR) {
        std::fprintf(stderr, "http server: epoll_wait: %s; serving no more\n", std::strerror(errno));
        break;
      }
      resumeListeners();
      for (int i = 0; i < n; ++i) {
        uint64_t id = events[i].data.u64;
        uint32_t ev = events[i].events;
        if (id == kWakeId) {
          uint64_t count;
          (void)!::read(wakefd, &count, sizeof count);
          continue;
        }
        if (id < kFirstConnId) {
          accept(listeners[id - 1]);
          continue;
        }
        auto it = conns.find(id);
        if (it == conns.end()) continue;
        Conn &c = *it->second;
        // Hung up both ways (or reset): nothing sent now would arrive.
        if ((ev & (EPOLLERR | EPOLLHUP)) != 0) {
          closeConn(id);
          continue;
        }
        if ((ev & EPOLLIN) != 0) {
          onReadable(c);
          if (conns.count(id) == 0) continue;
        }
        if ((ev & EPOLLOUT) != 0) onWritable(c);
      }
      finishWork();
      expire();
    }
    while (!conns.empty()) closeConn(conns.begin()->first);
  }
};

// ---------------------------------------------------------------------------

Server::Server(Handler handler, Limits limits, int workers) : core_(std::make_shared<Core>()) {
  core_->handler = std::move(handler);
  core_->limits = limits;
  core_->workerCount = std::max(1, workers);
}

Server::~Server() { stop(); }

Status Server::start(const std::vector<std::string> &listen) {
  Core &c = *core_;
  if (c.running) return makeError("already serving");
  auto undo = [&](Error e) -> Status {
    for (int fd : c.listeners) ::close(fd);
    c.listeners.clear();
    if (c.epfd >= 0) ::close(c.epfd);
    if (c.sparefd >= 0) ::close(c.sparefd);
    c.epfd = c.sparefd = -1;
    addresses_.clear();
    return e;
  };
  c.epfd = ::epoll_create1(EPOLL_CLOEXEC);
  // The eventfd lives as long as the core: a stream's late wake-up never
  // writes to a closed (and reused) descriptor.
  if (c.wakefd < 0) c.wakefd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  c.sparefd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (c.epfd < 0 || c.wakefd < 0) return undo(makeError(std::string("epoll: ") + std::strerror(errno), errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  ::epoll_ctl(c.epfd, EPOLL_CTL_ADD, c.wakefd, &ev);
  for (const auto &where : listen) {
    std::string bound;
    auto fd = listenOn(where, bound);
    if (!fd) return undo(fd.error().wrap("cannot listen on " + where));
    c.listeners.push_back(*fd);
    addresses_.push_back(bound);
    ev.events = EPOLLIN;
    ev.data.u64 = c.listeners.size();  // 1 + index
    ::epoll_ctl(c.epfd, EPOLL_CTL_ADD, *fd, &ev);
  }
  c.running = true;
  c.workersStop = false;
  for (int i = 0; i < c.workerCount; ++i) c.workers.emplace_back([&c] { c.work(); });
  c.loop = std::thread([&c] { c.run(); });
  return Status::Ok();
}

void Server::stop() {
  Core &c = *core_;
  {
    std::lock_guard lock(c.doneMutex);  // no stream wakes the loop from here on
    if (!c.running.exchange(false)) return;
  }
  c.wake();
  if (c.loop.joinable()) c.loop.join();
  {
    std::lock_guard lock(c.jobMutex);
    c.workersStop = true;
    c.jobs.clear();
  }
  c.jobReady.notify_all();
  for (auto &t : c.workers) t.join();
  c.workers.clear();
  c.finishWork();  // answers for closed connections: their streams are marked gone
  for (int fd : c.listeners) ::close(fd);
  c.listeners.clear();
  ::close(c.epfd);
  if (c.sparefd >= 0) ::close(c.sparefd);
  c.epfd = c.sparefd = -1;
  c.perClient.clear();
  c.paused.clear();
  addresses_.clear();
}

Server::Stats Server::stats() const {
  const Core &c = *core_;
  return Stats{c.nConnections, c.nStreams, c.nAccepted, c.nRefused, c.nTimedOut, c.nRequests};
}

}  // namespace dcos::http
