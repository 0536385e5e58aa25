// The zookeeper module: runs this master's Apache ZooKeeper server (Debian's
// package), configured from cluster.json, and reports the ensemble's health
// like Exhibitor did.
//
//   executor:  where systemd is PID 1, the transient unit dcos-zookeeper.service
//              started over sd-bus (restarted by PID 1, logging to the journal,
//              as the zookeeper user when it exists); elsewhere a child process
//              that dies with dcosd, restarted with backoff. Config "executor":
//              "auto" (default), "systemd" or "process".
//   runtime:   dcos-jre's java (/usr/lib/dcos/jre, made for this server) when
//              installed, else the system's; with the class-data archive the
//              image build made (/usr/lib/dcos/zookeeper.jsa, by
//              dcos-zookeeper-cds) when there is one. Config "java",
//              "classpath" and "class_data_archive" override them.
//   state dir: conf/zoo.cfg, conf/log4j.properties, data/myid, data/version-2/,
//              server.log and server.out (process executor only)
//   health:    healthy once the local server serves (in a quorum, or standalone);
//              degraded while it waits for one; unhealthy while it crash-loops
//   node API:  GET /exhibitor/v1/cluster/status
//
// The master role marks this module await_healthy, so dcosd starts the
// master's other modules only once there is a quorum.
#include <dcos/plugin.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/file.h"
#include "plugins/modules/zookeeper/ensemble.h"
#include "systemd/units.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dcos::zookeeper::Ensemble;

constexpr const char *kUnitName = "dcos-zookeeper.service";

std::string jsonString(const std::string &json, const std::string &key, const std::string &fallback) {
  auto o = Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
  return o->optValue(key, fallback);
}

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Whole or not at all: a full disk leaves the last good zoo.cfg and myid.
void writeAtomically(const std::string &path, const std::string &text) {
  if (auto s = dcos::writeFileAtomically(path, text); !s) throw dcos::sdk::Error(s.error().message, s.error().code);
}

// Where the server process lives.
class Runner {
 public:
  virtual ~Runner() = default;
  // Starts the server; `changed` says whether its command line or config
  // differ from the last start's. Throws dcos::sdk::Error.
  virtual void start(const std::vector<std::string> &argv, bool changed) = 0;
  // Stops the server and returns once it is gone (bounded).
  virtual void stop() = 0;
  // Why the server is not running, or empty while it runs.
  virtual std::string problem() = 0;
  // Called while the server does not serve: brings back one that nobody
  // will restart otherwise.
  virtual void heal() {}
};

// A child process of dcosd that dies with it, restarted with exponential
// backoff (1 s doubling to 30 s; back to 1 s after a minute of running).
class ProcessRunner : public Runner {
 public:
  ProcessRunner(dcos::sdk::Host host, std::string out) : host_(host), out_(std::move(out)) {}
  ~ProcessRunner() override { stop(); }

  void start(const std::vector<std::string> &argv, bool) override {
    argv_ = argv;
    supervisor_ = std::thread([this] { supervise(); });
  }

  void stop() override {
    pid_t pid;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      pid = pid_;
      if (pid > 0) ::kill(pid, SIGTERM);
    }
    wake_.notify_all();
    // Give the server a few seconds to leave, then make sure.
    if (pid > 0) {
      std::unique_lock lock(mutex_);
      if (!wake_.wait_for(lock, 5s, [&] { return pid_ != pid; })) ::kill(pid, SIGKILL);
    }
    if (supervisor_.joinable()) supervisor_.join();
  }

  std::string problem() override {
    std::lock_guard lock(mutex_);
    return problem_;
  }

 private:
  pid_t spawn() {
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    // The child: dies with dcosd, has its own process group, no inherited fds.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    ::closefrom(3);
    ::unsetenv("NOTIFY_SOCKET");  // systemd's socket is dcosd's alone
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    std::vector<char *> args;
    for (auto &a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }

  void supervise() {
    auto backoff = 1s;
    while (true) {
      pid_t pid;
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        pid = pid_ = spawn();
      }
      auto started = std::chrono::steady_clock::now();
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      std::unique_lock lock(mutex_);
      pid_ = -1;
      wake_.notify_all();
      if (stopping_) return;
      if (std::chrono::steady_clock::now() - started > 60s) backoff = 1s;
      std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                          : "was killed by signal " + std::to_string(WTERMSIG(status));
      problem_ = "server " + how + "; restarting in " + std::to_string(backoff.count()) + " s";
      lock.unlock();
      host_.warning("ZooKeeper server " + how + "; restarting in " + std::to_string(backoff.count()) + " s");
      lock.lock();
      wake_.wait_for(lock, backoff, [&] { return stopping_; });
      if (stopping_) return;
      problem_.clear();
      backoff = std::min<std::chrono::seconds>(backoff * 2, 30s);
    }
  }

  dcos::sdk::Host host_;
  std::string out_;
  std::vector<std::string> argv_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  pid_t pid_ = -1;
  std::string problem_;
  std::thread supervisor_;
};

