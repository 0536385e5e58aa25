#include "plugins/modules/agent/agent.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "base/file.h"
#include "base/text.h"

extern char **environ;

namespace dcos::agent {

namespace fs = std::filesystem;

// The agent's checkpoints outlive dcosd, not the machine: a crash of the
// machine ends its tasks as well, and the scheduler learns that by
// reconciling. No fsync on the launch path, then (it cost 30 ms a launch).
constexpr Durability kTaskState = Durability::ProcessCrash;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

std::string stringify(const Object::Ptr &o) {
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

std::string errorJson(const std::string &message) { return "{\"message\":" + text::quote(message) + "}"; }

std::string problemsJson(const std::string &message, const std::vector<Problem> &problems) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("message", message);
  Array::Ptr details = new Array;
  for (const auto &p : problems) {
    Object::Ptr d = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    d->set("path", p.path.empty() ? std::string("/") : p.path);
    Array::Ptr errors = new Array;
    errors->add(p.message);
    d->set("errors", errors);
    details->add(d);
  }
  o->set("details", details);
  return stringify(o);
}

int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

using User = TaskUser;

// Whether there is such a user (no group lookup).
bool userExists(const std::string &name) {
  struct passwd pwd {};
  struct passwd *found = nullptr;
  std::vector<char> buf(16384);
  return ::getpwnam_r(name.c_str(), &pwd, buf.data(), buf.size(), &found) == 0 && found != nullptr;
}
// getpwnam_r: the API's workers and the health thread look users up at once,
// and getpwnam's shared buffer would let one lookup answer another's.
// The supervisor is handed what is found here (it loads no NSS module:
// dlopen'd and relocated once per task, they were most of its start).
std::optional<User> lookupUser(const std::string &name) {
  struct passwd pwd {};
  struct passwd *found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwnam_r(name.c_str(), &pwd, buf.data(), buf.size(), &found) != 0 || found == nullptr) return std::nullopt;
  User u{name, found->pw_uid, found->pw_gid, {}};
  int n = 32;
  for (int round = 0; round < 8; ++round) {
    u.groups.resize(static_cast<size_t>(n));
    int want = n;
    if (::getgrouplist(found->pw_name, found->pw_gid, u.groups.data(), &want) >= 0) {
      u.groups.resize(static_cast<size_t>(want));
      return u;
    }
    n = std::max(want, n * 2);
  }
  return std::nullopt;  // more groups than anyone has
}

// The bytes of a file as a JSON string can carry: invalid UTF-8 (binary
// output, a read cut inside a character) becomes U+FFFD.
std::string validUtf8(const std::string &in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    auto c = static_cast<unsigned char>(in[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= in.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(in[i + k]) >> 6) == 0x2;
    if (ok && n == 2 && c < 0xC2) ok = false;  // overlong
    if (ok) {
      out.append(in, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks
// since boot. With the pid, it names one process for good.
unsigned long long startTime(pid_t pid) {
  std::string stat = readFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
    if (i == 22) return std::stoull(field);
  }
  return 0;
}

// The query's keys, each with its last value.
std::map<std::string, std::string> parseQuery(const std::string &query) {
  std::map<std::string, std::string> out;
  for (const auto &[k, v] : text::parseQuery(query)) out[k] = v.back();
  return out;
}

std::string unitName(const std::string &taskId) { return "dcos-task-" + taskId + ".service"; }

// The launch file dcos-task-supervisor reads (NUL-separated keys and values,
// see supervisor.cpp): the task, or what its COMMAND checks run as.
std::string launchFile(const std::vector<std::string> &argv, const std::vector<std::string> &env,
                       const std::string &dir, const std::string &out, const std::string &err, const User &user,
                       const Cgroups::Setup &cgroups) {
  std::string launch;
  auto put = [&](const char *k, const std::string &v) {
    launch += k;
    launch += '\0';
    launch += v;
    launch += '\0';
  };
  for (const auto &a : argv) put("arg", a);
  for (const auto &e : env) put("env", e);
  put("dir", dir);
  put("stdout", out);
  put("stderr", err);
  put("user", user.name);
  put("uid", std::to_string(user.uid));
  put("gid", std::to_string(user.gid));
  std::string groups;
  for (gid_t g : user.groups) groups += (groups.empty() ? "" : ",") + std::to_string(g);
  put("groups", groups);
  for (const auto &c : cgroups.dirs) put("cgroup", c);
  for (const auto &w : cgroups.writes) put(w.required ? "cgroup-limit" : "cgroup-limit-try", w.file + "\n" + w.value);
  return launch;
}

// A launch file an earlier agent wrote names the user only: the ids are
// added (COMMAND checks run through it, and the supervisor looks no one up).
void addIds(const std::string &path, const std::string &name) {
  std::string launch = readFileOrEmpty(path);
  if (launch.empty() || launch.find(std::string("\0uid\0", 5)) != std::string::npos ||
      launch.compare(0, 4, std::string("uid\0", 4)) == 0) {
    return;
  }
  auto user = lookupUser(name);
  if (!user) return;
  std::string groups;
  for (gid_t g : user->groups) groups += (groups.empty() ? "" : ",") + std::to_string(g);
  for (const auto &[k, v] : {std::pair<std::string, std::string>{"uid", std::to_string(user->uid)},
                             {"gid", std::to_string(user->gid)},
                             {"groups", groups}}) {
    launch += k + '\0' + v + '\0';
  }
  (void)writeFileAtomically(path, launch, 0644, kTaskState);
}

// Marathon: 200-399 is healthy (and 1xx when told to ignore it).
bool healthyStatus(int code, const HealthCheck &c) {
  return (code >= 200 && code < 400) || (c.ignoreHttp1xx && code >= 100 && code < 200);
}

// HTTPS as Marathon checks it: a GET of the path over TLS, the task's
// certificate not verified (a task's certificate names its app, not the
// agent's address).
bool httpsProbe(const std::string &address, int port, const HealthCheck &c, int timeoutMs) {
  static std::once_flag once;
  static Poco::Net::Context::Ptr context;
  try {
    std::call_once(once, [] {
      Poco::Net::initializeSSL();
      context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_NONE);
    });
    if (!context) return false;
    Poco::Net::HTTPSClientSession session(address, static_cast<Poco::UInt16>(port), context);
    session.setTimeout(Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(timeoutMs) * 1000));
    // Poco's timeout is per operation: a task trickling a byte at a time
    // would hold the probe for ever. This cuts the connection at the
    // check's own timeout.
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    std::thread watchdog([&] {
      std::unique_lock lock(m);
      if (!cv.wait_for(lock, std::chrono::milliseconds(timeoutMs), [&] { return done; })) session.abort();
    });
    auto finish = [&](bool result) {
      {
        std::lock_guard lock(m);
        done = true;
      }
      cv.notify_all();
      watchdog.join();
      return result;
    };
    try {
      Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, c.path.empty() ? "/" : c.path,
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      request.set("User-Agent", "dcos-health");
      session.sendRequest(request);
      Poco::Net::HTTPResponse response;
      session.receiveResponse(response);
      return finish(healthyStatus(static_cast<int>(response.getStatus()), c));
    } catch (...) {
      return finish(false);
    }
  } catch (const Poco::Exception &) {
    return false;
  } catch (const std::exception &) {
    return false;
  }
}

const char *signalName(int sig) {
  const char *d = ::sigabbrev_np(sig);
  return d != nullptr ? d : "?";
}

}  // namespace

// ---------------------------------------------------------------------------
// Resources

Resources measureResources(const std::string &stateDir, const Resources &reserved) {
  Resources r;
  r.cpus = static_cast<double>(::sysconf(_SC_NPROCESSORS_ONLN));
  std::istringstream mem(readFileOrEmpty("/proc/meminfo"));
  for (std::string key; mem >> key;) {
    long long kib = 0;
    mem >> kib;
    if (key == "MemTotal:") r.mem = static_cast<double>(kib / 1024);
    std::string unit;
    std::getline(mem, unit);
  }
  struct statvfs vfs {};
  if (::statvfs(stateDir.c_str(), &vfs) == 0) {
    r.disk = static_cast<double>(static_cast<unsigned long long>(vfs.f_blocks) * vfs.f_frsize / (1024 * 1024));
  }
  r.cpus = std::max(0.0, r.cpus - reserved.cpus);
  r.mem = std::max(0.0, r.mem - reserved.mem);
  r.disk = std::max(0.0, r.disk - reserved.disk);
  r.ports = {{31000, 32000}};
  return r;
}

std::string portRangesText(const std::vector<PortRange> &ranges) {
  std::string out = "[";
  for (size_t i = 0; i < ranges.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(ranges[i].begin) + "-" + std::to_string(ranges[i].end);
  }
  return out + "]";
}

