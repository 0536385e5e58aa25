// Where this node's tasks run, as the output chain matches them: cgroup v2
// subtrees and their kernel ids. Both executors' subtrees count:
//   dcos.slice/dcos-tasks.slice   the systemd executor's (a slice PID 1
//                                 keeps; dcosd.service wants it)
//   dcos-tasks                    the process executor's, made here when
//                                 missing and the hierarchy is writable
// The id of a cgroup is fixed when it is made, so neither is ever removed
// while the firewall names it.
#pragma once

#include <string>
#include <vector>

#include "firewall/model.h"

namespace dcos::firewall {

struct TaskCgroups {
  std::vector<Cgroup> cgroups;
  std::string note;  // why none or only some were found, for the log
};

// The cgroup v2 hierarchy: where it is mounted, and how nft's paths (which
// start at /sys/fs/cgroup) reach it. Empty `mount` when there is none.
struct Cgroup2 {
  std::string mount;      // /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host
  std::string nftPrefix;  // "", or "unified/"
};
Cgroup2 findCgroup2(const std::string &root = "/sys/fs/cgroup");

// The kernel's id of the cgroup at `path` (its file handle on cgroup2), or
// 0 when it is none.
uint64_t cgroupId(const std::string &path);

// make: create the process executor's subtree when missing. `root`: where
// cgroup file systems are mounted.
TaskCgroups findTaskCgroups(bool make = true, const std::string &root = "/sys/fs/cgroup");

}  // namespace dcos::firewall
