#include "tests/support/netns.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char **environ;

namespace dcos::test {

namespace {

namespace fs = std::filesystem;

constexpr char kNetnsDir[] = "/var/run/netns";  // where `ip netns` keeps its names
constexpr int kCapNetAdmin = 12;
constexpr int kCapSysAdmin = 21;
constexpr size_t kIfNameMax = 15;

std::atomic<int> topologyCounter{0};

const std::string &requireIp() {
  if (ipPath().empty()) {
    throw std::runtime_error("iproute2's ip not found");
  }
  return ipPath();
}

std::string quote(const std::string &arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                            "-_./:=,+@%[]") == std::string::npos) {
    return arg;
  }
  std::string q = "'";
  for (char c : arg) {
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return q + "'";
}

std::string describe(const std::vector<std::string> &argv) {
  std::string s;
  for (const auto &a : argv) {
    s += (s.empty() ? "" : " ") + quote(a);
  }
  return s;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// Throws unless the command exited 0; the message names it and quotes stderr.
CommandResult check(const std::vector<std::string> &argv, const std::string &context = {}) {
  CommandResult r = runCommand(argv);
  if (r.status != 0) {
    throw std::runtime_error((context.empty() ? "" : context + ": ") + describe(argv) + ": exit " +
                             std::to_string(r.status) + ": " + trimmed(r.err));
  }
  return r;
}

// Kills every process inside `ns` (they are the test's, by construction), then
// deletes its name. Errors go to stderr: this runs from destructors.
void removeNamespace(const std::string &ns) noexcept {
  try {
    CommandResult pids = runCommand({ipPath(), "netns", "pids", ns});
    std::istringstream in(pids.out);
    for (pid_t pid; in >> pid;) {
      if (pid > 1 && pid != ::getpid()) {
        ::kill(pid, SIGKILL);
      }
    }
    CommandResult del = runCommand({ipPath(), "netns", "del", ns});
    if (del.status != 0) {
      std::fprintf(stderr, "netns: cannot delete namespace %s: %s\n", ns.c_str(), trimmed(del.err).c_str());
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "netns: cannot delete namespace %s: %s\n", ns.c_str(), e.what());
  }
}

bool validName(const std::string &s, bool dashes, size_t max) {
  if (s.empty() || s.size() > max) {
    return false;
  }
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (dashes && c == '-');
    if (!ok) {
      return false;
    }
  }
  return true;
}

// "ADDR/LEN" in canonical form (inet_ntop), or throws.
std::string canonicalCidr(const std::string &cidr, int family) {
  const char *what = family == AF_INET ? "IPv4" : "IPv6";
  auto bad = [&] { return std::runtime_error(std::string("not an ") + what + " CIDR: \"" + cidr + "\""); };
  size_t slash = cidr.find('/');
  if (slash == std::string::npos) {
    throw bad();
  }
  std::string addr = cidr.substr(0, slash);
  std::string len = cidr.substr(slash + 1);
  int maxLen = family == AF_INET ? 32 : 128;
  if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(len) > maxLen) {
    throw bad();
  }
  unsigned char buf[sizeof(in6_addr)];
  char text[INET6_ADDRSTRLEN];
  if (::inet_pton(family, addr.c_str(), buf) != 1 || ::inet_ntop(family, buf, text, sizeof text) == nullptr) {
    throw bad();
  }
  return std::string(text) + "/" + std::to_string(std::stoi(len));
}

// Deletes namespaces "<tag>-<pid>-<n>-..." whose pid no longer runs: what a
// crashed test (abort, ctest's timeout kill) could not clean up itself.
void sweepStale(const std::string &tag) {
  DIR *dir = ::opendir(kNetnsDir);
  if (dir == nullptr) {
    return;
  }
  std::vector<std::string> stale;
  while (dirent *e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name.rfind(tag + "-", 0) != 0) {
      continue;
    }
    size_t at = tag.size() + 1;
    size_t end = name.find('-', at);
    if (end == std::string::npos || end == at || end - at > 9 ||
        name.substr(at, end - at).find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    pid_t pid = static_cast<pid_t>(std::stol(name.substr(at, end - at)));
    if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) {
      stale.push_back(name);
    }
  }
  ::closedir(dir);
  for (const auto &ns : stale) {
    std::fprintf(stderr, "netns: deleting namespace %s left by a process that is gone\n", ns.c_str());
    removeNamespace(ns);
  }
}

