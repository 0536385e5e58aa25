// dcos-task-supervisor: runs one task for the process executor and outlives
// the dcosd that started it, so a dcosd restart re-adopts its tasks.
//
//   dcos-task-supervisor META_DIR
//
// META_DIR/launch holds the task as NUL-separated key and value pairs: "arg"
// (repeated: the argv), "env" (repeated: NAME=value), "dir" (the working
// directory), "stdout" and "stderr" (files, appended to; relative paths are
// in "dir"), "user" (run as;
// absent: as the supervisor runs), "cgroup" (repeated: directories the task
// joins before it runs, in that order), "cgroup-limit" and "cgroup-limit-try"
// (repeated: "<file>\n<value>", a limit the supervisor writes into a cgroup
// it made; a failure of a -try one is ignored), "affinity" (the cpus, as
// "0,1,3", the supervisor and the task may run on: the agent starts the
// supervisor on its own cpu alone, for speed, and this gives the others
// back).
//
// The supervisor makes a session of its own, looks the user up, makes the
// task's cgroups and writes their limits (a failure of either fails the
// task: nothing runs), starts the task in a session
// and process group of its own, writes "<supervisor pid> <task pid>" to
// META_DIR/pids once the task is in that group and its cgroups (the agent
// reads it after the launch: a launch does not wait for it), waits for it,
// and writes how it ended to META_DIR/exit
// ("exited N" or "signaled N", or "failed <reason>" when it could not
// start), whole or not at all. It then ends the task's process group, whose
// stragglers would otherwise outlive it. Its own failures go to stderr.
//
//   dcos-task-supervisor --check META_DIR COMMAND
//
// runs a COMMAND health check the way the task runs (its user, environment,
// cgroups, sandbox), as `/bin/sh -c COMMAND` with its output dropped, in a
// session of its own: no process the task's environment reaches runs as
// root. It becomes the check (exec), so its exit status is the check's.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Limit {
  std::string file;
  std::string value;
  bool required;
};

struct Launch {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::vector<std::string> cgroups;
  std::vector<Limit> limits;
  std::vector<int> affinity;
  std::string dir = "/";
  std::string out = "/dev/null";
  std::string err = "/dev/null";
  std::string user;
};

bool readLaunch(const std::string &path, Launch &l) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::stringstream s;
  s << f.rdbuf();
  std::string all = s.str();
  std::vector<std::string> parts;
  size_t at = 0;
  while (at < all.size()) {
    size_t end = all.find('\0', at);
    if (end == std::string::npos) end = all.size();
    parts.push_back(all.substr(at, end - at));
    at = end + 1;
  }
  // Keys and values alternate: an odd count means a value held a NUL, which
  // the agent never writes; refuse rather than read the pairs shifted.
  if (parts.size() % 2 != 0) return false;
  for (size_t i = 0; i + 1 < parts.size(); i += 2) {
    const std::string &k = parts[i];
    const std::string &v = parts[i + 1];
    if (k == "arg") l.argv.push_back(v);
    else if (k == "env") l.env.push_back(v);
    else if (k == "cgroup") l.cgroups.push_back(v);
    else if (k == "cgroup-limit" || k == "cgroup-limit-try") {
      size_t nl = v.find('\n');
      if (nl == std::string::npos) return false;
      l.limits.push_back({v.substr(0, nl), v.substr(nl + 1), k == "cgroup-limit"});
    }
    else if (k == "affinity") {
      std::istringstream cpus(v);
      for (std::string c; std::getline(cpus, c, ',');) l.affinity.push_back(std::atoi(c.c_str()));
    }
    else if (k == "dir") l.dir = v;
    else if (k == "stdout") l.out = v;
    else if (k == "stderr") l.err = v;
    else if (k == "user") l.user = v;
  }
  return !l.argv.empty();
}

// Written whole or not at all: a reader never sees half a line. No fsync:
// these files outlive dcosd, not the machine, whose crash ends the task as
// well (the agent's own checkpoints are made the same way).
void writeAtomically(const std::string &path, const std::string &content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  if (ok) ::rename(tmp.c_str(), path.c_str());
}

