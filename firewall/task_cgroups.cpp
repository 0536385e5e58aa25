#include "firewall/task_cgroups.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>

namespace dcos::firewall {

namespace {

bool isCgroup2(const std::string &path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

}  // namespace

uint64_t cgroupId(const std::string &path) {
  alignas(struct file_handle) unsigned char buffer[sizeof(struct file_handle) + MAX_HANDLE_SZ] = {};
  auto *handle = reinterpret_cast<struct file_handle *>(buffer);
  handle->handle_bytes = MAX_HANDLE_SZ;
  int mountId = 0;
  if (::name_to_handle_at(AT_FDCWD, path.c_str(), handle, &mountId, 0) != 0) return 0;
  if (handle->handle_bytes < sizeof(uint64_t)) return 0;
  uint64_t id = 0;
  std::memcpy(&id, buffer + sizeof(struct file_handle), sizeof id);
  return id;
}

Cgroup2 findCgroup2(const std::string &root) {
  // nft names cgroups beneath /sys/fs/cgroup; on a hybrid host the v2
  // hierarchy is the one mounted at unified/.
  if (isCgroup2(root)) return {root, ""};
  if (isCgroup2(root + "/unified")) return {root + "/unified", "unified/"};
  return {};
}

TaskCgroups findTaskCgroups(bool make, const std::string &root) {
  TaskCgroups out;
  auto [v2, prefix] = findCgroup2(root);
  if (v2.empty()) {
    out.note = "no cgroup v2 hierarchy at " + root + " or " + root + "/unified";
    return out;
  }
  struct Candidate {
    const char *path;
    uint32_t level;
    bool make;
  };
  for (const Candidate &c : {Candidate{"dcos.slice/dcos-tasks.slice", 2, false}, Candidate{"dcos-tasks", 1, true}}) {
    std::string dir = v2 + "/" + c.path;
    if (c.make && make && ::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      if (!out.note.empty()) out.note += "; ";
      out.note += "cannot make " + dir + ": " + std::strerror(errno);
      continue;
    }
    uint64_t id = cgroupId(dir);
    if (id != 0) out.cgroups.push_back({prefix + c.path, c.level, id});
  }
  return out;
}

}  // namespace dcos::firewall