bool hasCapabilities() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("CapEff:", 0) == 0) {
      unsigned long long caps = std::strtoull(line.c_str() + 7, nullptr, 16);
      return (caps >> kCapNetAdmin & 1) != 0 && (caps >> kCapSysAdmin & 1) != 0;
    }
  }
  return false;
}

int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

CommandResult runCommand(const std::vector<std::string> &argv, std::chrono::milliseconds timeout) {
  if (argv.empty()) {
    throw std::runtime_error("runCommand: empty argv");
  }
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  // The child starts with no signal blocked and default dispositions, whatever
  // the test framework installed.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigfillset(&defaults);
  sigdelset(&defaults, SIGKILL);
  sigdelset(&defaults, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char *> args;
  for (const auto &a : argv) {
    args.push_back(const_cast<char *>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    throw std::runtime_error("cannot run " + describe(argv) + ": " + std::strerror(rc));
  }

  // Read both pipes until the child has exited and they are drained. A
  // process the command left in the background may hold the pipes open; it
  // does not keep us waiting once the command itself is done.
  CommandResult result;
  int pidfd = pidfdOpen(pid);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  auto deadline = Clock::now() + timeout;
  bool exited = false;
  bool outOpen = true;
  bool errOpen = true;
  auto drain = [](int fd, std::string &into, bool &open) {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        into.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {
        open = false;
      }
      return;
    }
  };
  bool timedOut = false;
  while ((outOpen || errOpen) && !exited) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    pollfd fds[3] = {{outOpen ? out[0] : -1, POLLIN, 0}, {errOpen ? err[0] : -1, POLLIN, 0}, {pidfd, POLLIN, 0}};
    // Without a pidfd (old kernel), EOF on both pipes is the end.
    int n = ::poll(fds, 3, static_cast<int>(left));
    if (n < 0 && errno != EINTR) {
      break;
    }
    if (fds[0].revents != 0) {
      drain(out[0], result.out, outOpen);
    }
    if (fds[1].revents != 0) {
      drain(err[0], result.err, errOpen);
    }
    if (pidfd >= 0 && fds[2].revents != 0) {
      exited = true;
    }
  }
  if (exited) {
    drain(out[0], result.out, outOpen);
    drain(err[0], result.err, errOpen);
  } else if (!timedOut && pidfd >= 0) {
    // Both pipes closed; the command may still be running.
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{pidfd, POLLIN, 0};
    timedOut = left <= 0 || ::poll(&p, 1, static_cast<int>(left)) == 0;
  }
  ::close(out[0]);
  ::close(err[0]);
  if (pidfd >= 0) {
    ::close(pidfd);
  }
  if (timedOut) {
    ::kill(pid, SIGKILL);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (timedOut) {
    throw std::runtime_error(describe(argv) + ": still running after " + std::to_string(timeout.count()) +
                             " ms, killed; stderr: " + trimmed(result.err));
  }
  result.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return result;
}

std::string netprobePath() { return DCOS_NETPROBE; }

const std::string &ipPath() {
  static const std::string path = [] {
    for (const char *p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
      if (::access(p, X_OK) == 0) {
        return std::string(p);
      }
    }
    return std::string();
  }();
  return path;
}

bool Topology::haveRoot() { return ::geteuid() == 0 && hasCapabilities() && !ipPath().empty(); }

void skipUnlessRoot() {
  if (Topology::haveRoot()) {
    return;
  }
  const char *why = ipPath().empty() ? "needs iproute2 (ip) for network namespaces; skipped"
                                     : "needs root for network namespaces; skipped";
  std::printf("%s\n", why);
  std::fflush(nullptr);
  std::exit(77);
}

bool waitForFile(const std::string &path, std::chrono::milliseconds timeout) {
  return waitUntil(
      [&] {
        std::error_code ec;
        return fs::exists(path, ec);
      },
      timeout, std::chrono::milliseconds(2));
}

Topology::Topology(const std::string &tag) {
  if (!validName(tag, false, 8)) {
    throw std::runtime_error("topology tag must be 1-8 lowercase letters or digits: \"" + tag + "\"");
  }
  const std::string &ip = requireIp();
  sweepStale(tag);
  base_ = tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(topologyCounter++);
  switchNs_ = base_ + "-switch";
  try {
    createNamespace(switchNs_);
    // No IPv6 addresses on the bridge or its ports: it only switches frames,
    // and stays out of the traffic (no router solicitations, no MLD).
    std::string script =
        "set -ex\n"
        "if [ -d /proc/sys/net/ipv6 ]; then\n"
        "  echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6\n"
        "  echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6\n"
        "fi\n" +
        ip + " link set lo up\n" + ip + " link add br0 type bridge stp_state 0 mcast_snooping 0\n" + ip +
        " link set br0 up\n";
    check({ip, "netns", "exec", switchNs_, "/bin/sh", "-c", script}, "setting up " + switchNs_);
  } catch (...) {
    for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
      removeNamespace(*it);
    }
    throw;
  }
}