Result<std::vector<PortRange>> parsePortRanges(const std::string &text) {
  std::vector<PortRange> out;
  std::string s;
  for (char c : text) {
    if (c != '[' && c != ']' && c != ' ') s += c;
  }
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, ',');) {
    size_t dash = part.find('-');
    try {
      int b = std::stoi(part.substr(0, dash));
      int e = dash == std::string::npos ? b : std::stoi(part.substr(dash + 1));
      if (b < 1 || e > 65535 || b > e) throw std::out_of_range("range");
      out.push_back({b, e});
    } catch (...) {
      return makeError("not a port range: " + text::quote(part) + " (expected e.g. \"[31000-32000]\")");
    }
  }
  if (out.empty()) return makeError("no port ranges in " + text::quote(text));
  return out;
}

// ---------------------------------------------------------------------------

Agent::Agent(AgentConfig config) : config_(std::move(config)) {}

Result<std::unique_ptr<Agent>> Agent::open(AgentConfig config) {
  std::unique_ptr<Agent> a(new Agent(std::move(config)));
  std::error_code ec;
  fs::create_directories(a->config_.stateDir + "/tasks", ec);
  if (ec) return makeError("cannot make " + a->config_.stateDir + "/tasks: " + ec.message());
  if (!a->config_.simulate && a->config_.systemd) {
    auto units = systemd::UnitManager::connect();
    if (!units) return makeError("the systemd executor: " + units.error().message);
    a->units_ = std::move(*units);
    a->logMessage(LOG_INFO, "tasks run as transient units dcos-task-<id>.service in dcos-tasks.slice");
  } else if (!a->config_.simulate) {
    a->cgroups_ = Cgroups::detect("dcos-tasks/" + a->config_.id);
    if (!a->cgroups_.guarded()) {
      a->logMessage(LOG_WARNING, "tasks are not kept from the control plane here: they join no cgroup under the v2 "
                                 "hierarchy's dcos-tasks, which the zone firewall matches");
    }
    if (!a->cgroups_.unavailable().empty()) {
      a->logMessage(LOG_WARNING, "task cpu and memory limits cannot be enforced here: " + a->cgroups_.unavailable());
    } else {
      a->logMessage(LOG_INFO, "task limits through cgroup " + a->cgroups_.kind());
    }
  }
  auto updates = StatusUpdates::open(a->config_.stateDir + "/updates");
  if (!updates) return updates.error();
  a->updates_ = std::move(*updates);
  a->wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  // -1 when inotify cannot be had: the monitor then looks for each new
  // task's pid every 1 ms instead.
  a->pidWatchFd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (auto s = a->recover(); !s) return s.error();
  if (a->units_) {
    // Units of tasks this agent does not know (its state dir was wiped):
    // nothing would ever watch or stop them.
    std::lock_guard lock(a->unitsMutex_);
    if (auto names = a->units_->list("dcos-task-*.service")) {
      for (const auto &name : *names) {
        std::string id = name.substr(10, name.size() - 10 - 8);
        auto it = a->tasks_.find(id);
        if (it != a->tasks_.end() && it->second.unit && !isTerminal(it->second.status.state)) continue;
        if (it == a->tasks_.end() || !it->second.unit) {
          a->logMessage(LOG_WARNING, name + " belongs to no task this agent knows: stopping it");
        }
        // Else a task that ended, whose unit dcosd had no time to release.
        (void)a->units_->kill(name, "all", SIGKILL);
        if (!a->units_->release(name)) a->staleUnits_.insert(id);
      }
    }
  }
  // Cgroups of tasks this agent does not know (its state dir was wiped) or
  // that ended: removed when empty, named when something still runs there.
  for (const auto &name : a->cgroups_.tasks()) {
    auto it = a->tasks_.find(name);
    if (it != a->tasks_.end() && !isTerminal(it->second.status.state)) continue;
    if (!a->cgroups_.pids(name).empty()) {
      if (it == a->tasks_.end()) {
        a->logMessage(LOG_WARNING, "the cgroup of task " + name + ", which this agent does not know, has processes: left");
      }
      continue;
    }
    a->cgroups_.remove(name);
  }
  a->monitor_ = std::thread([p = a.get()] { p->monitor(); });
  a->health_ = std::thread([p = a.get()] { p->runHealthChecks(); });
  return a;
}

Agent::~Agent() {
  stop();
  // Ended tasks' cgroups whose last processes were still dying: a last,
  // bounded try, then the agent's own subtree if nothing is left in it.
  for (int round = 0; round < 20 && !staleCgroups_.empty(); ++round) {
    for (auto it = staleCgroups_.begin(); it != staleCgroups_.end();) {
      cgroups_.remove(*it);
      it = cgroups_.exists(*it) ? std::next(it) : staleCgroups_.erase(it);
    }
    if (!staleCgroups_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  cgroups_.removeGroup();
  for (auto &[id, t] : tasks_) {
    if (t.pidfd >= 0) ::close(t.pidfd);
  }
  if (wakeFd_ >= 0) ::close(wakeFd_);
  if (pidWatchFd_ >= 0) ::close(pidWatchFd_);
}

void Agent::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  uint64_t one = 1;
  (void)!::write(wakeFd_, &one, sizeof one);
  if (monitor_.joinable()) monitor_.join();
  if (health_.joinable()) health_.join();
  std::lock_guard lock(spareMutex_);
  for (auto &spare : spares_) dropSpare(spare);
  spares_.clear();
}

void Agent::logMessage(int level, const std::string &m) const {
  if (config_.log) config_.log(level, m);
}

void Agent::onChange(std::function<void()> f) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(f));
}

void Agent::notify() {
  // Called with mutex_ held: the listeners only signal their own threads.
  for (auto &f : listeners_) f();
}

size_t Agent::runningCount() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto &[id, t] : tasks_) n += t.status.state == TaskState::Running ? 1 : 0;
  return n;
}

// Every change of a task's state: checkpointed as an update before anything
// else learns of it.
void Agent::transition(Task &t, TaskState state, const std::string &message, std::optional<int> exitCode,
                       std::optional<int> signal) {
  recordStatus(t, state, message, exitCode, signal);
  saveState(t);
  notify();
}

void Agent::launchStep(Task &t, TaskState state) {
  recordStatus(t, state, "", std::nullopt, std::nullopt);
  notify();
}

void Agent::recordStatus(Task &t, TaskState state, const std::string &message, std::optional<int> exitCode,
                         std::optional<int> signal) {
  TaskStatus s;
  s.taskId = t.spec.id;
  s.state = state;
  s.message = message;
  s.exitCode = exitCode;
  s.signal = signal;
  s.healthy = t.status.healthy;
  s.timestampMs = nowMs();
  if (auto r = updates_->record(s); !r) {
    logMessage(LOG_ERR, "task " + t.spec.id + ": " + r.error().message);
  }
  if (state == TaskState::Running && t.startedAtMs == 0) t.startedAtMs = s.timestampMs;
  t.status = s;
}

void Agent::saveState(const Task &t) const {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("status", Poco::JSON::Parser().parse(statusJson(t.status)));
  o->set("staged_at_ms", static_cast<Poco::Int64>(t.stagedAtMs));
  o->set("started_at_ms", static_cast<Poco::Int64>(t.startedAtMs));
  o->set("supervisor", static_cast<int>(t.supervisor));
  o->set("pid", static_cast<int>(t.pid));
  o->set("supervisor_start", static_cast<Poco::UInt64>(t.supervisorStart));
  o->set("killing", t.killing);
  o->set("executor", std::string(t.unit ? "systemd" : "process"));
  (void)writeFileAtomically(t.dir + "/meta/state.json", stringify(o), 0644, kTaskState);
}

