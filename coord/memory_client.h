// An in-memory ZooKeeper with the semantics of client.h, for unit tests of
// code above coord: a MemoryEnsemble holds the tree; each MemoryClient is a
// session on it. Tests drive faults with disconnect(), reconnect() and
// expireSession().
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "coord/client.h"

namespace dcos::coord {

class MemoryEnsemble;

class MemoryClient : public Client {
 public:
  explicit MemoryClient(std::shared_ptr<MemoryEnsemble> ensemble);
  ~MemoryClient() override;

  // Faults: as seen from this session.
  void disconnect();
  void reconnect();
  void expireSession();
  // The next n set() calls on paths under `prefix` fail with ConnectionLoss
  // and change nothing (a write lost with the connection, the session kept).
  void failSets(const std::string &prefix, int n);

  std::string connectString() const override { return "memory"; }
  bool connected() const override;
  bool waitConnected(std::chrono::milliseconds timeout) override;
  int64_t sessionId() const override;
  Result<std::string> create(const std::string &path, const std::string &data, CreateMode mode,
                             Ownership ownership = Ownership::Plain) override;
  Status ensurePath(const std::string &path) override;
  Result<std::pair<std::string, Stat>> get(const std::string &path, Watcher watch = {}) override;
  Result<std::optional<Stat>> exists(const std::string &path, Watcher watch = {}) override;
  Result<std::vector<std::string>> children(const std::string &path, Watcher watch = {}) override;
  Result<Stat> set(const std::string &path, const std::string &data, int32_t version = -1) override;
  Status remove(const std::string &path, int32_t version = -1) override;
  void withdraw(const std::string &path) override;
  WatchId watchData(const std::string &path, std::function<void()> callback) override;
  WatchId watchChildren(const std::string &path, std::function<void()> callback) override;
  void unwatch(WatchId id) override;
  uint64_t onSession(std::function<void(SessionEvent)> listener) override;
  void removeSessionListener(uint64_t id) override;
  void close() override;

  // Runs on the event thread; used by the ensemble to deliver watches.
  void post(std::function<void()> f);
  // Blocks until every event posted so far has run (tests).
  void drain();

 private:
  friend class MemoryEnsemble;
  void tell(SessionEvent e);
  void rearmAndFireStanding();

  std::shared_ptr<MemoryEnsemble> ensemble_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool connected_ = true;
  std::string failPrefix_;
  int failSets_ = 0;
  bool closed_ = false;
  int64_t session_ = 0;
  std::map<std::string, std::string> owned_;
  std::set<std::string> withdrawals_;
  struct Standing {
    std::string path;
    bool children;
    std::function<void()> callback;
  };
  std::map<WatchId, Standing> standing_;
  WatchId nextWatch_ = 1;
  std::map<uint64_t, std::function<void(SessionEvent)>> listeners_;
  uint64_t nextListener_ = 1;
  std::deque<std::function<void()>> queue_;
  size_t posted_ = 0;
  size_t done_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

class MemoryEnsemble : public std::enable_shared_from_this<MemoryEnsemble> {
 public:
  MemoryEnsemble();

 private:
  friend class MemoryClient;
  struct Node {
    std::string data;
    Stat stat;
    int32_t nextSequence = 0;
  };
  struct Watch {
    MemoryClient *client;
    Watcher watcher;
    WatchId standing;  // 0 for one-shot
  };
  int64_t newSession();
  void endSession(int64_t session);  // deletes its ephemerals
  void fire(const std::string &path, WatchType type);
  static std::string parentOf(const std::string &path);

  std::recursive_mutex mu_;
  std::map<std::string, Node> nodes_;
  int64_t nextSession_ = 1;
  int64_t zxid_ = 1;
  std::multimap<std::string, Watch> dataWatches_;   // exists/get: created, deleted, changed
  std::multimap<std::string, Watch> childWatches_;  // children: children changed, deleted
};

}  // namespace dcos::coord