Topology::~Topology() {
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    removeNamespace(*it);
  }
}

void Topology::createNamespace(const std::string &ns) {
  check({requireIp(), "netns", "add", ns});
  namespaces_.push_back(ns);
}

void Topology::destroyNamespace(const std::string &ns) noexcept {
  removeNamespace(ns);
  std::erase(namespaces_, ns);
}

const std::string &Topology::addHost(const std::string &name, const std::string &ipv4Cidr,
                                     const std::string &ipv6Cidr) {
  const std::string &ip = requireIp();
  if (!validName(name, true, 32) || name == "switch") {
    throw std::runtime_error("bad host name \"" + name + "\": 1-32 lowercase letters, digits or '-', not \"switch\"");
  }
  for (const auto &h : hosts_) {
    if (h.name == name) {
      throw std::runtime_error("host \"" + name + "\" already in the topology");
    }
  }
  Host h{name, base_ + "-" + name, "", ""};
  std::string v4 = ipv4Cidr.empty() ? "" : canonicalCidr(ipv4Cidr, AF_INET);
  std::string v6 = ipv6Cidr.empty() ? "" : canonicalCidr(ipv6Cidr, AF_INET6);
  h.ipv4 = v4.substr(0, v4.find('/'));
  h.ipv6 = v6.substr(0, v6.find('/'));
  std::string port = "v-" + name;
  if (port.size() > kIfNameMax) {
    port = "v" + std::to_string(hosts_.size());
  }

  createNamespace(h.ns);
  // In the host namespace: the veth pair is born there and its peer moves
  // straight into the switch, so nothing ever appears in our own namespace.
  // DAD off before eth0 exists, so its link-local address is usable at once.
  // No ICMP rate limits (per destination, nor the namespace-wide budget of
  // icmp_msgs_per_sec/burst: an empty ratemask exempts every type), so a
  // hundred closed UDP ports probed at once all read "closed".
  std::string script =
      "set -ex\n"
      "echo 0 > /proc/sys/net/ipv4/icmp_ratelimit\n"
      "echo 0 > /proc/sys/net/ipv4/icmp_ratemask\n"
      "if [ -d /proc/sys/net/ipv6 ]; then\n"
      "  echo 0 > /proc/sys/net/ipv6/icmp/ratelimit\n"
      "  echo > /proc/sys/net/ipv6/icmp/ratemask\n"
      "  echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad\n"
      "fi\n" +
      ip + " link set lo up\n" + ip + " link add eth0 type veth peer name " + port + " netns " + switchNs_ + "\n" +
      ip + " link set eth0 up\n" + (v4.empty() ? "" : ip + " addr add " + v4 + " dev eth0\n") +
      (v6.empty() ? "" : ip + " addr add " + v6 + " dev eth0 nodad\n") + ip + " -n " + switchNs_ + " link set " +
      port + " master br0 up\n";
  try {
    check({ip, "netns", "exec", h.ns, "/bin/sh", "-c", script}, "adding host " + name);
  } catch (...) {
    // The kernel removes the peer with the namespace, but later (netns
    // cleanup is asynchronous); remove it now so the switch is as it was.
    try {
      (void)runCommand({ip, "-n", switchNs_, "link", "del", port});
    } catch (const std::exception &e) {
      std::fprintf(stderr, "netns: cannot delete %s in %s: %s\n", port.c_str(), switchNs_.c_str(), e.what());
    }
    destroyNamespace(h.ns);
    throw;
  }
  hosts_.push_back(std::move(h));
  return hosts_.back().ns;
}