Agent::Reply Agent::launch(const std::string &json) {
  std::vector<Problem> problems;
  auto spec = parseTaskSpec(json, {config_.total.cpus, config_.total.mem, config_.total.disk}, problems);
  if (!spec) {
    if (spec.error().code == 400) return {400, errorJson(spec.error().message)};
    return {422, problemsJson("invalid task", problems)};
  }
  // Ports: in this agent's ranges.
  for (size_t i = 0; i < spec->ports.size(); ++i) {
    int p = spec->ports[i];
    bool inRange = std::any_of(config_.total.ports.begin(), config_.total.ports.end(),
                               [p](const PortRange &r) { return p >= r.begin && p <= r.end; });
    if (!inRange) {
      problems.push_back({"/ports/" + std::to_string(i),
                          "port " + std::to_string(p) + " is outside this agent's ranges " +
                              portRangesText(config_.total.ports)});
    }
  }
  if (spec->user.empty()) spec->user = config_.defaultUser;
  std::optional<User> user;  // looked up once: checked here, handed to the supervisor
  if (!config_.simulate) {
    user = lookupUser(spec->user);
    if (!user) {
      problems.push_back({"/user", "no such user on this agent: " + text::quote(spec->user)});
    } else if (user->uid == 0 && !config_.allowRoot) {
      problems.push_back({"/user", "tasks may not run as root on this cluster (cluster.json: agents.allow_root_tasks)"});
    }
  }
  if (!problems.empty()) return {422, problemsJson("invalid task", problems)};

  std::unique_lock lock(mutex_);
  if (stopping_) return {503, errorJson("the agent is stopping")};
  if (tasks_.count(spec->id) != 0) return {409, errorJson("task " + spec->id + " exists on this agent")};
  for (int p : spec->ports) {
    if (portsInUse_.count(p) != 0) return {409, errorJson("port " + std::to_string(p) + " is in use by another task")};
  }
  auto lacks = [&](const char *what, double asked, double used, double total) -> std::optional<Reply> {
    if (asked > total - used + 1e-9) {
      std::ostringstream m;
      m << "not enough free " << what << ": the task asks for " << asked << ", " << (total - used) << " of " << total
        << " free";
      return Reply{409, errorJson(m.str())};
    }
    return std::nullopt;
  };
  if (auto r = lacks("cpus", spec->cpus, cpusUsed_, config_.total.cpus)) return *r;
  if (auto r = lacks("mem", spec->mem, memUsed_, config_.total.mem)) return *r;
  if (auto r = lacks("disk", spec->disk, diskUsed_, config_.total.disk)) return *r;

  Task t;
  t.spec = *spec;
  t.dir = config_.stateDir + "/tasks/" + spec->id;
  t.stagedAtMs = nowMs();
  t.unit = config_.systemd && units_ != nullptr;
  std::error_code ec;
  fs::remove_all(t.dir, ec);  // a terminal task of the same id, forgotten
  fs::create_directories(t.dir + "/sandbox", ec);
  fs::create_directories(t.dir + "/meta", ec);
  if (ec) return {500, errorJson("cannot make the sandbox " + t.dir + ": " + ec.message())};
  // The task's spec and environment are not the task's to read.
  (void)::chmod((t.dir + "/meta").c_str(), 0700);
  if (!config_.simulate) {
    (void)!::chown((t.dir + "/sandbox").c_str(), user->uid, user->gid);
  }
  if (auto w = writeFileAtomically(t.dir + "/meta/spec.json", taskSpecJson(t.spec), 0644, kTaskState); !w) {
    return {500, errorJson(w.error().message)};
  }
  Task &task = tasks_.emplace(spec->id, std::move(t)).first->second;
  hold(task);
  launchStep(task, TaskState::Staging);
  if (config_.simulate) {
    launchStep(task, TaskState::Starting);
    transition(task, TaskState::Running, "");
  } else {
    launchStep(task, TaskState::Starting);
    // The supervisor starts without the lock: other launches, kills and the
    // monitor go on meanwhile (a task is never erased, so `task` stays).
    lock.unlock();
    auto started = startProcess(task, *user);
    lock.lock();
    if (!started) {
      transition(task, TaskState::Failed, "cannot start the task: " + started.error().message);
      finish(task);
    } else {
      task.supervisor = started->supervisor;
      task.pidfd = started->pidfd;
      task.supervisorStart = started->start;
      task.pid = started->pid;
      // A unit's task may have run and ended before it could be watched.
      if (task.unit && task.pidfd < 0) task.exitPending = true;
      if (task.killing) {
        // Killed while it started: SIGKILL at once if the grace period is
        // over already (the monitor escalates otherwise).
        if (task.killDeadlineMs <= nowMs()) {
          task.sigkilled = signalTask(task, SIGKILL);
        } else {
          (void)signalTask(task, SIGTERM);
        }
        saveState(task);
      } else {
        transition(task, TaskState::Running, "");
      }
    }
  }
  uint64_t one = 1;
  (void)!::write(wakeFd_, &one, sizeof one);
  return {201, taskJson(task)};
}

Result<Agent::Started> Agent::startProcess(const Task &t, const TaskUser &user) const {
  if (t.unit) return startUnit(t, user);
  const std::string sandbox = t.dir + "/sandbox";
  std::vector<std::string> taskArgv = t.spec.args;
  if (taskArgv.empty()) taskArgv = {"/bin/sh", "-c", t.spec.cmd};
  // The supervisor makes the task's cgroups (no cgroupfs work on the
  // launch path) before the task joins them and runs.
  const Cgroups::Setup cgroups = cgroups_.setup(t.spec.id, t.spec.cpus, t.spec.mem);
  // The supervisor starts on this thread's cpu (below), and takes this
  // thread's cpus back from the launch file first thing.
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const bool pin = ::sched_getaffinity(0, sizeof cpus, &cpus) == 0;
  std::string affinity;
  for (int c = 0; pin && c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &cpus)) affinity += (affinity.empty() ? "" : ",") + std::to_string(c);
  }
  // stdout and stderr: in the sandbox, opened as the task's user.
  std::string launch =
      launchFile(taskArgv, taskEnvironment(t.spec, config_.address, sandbox), sandbox, "stdout", "stderr", user, cgroups);
  if (pin) launch += std::string("affinity") + '\0' + affinity + '\0';
  if (auto w = writeFileAtomically(t.dir + "/meta/launch", launch, 0644, kTaskState); !w) return w.error();
  const std::string meta = t.dir + "/meta";
  // Who supervises the task, before it is told to run: a dcosd that dies
  // before the task's state is saved adopts it from this (recover()).
  auto named = [&](pid_t pid, unsigned long long start) {
    return writeFileAtomically(meta + "/supervisor", std::to_string(pid) + " " + std::to_string(start) + "\n", 0644,
                               kTaskState);
  };
  while (auto spare = takeSpare()) {
    // Back to normal priority first: a spare that ran its task's set-up at
    // idle priority could hold the cgroup lock for seconds on a busy node.
    struct sched_param normal {};
    const bool ready = !spare->idle || ::sched_setscheduler(spare->pid, SCHED_OTHER, &normal) == 0;
    // The spare reads the launch file once told where it is (written above).
    const std::string say = meta + "\n";
    if (ready && named(spare->pid, spare->start) &&
        ::send(spare->go, say.data(), say.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(say.size())) {
      ::close(spare->go);
      return Started{spare->pid, spare->pidfd, spare->start, 0};
    }
    if (!ready) {
      // Not allowed to leave idle priority (no CAP_SYS_NICE): spares from
      // now on start at normal priority.
      spareIdle_ = false;
      logMessage(LOG_WARNING, std::string("spare task supervisors at normal priority: sched_setscheduler: ") +
                                  std::strerror(errno));
    }
    dropSpare(*spare);  // it died meanwhile, or could not be used: the next, or one of its own
  }
  std::vector<char *> argv{const_cast<char *>(config_.supervisor.c_str()), const_cast<char *>(meta.c_str()), nullptr};
  char *envp[] = {nullptr};
  pid_t pid = 0;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // none of dcosd's descriptors
  // posix_spawn returns once the supervisor has exec'd (vfork), and exec
  // moves a process to the cpu the scheduler deems idlest, where it waits
  // behind whatever runs there: 8 ms a spawn on a busy two-cpu machine,
  // 0.7 ms when it starts on the cpu this thread leaves free while it waits.
  cpu_set_t here;
  CPU_ZERO(&here);
  const int cpu = pin ? ::sched_getcpu() : -1;
  if (cpu >= 0) CPU_SET(cpu, &here);
  const bool pinned = cpu >= 0 && ::sched_setaffinity(0, sizeof here, &here) == 0;
  int rc = ::posix_spawn(&pid, config_.supervisor.c_str(), &fa, nullptr, argv.data(), envp);
  if (pinned) (void)::sched_setaffinity(0, sizeof cpus, &cpus);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return makeError("starting " + config_.supervisor + ": " + std::strerror(rc), rc);
  Started started;
  started.supervisor = pid;
  started.pidfd = pidfdOpen(pid);
  if (started.pidfd < 0) {
    int e = errno;
    ::kill(pid, SIGKILL);
    (void)::waitpid(pid, nullptr, 0);
    return makeError(std::string("watching the supervisor: pidfd_open: ") + std::strerror(e), e);
  }
  started.start = startTime(pid);
  (void)named(pid, started.start);
  // The task's own pid comes from the supervisor once it has forked it;
  // the launch does not wait for it (the monitor reads it, and a kill
  // meanwhile is sent once it is known).
  return started;
}

bool Agent::wantsSpare() const { return !config_.simulate && !(config_.systemd && units_ != nullptr); }

