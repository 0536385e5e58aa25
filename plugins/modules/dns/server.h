// The DNS server: UDP and TCP listeners answering from the current Zone,
// and a forwarder for every other name.
//
//   UDP: one thread per listener reading batches (recvmmsg) and answering
//        in place within the client's size (512, or its EDNS0 buffer); TC
//        set when the answer does not fit.
//   TCP: several queries on one connection, each answered whole (up to
//        65535 bytes); idle connections closed after 10 s; at most 256.
//   Forwarding: names outside the zone go to the resolvers in order (UDP,
//        over TCP when the upstream's answer is truncated), each tried once
//        within the timeout, on forwarder threads so that a slow upstream
//        never holds the zone's answers back; SERVFAIL when none answers,
//        REFUSED when none is configured.
//
// Thread safety: setZone and counters from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "plugins/modules/dns/zone.h"

namespace dcos::dns {

struct ServerConfig {
  std::vector<std::string> listen{"0.0.0.0", "::"};  // addresses; "::" listens on IPv6 only
  uint16_t port = 53;
  // Upstreams: "ip" (port 53), "ip:port" or "[ipv6]:port".
  std::vector<std::string> resolvers;
  std::chrono::milliseconds forwardTimeout{2000};
  int forwarders = 16;  // queries forwarded at once (each blocks its thread)
  std::function<void(int level, const std::string &message)> log;
};

// One query's answer from a zone, or the decision to forward it. `tcp`
// lifts the size limit to 65535. Nothing when the packet deserves no answer.
struct Reply {
  enum class Kind { Answer, Forward, Drop };
  Kind kind = Kind::Drop;
  std::string bytes;
  Rcode rcode = Rcode::NoError;
  bool truncated = false;
};
Reply respond(const Zone *zone, const uint8_t *packet, size_t size, bool tcp, bool canForward);

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  // Binds the listeners and starts serving on those it could bind (an
  // error, naming each address and why, when none).
  Status start();
  // After start: "addr:port" of each listener, and why the others failed.
  const std::vector<std::string> &listening() const { return listening_; }
  const std::vector<std::string> &problems() const { return problems_; }
  void stop();

  void setZone(std::shared_ptr<const Zone> zone);
  std::shared_ptr<const Zone> zone() const;

  struct Counters {
    uint64_t queries = 0, forwarded = 0, truncated = 0, formErr = 0, refused = 0, servFail = 0;
  };
  Counters counters() const;

 private:
  struct Forward {
    std::string packet;
    std::function<void(const std::string &)> reply;
    std::chrono::steady_clock::time_point queuedAt;
  };
  void udpLoop(int fd);
  void tcpAccept(int fd);
  void tcpConnection(int fd);
  void forwardLoop();
  std::string forward(const std::string &packet, bool tcpClient);
  void enqueue(Forward f);

  ServerConfig config_;
  std::atomic<std::shared_ptr<const Zone>> zone_;
  std::vector<int> udp_, tcp_;
  std::vector<std::string> listening_, problems_;
  int stopFd_ = -1;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Forward> queue_;
  std::vector<int> connections_;
  std::vector<std::thread> connectionThreads_;
  bool stopping_ = false;
  std::vector<std::chrono::steady_clock::time_point> failedUntil_;  // per resolver
  std::atomic<uint64_t> queries_{0}, forwarded_{0}, truncated_{0}, formErr_{0}, refused_{0}, servFail_{0};
};

}  // namespace dcos::dns