const Topology::Host &Topology::host(const std::string &name) const {
  for (const auto &h : hosts_) {
    if (h.name == name) {
      return h;
    }
  }
  throw std::runtime_error("no host \"" + name + "\" in topology " + base_);
}

const std::string &Topology::ns(const std::string &name) const { return host(name).ns; }
const std::string &Topology::ipv4(const std::string &name) const { return host(name).ipv4; }
const std::string &Topology::ipv6(const std::string &name) const { return host(name).ipv6; }
std::vector<std::string> Topology::namespaces() const { return namespaces_; }

CommandResult Topology::run(const std::string &name, const std::string &command,
                            std::chrono::milliseconds timeout) const {
  return runCommand({requireIp(), "netns", "exec", ns(name), "/bin/sh", "-c", command}, timeout);
}

std::string Topology::exec(const std::string &name, const std::string &command,
                           std::chrono::milliseconds timeout) const {
  CommandResult r = run(name, command, timeout);
  if (r.status != 0) {
    throw std::runtime_error("in " + ns(name) + ": sh -c " + quote(command) + ": exit " + std::to_string(r.status) +
                             ": " + trimmed(r.err));
  }
  return r.out;
}

std::unique_ptr<Child> Topology::spawn(const std::string &name, const std::vector<std::string> &argv,
                                       const std::map<std::string, std::string> &env,
                                       const std::string &logPath) const {
  std::vector<std::string> full{requireIp(), "netns", "exec", ns(name)};
  full.insert(full.end(), argv.begin(), argv.end());
  return std::make_unique<Child>(full, env, logPath);
}

std::map<std::string, std::string> Topology::probe(const std::string &name, const std::vector<std::string> &targets,
                                                   int timeoutMs) const {
  std::vector<std::string> argv{requireIp(), "netns", "exec", ns(name), netprobePath(), "probe", "--json",
                                "--timeout-ms", std::to_string(timeoutMs), "--"};
  argv.insert(argv.end(), targets.begin(), targets.end());
  CommandResult r = runCommand(argv, std::chrono::milliseconds(timeoutMs) + std::chrono::seconds(10));
  if (r.status != 0) {
    throw std::runtime_error("in " + ns(name) + ": " + describe(argv) + ": exit " + std::to_string(r.status) + ": " +
                             trimmed(r.err));
  }
  std::map<std::string, std::string> verdicts;
  try {
    auto object = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
    for (const auto &[target, verdict] : *object) {
      verdicts[target] = verdict.toString();
    }
  } catch (const Poco::Exception &e) {
    throw std::runtime_error("netprobe probe: output is not a JSON object: " + e.displayText() + ": " + r.out);
  }
  return verdicts;
}

}  // namespace dcos::test