// The transient unit dcos-zookeeper.service, run by PID 1: restarted by it,
// logging to the journal (journalctl -u dcos-zookeeper), in its own cgroup.
// It outlives a crash of dcosd, and the next dcosd adopts it when its config
// is unchanged; a graceful stop of the module stops it.
class UnitRunner : public Runner {
 public:
  UnitRunner(dcos::sdk::Host host, std::string user, std::string dir)
      : host_(host), user_(std::move(user)), dir_(std::move(dir)) {}
  ~UnitRunner() override { stop(); }

  void start(const std::vector<std::string> &argv, bool changed) override {
    std::lock_guard lock(mutex_);
    auto manager = dcos::systemd::UnitManager::connect();
    if (!manager) throw dcos::sdk::Error(manager.error().message, manager.error().code);
    units_ = std::move(*manager);
    auto state = units_->state(kUnitName);
    if (!state) throw dcos::sdk::Error(state.error().message, state.error().code);
    argv_ = argv;
    // Only a server that runs or is about to: one on its way down (a stop
    // from the previous dcosd still under way) would be gone in a moment.
    bool live = state->loaded && (state->activeState == "active" || state->activeState == "activating" ||
                                  state->activeState == "reloading");
    if (live) {
      if (!changed) {
        host_.info(std::string("adopted the running ") + kUnitName + " (pid " + std::to_string(state->mainPid) +
                   ")");
        return;
      }
      host_.info(std::string("restarting ") + kUnitName + ": its config changed");
    }
    // Stopped, stopping, or failed and not yet collected: out of the way first.
    if (state->loaded) {
      auto stopped = units_->stop(kUnitName, 30s);
      if (!stopped) throw dcos::sdk::Error(stopped.error().message, stopped.error().code);
    }
    startUnit();
    host_.info(std::string("started ") + kUnitName + (user_.empty() ? "" : " as " + user_));
  }

  // The unit gone (stopped from outside, or collected after a stop that
  // raced with a restart of dcosd) or failed for good: systemd will not
  // bring it back, so the module does, at most every 10 s.
  void heal() override {
    std::lock_guard lock(mutex_);
    if (!units_ || argv_.empty()) return;
    auto state = units_->state(kUnitName);
    if (!state) return;
    bool down = !state->loaded || state->activeState == "inactive" || state->activeState == "failed";
    if (!down) return;
    auto now = std::chrono::steady_clock::now();
    if (now - lastHeal_ < 10s) return;
    lastHeal_ = now;
    host_.warning(std::string(kUnitName) + " is " + (state->loaded ? state->activeState : "gone") +
                  " and nothing restarts it: starting it again");
    if (state->loaded) (void)units_->stop(kUnitName, 15s);
    try {
      startUnit();
    } catch (const dcos::sdk::Error &e) {
      host_.warning(std::string("starting ") + kUnitName + ": " + e.what());
    }
  }

 private:
  // Under mutex_.
  void startUnit() {
    dcos::systemd::ServiceSpec spec;
    spec.description = "dcos ZooKeeper server";
    spec.argv = argv_;
    spec.workingDirectory = dir_;
    spec.user = user_;
    spec.readWritePaths = {dir_ + "/data"};
    spec.restartDelay = 2s;
    spec.stopTimeout = 10s;
    auto started = units_->startService(kUnitName, spec);
    if (!started) throw dcos::sdk::Error(started.error().message, started.error().code);
  }

 public:

  void stop() override {
    std::lock_guard lock(mutex_);
    if (!units_) return;
    auto stopped = units_->stop(kUnitName, 15s);
    if (!stopped) host_.warning(stopped.error().message);
    units_.reset();
  }

  std::string problem() override {
    std::lock_guard lock(mutex_);
    if (!units_) return "not started";
    auto state = units_->state(kUnitName);
    if (!state) return state.error().message;
    if (!state->loaded) return std::string(kUnitName) + " is gone";
    if (state->running()) return {};
    std::string why = std::string(kUnitName) + " is " + state->activeState + " (" + state->subState;
    if (!state->result.empty() && state->result != "success") why += ", " + state->result;
    why += ")";
    if (state->restarts > 0) why += " after " + std::to_string(state->restarts) + " restarts";
    return why;
  }

 private:
  dcos::sdk::Host host_;
  std::string user_;
  std::string dir_;
  std::mutex mutex_;
  std::unique_ptr<dcos::systemd::UnitManager> units_;
  std::vector<std::string> argv_;
  std::chrono::steady_clock::time_point lastHeal_{};
};

constexpr const char *kJreJava = "/usr/lib/dcos/jre/bin/java";

class ZooKeeperModule : public dcos::sdk::Module {
 public:
  ZooKeeperModule(dcos::sdk::Host host, std::string_view config) : host_(host) {
    std::string cfg(config.empty() ? "{}" : config);
    java_ = jsonString(cfg, "java", ::access(kJreJava, X_OK) == 0 ? kJreJava : "/usr/bin/java");
    classpath_ = jsonString(cfg, "classpath", "/usr/share/java/zookeeper.jar");
    // Used only where it is: a stale or foreign archive costs the JVM's
    // -Xshare:auto nothing but the sharing.
    archive_ = jsonString(cfg, "class_data_archive", "/usr/lib/dcos/zookeeper.jsa");
    if (::access(archive_.c_str(), R_OK) != 0) archive_.clear();
    // Debian's server jar logs through slf4j; with these two its log reaches log4j.
    for (const char *jar : {"/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"}) {
      if (::access(jar, R_OK) == 0) logJars_ += std::string(":") + jar;
    }
    std::string executor = jsonString(cfg, "executor", "auto");
    if (executor == "auto") {
      useUnits_ = dcos::systemd::systemdIsInit();
    } else if (executor == "systemd") {
      if (!dcos::systemd::systemdIsInit()) {
        throw dcos::sdk::Error("config /executor is \"systemd\", but systemd is not PID 1 here", EINVAL);
      }
      useUnits_ = true;
    } else if (executor != "process") {
      throw dcos::sdk::Error("config /executor: expected \"auto\", \"systemd\" or \"process\", got \"" + executor +
                                 "\"",
                             EINVAL);
    }
    // The unit runs as the zookeeper user of Debian's package when there is
    // one; the process executor runs the server as dcosd's own user.
    user_ = jsonString(cfg, "user", useUnits_ && ::getpwnam("zookeeper") != nullptr ? "zookeeper" : "");
    if (!user_.empty() && ::getpwnam(user_.c_str()) == nullptr) {
      throw dcos::sdk::Error("config /user: no such user \"" + user_ + "\"", ENOENT);
    }
    if (!user_.empty() && !useUnits_) {
      throw dcos::sdk::Error("config /user applies to the systemd executor only", EINVAL);
    }
    ensemble_ = dcos::zookeeper::parseEnsemble(host.clusterJson());
    address_ = jsonString(host.nodeJson(), "address", "");
    std::string error;
    id_ = dcos::zookeeper::serverId(ensemble_, address_, error);
    if (id_ == 0) throw dcos::sdk::Error(error);
    dir_ = host.stateDir();
    // A data dir that belonged to another server must not join as this one.
    std::ifstream myid(dir_ + "/data/myid");
    int existing = 0;
    if (myid >> existing && existing != id_) {
      throw dcos::sdk::Error(dir_ + "/data/myid says server " + std::to_string(existing) + ", but " + address_ +
                             " is server " + std::to_string(id_) +
                             " by its place in cluster.json /masters; refusing to join the ensemble as another "
                             "server (move the data dir away if the master list really changed)");
    }
    if (::access(java_.c_str(), X_OK) != 0) throw dcos::sdk::Error("no Java runtime at " + java_, ENOENT);
    if (::access(classpath_.substr(0, classpath_.find(':')).c_str(), R_OK) != 0) {
      throw dcos::sdk::Error("no ZooKeeper server at " + classpath_ + " (Debian package zookeeper)", ENOENT);
    }
  }