void Agent::startSpare() {
  if (nowMs() < spareRetryMs_) return;
  {
    std::lock_guard lock(spareMutex_);
    if (spares_.size() >= kSpares) return;
    spareStarting_ = true;
  }
  Spare s;
  std::string failed;
  int sv[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    failed = std::string("socketpair: ") + std::strerror(errno);
  } else {
    std::vector<char *> argv{const_cast<char *>(config_.supervisor.c_str()), const_cast<char *>("--wait"), nullptr};
    char *envp[] = {nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    // At idle priority until it has its task and has set it up: a spare
    // woken by a launch, or started after one, would otherwise take the
    // cpu from the launch's answer (a woken sleeper preempts its waker).
    // The launch that takes it puts it back to normal priority.
    s.idle = spareIdle_;
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    struct sched_param idle {};
    if (s.idle) {
      posix_spawnattr_setschedpolicy(&attr, SCHED_IDLE);
      posix_spawnattr_setschedparam(&attr, &idle);
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSCHEDULER);
    }
    int rc = ::posix_spawn(&s.pid, config_.supervisor.c_str(), &fa, &attr, argv.data(), envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    ::close(sv[1]);
    s.go = sv[0];
    if (rc != 0) {
      s.pid = 0;
      failed = "starting " + config_.supervisor + ": " + std::strerror(rc);
    } else if ((s.pidfd = pidfdOpen(s.pid)) < 0) {
      failed = std::string("watching a spare supervisor: pidfd_open: ") + std::strerror(errno);
    } else {
      s.start = startTime(s.pid);
    }
  }
  if (!failed.empty()) {
    dropSpare(s);
    spareRetryMs_ = nowMs() + 1000;
    logMessage(LOG_WARNING, "no spare task supervisor (launches start their own): " + failed);
  }
  {
    std::lock_guard lock(spareMutex_);
    if (s.pid > 0) spares_.push_back(s);
    spareStarting_ = false;
  }
  spareReady_.notify_all();
}

std::optional<Agent::Spare> Agent::takeSpare() const {
  std::unique_lock lock(spareMutex_);
  // One being started is ready sooner than a supervisor started from here.
  spareReady_.wait(lock, [this] { return !spares_.empty() || !spareStarting_; });
  if (spares_.empty()) return std::nullopt;
  Spare s = spares_.front();
  spares_.pop_front();
  return s;
}

void Agent::pruneSpares() {
  std::vector<Spare> dead;
  {
    std::lock_guard lock(spareMutex_);
    for (auto it = spares_.begin(); it != spares_.end();) {
      pollfd p{it->pidfd, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {  // ended (killed by someone): reaped and replaced
        dead.push_back(*it);
        it = spares_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto &s : dead) dropSpare(s);
}

void Agent::dropSpare(Spare &s) {
  if (s.go >= 0) ::close(s.go);  // EOF: a spare that was told nothing exits
  if (s.pid > 0) {
    ::kill(s.pid, SIGKILL);
    while (::waitpid(s.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (s.pidfd >= 0) ::close(s.pidfd);
  s = Spare{};
}

// The systemd executor: the task is dcos-task-<id>.service, in
// dcos-tasks.slice, as its user, in its sandbox, limited by CPUQuota,
// CPUWeight and MemoryMax, with no capabilities and NoNewPrivileges.
Result<Agent::Started> Agent::startUnit(const Task &t, const TaskUser &user) const {
  const std::string sandbox = t.dir + "/sandbox";
  const std::string name = unitName(t.spec.id);
  std::vector<std::string> env = taskEnvironment(t.spec, config_.address, sandbox);
  systemd::ServiceSpec spec;
  if (!t.spec.args.empty()) {
    // As the process executor runs args: execvp with the task's PATH, a
    // relative program found from the sandbox. The shell is gone at exec.
    spec.argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\""};
    spec.argv.insert(spec.argv.end(), t.spec.args.begin(), t.spec.args.end());
  } else {
    spec.argv = {"/bin/sh", "-c", t.spec.cmd};
  }
  // The launch file as the process executor writes it: COMMAND health
  // checks run through the supervisor, as the task would.
  const std::string launch = launchFile(spec.argv, env, sandbox, "/dev/null", "/dev/null", user, {});
  if (auto w = writeFileAtomically(t.dir + "/meta/launch", launch, 0644, kTaskState); !w) return w.error();
  // The output files, opened here and handed to PID 1 as descriptors: PID 1
  // opening a path in a sandbox the task's user owns would follow a link
  // that user planted, as root.
  int dir = ::open(sandbox.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return makeError("cannot open " + sandbox + ": " + std::strerror(errno), errno);
  int out[2] = {-1, -1};
  std::string openError;
  for (int k = 0; k < 2; ++k) {
    const char *f = k == 0 ? "stdout" : "stderr";
    // The sandbox is new: a file there already was planted.
    out[k] = ::openat(dir, f, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                      0644);
    struct stat st {};
    if (out[k] < 0 || ::fstat(out[k], &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
      openError = "cannot open " + sandbox + "/" + f + " as a plain file of its own";
      break;
    }
    // Opened without blocking (no FIFO can hold us); the task gets it plain.
    (void)::fcntl(out[k], F_SETFL, ::fcntl(out[k], F_GETFL) & ~O_NONBLOCK);
    (void)!::fchown(out[k], user.uid, user.gid);
  }
  ::close(dir);
  auto closeOut = [&] {
    for (int &fd : out) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  };
  if (!openError.empty()) {
    closeOut();
    return makeError(openError);
  }
  spec.description = "dcos task " + t.spec.id;
  spec.workingDirectory = sandbox;
  spec.environment = env;
  spec.user = t.spec.user;
  spec.runOnce = true;
  spec.slice = "dcos-tasks.slice";
  // At least 1 ms: TimeoutStopSec=0 is no timeout at all to systemd.
  spec.stopTimeout = std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(t.spec.killGracePeriodSeconds * 1000)));
  // A limit of 0 is no limit, as with the process executor.
  if (t.spec.cpus > 0) {
    spec.cpuQuotaPerSecUsec = static_cast<uint64_t>(std::max<long long>(1000, std::llround(t.spec.cpus * 1e6)));
    // CPUWeight's default, 100, is one cpu's share.
    spec.cpuWeight = static_cast<uint64_t>(std::clamp<long long>(std::llround(t.spec.cpus * 100), 1, 10000));
  }
  if (t.spec.mem > 0) spec.memoryMaxBytes = static_cast<uint64_t>(std::llround(t.spec.mem * 1024 * 1024));
  spec.stdoutFd = out[0];
  spec.stderrFd = out[1];
  spec.noCapabilities = true;
  spec.delegate = true;  // COMMAND checks are moved into it

  {
    std::lock_guard lock(unitsMutex_);
    // Left by a task of the same id that this agent forgot: not ours to
    // keep, and gone before a unit of that name can start again.
    for (int round = 0; round < 100; ++round) {
      auto s = units_->state(name);
      if (!s || !s->loaded) break;
      (void)units_->kill(name, "all", SIGKILL);
      (void)units_->release(name);
      ::usleep(20000);
    }
    auto started = units_->startService(name, spec);
    closeOut();
    if (!started) return started.error();
  }
  // Type=exec: the start job ends once the task has exec'd, or failed to.
  // PID 1 is asked again and again (a few cheap properties, every 1 ms at
  // most), the lock free between the questions.
  Started started;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  useconds_t pause = 250;
  for (;;) {
    Result<systemd::UnitState> s = makeError("");
    {
      std::lock_guard lock(unitsMutex_);
      s = units_->brief(name);
    }
    if (s && (s->execMainCode != 0 || s->activeState == "failed" || !s->loaded)) {
      if (!s->loaded) return makeError(name + " is gone before it ran");
      return started;  // ended already; pid 0, no pidfd: the monitor reads how
    }
    if (s && s->activeState == "active" && s->mainPid > 0) {
      started.supervisor = s->mainPid;
      started.pid = s->mainPid;
      started.start = startTime(s->mainPid);
      started.pidfd = pidfdOpen(s->mainPid);  // -1 if it ended since: the monitor asks PID 1
      return started;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::lock_guard lock(unitsMutex_);
      (void)units_->kill(name, "all", SIGKILL);
      (void)units_->release(name);
      return makeError(s ? name + " still " + s->activeState + "/" + s->subState + " after 10 s"
                         : "asking PID 1 about " + name + ": " + s.error().message);
    }
    ::usleep(pause);
    pause = std::min<useconds_t>(pause * 2, 1000);
  }
}

bool Agent::unitExit(Task &t, std::string &exit, bool &oom) {
  std::lock_guard lock(unitsMutex_);
  if (!units_) {
    exit = "failed the systemd executor is not in use: cannot learn how " + unitName(t.spec.id) + " ended";
    return true;
  }
  auto s = units_->state(unitName(t.spec.id));
  if (!s) return false;  // PID 1 could not be asked: again later
  exit.clear();
  if (!s->loaded) return true;
  const std::string &a = s->activeState;
  if (s->execMainCode == 0 && (a == "active" || a == "activating" || a == "deactivating" || a == "reloading")) {
    // Still running, or PID 1 has not caught up. A main process not watched
    // yet (its pidfd could not be had) is watched from now on.
    if (t.pidfd < 0 && s->mainPid > 0 && (t.pid == 0 || t.pid == s->mainPid)) {
      int fd = pidfdOpen(s->mainPid);
      if (fd >= 0) {
        if (t.pid != s->mainPid) t.supervisorStart = startTime(s->mainPid);
        t.pid = t.supervisor = s->mainPid;
        t.pidfd = fd;
      }
    }
    return false;
  }
  oom = s->result == "oom-kill";
  if (s->execMainCode == 1) {
    exit = "exited " + std::to_string(s->execMainStatus);
  } else if (s->execMainCode == 2 || s->execMainCode == 3) {
    exit = "signaled " + std::to_string(s->execMainStatus);
  } else {
    exit = "failed " + unitName(t.spec.id) + " is " + s->activeState + " (" + s->result + ")";
  }
  return true;
}

void Agent::unwatchPid(Task &t) {
  if (t.pidWatch >= 0) (void)::inotify_rm_watch(pidWatchFd_, t.pidWatch);
  t.pidWatch = -1;
}

bool Agent::signalTask(Task &t, int sig) {
  if (t.unit) {
    std::lock_guard lock(unitsMutex_);
    if (!units_) return false;
    if (auto k = units_->kill(unitName(t.spec.id), "all", sig); !k) {
      logMessage(LOG_WARNING, "task " + t.spec.id + ": " + k.error().message);
      return false;
    }
    return true;
  }
  if (t.pid <= 0) return false;
  // The task's group, or the task alone when it has not made its group yet
  // (between the supervisor's fork and the task's setsid).
  return ::kill(-t.pid, sig) == 0 || ::kill(t.pid, sig) == 0;
}

bool Agent::releaseUnit(const std::string &id) {
  std::lock_guard lock(unitsMutex_);
  if (!units_) return true;
  // Stragglers the main process left in the unit's cgroup go at once, as
  // the process executor's do; then PID 1 forgets the unit.
  // Done once PID 1 has forgotten it: a unit stopped with its main process
  // still alive ends up failed, and is reset on the next try.
  const std::string name = unitName(id);
  (void)units_->kill(name, "all", SIGKILL);
  if (auto r = units_->release(name); !r) {
    logMessage(LOG_WARNING, "task " + id + ": " + r.error().message + " (tried again later)");
    return false;
  }
  auto s = units_->state(name);
  return s && !s->loaded;
}

void Agent::hold(Task &t) {
  if (t.holds) return;
  t.holds = true;
  cpusUsed_ += t.spec.cpus;
  memUsed_ += t.spec.mem;
  diskUsed_ += t.spec.disk;
  for (int p : t.spec.ports) portsInUse_.insert(p);
}

void Agent::release(Task &t) {
  if (!t.holds) return;
  t.holds = false;
  cpusUsed_ -= t.spec.cpus;
  memUsed_ -= t.spec.mem;
  diskUsed_ -= t.spec.disk;
  for (int p : t.spec.ports) portsInUse_.erase(p);
}

// The supervisor is gone: how the task ended, from what it wrote.
void Agent::finish(Task &t) {
  std::string unitEnd;
  bool unitOom = false;
  if (t.unit && !isTerminal(t.status.state)) {
    if (!unitExit(t, unitEnd, unitOom)) {
      // PID 1 has not caught up: the monitor asks again (or watches the
      // main process it found).
      t.exitPending = t.pidfd < 0;
      return;
    }
  }
  t.exitPending = false;
  unwatchPid(t);
  if (t.pidfd >= 0) {
    ::close(t.pidfd);
    t.pidfd = -1;
  }
  if (t.supervisor > 0 && !t.unit) (void)::waitpid(t.supervisor, nullptr, WNOHANG);  // ours to reap, or init's
  if (!isTerminal(t.status.state)) {
    std::string exit = t.unit ? unitEnd : readFileOrEmpty(t.dir + "/meta/exit");
    while (!exit.empty() && exit.back() == '\n') exit.pop_back();
    bool oom = t.unit ? unitOom : cgroups_.oomKilled(t.spec.id);
    if (t.unit && exit.empty()) {
      transition(t, TaskState::Gone,
                 unitName(t.spec.id) + " is gone (the machine restarted, or the unit was reset): how it ended is unknown");
    } else if (text::startsWith(exit, "exited ")) {
      int code = std::atoi(exit.c_str() + 7);
      // systemd's own codes for what failed before the exec (a task that
      // exits with one of them itself is rare, and its code is kept).
      const std::string why = t.unit && code >= 200 && code <= 243
                                  ? " (if it never ran: systemd's code for a failed start, systemd.exec(5))"
                                  : "";
      if (t.killing) {
        transition(t, TaskState::Killed, "killed; exited with status " + std::to_string(code), code);
      } else if (code == 0) {
        transition(t, TaskState::Finished, "exited with status 0", 0);
      } else if (oom) {
        // A shell between us and the process the kernel killed exits 128 + 9.
        std::ostringstream mem;
        mem << t.spec.mem;
        transition(t, TaskState::Failed, "memory limit exceeded: killed by the kernel over its " + mem.str() + " MiB", code);
      } else {
        transition(t, TaskState::Failed, "exited with status " + std::to_string(code) + why, code);
      }
    } else if (text::startsWith(exit, "signaled ")) {
      int sig = std::atoi(exit.c_str() + 9);
      std::ostringstream mem;
      mem << t.spec.mem;
      if (oom && !t.killing) {
        transition(t, TaskState::Failed, "memory limit exceeded: killed by the kernel over its " + mem.str() + " MiB",
                   std::nullopt, sig);
      } else if (t.killing) {
        transition(t, TaskState::Killed, std::string("killed by signal ") + std::to_string(sig) + " (SIG" +
                                             signalName(sig) + ")",
                   std::nullopt, sig);
      } else {
        transition(t, TaskState::Failed, std::string("killed by signal ") + std::to_string(sig) + " (SIG" +
                                             signalName(sig) + ")",
                   std::nullopt, sig);
      }
    } else if (text::startsWith(exit, "failed ")) {
      transition(t, TaskState::Failed, "cannot start the task: " + exit.substr(7));
    } else {
      transition(t, TaskState::Failed, "the task's supervisor ended without saying how the task did");
    }
  }
  if (t.unit && !releaseUnit(t.spec.id)) staleUnits_.insert(t.spec.id);
  if (cgroups_.kind() != "none" && !t.unit) {
    cgroups_.killAll(t.spec.id);
    cgroups_.remove(t.spec.id);
    // A process just killed may not be gone yet; the monitor tries again.
    if (!cgroups_.pids(t.spec.id).empty() || cgroups_.exists(t.spec.id)) staleCgroups_.insert(t.spec.id);
  }
  release(t);
  t.supervisor = 0;
  saveState(t);
  notify();
}

namespace {

constexpr size_t kBatchMax = 1000;  // tasks per batch call

// One entry of a batch's answer: the id, the status its own call would have
// answered, and that answer's message and details when it is an error.
Object::Ptr batchResult(const std::string &id, const Agent::Reply &r) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", id);
  o->set("status", r.status);
  if (r.status >= 300) {
    try {
      auto body = Poco::JSON::Parser().parse(r.body).extract<Object::Ptr>();
      if (body->has("message")) o->set("message", body->get("message"));
      if (body->has("details")) o->set("details", body->get("details"));
    } catch (const Poco::Exception &) {
    }
  }
  return o;
}

// The array under `key` of a batch's body, or the answer that refuses it.
Result<Array::Ptr> batchOf(const std::string &json, const char *key) {
  Object::Ptr o;
  try {
    o = Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
  } catch (const Poco::Exception &e) {
    return makeError("malformed JSON: " + e.message(), 400);
  } catch (const std::exception &) {
    return makeError("not a JSON object", 400);
  }
  if (!o || !o->has(key) || !o->isArray(key)) return makeError(std::string("/") + key + ": an array is required", 422);
  auto a = o->getArray(key);
  if (a->size() > kBatchMax) {
    return makeError(std::string("/") + key + ": at most " + std::to_string(kBatchMax) + " in one call", 422);
  }
  return a;
}

Agent::Reply batchRefused(const Error &e) {
  return {e.code == 400 ? 400 : 422, errorJson(e.message)};
}

// The answer of a batch: each entry's (id, reply), in order.
template <class Each>
Agent::Reply batchAnswer(const Array::Ptr &entries, Each each) {
  Array::Ptr results = new Array;
  for (size_t i = 0; i < entries->size(); ++i) {
    auto [id, r] = each(i, entries->get(static_cast<unsigned>(i)));
    results->add(batchResult(id, r));
  }
  Object::Ptr o = new Object;
  o->set("results", results);
  return {200, stringify(o)};
}

}  // namespace

Agent::Reply Agent::launchAll(const std::string &json) {
  auto tasks = batchOf(json, "tasks");
  if (!tasks) return batchRefused(tasks.error());
  return batchAnswer(*tasks, [this](size_t i, const Poco::Dynamic::Var &v) {
    std::string id;
    Reply r{422, errorJson("/tasks/" + std::to_string(i) + ": a task object is required")};
    if (v.type() == typeid(Object::Ptr)) {
      auto task = v.extract<Object::Ptr>();
      if (task->has("id") && task->get("id").isString()) id = task->get("id").toString();
      r = launch(stringify(task));
    }
    return std::make_pair(id, r);
  });
}

Agent::Reply Agent::killAll(const std::string &json) {
  auto ids = batchOf(json, "ids");
  if (!ids) return batchRefused(ids.error());
  return batchAnswer(*ids, [this](size_t, const Poco::Dynamic::Var &v) {
    std::string id = v.isString() ? v.toString() : "";
    Reply r = isTaskId(id) ? kill(id) : Reply{404, errorJson("no task " + text::quote(id) + " on this agent")};
    return std::make_pair(id, r);
  });
}

Agent::Reply Agent::kill(const std::string &taskId) {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find(taskId);
  if (it == tasks_.end()) return {404, errorJson("no task " + taskId + " on this agent")};
  Task &t = it->second;
  if (isTerminal(t.status.state)) return {200, taskJson(t)};
  if (!t.killing) {
    t.killing = true;
    t.killDeadlineMs = nowMs() + static_cast<int64_t>(t.spec.killGracePeriodSeconds * 1000);
    transition(t, TaskState::Killing, "");
    if (config_.simulate) {
      transition(t, TaskState::Killed, "killed");
      release(t);
      saveState(t);
      notify();
    } else if (t.unit || t.pid > 0) {
      signalTask(t, SIGTERM);
    }
    uint64_t one = 1;
    (void)!::write(wakeFd_, &one, sizeof one);
  }
  return {202, taskJson(t)};
}

// The monitor's poll set: the wake eventfd, the pid watches, then the
// watched tasks' pidfds.
constexpr size_t kFirstTask = 2;

void Agent::monitor() {
  std::vector<pollfd> fds;
  std::vector<std::string> ids;
  for (;;) {
    // Before the next launch needs one (the one that took one woke us).
    if (wantsSpare()) {
      pruneSpares();
      for (size_t k = 0; k < kSpares; ++k) startSpare();
    }
    int64_t nextDeadline = -1;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      fds.assign({pollfd{wakeFd_, POLLIN, 0}, pollfd{pidWatchFd_, POLLIN, 0}});
      ids.assign(kFirstTask, "");
      int64_t now = nowMs();
      for (auto &[id, t] : tasks_) {
        if (t.pidfd >= 0 && !isTerminal(t.status.state)) {
          fds.push_back(pollfd{t.pidfd, POLLIN, 0});
          ids.push_back(id);
        }
        if (t.exitPending && !isTerminal(t.status.state) && (nextDeadline < 0 || nextDeadline > now + 20)) {
          nextDeadline = now + 20;
        }
        if (!t.unit && t.supervisor > 0 && t.pid == 0 && !isTerminal(t.status.state)) {
          // The task's pid, as its supervisor wrote it after the exec (a
          // rename into meta/, which the watch wakes us for; the watch
          // first, then the read, so a rename in between is not missed).
          // Not saved in the task's state: recovery reads meta/pids too.
          if (t.pidWatch < 0 && pidWatchFd_ >= 0) {
            t.pidWatch = ::inotify_add_watch(pidWatchFd_, (t.dir + "/meta").c_str(), IN_MOVED_TO | IN_ONLYDIR);
          }
          std::istringstream pids(readFileOrEmpty(t.dir + "/meta/pids"));
          pid_t sup = 0, task = 0;
          if (pids >> sup >> task && task > 0) {
            t.pid = task;
            unwatchPid(t);
            if (t.killing) (void)signalTask(t, t.sigkilled ? SIGKILL : SIGTERM);  // killed before it was known
          } else if (t.pidWatch < 0 && (nextDeadline < 0 || nextDeadline > now + 1)) {
            nextDeadline = now + 1;
          }
        }
        if (t.killing && !t.sigkilled && !isTerminal(t.status.state)) {
          if (t.killDeadlineMs <= now && (t.supervisor > 0 || t.unit)) {
            // The grace period is over: the whole tree goes.
            // Marked done only once sent: a unit still starting is tried
            // again on the next pass.
            t.sigkilled = signalTask(t, SIGKILL) || !t.unit;
            if (!t.sigkilled) nextDeadline = now + 50;
            if (cgroups_.kind() != "none" && !t.unit) cgroups_.killAll(t.spec.id);
          } else if (t.killDeadlineMs <= now) {
            nextDeadline = now + 50;  // still starting: once it has a supervisor
          } else if (nextDeadline < 0 || t.killDeadlineMs < nextDeadline) {
            nextDeadline = t.killDeadlineMs;
          }
        }
      }
    }
    {
      std::lock_guard lock(mutex_);
      for (auto it = staleCgroups_.begin(); it != staleCgroups_.end();) {
        cgroups_.remove(*it);
        it = cgroups_.exists(*it) ? std::next(it) : staleCgroups_.erase(it);
      }
      if (!staleCgroups_.empty() && (nextDeadline < 0 || nextDeadline > nowMs() + 100)) nextDeadline = nowMs() + 100;
      if (!staleUnits_.empty() && nowMs() >= staleUnitsRetryMs_) {
        for (auto it = staleUnits_.begin(); it != staleUnits_.end();) {
          it = releaseUnit(*it) ? staleUnits_.erase(it) : std::next(it);
        }
        staleUnitsRetryMs_ = nowMs() + 500;
      }
      if (!staleUnits_.empty() && (nextDeadline < 0 || nextDeadline > staleUnitsRetryMs_)) {
        nextDeadline = staleUnitsRetryMs_;
      }
    }
    int timeout = nextDeadline < 0 ? 1000 : static_cast<int>(std::max<int64_t>(0, nextDeadline - nowMs()) + 1);
    int n = ::poll(fds.data(), fds.size(), std::min(timeout, 1000));
    if (n < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) {
      uint64_t v;
      (void)!::read(wakeFd_, &v, sizeof v);
    }
    if (fds[1].revents != 0) {
      // Some task's meta/ had a file renamed into it: the next pass reads
      // the pids still missing.
      alignas(inotify_event) char buf[4096];
      while (::read(pidWatchFd_, buf, sizeof buf) > 0) {
      }
    }
    std::lock_guard lock(mutex_);
    for (size_t i = kFirstTask; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto it = tasks_.find(ids[i]);
      if (it == tasks_.end() || isTerminal(it->second.status.state)) continue;
      Task &t = it->second;
      if (t.unit) {
        // The unit's main process is gone; PID 1 says how it ended.
        ::close(t.pidfd);
        t.pidfd = -1;
        t.exitPending = true;
      } else {
        finish(t);
      }
    }
    for (auto &[id, t] : tasks_) {
      if (t.exitPending && !isTerminal(t.status.state)) finish(t);
    }
  }
}

// A TCP connect (and for HTTP and HTTPS a request) to the task's port on this node.
bool Agent::probe(const Task &t, const HealthCheck &c) const {
  int timeoutMs = static_cast<int>(c.timeoutSeconds * 1000);
  if (c.protocol == "COMMAND") {
    // Through the supervisor, which becomes the check as the task runs: its
    // user, cgroups and environment. Nothing that environment reaches
    // (LD_PRELOAD, PATH) runs as root.
    // A unit's check joins the task's unit first (its cgroup: its limits,
    // the firewall's guard, and its end with the task): it holds until
    // told to go.
    if (!userExists(t.spec.user)) return false;
    std::string meta = t.dir + "/meta";
    std::vector<char *> argv{const_cast<char *>(config_.supervisor.c_str()), const_cast<char *>("--check"),
                             meta.data(), const_cast<char *>(c.command.c_str())};
    if (t.unit) argv.push_back(const_cast<char *>("--hold"));
    argv.push_back(nullptr);
    char *envp[] = {nullptr};
    int go[2] = {-1, -1};
    if (t.unit && ::pipe2(go, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (t.unit) posix_spawn_file_actions_adddup2(&fa, go[0], 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, config_.supervisor.c_str(), &fa, nullptr, argv.data(), envp);
    posix_spawn_file_actions_destroy(&fa);
    if (t.unit) ::close(go[0]);
    if (rc != 0) {
      if (t.unit) ::close(go[1]);
      return false;
    }
    if (t.unit) {
      Status attached = makeError("the systemd executor is not in use");
      {
        std::lock_guard lock(unitsMutex_);
        if (units_) attached = units_->attach(unitName(t.spec.id), pid);
      }
      if (attached) (void)!::write(go[1], "g", 1);  // else EOF: it exits 126 without running anything
      ::close(go[1]);
      if (!attached) logMessage(LOG_WARNING, "task " + t.spec.id + ": COMMAND check not run: " + attached.error().message);
    }
    int pfd = pidfdOpen(pid);
    pollfd p{pfd, POLLIN, 0};
    bool done = pfd >= 0 && ::poll(&p, 1, timeoutMs) > 0;
    if (!done) {
      ::kill(-pid, SIGKILL);  // the check and whatever it started: its own session
      ::kill(pid, SIGKILL);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (pfd >= 0) ::close(pfd);
    return done && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  int port = c.port ? *c.port : (c.portIndex < static_cast<int>(t.spec.ports.size()) ? t.spec.ports[c.portIndex] : 0);
  if (port == 0) return false;
  if (c.protocol == "HTTPS" || c.protocol == "MESOS_HTTPS") return httpsProbe(config_.address, port, c, timeoutMs);
  int fd = ::socket(config_.address.find(':') != std::string::npos ? AF_INET6 : AF_INET,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (config_.address.find(':') != std::string::npos) {
    auto *a = reinterpret_cast<sockaddr_in6 *>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET6, config_.address.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto *a = reinterpret_cast<sockaddr_in *>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, config_.address.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  auto left = [&] {
    return static_cast<int>(std::max<long long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count()));
  };
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr *>(&ss), len) == 0 || errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t elen = sizeof err;
    if (::poll(&p, 1, left()) > 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0) {
      ok = true;
      bool http = c.protocol == "HTTP" || c.protocol == "MESOS_HTTP";
      if (http) {
        std::string req = "GET " + (c.path.empty() ? std::string("/") : c.path) + " HTTP/1.1\r\nHost: " +
                          config_.address + "\r\nConnection: close\r\nUser-Agent: dcos-health\r\n\r\n";
        ok = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
        std::string got;
        while (ok && got.find("\r\n") == std::string::npos) {
          pollfd r{fd, POLLIN, 0};
          if (::poll(&r, 1, left()) <= 0) {
            ok = false;
            break;
          }
          char buf[512];
          ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) {
            ok = false;
            break;
          }
          got.append(buf, static_cast<size_t>(n));
        }
        if (ok) ok = healthyStatus(got.size() > 12 ? std::atoi(got.c_str() + 9) : 0, c);
      }
    }
  }
  ::close(fd);
  return ok;
}

// Each due check runs on a thread of its own (at most kMaxChecks at once),
// so a slow one (a COMMAND with a long timeout) holds back no other task's.
void Agent::runHealthChecks() {
  constexpr int kMaxChecks = 32;
  for (;;) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; });
    if (stopping_) {
      // Probes end within their timeouts; the agent outlives them all.
      wake_.wait(lock, [&] { return checksRunning_ == 0; });
      return;
    }
    int64_t now = nowMs();
    for (auto &[id, t] : tasks_) {
      if (config_.simulate || t.status.state != TaskState::Running || t.spec.healthChecks.empty() || t.killing) continue;
      if (t.checking || checksRunning_ >= kMaxChecks) continue;
      if (t.nextCheckMs == 0) t.nextCheckMs = t.startedAtMs;
      if (now < t.nextCheckMs) continue;
      t.nextCheckMs = now + static_cast<int64_t>(t.spec.healthChecks[0].intervalSeconds * 1000);
      t.checking = true;
      ++checksRunning_;
      Task copy;
      copy.spec = t.spec;
      copy.dir = t.dir;
      copy.unit = t.unit;
      std::thread([this, taskId = id, copy = std::move(copy)] {
        const HealthCheck &c = copy.spec.healthChecks[0];
        bool ok = probe(copy, c);
        std::lock_guard done(mutex_);
        --checksRunning_;
        wake_.notify_all();
        auto it = tasks_.find(taskId);
        if (it == tasks_.end()) return;
        it->second.checking = false;
        if (it->second.status.state == TaskState::Running && !it->second.killing && !stopping_) {
          healthResult(it->second, c, ok);
        }
      }).detach();
    }
  }
}

void Agent::healthResult(Task &t, const HealthCheck &c, bool ok) {
  bool inGrace = nowMs() - t.startedAtMs < static_cast<int64_t>(c.gracePeriodSeconds * 1000);
  if (ok) {
    t.failures = 0;
    t.checkedOnce = true;
    if (t.status.healthy != std::optional<bool>(true)) {
      t.status.healthy = true;
      transition(t, TaskState::Running, "health check passed");
    }
  } else if (!inGrace || t.checkedOnce) {
    ++t.failures;
    // The scheduler acts on it: one update when the limit is reached (the
    // first failure's too, when the limit is 1).
    const bool limit = c.maxConsecutiveFailures > 0 && t.failures == c.maxConsecutiveFailures;
    if (t.status.healthy != std::optional<bool>(false) || limit) {
      t.status.healthy = false;
      std::string m = c.protocol + " health check failed " + std::to_string(t.failures) + " time" +
                      (t.failures == 1 ? "" : "s");
      if (limit) m += " in a row (maxConsecutiveFailures " + std::to_string(c.maxConsecutiveFailures) + ")";
      transition(t, TaskState::Running, m);
    }
  }
}

Status Agent::recover() {
  std::error_code ec;
  size_t adopted = 0, ended = 0;
  for (const auto &e : fs::directory_iterator(config_.stateDir + "/tasks", ec)) {
    std::string dir = e.path().string();
    std::vector<Problem> problems;
    auto spec = parseTaskSpec(readFileOrEmpty(dir + "/meta/spec.json"), {}, problems);
    if (!spec) continue;
    Task t;
    t.spec = *spec;
    t.dir = dir;
    try {
      auto o = Poco::JSON::Parser().parse(readFileOrEmpty(dir + "/meta/state.json")).extract<Object::Ptr>();
      std::ostringstream s;
      o->getObject("status")->stringify(s);
      if (auto st = parseStatus(s.str())) t.status = *st;
      t.stagedAtMs = o->optValue<Poco::Int64>("staged_at_ms", 0);
      t.startedAtMs = o->optValue<Poco::Int64>("started_at_ms", 0);
      t.supervisor = o->optValue<int>("supervisor", 0);
      t.pid = o->optValue<int>("pid", 0);
      t.supervisorStart = o->optValue<Poco::UInt64>("supervisor_start", 0);
      t.killing = o->optValue<bool>("killing", false);
      t.unit = o->optValue<std::string>("executor", "process") == "systemd";
    } catch (const Poco::Exception &) {
      t.status.taskId = t.spec.id;
      t.status.state = TaskState::Staging;
    }
    if (t.supervisor == 0 && !t.unit) {
      // Started, and dcosd gone before it saved the task's state: the
      // supervisor it named before the task was handed over.
      std::istringstream named(readFileOrEmpty(dir + "/meta/supervisor"));
      pid_t sup = 0;
      unsigned long long start = 0;
      if (named >> sup >> start && sup > 0) {
        t.supervisor = sup;
        t.supervisorStart = start;
      }
    }
    if (t.pid == 0) {
      std::istringstream pids(readFileOrEmpty(dir + "/meta/pids"));
      pid_t sup = 0;
      pids >> sup >> t.pid;
    }
    if (!isTerminal(t.status.state) && !config_.simulate) addIds(dir + "/meta/launch", t.spec.user);
    std::string id = t.spec.id;
    Task &task = tasks_.emplace(id, std::move(t)).first->second;
    if (isTerminal(task.status.state)) {
      task.supervisor = 0;
      continue;
    }
    hold(task);
    if (task.killing) task.killDeadlineMs = nowMs() + static_cast<int64_t>(task.spec.killGracePeriodSeconds * 1000);
    if (config_.simulate) {
      ++adopted;
      if (task.status.state != TaskState::Running && !task.killing) transition(task, TaskState::Running, "");
      continue;
    }
    if (task.unit && !units_ && systemd::systemdIsInit()) {
      // Launched by the systemd executor before a switch to the process one.
      if (auto units = systemd::UnitManager::connect()) units_ = std::move(*units);
    }
    if (task.unit && units_) {
      // Still ours: PID 1 runs its unit, whose main process is the one we
      // knew (same pid, same start time).
      // Its unit runs, whatever we knew of its pid: dcosd may have died
      // before it learned it. The unit is the task.
      std::lock_guard unitsLock(unitsMutex_);
      auto s = units_->state(unitName(task.spec.id));
      if (!s) {
        task.exitPending = true;  // PID 1 could not be asked: the monitor asks again
      } else if (s->loaded && s->execMainCode == 0 && s->mainPid > 0) {
        int fd = pidfdOpen(s->mainPid);
        if (fd >= 0) {
          if (s->mainPid != task.pid || task.supervisorStart == 0) task.supervisorStart = startTime(s->mainPid);
          task.pid = task.supervisor = s->mainPid;
          task.pidfd = fd;
        }
      }
    } else if (task.supervisor > 0 && task.supervisorStart != 0 && !task.unit) {
      // Still ours: the same pid, started at the same time.
      // The pidfd first, then the check: a pid reused in between is caught.
      // The exit file is the supervisor's last word: once it is there, the
      // task has ended, whether the supervisor has yet or not.
      int fd = pidfdOpen(task.supervisor);
      pollfd exited{fd, POLLIN, 0};
      if (fd >= 0 && startTime(task.supervisor) == task.supervisorStart && ::poll(&exited, 1, 0) == 0 &&
          !fs::exists(dir + "/meta/exit")) {
        task.pidfd = fd;  // still running: adopted
      } else if (fd >= 0) {
        ::close(fd);  // gone, or a zombie of ours that ended while no one watched
      }
    }
    if (task.pidfd >= 0 || task.exitPending) {
      ++adopted;
      if (task.status.state != TaskState::Running && !task.killing) transition(task, TaskState::Running, "");
      if (task.unit) saveState(task);
    } else {
      ++ended;
      finish(task);
    }
  }
  if (adopted + ended > 0) {
    logMessage(LOG_NOTICE, "recovered " + std::to_string(adopted) + " running task" + (adopted == 1 ? "" : "s") +
                               "; " + std::to_string(ended) + " ended while dcosd was away");
  }
  return Status::Ok();
}

std::string Agent::taskJson(const Task &t) const {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", t.spec.id);
  o->set("agent_id", config_.id);
  o->set("host", config_.address);
  o->set("state", std::string(stateName(t.status.state)));
  o->set("message", t.status.message);
  if (t.status.exitCode) o->set("exit_code", *t.status.exitCode);
  if (t.status.signal) o->set("signal", *t.status.signal);
  if (t.status.healthy) o->set("healthy", *t.status.healthy);
  o->set("cpus", t.spec.cpus);
  o->set("mem", t.spec.mem);
  o->set("disk", t.spec.disk);
  Array::Ptr ports = new Array;
  for (int p : t.spec.ports) ports->add(p);
  o->set("ports", ports);
  o->set("user", t.spec.user);
  if (!t.spec.appId.empty()) o->set("appId", t.spec.appId);
  if (!t.spec.appVersion.empty()) o->set("appVersion", t.spec.appVersion);
  o->set("stagedAt", isoTime(t.stagedAtMs));
  if (t.startedAtMs != 0) o->set("startedAt", isoTime(t.startedAtMs));
  o->set("sandbox", t.dir + "/sandbox");
  if (t.pid > 0 && !config_.simulate) o->set("pid", static_cast<int>(t.pid));
  o->set("last_update", Poco::JSON::Parser().parse(statusJson(t.status)));
  return stringify(o);
}

std::string Agent::tasksJson() const {
  std::lock_guard lock(mutex_);
  std::string out = "{\"tasks\":[";
  bool first = true;
  for (const auto &[id, t] : tasks_) {
    out += (first ? "" : ",") + taskJson(t);
    first = false;
  }
  return out + "]}";
}

std::string Agent::infoJson() const {
  std::lock_guard lock(mutex_);
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", config_.id);
  o->set("hostname", config_.hostname);
  o->set("address", config_.address);
  o->set("zone", config_.zone);
  o->set("resource_role", config_.resourceRole);
  Object::Ptr attrs = new Object;
  for (const auto &[k, v] : config_.attributes) attrs->set(k, v);
  o->set("attributes", attrs);
  auto res = [](double cpus, double mem, double disk, const std::string &ports) {
    Object::Ptr r = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    r->set("cpus", cpus);
    r->set("mem", mem);
    r->set("disk", disk);
    r->set("ports", ports);
    return r;
  };
  o->set("resources", res(config_.total.cpus, config_.total.mem, config_.total.disk, portRangesText(config_.total.ports)));
  std::vector<PortRange> used;
  for (int p : portsInUse_) {
    if (!used.empty() && used.back().end == p - 1) {
      used.back().end = p;
    } else {
      used.push_back({p, p});
    }
  }
  o->set("used_resources", res(cpusUsed_, memUsed_, diskUsed_, used.empty() ? "[]" : portRangesText(used)));
  size_t active = 0;
  for (const auto &[id, t] : tasks_) active += isTerminal(t.status.state) ? 0 : 1;
  o->set("active_tasks", static_cast<Poco::UInt64>(active));
  o->set("executor", std::string(config_.simulate ? "simulated" : units_ && config_.systemd ? "systemd" : "process"));
  o->set("limits", units_ && config_.systemd ? std::string("systemd")
                   : cgroups_.kind() == "none" ? std::string("none")
                                               : "cgroup " + cgroups_.kind());
  o->set("simulated", config_.simulate);
  o->set("pending_updates", static_cast<Poco::UInt64>(updates_->pendingCount()));
  return stringify(o);
}

Agent::Reply Agent::handle(const std::string &method, const std::string &path, const std::string &query,
                           const std::string &body) {
  const std::string base = "/agent/v1";
  if (!text::startsWith(path, base)) return {404, errorJson("no such path: " + path)};
  std::string rest = path.substr(base.size());
  auto notAllowed = [&](const char *allowed) {
    return Reply{405, errorJson("method " + method + " not allowed on " + path + " (allowed: " + allowed + ")")};
  };
  if (rest == "/info" || rest.empty()) {
    if (method != "GET") return notAllowed("GET");
    return {200, infoJson()};
  }
  if (rest == "/launch" || rest == "/kill") {
    if (method != "POST") return notAllowed("POST");
    return rest == "/launch" ? launchAll(body) : killAll(body);
  }
  if (rest == "/tasks" || rest == "/reconcile") {
    if (rest == "/tasks" && method == "POST") return launch(body);
    if (method != "GET" && !(rest == "/reconcile" && method == "POST")) return notAllowed(rest == "/tasks" ? "GET, POST" : "GET, POST");
    return {200, tasksJson()};
  }
  if (text::startsWith(rest, "/tasks/")) {
    std::string tail = rest.substr(7);
    std::string id = tail.substr(0, tail.find('/'));
    std::string sub = tail.size() > id.size() ? tail.substr(id.size()) : "";
    if (!isTaskId(id)) return {404, errorJson("no task " + text::quote(id) + " on this agent")};
    if (sub.empty()) {
      if (method == "DELETE") return kill(id);
      if (method != "GET") return notAllowed("GET, DELETE");
      std::lock_guard lock(mutex_);
      auto it = tasks_.find(id);
      if (it == tasks_.end()) return {404, errorJson("no task " + id + " on this agent")};
      return {200, taskJson(it->second)};
    }
    if (sub == "/kill") {
      if (method != "POST") return notAllowed("POST");
      return kill(id);
    }
    if (sub == "/files/read") {
      if (method != "GET") return notAllowed("GET");
      std::string dir;
      {
        std::lock_guard lock(mutex_);
        auto it = tasks_.find(id);
        if (it == tasks_.end()) return {404, errorJson("no task " + id + " on this agent")};
        dir = it->second.dir + "/sandbox";
      }
      auto q = parseQuery(query);
      std::string file = q.count("path") ? q["path"] : "stdout";
      fs::path rel(file);
      bool inside = !rel.is_absolute() && !file.empty();
      for (const auto &part : rel) inside = inside && part != "..";
      if (!inside) return {400, errorJson("path: a file in the task's sandbox, e.g. stdout or stderr")};
      // Opened one component at a time beneath the sandbox, none through a
      // link (the task owns the sandbox and could swap a directory for one),
      // never blocking (a FIFO). Not openat2's RESOLVE_BENEATH: systemd's
      // RestrictSUIDSGID= answers openat2 with ENOSYS inside dcosd.service.
      int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) return {404, errorJson("no sandbox for " + id)};
      std::vector<std::string> parts;
      for (const auto &part : rel) {
        if (!part.empty() && part != ".") parts.push_back(part.string());
      }
      int openErr = 0;
      for (size_t k = 0; k < parts.size() && fd >= 0; ++k) {
        bool last = k + 1 == parts.size();
        int next = ::openat(fd, parts[k].c_str(),
                            last ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC
                                 : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        openErr = errno;
        ::close(fd);
        fd = next;
      }
      if (fd < 0 && (openErr == ELOOP || openErr == ENOTDIR)) {
        return {400, errorJson("path: " + file + " goes through a link, or a file where a directory should be")};
      }
      if (fd < 0) return {404, errorJson("no file " + file + " in the sandbox of " + id)};
      struct stat st {};
      if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return {400, errorJson("path: " + file + " is not a regular file")};
      }
      off_t size = ::lseek(fd, 0, SEEK_END);
      long long offset = 0;
      long long length = 1 << 20;
      try {
        if (q.count("offset")) offset = std::stoll(q["offset"]);
        if (q.count("length")) length = std::min<long long>(std::stoll(q["length"]), 1 << 20);
      } catch (...) {
        ::close(fd);
        return {400, errorJson("offset and length: whole numbers")};
      }
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      if (offset < 0) {
        // Mesos's files API: offset -1 asks for the size alone.
        o->set("data", std::string());
        o->set("offset", static_cast<Poco::Int64>(size));
        ::close(fd);
        return {200, stringify(o)};
      }
      std::string data;
      if (offset < size && length > 0) {
        data.resize(static_cast<size_t>(std::min<long long>(length, size - offset)));
        ssize_t n = ::pread(fd, data.data(), data.size(), offset);
        data.resize(n > 0 ? static_cast<size_t>(n) : 0);
      }
      ::close(fd);
      // A read that ends inside a character ends before it: the next read
      // starts there, and the client's offset (its own plus the data's
      // length) stays right.
      for (size_t back = 1; back <= 3 && back <= data.size(); ++back) {
        auto c = static_cast<unsigned char>(data[data.size() - back]);
        if ((c >> 6) == 0x2) continue;  // a continuation byte
        size_t need = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
        if (need > back) data.resize(data.size() - back);
        break;
      }
      o->set("data", validUtf8(data));
      o->set("offset", static_cast<Poco::Int64>(offset));
      return {200, stringify(o)};
    }
  }
  return {404, errorJson("no such path: " + path)};
}

}  // namespace dcos::agent
