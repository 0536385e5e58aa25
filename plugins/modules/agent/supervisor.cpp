// dcos-task-supervisor: runs one task for the process executor and outlives
// the dcosd that started it, so a dcosd restart re-adopts its tasks.
//
//   dcos-task-supervisor META_DIR
//
// META_DIR/launch holds the task as NUL-separated key and value pairs: "arg"
// (repeated: the argv), "env" (repeated: NAME=value), "dir" (the working
// directory), "stdout" and "stderr" (files, appended to; relative paths are
// in "dir"), "user" (run as, by the ids "uid", "gid" and "groups", "1,2";
// absent: as the supervisor runs), "cgroup" (repeated: directories the task
// joins before it runs, in that order), "cgroup-limit" and "cgroup-limit-try"
// (repeated: "<file>\n<value>", a limit the supervisor writes into a cgroup
// it made; a failure of a -try one is ignored), "affinity" (the cpus, as
// "0,1,3", the supervisor and the task may run on: the agent starts the
// supervisor on its own cpu alone, for speed, and this gives the others
// back).
//
// The supervisor makes a session of its own, makes the
// task's cgroups and writes their limits (a failure of either fails the
// task: nothing runs), starts the task in a session
// and process group of its own, writes "<supervisor pid> <task pid>" to
// META_DIR/pids once the task is in that group and its cgroups and has
// exec'd (the agent reads it after the launch: a launch does not wait for
// it), waits for it,
// and writes how it ended to META_DIR/exit
// ("exited N" or "signaled N", or "failed <reason>" when it could not
// start), whole or not at all. It then ends the task's process group, whose
// stragglers would otherwise outlive it. Its own failures go to stderr.
//
//   dcos-task-supervisor --wait
//
// is a spare: started ahead of its task, it waits for META_DIR on stdin
// (ended by a newline), then runs it as above; EOF first, it exits 0.
//
//   dcos-task-supervisor --check META_DIR COMMAND
//
// runs a COMMAND health check the way the task runs (its user, environment,
// cgroups, sandbox), as `/bin/sh -c COMMAND` with its output dropped, in a
// session of its own: no process the task's environment reaches runs as
// root. It becomes the check (exec), so its exit status is the check's.
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <linux/close_range.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
  std::string uid, gid, groups;  // numbers, as the agent looked the user up
};

// The parts of `v` between `sep`s ("1,2,3"; a last empty part dropped).
std::vector<std::string> split(const std::string &v, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < v.size()) {
    size_t end = v.find(sep, at);
    if (end == std::string::npos) end = v.size();
    out.push_back(v.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

// Plain reads, no iostreams (their locale set-up ran at every start).
bool readLaunch(const std::string &path, Launch &l) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string all;
  char buf[16384];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return false;
    }
    all.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  const std::vector<std::string> parts = split(all, '\0');
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
      for (const auto &c : split(v, ',')) l.affinity.push_back(std::atoi(c.c_str()));
    }
    else if (k == "dir") l.dir = v;
    else if (k == "stdout") l.out = v;
    else if (k == "stderr") l.err = v;
    else if (k == "user") l.user = v;
    else if (k == "uid") l.uid = v;
    else if (k == "gid") l.gid = v;
    else if (k == "groups") l.groups = v;
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

// Who the task runs as: the agent looked the user up and wrote the ids
// ("uid", "gid", "groups": "1,2,3") beside the name; no NSS module is
// loaded here, so the child makes system calls only.
struct Identity {
  bool change = false;  // false: as the supervisor runs
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

bool number(const std::string &s, unsigned long &out) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoul(s);
  return out < 0xFFFFFFFFUL;  // (uid_t)-1 means "unchanged" to setuid
}

