// The real ZooKeeper client: the only code in dcos that calls zoo_*
// (libzookeeper-mt, the C client's multi-threaded flavour). See client.h
// for the contract.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "coord/client.h"

namespace dcos::coord {

class ZkClient : public Client {
 public:
  // Starts connecting in the background and returns at once.
  static std::unique_ptr<ZkClient> connect(std::string connectString, std::chrono::milliseconds sessionTimeout);
  ~ZkClient() override;

  std::string connectString() const override;
  bool connected() const override;
  bool waitConnected(std::chrono::milliseconds timeout) override;
  int64_t sessionId() const override;
  // The session's password, for expireSession() in tests.
  std::string sessionPassword() const;

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
  std::vector<Status> writeAll(const std::vector<Write> &writes) override;
  std::vector<Result<std::string>> readAll(const std::vector<std::string> &paths) override;
  void close() override;

  struct Impl;

 private:
  explicit ZkClient(std::unique_ptr<Impl> impl);
  // writeAll's first round, on the client's handle: the writes in multis;
  // those of a multi that failed are returned, to go one by one.
  std::vector<size_t> writeInMultis(void *handle, const std::vector<Write> &writes, std::vector<Status> &out);
  std::unique_ptr<Impl> impl_;
};

// Ends the session `sessionId` as ZooKeeper would on a timeout, by opening a
// second connection with its id and password and closing it: for tests.
Status expireSession(const std::string &connectString, int64_t sessionId, const std::string &password);

}  // namespace dcos::coord
