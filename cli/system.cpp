#include "cli/system.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/file.h"
#include "base/text.h"

namespace dcos::cli {

namespace {

std::vector<char *> cArgs(std::vector<std::string> &argv) {
  std::vector<char *> out;
  for (auto &a : argv) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

// A process that has exited but is not yet reaped still answers kill(pid, 0).
bool isZombie(pid_t pid) {
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

}  // namespace

Result<std::string> run(const std::vector<std::string> &argv) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return makeError(std::string("pipe: ") + std::strerror(errno), errno);
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return makeError(std::string("pipe: ") + std::strerror(errno), errno);
  }
  std::vector<std::string> args = argv;
  pid_t pid = ::fork();
  if (pid < 0) return makeError(std::string("fork: ") + std::strerror(errno), errno);
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    auto c = cArgs(args);
    ::execvp(c[0], c.data());
    std::fprintf(stderr, "cannot run %s: %s\n", c[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  std::string stdoutText;
  std::string stderrText;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open = 2;
  char buf[4096];
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? stdoutText : stderrText).append(buf, static_cast<size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return stdoutText;
  while (!stderrText.empty() && stderrText.back() == '\n') stderrText.pop_back();
  std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : "killed";
  return makeError(text::join(argv, " ") + ": " + (stderrText.empty() ? how : stderrText));
}

Status runLogged(const std::vector<std::string> &argv, const std::string &logFile,
                 const std::vector<std::string> &env) {
  int logFd = ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) return makeError("cannot open " + logFile + ": " + std::strerror(errno), errno);
  std::vector<std::string> args = argv;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(logFd, STDOUT_FILENO);
    ::dup2(logFd, STDERR_FILENO);
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    for (const auto &e : env) ::putenv(const_cast<char *>(e.c_str()));
    auto c = cArgs(args);
    ::execvp(c[0], c.data());
    std::fprintf(stderr, "cannot run %s: %s\n", c[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(logFd);
  if (pid < 0) return makeError(std::string("fork: ") + std::strerror(errno), errno);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return makeError(argv.front() + (WIFEXITED(status) ? " exited with status " + std::to_string(WEXITSTATUS(status))
                                                      : std::string(" was killed")));
}

Result<pid_t> spawnInNetns(const std::string &netns, const std::vector<std::string> &argv,
                           const std::string &logFile, const std::string &resolvConf) {
  std::string nsPath = "/run/netns/" + netns;
  int nsFd = ::open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsFd < 0) return makeError("cannot open " + nsPath + ": " + std::strerror(errno), errno);
  int logFd = ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) {
    ::close(nsFd);
    return makeError("cannot open " + logFile + ": " + std::strerror(errno), errno);
  }
  // The child reports a failed setns or exec through this pipe; a pipe
  // closed by a successful exec reads as empty.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    ::close(nsFd);
    ::close(logFd);
    return makeError(std::string("pipe: ") + std::strerror(errno), errno);
  }
  std::vector<std::string> args = argv;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(report[0]);
    auto fail = [&](const char *what) {
      std::string line = std::string(what) + ": " + std::strerror(errno);
      (void)!::write(report[1], line.data(), line.size());
      ::_exit(127);
    };
    if (::setns(nsFd, CLONE_NEWNET) != 0) fail("setns");
    if (!resolvConf.empty()) {
      // Mounts made here stay here; the host's still reach us (slave).
      if (::unshare(CLONE_NEWNS) != 0) fail("unshare(CLONE_NEWNS)");
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) fail("mount --make-rslave /");
      if (::mount(resolvConf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0) {
        fail("bind-mounting the node's resolv.conf on /etc/resolv.conf");
      }
    }
    ::setsid();
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    ::dup2(logFd, STDOUT_FILENO);
    ::dup2(logFd, STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Not under this terminal's systemd: no notify socket, no watchdog.
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ::unsetenv("JOURNAL_STREAM");
    auto c = cArgs(args);
    ::execv(c[0], c.data());
    fail(c[0]);
  }
  int forkErrno = errno;
  ::close(nsFd);
  ::close(logFd);
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    return makeError(std::string("fork: ") + std::strerror(forkErrno), forkErrno);
  }
  char buf[512];
  ssize_t n;
  while ((n = ::read(report[0], buf, sizeof buf)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (n > 0) {
    ::waitpid(pid, nullptr, 0);
    return makeError("cannot start " + argv.front() + " in " + netns + ": " + std::string(buf, static_cast<size_t>(n)));
  }
  return pid;
}

bool processRuns(pid_t pid, const std::string &needle) {
  if (pid <= 0) return false;
  // Our own child that exited is a zombie until reaped: reap it first.
  int status;
  if (::waitpid(pid, &status, WNOHANG) == pid) return false;
  std::string cmdline = readFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (cmdline.empty() || isZombie(pid)) return false;
  for (auto &ch : cmdline) {
    if (ch == '\0') ch = ' ';
  }
  return cmdline.find(needle) != std::string::npos;
}

namespace {

// Debian 12's <sys/pidfd.h> declares these without C linkage; the system
// calls themselves are plain.
int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfdSignal(int fd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0)); }

}  // namespace

std::vector<pid_t> stopProcesses(const std::vector<pid_t> &pids, std::chrono::milliseconds grace) {
  // Through pidfds: a pid that dies during the wait and is reused by another
  // process is never signalled.
  struct Target {
    pid_t pid;
    int fd;
    bool gone = false;
  };
  std::vector<Target> targets;
  for (pid_t pid : pids) {
    if (pid <= 0) continue;
    int fd = pidfdOpen(pid);
    if (fd >= 0) targets.push_back({pid, fd});  // else gone already
  }
  for (auto &t : targets) pidfdSignal(t.fd, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (true) {
    bool waiting = false;
    for (auto &t : targets) {
      if (t.gone) continue;
      pollfd p{t.fd, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {  // exited (a zombie counts)
        int status;
        ::waitpid(t.pid, &status, WNOHANG);  // reaped, if it was ours
        t.gone = true;
      } else {
        waiting = true;
      }
    }
    if (!waiting || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::vector<pid_t> left;
  for (auto &t : targets) {
    if (!t.gone) {
      pidfdSignal(t.fd, SIGKILL);
      left.push_back(t.pid);
    }
  }
  // Killed is not yet gone: a loaded machine takes a while to tear down a
  // process of many threads, which still holds its files and mounts meanwhile.
  auto killDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (auto &t : targets) {
    while (!t.gone) {
      pollfd p{t.fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0 || std::chrono::steady_clock::now() >= killDeadline) {
        int status;
        ::waitpid(t.pid, &status, WNOHANG);
        t.gone = true;
      }
    }
    ::close(t.fd);
  }
  return left;
}

std::string tail(const std::string &path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const auto &l : last) out += "    " + l + "\n";
  return out;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Status writeFile(const std::string &path, const std::string &text) { return writeFileAtomically(path, text); }

}  // namespace dcos::cli