// "" on success, else why not.
std::string identity(const Launch &l, Identity &id) {
  if (l.user.empty()) return "";
  unsigned long uid = 0, gid = 0;
  if (!number(l.uid, uid) || !number(l.gid, gid)) return "the launch file gives user " + l.user + " no valid uid and gid";
  id.change = true;
  id.uid = static_cast<uid_t>(uid);
  id.gid = static_cast<gid_t>(gid);
  for (const auto &g : split(l.groups, ',')) {
    unsigned long n = 0;
    if (!number(g, n)) return "the launch file gives user " + l.user + " an invalid group " + g;
    id.groups.push_back(static_cast<gid_t>(n));
  }
  return "";
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

// What the child needs, made before it starts: it shares the supervisor's
// memory until it execs (clone with CLONE_VM | CLONE_VFORK: no page tables
// copied, no copy-on-write faults), so it allocates nothing (strerror's
// message lookup is the one library call that takes a lock, on a process
// of one thread).
struct Prepared {
  const Launch *launch = nullptr;
  const Identity *id = nullptr;
  std::vector<std::string> procs;  // each cgroup's cgroup.procs
  std::vector<char *> argv, envp;
  int report = -1;
  bool dieWithParent = false;
  pid_t supervisor = 0;
};

Prepared prepare(const Launch &l, const Identity &id, int report, bool dieWithParent) {
  Prepared p;
  p.launch = &l;
  p.id = &id;
  for (const auto &cg : l.cgroups) p.procs.push_back(cg + "/cgroup.procs");
  for (const auto &a : l.argv) p.argv.push_back(const_cast<char *>(a.c_str()));
  p.argv.push_back(nullptr);
  for (const auto &e : l.env) p.envp.push_back(const_cast<char *>(e.c_str()));
  p.envp.push_back(nullptr);
  p.report = report;
  p.dieWithParent = dieWithParent;
  p.supervisor = ::getpid();
  return p;
}

// In the child, before exec: every failure is reported through `report`
// ("WHAT DETAIL: error"), with system calls only.
[[noreturn]] void fail(int report, const char *what, const char *detail = nullptr) {
  const char *error = std::strerror(errno);
  // Short enough for the pipe whoever reads it (the supervisor reads only
  // after the child's end: a message the pipe cannot hold would block).
  const size_t detailLength = detail != nullptr ? std::min<size_t>(std::strlen(detail), 1024) : 0U;
  iovec parts[] = {{const_cast<char *>(what), std::strlen(what)},
                   {const_cast<char *>(" "), detail != nullptr ? 1U : 0U},
                   {const_cast<char *>(detail != nullptr ? detail : ""), detailLength},
                   {const_cast<char *>(": "), 2},
                   {const_cast<char *>(error), std::strlen(error)}};
  (void)!::writev(report, parts, 5);
  ::_exit(127);
}

// Becomes the task (or a check): cgroups joined as root, then the user's
// identity, and only then the sandbox's files are opened (as the user, never
// through a link: a task could plant one in another task's sandbox).
[[noreturn]] void runTask(const Prepared &p) {
  const Launch &l = *p.launch;
  const Identity &id = *p.id;
  const int report = p.report;
  for (size_t i = 0; i < p.procs.size(); ++i) {
    int fd = ::open(p.procs[i].c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) fail(report, "joining cgroup", l.cgroups[i].c_str());
    ::close(fd);
  }
  if (::setsid() < 0) fail(report, "setsid");
  // In its cgroups and its own process group now: the supervisor may say
  // its pid (a kill of the group, or of the cgroup, reaches it from here on).
  if (p.dieWithParent) (void)!::write(report, "\x01", 1);
  // Into the sandbox while still root: the directories above it need not be
  // open to the task's user, and its files are opened relative to it.
  if (::chdir(l.dir.c_str()) != 0) fail(report, "chdir", l.dir.c_str());
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
  // Non-blocking, and only a plain file: a FIFO planted there (by another
  // task of the same user) would hold the open, and the pid is not known
  // until the exec.
  auto plain = [](const std::string &path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    struct stat st {};
    if (fd >= 0 && (::fstat(fd, &st) != 0 || (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)))) {
      ::close(fd);
      errno = EINVAL;
      return -1;
    }
    if (fd >= 0) (void)::fcntl(fd, F_SETFL, O_WRONLY | O_APPEND);
    return fd;
  };
  int out = plain(l.out);
  int err = plain(l.err);
  if (in < 0 || out < 0 || err < 0) fail(report, "opening the sandbox's stdout and stderr");
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) fail(report, "dup2");
  if (p.dieWithParent) {
    // The task goes with its supervisor: nothing is left that no one
    // watches. Set after the change of user, which clears it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != p.supervisor) ::_exit(127);
  }
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  // No descriptor but 0, 1 and 2 reaches the task.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  // A clean signal state for the task.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
  ::execvpe(p.argv[0], p.argv.data(), p.envp.data());
  fail(report, "exec", l.argv[0].c_str());
}

