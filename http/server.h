// An event-driven HTTP/1.1 server for every HTTP surface of a node: the node
// API, the admin port, and the routes plugins add to them (the agent's API,
// the scheduler's, their event streams).
//
// Why not one thread per connection (Poco's HTTPServer, as before): there, a
// connection that sends half a request holds a thread until its timeout, so
// ten slow clients silenced a node. Here one thread owns every socket
// (epoll), and a connection costs a few kilobytes however slow it is:
//   - a request's head must arrive within headerTimeout and its body within
//     bodyTimeout, or the connection is answered 408 and closed; an idle
//     keep-alive connection is closed after idleTimeout, and a response the
//     client does not read after writeTimeout;
//   - a client address holds at most maxConnectionsPerClient connections
//     (the next is answered 503 and closed), the server maxConnections;
//   - handlers run on a small worker pool, never on the I/O thread, and a
//     long-lived response (a server-sent event stream, a log tail) is a
//     Stream: the handler returns at once and the data follows from any
//     thread, so streams hold no worker at all; a stream whose client falls
//     more than maxStreamBacklog bytes behind is closed.
//
// Thread safety: start() and stop() from one thread. The handler is called on
// worker threads, several at once. Stream is safe to use from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "http/request_parser.h"

namespace dcos::http {

struct Limits {
  std::chrono::milliseconds headerTimeout{10'000};  // from a request's first byte to the end of its head
  std::chrono::milliseconds bodyTimeout{30'000};    // from the end of the head to the end of the body
  std::chrono::milliseconds idleTimeout{60'000};    // a keep-alive connection between requests
  std::chrono::milliseconds writeTimeout{30'000};   // a response waiting for the client to read it
  size_t maxConnections = 8192;
  size_t maxConnectionsPerClient = 512;
  size_t maxQueued = 1024;              // requests waiting for a worker; then 503
  size_t maxStreamBacklog = 4u << 20;   // bytes of a stream the client has not read yet
  ParserLimits parser;
};

class Stream;

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Length and Connection are the server's
  std::string body;
  // Set: the response is this stream, sent as it is written (chunked over
  // HTTP/1.1, until the connection closes over HTTP/1.0), and `body` is
  // ignored. The status and headers go out when the handler returns.
  std::shared_ptr<Stream> stream;
};

// A response body that is written after the handler returned. Made with
// Stream::make() inside a handler and returned in Response::stream.
class Stream {
 public:
  static std::shared_ptr<Stream> make();

  // Queues `data` for the client. False once the client is gone, the stream
  // was closed, or the client fell too far behind (the connection is then
  // closed): the writer stops and drops its reference.
  bool write(std::string_view data);
  // Ends the response; the connection goes on with its next request.
  // Idempotent.
  void close();
  // Whether the client is gone (or the stream closed).
  bool gone() const;

 private:
  friend class Server;
  struct Link;
  mutable std::mutex mutex_;
  std::string pending_;
  bool closed_ = false;
  bool gone_ = false;
  bool notified_ = false;
  size_t backlog_ = 0;  // bytes queued on the connection, updated by the server
  size_t limit_ = 0;
  std::function<void()> notify_;  // wakes the server; empty until attached
};

class Server {
 public:
  using Handler = std::function<Response(const Request &)>;

  Server(Handler handler, Limits limits = {}, int workers = 4);
  ~Server();
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  // Binds every address ("ip:port" or "[ipv6]:port"; port 0 picks one) and
  // starts serving. On failure nothing is left bound.
  Status start(const std::vector<std::string> &listen);
  // Closes every connection and listener, then waits for handlers under way.
  void stop();
  // The bound addresses, in the order given, valid after start().
  const std::vector<std::string> &addresses() const { return addresses_; }

  struct Stats {
    uint64_t connections = 0;  // open now
    uint64_t streams = 0;      // open now
    uint64_t accepted = 0;
    uint64_t refused = 0;      // over a cap
    uint64_t timedOut = 0;
    uint64_t requests = 0;
  };
  Stats stats() const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;
  std::vector<std::string> addresses_;
};

// The standard reason phrase of a status code ("Not Found").
const char *reasonPhrase(int status);

}  // namespace dcos::http