// Who the task runs as, looked up before the fork: the child, once in its
// cgroups, makes system calls only (no NSS modules loaded and run under
// the task's cpu quota).
struct Identity {
  bool change = false;  // false: as the supervisor runs
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// "" on success, else why not.
std::string lookUp(const std::string &user, Identity &id) {
  if (user.empty()) return "";
  struct passwd pwd {};
  struct passwd *pw = nullptr;
  std::vector<char> buf(16384);
  int rc = ::getpwnam_r(user.c_str(), &pwd, buf.data(), buf.size(), &pw);
  if (pw == nullptr) return "unknown user " + user + ": " + std::strerror(rc != 0 ? rc : ENOENT);
  id.change = true;
  id.uid = pw->pw_uid;
  id.gid = pw->pw_gid;
  int n = 32;
  for (int round = 0; round < 8; ++round) {
    id.groups.resize(static_cast<size_t>(n));
    int want = n;
    if (::getgrouplist(pw->pw_name, pw->pw_gid, id.groups.data(), &want) >= 0) {
      id.groups.resize(static_cast<size_t>(want));
      return "";
    }
    n = std::max(want, n * 2);
  }
  return "the groups of " + user + ": too many";
}

// Makes the task's cgroups and writes their limits; "" on success, else
// why not (and what was made is removed again).
std::string makeCgroups(const Launch &l) {
  auto undo = [&] {
    for (auto it = l.cgroups.rbegin(); it != l.cgroups.rend(); ++it) ::rmdir(it->c_str());
  };
  for (const auto &d : l.cgroups) {
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
      std::string why = "cannot make cgroup " + d + ": " + std::strerror(errno);
      undo();
      return why;
    }
  }
  for (const auto &w : l.limits) {
    int fd = ::open(w.file.c_str(), O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::write(fd, w.value.data(), w.value.size()) == static_cast<ssize_t>(w.value.size());
    std::string why = ok ? "" : "setting the limits: " + w.file + ": cannot write " + w.value + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    if (!ok && w.required) {
      undo();
      return why;
    }
  }
  return "";
}

// In the child, before exec: every failure is reported through `report`.
[[noreturn]] void fail(int report, const char *what) {
  std::string m = std::string(what) + ": " + std::strerror(errno);
  (void)!::write(report, m.data(), m.size());
  ::_exit(127);
}

// Becomes the task (or a check): cgroups joined as root, then the user's
// identity, and only then the sandbox's files are opened (as the user, never
// through a link: a task could plant one in another task's sandbox).
[[noreturn]] void runTask(const Launch &l, const Identity &id, int report, bool dieWithParent) {
  for (const auto &cg : l.cgroups) {
    std::string procs = cg + "/cgroup.procs";
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) fail(report, ("joining cgroup " + cg).c_str());
    ::close(fd);
  }
  if (::setsid() < 0) fail(report, "setsid");
  // In its cgroups and its own process group now: the supervisor may say
  // its pid (a kill of the group, or of the cgroup, reaches it from here on).
  if (dieWithParent) (void)!::write(report, "\x01", 1);
  const pid_t supervisor = ::getppid();
  // Into the sandbox while still root: the directories above it need not be
  // open to the task's user, and its files are opened relative to it.
  if (::chdir(l.dir.c_str()) != 0) fail(report, ("chdir " + l.dir).c_str());
  if (id.change) {
    if (::setgroups(id.groups.size(), id.groups.data()) != 0) fail(report, "setgroups");
    if (::setgid(id.gid) != 0) fail(report, "setgid");
    if (::setuid(id.uid) != 0) fail(report, "setuid");
    if (id.uid != 0 && ::setuid(0) == 0) {
      errno = EPERM;
      fail(report, "could regain root after dropping it");
    }
  }
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = ::open(l.out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
  int err = ::open(l.err.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (in < 0 || out < 0 || err < 0) fail(report, "opening the sandbox's stdout and stderr");
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) fail(report, "dup2");
  if (dieWithParent) {
    // The task goes with its supervisor: nothing is left that no one
    // watches. Set after the change of user, which clears it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != supervisor) ::_exit(127);
  }
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  // No descriptor but 0, 1 and 2 reaches the task.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  // A clean signal state for the task.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
  std::vector<char *> argv;
  for (const auto &a : l.argv) argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char *> envp;
  for (const auto &e : l.env) envp.push_back(const_cast<char *>(e.c_str()));
  envp.push_back(nullptr);
  ::execvpe(argv[0], argv.data(), envp.data());
  fail(report, ("exec " + l.argv[0]).c_str());
}

}  // namespace