int childMain(void *prepared) { runTask(*static_cast<const Prepared *>(prepared)); }

// A spare that took a task shows in ps as if started for it ("PROGRAM
// META_DIR"), where the kernel lets a process move its arguments
// (CAP_SYS_RESOURCE); else it keeps showing "--wait".
void showAs(const char *program, const std::string &meta) {
  static std::string args;  // lives as long as the process
  args = std::string(program) + '\0' + meta + '\0';
  auto start = reinterpret_cast<unsigned long>(args.data());
  auto end = start + args.size();
  // The kernel keeps start <= end at each step: the order depends on
  // where the new arguments lie relative to the old ones.
  if (::prctl(PR_SET_MM, PR_SET_MM_ARG_START, start, 0, 0) != 0 ||
      ::prctl(PR_SET_MM, PR_SET_MM_ARG_END, end, 0, 0) != 0) {
    (void)::prctl(PR_SET_MM, PR_SET_MM_ARG_END, end, 0, 0);
    (void)::prctl(PR_SET_MM, PR_SET_MM_ARG_START, start, 0, 0);
  }
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
    if (!identity(l, id).empty()) return 126;
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    runTask(prepare(l, id, devnull, false));
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: dcos-task-supervisor META_DIR | --wait | --check META_DIR COMMAND [--hold]\n");
    return 2;
  }
  std::string meta = argv[1];
  if (meta == "--wait") {
    // A spare: the task's META_DIR comes on stdin, ended by a newline. EOF
    // before it (the agent dropped this spare, or ended): nothing to run.
    meta.clear();
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;
      meta.append(buf, static_cast<size_t>(n));
      if (meta.back() == '\n') break;
      if (meta.size() > 65536) return 2;
    }
    meta.pop_back();
    showAs(argv[0], meta);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0 && null != 0) {
      ::dup2(null, 0);
      ::close(null);
    }
  }
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
  std::string why = identity(l, id);
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
  // The child runs on a stack of its own while this process waits for its
  // exec (or its end), as posix_spawn does; the pipe's read end is
  // close-on-exec, so the task never holds it.
  const Prepared prepared = prepare(l, id, report[1], true);
  if (::sched_getscheduler(0) == SCHED_IDLE) {
    // The agent put a spare back to normal priority before handing it the
    // task; a task never runs at idle priority.
    struct sched_param normal {};
    if (::sched_setscheduler(0, SCHED_OTHER, &normal) != 0) {
      writeAtomically(meta + "/exit", std::string("failed cannot leave idle priority: ") + std::strerror(errno) + "\n");
      return 1;
    }
  }
  // A stack of its own with a guard page below it (an overflow faults
  // instead of writing over this process's memory).
  constexpr size_t kStack = 256 * 1024, kGuard = 4096;
  void *mem = ::mmap(nullptr, kStack + kGuard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED || ::mprotect(mem, kGuard, PROT_NONE) != 0) {
    writeAtomically(meta + "/exit", std::string("failed mmap: ") + std::strerror(errno) + "\n");
    return 1;
  }
  char *stack = static_cast<char *>(mem) + kGuard;
  pid_t child = ::clone(childMain, stack + kStack, CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<Prepared *>(&prepared));
  if (child < 0) {
    writeAtomically(meta + "/exit", std::string("failed clone: ") + std::strerror(errno) + "\n");
    return 1;
  }
  ::close(report[1]);
  // Whatever the child said before exec (or EOF once exec succeeded), read
  // once it exec'd or ended (CLONE_VFORK); its pid is written if it said it
  // got into its group and cgroups (\x01).
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
