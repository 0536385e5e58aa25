#include "plugins/modules/agent/cgroups.h"

#include <signal.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace dcos::agent {

namespace fs = std::filesystem;

namespace {

bool writeValue(const std::string &path, const std::string &value, std::string &err) {
  std::ofstream f(path);
  if (!f) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  f << value;
  f.flush();
  if (!f) {
    err = path + ": cannot write " + value + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::string readValue(const std::string &path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

Cgroups Cgroups::detect(const std::string &group, const std::string &root) {
  Cgroups c;
  c.root_ = root;
  c.group_ = group;
  std::error_code ec;
  if (fs::exists(root + "/cgroup.controllers", ec)) {
    std::string controllers = readValue(root + "/cgroup.controllers");
    if (controllers.find("memory") == std::string::npos || controllers.find("cpu") == std::string::npos) {
      c.why_ = "the cgroup v2 hierarchy at " + root + " offers no cpu and memory controllers";
      return c;
    }
    c.kind_ = "v2";
    c.memRoot_ = root;
    c.cpuRoot_ = root;
  } else if (fs::exists(root + "/memory/memory.limit_in_bytes", ec)) {
    c.kind_ = "v1";
    c.memRoot_ = root + "/memory";
    for (const char *cpu : {"cpu", "cpu,cpuacct"}) {
      if (fs::exists(root + "/" + cpu + "/cpu.cfs_quota_us", ec)) c.cpuRoot_ = root + "/" + cpu;
    }
    if (c.cpuRoot_.empty()) c.why_ = "no cpu controller under " + root + " (memory limits only)";
    struct statfs v2 {};
    if (::statfs((root + "/unified").c_str(), &v2) == 0 && v2.f_type == CGROUP2_SUPER_MAGIC) {
      c.unifiedRoot_ = root + "/unified";
    }
  } else {
    c.why_ = "no cgroup hierarchy with a memory controller at " + root;
    return c;
  }
  // Can we make our subtree at all (read-only cgroupfs in a container)?
  std::string probe = c.memRoot_ + "/" + group;
  fs::create_directories(probe, ec);
  if (ec) {
    c.why_ = "cannot make " + probe + ": " + ec.message();
    c.kind_ = "none";
    return c;
  }
  if (c.kind_ == "v1") {
    // The tasks' cgroups are made by their supervisors, beneath these.
    if (!c.cpuRoot_.empty()) {
      fs::create_directories(c.cpuRoot_ + "/" + group, ec);
      if (ec) {
        c.why_ = "cannot make " + c.cpuRoot_ + "/" + group + ": " + ec.message() + " (memory limits only)";
        c.cpuRoot_.clear();
      }
    }
    if (!c.unifiedRoot_.empty()) {
      fs::create_directories(c.unifiedRoot_ + "/" + group, ec);
      if (ec) c.unifiedRoot_.clear();  // then not guarded(), which the agent says at start
    }
  }
  if (c.kind_ == "v2") {
    // Controllers must be enabled on the way down to the task's cgroup.
    std::string at = root;
    std::string err;
    for (const auto &part : fs::path(group)) {
      if (!writeValue(at + "/cgroup.subtree_control", "+cpu +memory", err)) {
        c.why_ = "cannot enable cpu and memory in " + at + ": " + err;
        c.kind_ = "none";
        return c;
      }
      at += "/" + part.string();
    }
    if (!writeValue(at + "/cgroup.subtree_control", "+cpu +memory", err)) {
      c.why_ = "cannot enable cpu and memory in " + at + ": " + err;
      c.kind_ = "none";
      return c;
    }
  }
  return c;
}

std::string Cgroups::memoryDir(const std::string &task) const { return memRoot_ + "/" + group_ + "/" + task; }

std::vector<std::string> Cgroups::dirs(const std::string &task) const {
  std::vector<std::string> out;
  if (kind_ == "none") return out;
  out.push_back(memoryDir(task));
  if (kind_ == "v1" && !unifiedRoot_.empty()) out.push_back(unifiedRoot_ + "/" + group_ + "/" + task);
  if (kind_ == "v1" && !cpuRoot_.empty()) out.push_back(cpuRoot_ + "/" + group_ + "/" + task);
  return out;
}

Cgroups::Setup Cgroups::setup(const std::string &task, double cpus, double memMiB) const {
  Setup s;
  if (kind_ == "none") return s;
  const std::string mem = memoryDir(task);
  const long long memBytes = memMiB > 0 ? static_cast<long long>(std::ceil(memMiB * 1024 * 1024)) : 0;
  const long long period = 100000;
  const long long quota = std::max(1000LL, static_cast<long long>(std::llround(cpus * period)));
  if (kind_ == "v2") {
    s.dirs = {mem};
    if (memBytes > 0) s.writes.push_back({mem + "/memory.max", std::to_string(memBytes), true});
    if (memBytes > 0) s.writes.push_back({mem + "/memory.swap.max", "0", false});
    if (cpus > 0) {
      s.writes.push_back({mem + "/cpu.max", std::to_string(quota) + " " + std::to_string(period), true});
      long weight = std::clamp(static_cast<long>(std::llround(cpus * 100)), 1L, 10000L);
      s.writes.push_back({mem + "/cpu.weight", std::to_string(weight), true});
    }
    return s;
  }
  s.dirs = {mem};
  if (!unifiedRoot_.empty()) s.dirs.push_back(unifiedRoot_ + "/" + group_ + "/" + task);
  if (memBytes > 0) {
    s.writes.push_back({mem + "/memory.limit_in_bytes", std::to_string(memBytes), true});
    s.writes.push_back({mem + "/memory.swappiness", "0", false});
  }
  if (!cpuRoot_.empty()) {
    const std::string cpu = cpuRoot_ + "/" + group_ + "/" + task;
    s.dirs.push_back(cpu);  // last: the quota
    if (cpus > 0) {
      s.writes.push_back({cpu + "/cpu.cfs_period_us", std::to_string(period), true});
      s.writes.push_back({cpu + "/cpu.cfs_quota_us", std::to_string(quota), true});
      s.writes.push_back({cpu + "/cpu.shares", std::to_string(std::max(2LL, std::llround(cpus * 1024))), true});
    }
  }
  return s;
}

std::vector<int> Cgroups::pids(const std::string &task) const {
  std::vector<int> out;
  for (const auto &d : dirs(task)) {
    std::istringstream in(readValue(d + "/cgroup.procs"));
    for (int pid; in >> pid;) out.push_back(pid);
    if (!out.empty()) break;  // every controller holds the same processes
  }
  return out;
}

void Cgroups::killAll(const std::string &task) const {
  if (kind_ == "v2") {
    std::string err;
    if (writeValue(memoryDir(task) + "/cgroup.kill", "1", err)) return;
  }
  // v1, or a kernel without cgroup.kill: until the group is empty (a fork
  // racing with the kill lands in the group and is found on the next pass).
  for (int round = 0; round < 50; ++round) {
    auto now = pids(task);
    if (now.empty()) return;
    for (int pid : now) ::kill(pid, SIGKILL);
  }
}

bool Cgroups::oomKilled(const std::string &task) const {
  if (kind_ == "none") return false;
  std::string file = kind_ == "v2" ? memoryDir(task) + "/memory.events" : memoryDir(task) + "/memory.oom_control";
  std::istringstream in(readValue(file));
  for (std::string key; in >> key;) {
    long long value = 0;
    in >> value;
    if (key == "oom_kill" && value > 0) return true;
  }
  return false;
}

bool Cgroups::exists(const std::string &task) const {
  struct stat st {};
  for (const auto &d : dirs(task)) {
    if (::stat(d.c_str(), &st) == 0) return true;
  }
  return false;
}

void Cgroups::removeGroup() const {
  if (kind_ == "none") return;
  ::rmdir((memRoot_ + "/" + group_).c_str());
  if (kind_ == "v1" && !cpuRoot_.empty()) ::rmdir((cpuRoot_ + "/" + group_).c_str());
  // Never the subtree's parent (dcos-tasks): the firewall matches it by id.
  if (kind_ == "v1" && !unifiedRoot_.empty()) ::rmdir((unifiedRoot_ + "/" + group_).c_str());
}

std::vector<std::string> Cgroups::tasks() const {
  std::set<std::string> names;
  if (kind_ == "none") return {};
  std::vector<std::string> roots{memRoot_};
  if (kind_ == "v1" && !cpuRoot_.empty()) roots.push_back(cpuRoot_);
  if (kind_ == "v1" && !unifiedRoot_.empty()) roots.push_back(unifiedRoot_);
  for (const auto &root : roots) {
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(root + "/" + group_, ec)) {
      if (e.is_directory(ec)) names.insert(e.path().filename().string());
    }
  }
  return {names.begin(), names.end()};
}

void Cgroups::remove(const std::string &task) const {
  for (const auto &d : dirs(task)) ::rmdir(d.c_str());
}

}  // namespace dcos::agent
