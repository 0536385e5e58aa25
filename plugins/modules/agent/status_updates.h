// At-least-once delivery of task status updates to the scheduler's leader.
//
// Every update is checkpointed (appended to a log in the agent's state dir
// before anyone is told of it) and stays pending until the leader
// acknowledges its uuid, which it does only once it has stored it. Pending
// updates survive a dcosd restart and a leader change and go out again in
// the order they were made. Thread safe.
//
// The log, <dir>/log, is one line per event: "+ <update as JSON>" when an
// update is made, "- <uuid> ..." when updates are acknowledged; each line
// is one append. It is rewritten with the pending updates alone (whole or
// not at all) when it is opened and once acknowledged lines outnumber
// them, so its size follows what is pending. A line cut short by a crash
// is the last one, and is dropped. An append is in the page cache when it
// returns: it survives a crash of dcosd, not of the machine (which ends
// the tasks as well; the scheduler learns that by reconciling). One file
// appended to, not a file made and removed per update: on the launch path
// that costs a write instead of an inode made and later freed.
// Updates of older agents, a file each (<seq>-<uuid>.json), are read at
// open, moved into the log and removed.
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
  // Reads the checkpointed updates of `dir` (made when missing) and
  // rewrites its log with the pending ones; an error names what could not
  // be read or written.
  static Result<std::unique_ptr<StatusUpdates>> open(const std::string &dir);
  ~StatusUpdates();

  // Gives `status` a uuid, checkpoints it and queues it. The uuid is set in
  // `status` on success.
  Status record(TaskStatus &status);
  // The pending updates in order, at most `max`.
  std::vector<TaskStatus> pending(size_t max = 1000) const;
  size_t pendingCount() const;
  // Drops the acknowledged updates (unknown uuids are ignored). An ack
  // that cannot be checkpointed is still applied: the update would only
  // go out again after a restart, which at-least-once allows.
  void acknowledge(const std::vector<std::string> &uuids);

 private:
  explicit StatusUpdates(std::string dir) : dir_(std::move(dir)) {}
  // Appends `line` whole (an error if it could not be).
  Status append(const std::string &line);
  // The log rewritten with the pending updates alone, then appended to.
  Status compact();
  std::string dir_;
  mutable std::mutex mutex_;
  std::vector<TaskStatus> entries_;  // pending, oldest first
  int fd_ = -1;                      // the log, O_APPEND
  size_t acked_ = 0;                 // acknowledged lines in the log since it was rewritten
  bool broken_ = false;              // an append failed: the log may end in part of a line
};

std::string statusJson(const TaskStatus &s);
Result<TaskStatus> parseStatus(const std::string &json);
std::string newUuid();

}  // namespace dcos::agent