  ~ZooKeeperModule() override { stop(); }

  void start() override {
    fs::create_directories(dir_ + "/conf");
    fs::create_directories(dir_ + "/data");
    // Under systemd the server logs to the journal; otherwise to server.log.
    std::string log4j = useUnits_ ? "log4j.rootLogger=INFO, CONSOLE\n"
                                    "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n"
                                    "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n"
                                    "log4j.appender.CONSOLE.layout.ConversionPattern=%-5p [%t] %c{1}: %m%n\n"
                                  : "log4j.rootLogger=INFO, FILE\n"
                                    "log4j.appender.FILE=org.apache.log4j.RollingFileAppender\n"
                                    "log4j.appender.FILE.File=" + dir_ + "/server.log\n"
                                    "log4j.appender.FILE.MaxFileSize=10MB\nlog4j.appender.FILE.MaxBackupIndex=2\n"
                                    "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
                                    "log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1}: %m%n\n";
    // The health checks ask srvr twice a second; their lines are noise.
    log4j += "log4j.logger.org.apache.zookeeper.server.NIOServerCnxn=WARN\n";
    std::vector<std::string> argv{java_,
                                  "-Xmx" + std::to_string(ensemble_.heapMb) + "m",
                                  "-Xss512k",
                                  "-XX:+UseSerialGC",
                                  "-XX:TieredStopAtLevel=1",
                                  "-XX:-UsePerfData"};
    if (!archive_.empty()) {
      argv.push_back("-XX:SharedArchiveFile=" + archive_);
      argv.push_back("-Xshare:auto");
    }
    // The class path as dcos-zookeeper-cds dumped it: the archive is used
    // only when the two match.
    for (std::string a : {"-Dzookeeper.log.dir=" + dir_, "-Dlog4j.configuration=file:" + dir_ + "/conf/log4j.properties",
                          std::string("-cp"), classpath_ + logJars_,
                          std::string("org.apache.zookeeper.server.quorum.QuorumPeerMain"), dir_ + "/conf/zoo.cfg"}) {
      argv.push_back(std::move(a));
    }
    std::string zooCfg = dcos::zookeeper::zooCfg(ensemble_, id_, dir_ + "/data");
    // What the running server was started with; a server started with the
    // same is adopted rather than restarted (systemd executor).
    std::string fingerprint = zooCfg + log4j + user_;
    for (const auto &a : argv) fingerprint += a + "\n";
    bool changed = readFile(dir_ + "/conf/server.fingerprint") != fingerprint;
    writeAtomically(dir_ + "/conf/zoo.cfg", zooCfg);
    writeAtomically(dir_ + "/data/myid", std::to_string(id_) + "\n");
    writeAtomically(dir_ + "/conf/log4j.properties", log4j);
    if (!user_.empty()) giveDataTo(user_);

    host_.reportHealth(DCOS_HEALTH_DEGRADED, "starting server " + std::to_string(id_));
    host_.httpRoute("/exhibitor", &ZooKeeperModule::serveHttp, this);
    if (useUnits_) {
      runner_ = std::make_unique<UnitRunner>(host_, user_, dir_);
    } else {
      if (dcos::systemd::systemdIsInit()) stopLeftoverUnit();
      runner_ = std::make_unique<ProcessRunner>(host_, dir_ + "/server.out");
    }
    runner_->start(argv, changed);
    writeAtomically(dir_ + "/conf/server.fingerprint", fingerprint);
    watcher_ = std::thread([this] { watchHealth(); });
    host_.info("server " + std::to_string(id_) + " of " + std::to_string(ensemble_.servers.size()) + " on " +
               address_ + ":" + std::to_string(ensemble_.clientPort) + ", run by " +
               (useUnits_ ? std::string("systemd as ") + kUnitName : std::string("dcosd as a child process")));
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    if (runner_) runner_->stop();
  }

