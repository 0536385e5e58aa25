// http::Server over real sockets on loopback.
#include "http/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/support/netns.h"
#include "tests/support/process.h"

using namespace dcos::http;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

int portOf(const std::string &address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

int connectTo(int port) {
  int fd = dcos::test::connectLoopback(port);
  REQUIRE(fd >= 0);
  return fd;
}

void sendAll(int fd, const std::string &data) { REQUIRE(dcos::test::sendAll(fd, data)); }

std::string readUntil(int fd, const std::function<bool(const std::string &)> &done, std::chrono::milliseconds within,
                      bool *eof = nullptr) {
  return dcos::test::receiveUntil(fd, done, within, eof);
}

bool hasWholeResponse(const std::string &s) {
  size_t end = s.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  size_t cl = s.find("Content-Length: ");
  if (cl == std::string::npos || cl > end) return true;
  return s.size() >= end + 4 + std::stoul(s.substr(cl + 16));
}

size_t countEntries(const char *dir) {
  size_t n = 0;
  if (DIR *d = ::opendir(dir)) {
    while (readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

Response text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers = {{"Content-Type", "text/plain"}};
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("http server: keep-alive, HEAD, pipelining, close", "[http]") {
  std::atomic<int> calls{0};
  Server server([&](const Request &r) {
    ++calls;
    if (r.path == "/throw") throw std::runtime_error("boom");
    if (r.path.rfind("/big/", 0) == 0) return text(200, std::string(3u << 20, r.path.back()) + "|end");
    return text(200, r.method + " " + r.target + " from " + r.peer);
  });
  REQUIRE(server.start({"127.0.0.1:0"}).ok());
  int port = portOf(server.addresses()[0]);

  SECTION("two requests on one connection") {
    int fd = connectTo(port);
    sendAll(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string one = readUntil(fd, hasWholeResponse, 2s);
    CHECK_THAT(one, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
    CHECK_THAT(one, Catch::EndsWith("GET /a from 127.0.0.1"));
    sendAll(fd, "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string two = readUntil(fd, [](const std::string &s) { return s.find("\r\n\r\n") != std::string::npos; }, 2s);
    CHECK_THAT(two, Catch::Contains("Content-Length: 22\r\n"));
    CHECK_THAT(two, Catch::EndsWith("\r\n\r\n"));  // no body
    ::close(fd);
  }
  SECTION("pipelined requests are answered in order") {
    int fd = connectTo(port);
    sendAll(fd, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    bool eof = false;
    std::string all = readUntil(fd, [](const std::string &) { return false; }, 3s, &eof);
    CHECK(eof);
    auto a = all.find("GET /1"), b = all.find("GET /2"), c = all.find("GET /3");
    CHECK(a != std::string::npos);
    CHECK(b > a);
    CHECK(c > b);
    CHECK(b != std::string::npos);
    CHECK(c != std::string::npos);
    CHECK_THAT(all, Catch::Contains("Connection: close"));
    ::close(fd);
  }
  SECTION("big bodies, pipelined between small ones, arrive whole and in order") {
    // Bodies over 64 KiB are sent from the handler's string, after the
    // head: what follows them must come after them.
    int fd = connectTo(port);
    sendAll(fd, "GET /big/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /s HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /big/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    bool eof = false;
    std::string all = readUntil(fd, [](const std::string &) { return false; }, 10s, &eof);
    CHECK(eof);
    auto body = [](char c) { return std::string(3u << 20, c) + "|end"; };
    std::string want1 = body('1'), want2 = body('2');
    auto a = all.find("\r\n\r\n" + want1 + "HTTP/1.1 200 OK");
    auto s = all.find("GET /s from");
    auto b = all.find("\r\n\r\n" + want2);
    CHECK(a != std::string::npos);
    CHECK(s != std::string::npos);
    CHECK(b != std::string::npos);
    CHECK(a < s);
    CHECK(s < b);
    CHECK_THAT(all, Catch::EndsWith(want2));
    ::close(fd);
  }
  SECTION("HTTP/1.0 closes unless asked to keep") {
    int fd = connectTo(port);
    sendAll(fd, "GET /old HTTP/1.0\r\n\r\n");
    bool eof = false;
    std::string r = readUntil(fd, [](const std::string &) { return false; }, 2s, &eof);
    CHECK(eof);
    CHECK_THAT(r, Catch::StartsWith("HTTP/1.0 200 OK"));
    ::close(fd);
  }
  SECTION("a handler that throws is a 500, and the server goes on") {
    auto r = dcos::test::http(port, "/throw");
    CHECK(r.status == 500);
    CHECK_THAT(r.body, Catch::Contains("boom"));
    CHECK(dcos::test::http(port, "/fine").status == 200);
  }
  SECTION("malformed requests get their status and the connection closes") {
    int fd = connectTo(port);
    sendAll(fd, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
    bool eof = false;
    std::string r = readUntil(fd, [](const std::string &) { return false; }, 3s, &eof);
    CHECK(eof);
    CHECK_THAT(r, Catch::StartsWith("HTTP/1.1 400 Bad Request"));
    CHECK_THAT(r, Catch::Contains("conflicting Content-Length"));
    ::close(fd);
  }
  SECTION("a body over the limit is refused with 413, with or without a length, and 100-continue") {
    dcos::test::TempDir dir("dcos-http-413");
    dcos::test::writeFile(dir / "big", std::string(3u << 20, 'x'));
    dcos::test::writeFile(dir / "small", std::string(5000, 'x'));
    auto post = [&](const std::string &file, std::vector<std::string> extra) {
      std::vector<std::string> argv{"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary",
                                    "@" + (dir / file), "http://127.0.0.1:" + std::to_string(port) + "/p"};
      argv.insert(argv.begin() + 1, extra.begin(), extra.end());
      return dcos::test::runCommand(argv).out;
    };
    CHECK(post("big", {}) == "413");
    CHECK(post("big", {"-H", "Transfer-Encoding: chunked"}) == "413");
    CHECK(post("big", {"-H", "Expect:"}) == "413");  // the whole body comes without waiting
    CHECK(post("small", {"-H", "Expect: 100-continue"}) == "200");
  }
  server.stop();
}

TEST_CASE("http server: slow clients and open streams starve no one, and leave nothing behind", "[http]") {
  Limits limits;
  limits.headerTimeout = 1500ms;
  std::mutex mutex;
  std::vector<std::shared_ptr<Stream>> streams;
  Server server(
      [&](const Request &r) {
        if (r.path == "/events") {
          Response resp;
          resp.headers = {{"Content-Type", "text/event-stream"}};
          resp.stream = Stream::make();
          resp.stream->write("event: hello\ndata: {}\n\n");
          std::lock_guard lock(mutex);
          streams.push_back(resp.stream);
          return resp;
        }
        return text(200, "{\"status\":\"healthy\"}");
      },
      limits);
  // Baselines after start: the server's threads exist.
  REQUIRE(server.start({"127.0.0.1:0"}).ok());
  int port = portOf(server.addresses()[0]);
  const size_t fdsBefore = countEntries("/proc/self/fd");
  const size_t threadsBefore = countEntries("/proc/self/task");

  std::vector<int> slow;
  for (int i = 0; i < 200; ++i) {
    int fd = connectTo(port);
    sendAll(fd, "GET /v1/node HTTP/1.1\r\nHost: x\r\n");  // and never the end of the head
    slow.push_back(fd);
  }
  std::vector<int> listeners;
  for (int i = 0; i < 50; ++i) {
    int fd = connectTo(port);
    sendAll(fd, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    listeners.push_back(fd);
  }
  for (int fd : listeners) {
    std::string got = readUntil(fd, [](const std::string &s) { return s.find("event: hello") != std::string::npos; }, 3s);
    REQUIRE_THAT(got, Catch::Contains("Transfer-Encoding: chunked"));
  }
  {
    std::lock_guard lock(mutex);
    REQUIRE(streams.size() == 50);
  }
  CHECK(server.stats().streams == 50);

  // Ordinary requests go on, each on a new connection, while the streams flow.
  std::mutex writerMutex;
  std::condition_variable writerStop;
  bool writing = true;
  std::thread writer([&] {
    std::unique_lock stop(writerMutex);
    // A tick every 20 ms until told to stop.
    while (!writerStop.wait_for(stop, 20ms, [&] { return !writing; })) {
      std::lock_guard lock(mutex);
      for (auto &s : streams) (void)s->write("event: tick\ndata: {}\n\n");
    }
  });
  std::chrono::microseconds worst{0};
  for (int i = 0; i < 20; ++i) {
    auto t0 = Clock::now();
    int fd = connectTo(port);
    sendAll(fd, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string r = readUntil(fd, hasWholeResponse, 2s);
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
    ::close(fd);
    REQUIRE_THAT(r, Catch::StartsWith("HTTP/1.1 200"));
    worst = std::max(worst, took);
  }
  INFO("slowest /health: " << worst.count() << " us");
  CHECK(worst < 100ms);
  {
    std::lock_guard stop(writerMutex);
    writing = false;
  }
  writerStop.notify_all();
  writer.join();

  // The half-sent requests are answered 408 and closed after the head timeout.
  for (int fd : slow) {
    bool eof = false;
    std::string r = readUntil(fd, [](const std::string &) { return false; }, 5s, &eof);
    CHECK(eof);
    CHECK_THAT(r, Catch::StartsWith("HTTP/1.1 408"));
    ::close(fd);
  }
  CHECK(server.stats().timedOut >= 200);

  // Streams end cleanly when their writer closes them: the last chunk comes.
  {
    std::lock_guard lock(mutex);
    for (auto &s : streams) s->close();
    streams.clear();
  }
  for (int fd : listeners) {
    // The last chunk: after a chunk's CRLF, or first, if the rest was read already.
    auto ended = [](const std::string &s) { return s == "0\r\n\r\n" || s.find("\r\n0\r\n\r\n") != std::string::npos; };
    std::string got = readUntil(fd, ended, 3s);
    CHECK(ended(got));
    ::close(fd);
  }
  auto drained = [&] { return server.stats().connections == 0 && server.stats().streams == 0; };
  CHECK(dcos::test::waitUntil(drained, 5s));
  CHECK(server.stats().connections == 0);
  CHECK(server.stats().streams == 0);
  CHECK(countEntries("/proc/self/fd") == fdsBefore);
  CHECK(countEntries("/proc/self/task") == threadsBefore);
  server.stop();
}

TEST_CASE("http server: a client address holds at most its cap of connections", "[http]") {
  Limits limits;
  limits.maxConnectionsPerClient = 8;
  Server server([](const Request &) { return text(200, "ok"); }, limits);
  REQUIRE(server.start({"127.0.0.1:0"}).ok());
  int port = portOf(server.addresses()[0]);
  std::vector<int> held;
  for (int i = 0; i < 8; ++i) held.push_back(connectTo(port));
  // The server counts a connection once it accepted it.
  REQUIRE(dcos::test::waitUntil([&] { return server.stats().connections == 8; }, 3s));
  int over = connectTo(port);
  bool eof = false;
  std::string r = readUntil(over, [](const std::string &) { return false; }, 3s, &eof);
  CHECK(eof);
  CHECK_THAT(r, Catch::StartsWith("HTTP/1.1 503"));
  CHECK_THAT(r, Catch::Contains("too many connections from 127.0.0.1"));
  ::close(over);
  CHECK(server.stats().refused == 1);
  ::close(held.back());
  held.pop_back();
  REQUIRE(dcos::test::waitUntil([&] { return server.stats().connections == 7; }, 3s));
  CHECK(dcos::test::http(port, "/").status == 200);
  for (int fd : held) ::close(fd);
  server.stop();
}

TEST_CASE("http server: a stream whose client does not read is cut at its backlog limit", "[http]") {
  Limits limits;
  limits.maxStreamBacklog = 256 * 1024;
  std::shared_ptr<Stream> stream;
  std::mutex mutex;
  Server server(
      [&](const Request &) {
        Response r;
        r.stream = Stream::make();
        std::lock_guard lock(mutex);
        stream = r.stream;
        return r;
      },
      limits);
  REQUIRE(server.start({"127.0.0.1:0"}).ok());
  int fd = connectTo(portOf(server.addresses()[0]));
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sendAll(fd, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(dcos::test::waitUntil([&] {
    std::lock_guard lock(mutex);
    return stream != nullptr;
  }, 3s));
  std::shared_ptr<Stream> s;
  {
    std::lock_guard lock(mutex);
    s = stream;
  }
  REQUIRE(s);
  const std::string chunk(64 * 1024, 'e');
  bool cut = false;
  for (int i = 0; i < 2000 && !cut; ++i) {  // at most 125 MiB offered
    cut = !s->write(chunk);
  }
  CHECK(cut);
  CHECK(s->gone());
  CHECK(dcos::test::waitUntil([&] { return server.stats().connections == 0; }, 3s));
  ::close(fd);
  server.stop();
}

TEST_CASE("http server: a port in use is an error, and nothing is left bound", "[http]") {
  Server first([](const Request &) { return text(200, ""); });
  REQUIRE(first.start({"127.0.0.1:0"}).ok());
  Server second([](const Request &) { return text(200, ""); });
  auto s = second.start({"127.0.0.1:0", first.addresses()[0]});
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error().message, Catch::StartsWith("cannot listen on " + first.addresses()[0] + ": "));
  CHECK(second.addresses().empty());
  auto bad = second.start({"nonsense"});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("expected ip:port"));
}

TEST_CASE("http server: what a client sends during a stream is never taken for a request", "[http]") {
  std::shared_ptr<Stream> stream;
  std::mutex mutex;
  std::atomic<int> handled{0};
  std::atomic<bool> secret{false};
  Server server([&](const Request &r) {
    ++handled;
    if (r.path == "/admin/secret") secret = true;
    Response resp;
    if (r.path == "/events") {
      resp.stream = Stream::make();
      std::lock_guard lock(mutex);
      stream = resp.stream;
    } else if (r.path == "/empty") {
      resp.status = 204;
      resp.stream = Stream::make();  // a stream on a status without a body
    }
    return resp;
  });
  REQUIRE(server.start({"127.0.0.1:0"}).ok());
  int port = portOf(server.addresses()[0]);
  SECTION("a request sent while streaming is dropped with the connection") {
    int fd = connectTo(port);
    sendAll(fd, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(dcos::test::waitUntil([&] {
      std::lock_guard lock(mutex);
      return stream != nullptr;
    }, 3s, 5ms));
    sendAll(fd, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n");
    sendAll(fd, "GET /admin/secret HTTP/1.1\r\nHo");
    // Read while the stream is open or after it: after, it is a well-formed
    // POST with that body. Either way no one runs /admin/secret.
    {
      std::lock_guard lock(mutex);
      stream->write("data: 1\n\n");
      stream->close();
    }
    std::string got = readUntil(fd, [](const std::string &s) { return s.find("0\r\n\r\n") != std::string::npos; }, 3s);
    CHECK_THAT(got, Catch::Contains("0\r\n\r\n"));
    ::close(fd);
    CHECK(dcos::test::waitUntil([&] { return server.stats().connections == 0; }, 3s, 5ms));
    CHECK_FALSE(secret);
    CHECK(handled <= 2);
  }
  SECTION("a 204 with a stream has no body and no chunked framing") {
    int fd = connectTo(port);
    sendAll(fd, "GET /empty HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got = readUntil(fd, [](const std::string &s) { return s.find("\r\n\r\n") != std::string::npos; }, 3s);
    CHECK_THAT(got, Catch::StartsWith("HTTP/1.1 204"));
    CHECK(got.find("chunked") == std::string::npos);
    CHECK_THAT(got, Catch::EndsWith("\r\n\r\n"));
    ::close(fd);
  }
  server.stop();
}
