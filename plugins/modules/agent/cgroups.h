// Task cgroups for the process executor: cpu and memory limits through
// whichever hierarchy this kernel offers (the unified v2 one, or the v1
// controllers of a hybrid setup), the task's whole process tree found and
// killed through it, and the kernel's OOM kills read back. On a hybrid
// setup a task also joins its cgroup in the v2 hierarchy (no controllers
// there): that is what the zone firewall's output chain matches a task's
// sockets by (firewall/task_cgroups.h).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::agent {

class Cgroups {
 public:
  // Looks at /sys/fs/cgroup (or `root`, for tests). `group` names this
  // agent's subtree, e.g. "dcos-tasks/<agent-id>".
  static Cgroups detect(const std::string &group, const std::string &root = "/sys/fs/cgroup");

  // "v2", "v1" or "none".
  const std::string &kind() const { return kind_; }
  // Why limits cannot be enforced, or "" when they can.
  const std::string &unavailable() const { return why_; }
  // Whether a task's cgroups include one in the v2 hierarchy, where the
  // zone firewall's output chain finds its sockets.
  bool guarded() const { return kind_ == "v2" || (kind_ == "v1" && !unifiedRoot_.empty()); }

  // What makes a task's cgroups, as data: the supervisor carries it out
  // (off the launch path) before the task joins them.
  struct Setup {
    // Made in this order, and joined in this order (write a pid to
    // <dir>/cgroup.procs): the one with a cpu quota last, so that a task
    // with a small quota is not held back by it while it joins the others
    // (the kernel's cgroup locks, which every launch needs, held meanwhile).
    std::vector<std::string> dirs;
    struct Write {
      std::string file;
      std::string value;
      bool required;  // else a kernel without the file is fine (memory.swap.max without swap)
    };
    std::vector<Write> writes;  // the limits, once the directories are there
  };
  // Empty when kind() is "none". The directories' parents (this agent's
  // subtree) are made by detect().
  Setup setup(const std::string &task, double cpus, double memMiB) const;
  // The pids in the task's cgroups now.
  std::vector<int> pids(const std::string &task) const;
  // SIGKILLs every process in the task's cgroups.
  void killAll(const std::string &task) const;
  // Whether the kernel OOM-killed a process of the task.
  bool oomKilled(const std::string &task) const;
  // Removes the task's (empty) cgroups.
  void remove(const std::string &task) const;
  // Whether the task's cgroup directory is there.
  bool exists(const std::string &task) const;
  // Removes this agent's subtree if no task is left in it (tasks outlive
  // the agent, and then it stays).
  void removeGroup() const;
  // The tasks that have a cgroup in this agent's subtree, in any hierarchy.
  std::vector<std::string> tasks() const;

 private:
  std::string memoryDir(const std::string &task) const;
  std::vector<std::string> dirs(const std::string &task) const;

  std::string kind_ = "none";
  std::string why_;
  std::string root_;
  std::string group_;
  std::string memRoot_;  // v1: the memory controller's mount; v2: root_
  std::string cpuRoot_;  // v1: the cpu controller's mount
  std::string unifiedRoot_;  // v1 on a hybrid host: the v2 hierarchy beside it
};

}  // namespace dcos::agent
