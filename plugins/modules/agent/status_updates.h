// At-least-once delivery of task status updates to the scheduler's leader.
//
// Every update is checkpointed (a file in the agent's state dir, written
// whole before anyone is told of it) and stays pending until the leader
// acknowledges its uuid, which it does only once it has stored it. Pending
// updates survive a dcosd restart and a leader change and go out again in
// the order they were made. Thread safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "plugins/modules/agent/task.h"

namespace dcos::agent {

class StatusUpdates {
 public:
  // Reads the checkpointed updates of `dir` (made when missing).
  static Result<std::unique_ptr<StatusUpdates>> open(const std::string &dir);

  // Gives `status` a uuid, checkpoints it and queues it. The uuid is set in
  // `status` on success.
  Status record(TaskStatus &status);
  // The pending updates in order, at most `max`.
  std::vector<TaskStatus> pending(size_t max = 1000) const;
  size_t pendingCount() const;
  // Drops the acknowledged updates (unknown uuids are ignored).
  void acknowledge(const std::vector<std::string> &uuids);

 private:
  struct Entry {
    uint64_t seq;
    std::string file;
    TaskStatus status;
  };
  explicit StatusUpdates(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  uint64_t nextSeq_ = 1;
};

std::string statusJson(const TaskStatus &s);
Result<TaskStatus> parseStatus(const std::string &json);
std::string newUuid();

}  // namespace dcos::agent