int main(int argc, char **argv) {
  // Nothing of whoever started us goes on to the task.
  ::close_range(3, ~0U, 0);
  const bool hold = argc == 5 && std::string(argv[4]) == "--hold";
  if ((argc == 4 || hold) && std::string(argv[1]) == "--check") {
    // --hold: wait for a byte on stdin first, while the agent moves this
    // process into the task's unit (the systemd executor).
    char go = 0;
    if (hold && ::read(0, &go, 1) != 1) return 126;
    Launch l;
    if (!readLaunch(std::string(argv[2]) + "/launch", l)) return 126;
    l.argv = {"/bin/sh", "-c", argv[3]};
    l.out = "/dev/null";
    l.err = "/dev/null";
    Identity id;
    if (!lookUp(l.user, id).empty()) return 126;
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    runTask(l, id, devnull, false);
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: dcos-task-supervisor META_DIR | --check META_DIR COMMAND [--hold]\n");
    return 2;
  }
  const std::string meta = argv[1];
  Launch l;
  if (!readLaunch(meta + "/launch", l)) {
    writeAtomically(meta + "/exit", "failed cannot read " + meta + "/launch\n");
    return 1;
  }
  if (!l.affinity.empty()) {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    for (int c : l.affinity) {
      if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &cpus);
    }
    (void)::sched_setaffinity(0, sizeof cpus, &cpus);
  }
  ::setsid();
  // dcosd's stop, a terminal's signals: none of them is for the task.
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  Identity id;
  std::string why = lookUp(l.user, id);
  if (why.empty()) why = makeCgroups(l);
  if (!why.empty()) {
    writeAtomically(meta + "/exit", "failed " + why + "\n");
    return 1;
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    writeAtomically(meta + "/exit", std::string("failed pipe: ") + std::strerror(errno) + "\n");
    return 1;
  }
  pid_t child = ::fork();
  if (child < 0) {
    writeAtomically(meta + "/exit", std::string("failed fork: ") + std::strerror(errno) + "\n");
    return 1;
  }
  if (child == 0) {
    ::close(report[0]);
    runTask(l, id, report[1], true);
  }
  ::close(report[1]);
  // Whatever the child said before exec (or EOF once exec succeeded); its
  // pid is written once it says it is in its group and cgroups (\x01).
  bool published = false;
  char buf[512];
  for (ssize_t n; (n = ::read(report[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    size_t from = 0;
    if (!published && buf[0] == '\x01') {
      writeAtomically(meta + "/pids", std::to_string(::getpid()) + " " + std::to_string(child) + "\n");
      published = true;
      from = 1;
    }
    why.append(buf + from, static_cast<size_t>(n) - from);
  }
  if (!published) writeAtomically(meta + "/pids", std::to_string(::getpid()) + " " + std::to_string(child) + "\n");
  ::close(report[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(-child, SIGKILL);  // stragglers in the task's group
  std::string result;
  if (!why.empty()) {
    result = "failed " + why;
  } else if (WIFEXITED(status)) {
    result = "exited " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    result = "signaled " + std::to_string(WTERMSIG(status));
  } else {
    result = "failed unknown wait status " + std::to_string(status);
  }
  writeAtomically(meta + "/exit", result + "\n");
  return 0;
}