 private:
  static void serveHttp(void *user, const dcos_http_request *req, const dcos_http_response *resp) {
    auto *self = static_cast<ZooKeeperModule *>(user);
    std::string path = req->path;
    if (path != "/exhibitor/v1/cluster/status") {
      resp->set_status(resp->ctx, 404);
      std::string body = "{\"message\":\"no such path: " + path + "\"}";
      resp->write(resp->ctx, body.data(), body.size());
      return;
    }
    if (std::strcmp(req->method, "GET") != 0 && std::strcmp(req->method, "HEAD") != 0) {
      resp->set_status(resp->ctx, 405);
      resp->set_header(resp->ctx, "Allow", "GET, HEAD");
      std::string body = "{\"message\":\"method not allowed\"}";
      resp->write(resp->ctx, body.data(), body.size());
      return;
    }
    std::string body = dcos::zookeeper::exhibitorStatus(self->ensemble_, 500ms);
    resp->write(resp->ctx, body.data(), body.size());
  }

  // A dcosd that ran the systemd executor and crashed left its server as a
  // unit; run as a child now, ours would crash-loop on the busy port while
  // the orphan answered the health checks. Only the unit serving this data
  // dir is ours: another node on this host may run one too.
  void stopLeftoverUnit() {
    auto units = dcos::systemd::UnitManager::connect();
    if (!units) return;
    auto state = (*units)->state(kUnitName);
    if (!state || !state->loaded || state->mainPid <= 0) return;
    std::error_code ec;
    auto cwd = fs::read_symlink("/proc/" + std::to_string(state->mainPid) + "/cwd", ec);
    if (ec || cwd != fs::weakly_canonical(dir_, ec)) return;
    host_.warning(std::string("stopping ") + kUnitName + " (pid " + std::to_string(state->mainPid) +
                  "), left on this data dir by the systemd executor; the server runs as dcosd's child now");
    if (auto stopped = (*units)->stop(kUnitName, 30s); !stopped) host_.warning(stopped.error().message);
  }

  // The data dir belongs to the server's user; the config stays root's.
  void giveDataTo(const std::string &user) {
    const passwd *pw = ::getpwnam(user.c_str());
    if (pw == nullptr) throw dcos::sdk::Error("no such user " + user, ENOENT);
    auto own = [&](const fs::path &p) {
      if (::lchown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw dcos::sdk::Error("cannot give " + p.string() + " to " + user + ": " + std::strerror(errno), errno);
      }
    };
    own(dir_ + "/data");
    for (const auto &entry : fs::recursive_directory_iterator(dir_ + "/data")) own(entry.path());
  }

  // Asks the local server what it is, twice a second, and reports it.
  void watchHealth() {
    std::string last;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      auto mode = dcos::zookeeper::serverMode(
          dcos::zookeeper::fourLetterWord(address_, ensemble_.clientPort, "srvr", 400ms));
      std::string problem = mode ? "" : runner_->problem();
      if (!mode) runner_->heal();
      if (mode) {
        std::string now = "serving as " + *mode;
        if (now != last) host_.reportHealth(DCOS_HEALTH_HEALTHY, now);
        last = now;
      } else if (!problem.empty()) {
        if (problem != last) host_.reportHealth(DCOS_HEALTH_UNHEALTHY, problem);
        last = problem;
      } else {
        std::string now = "server " + std::to_string(id_) + " not serving (no quorum yet)";
        // Until it first serves, "starting" stands.
        if (now != last && !last.empty()) host_.reportHealth(DCOS_HEALTH_DEGRADED, now);
        if (!last.empty()) last = now;
      }
      lock.lock();
      wake_.wait_for(lock, 500ms, [&] { return stopping_; });
    }
  }

  dcos::sdk::Host host_;
  std::string java_;
  std::string archive_;  // the class-data archive, or empty
  std::string classpath_;
  std::string logJars_;
  bool useUnits_ = false;
  std::string user_;
  Ensemble ensemble_;
  std::string address_;
  int id_ = 0;
  std::string dir_;
  std::unique_ptr<Runner> runner_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace

DCOS_MODULE(ZooKeeperModule, "zookeeper", DCOS_PLUGIN_VERSION, "the master's ZooKeeper server, as a unit or a child")
