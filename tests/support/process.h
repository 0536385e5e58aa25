// Helpers for tests that run real binaries: a child process with its output
// in a file, a fake systemd notify socket, and waiting on conditions with a
// deadline (never sleeping as synchronization).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dcos::test {

using Clock = std::chrono::steady_clock;

// Polls `condition` until it holds or `timeout` passes; true if it held.
bool waitUntil(const std::function<bool()> &condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every = std::chrono::milliseconds(5));

// A temporary directory, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string &prefix);
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return path_; }
  std::string operator/(const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A datagram socket that plays systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string &path);
  ~NotifySocket();
  const std::string &path() const { return path_; }
  // The next datagram, or nothing when none arrives before the timeout.
  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  // Receives until a datagram contains `needle`; every datagram seen is kept.
  bool waitFor(const std::string &needle, std::chrono::milliseconds timeout);
  const std::vector<std::string> &seen() const { return seen_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> seen_;
};

class Child {
 public:
  // Starts argv[0] with the given extra environment; stdout and stderr go to
  // `logPath`. If `watchdogUsec` is set, WATCHDOG_USEC and WATCHDOG_PID (the
  // child's own pid) are set as systemd does.
  Child(std::vector<std::string> argv, std::map<std::string, std::string> env, std::string logPath,
        std::optional<long> watchdogUsec = std::nullopt);
  ~Child();  // kills the child if it still runs
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;

  pid_t pid() const { return pid_; }
  Clock::time_point startedAt() const { return started_; }
  void signal(int sig);
  // The exit status (or 128 + signal) once it ended within the timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;
  // Resident set size in KiB from /proc, 0 if gone.
  long rssKib() const;

 private:
  pid_t pid_ = -1;
  std::string logPath_;
  Clock::time_point started_;
  std::optional<int> status_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int freeLoopbackPort();

// GET (or another method) on 127.0.0.1; status 0 when the connection failed.
struct HttpReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names as sent
};
HttpReply http(int port, const std::string &path, const std::string &method = "GET", const std::string &body = "");

// Makes `dir` a plugin dir holding (as symlinks) the build's stock plugins
// and the named test plugins ("role-test.so", ...).
void makePluginDir(const std::string &dir, const std::vector<std::string> &testPlugins);

std::string readFile(const std::string &path);

// Raw sockets, for tests of what an HTTP client library would hide.
// A TCP connection to 127.0.0.1:port, or -1.
int connectLoopback(int port);
// Sends all of `data`; false when the peer is gone.
bool sendAll(int fd, const std::string &data);
// What the socket delivers until `done(received)`, the peer closes (then
// *closed is set), or `within` passes.
std::string receiveUntil(int fd, const std::function<bool(const std::string &)> &done, std::chrono::milliseconds within,
                         bool *closed = nullptr);
void writeFile(const std::string &path, const std::string &text);

}  // namespace dcos::test
