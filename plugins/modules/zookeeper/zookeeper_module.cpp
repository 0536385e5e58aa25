// The zookeeper module: runs this master's Apache ZooKeeper server (Debian's
// package) as a supervised child process, configured from cluster.json, and
// reports the ensemble's health like Exhibitor did.
//
//   state dir: conf/zoo.cfg, conf/log4j.properties, data/myid, data/version-2/, server.log
//   health:    healthy once the local server serves (in a quorum, or standalone);
//              degraded while it waits for one; unhealthy while it crash-loops
//   node API:  GET /exhibitor/v1/cluster/status
//
// The master role marks this module await_healthy, so dcosd starts the
// master's other modules only once there is a quorum.
#include <dcos/plugin.hpp>

#include <fcntl.h>
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
#include <mutex>
#include <sstream>
#include <thread>

#include "plugins/modules/zookeeper/ensemble.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dcos::zookeeper::Ensemble;

std::string jsonString(const std::string &json, const std::string &key, const std::string &fallback) {
  auto o = Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
  return o->optValue(key, fallback);
}

void writeAtomically(const std::string &path, const std::string &text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) throw dcos::sdk::Error("cannot write " + tmp, EIO);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw dcos::sdk::Error("cannot rename " + tmp, errno);
}

class ZooKeeperModule : public dcos::sdk::Module {
 public:
  ZooKeeperModule(dcos::sdk::Host host, std::string_view config) : host_(host) {
    std::string cfg(config.empty() ? "{}" : config);
    java_ = jsonString(cfg, "java", "/usr/bin/java");
    classpath_ = jsonString(cfg, "classpath", "/usr/share/java/zookeeper.jar");
    // Debian's server jar logs through slf4j; with these two its log reaches server.log.
    for (const char *jar : {"/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"}) {
      if (::access(jar, R_OK) == 0) logJars_ += std::string(":") + jar;
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
    writeAtomically(dir_ + "/conf/zoo.cfg", dcos::zookeeper::zooCfg(ensemble_, id_, dir_ + "/data"));
    writeAtomically(dir_ + "/data/myid", std::to_string(id_) + "\n");
    writeAtomically(dir_ + "/conf/log4j.properties",
                    "log4j.rootLogger=INFO, FILE\n"
                    "log4j.appender.FILE=org.apache.log4j.RollingFileAppender\n"
                    "log4j.appender.FILE.File=" + dir_ + "/server.log\n"
                    "log4j.appender.FILE.MaxFileSize=10MB\nlog4j.appender.FILE.MaxBackupIndex=2\n"
                    "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
                    "log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1}: %m%n\n"
                    // The health checks ask srvr twice a second; their lines are noise.
                    "log4j.logger.org.apache.zookeeper.server.NIOServerCnxn=WARN\n");
    host_.reportHealth(DCOS_HEALTH_DEGRADED, "starting server " + std::to_string(id_));
    host_.httpRoute("/exhibitor", &ZooKeeperModule::serveHttp, this);
    supervisor_ = std::thread([this] { supervise(); });
    watcher_ = std::thread([this] { watchHealth(); });
    host_.info("server " + std::to_string(id_) + " of " + std::to_string(ensemble_.servers.size()) + " on " +
               address_ + ":" + std::to_string(ensemble_.clientPort));
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      if (pid_ > 0) ::kill(pid_, SIGTERM);
    }
    wake_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    if (supervisor_.joinable()) supervisor_.join();
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

  pid_t spawn() {
    std::vector<std::string> argv{java_,
                                  "-Xmx" + std::to_string(ensemble_.heapMb) + "m",
                                  "-Xss512k",
                                  "-XX:+UseSerialGC",
                                  "-XX:TieredStopAtLevel=1",
                                  "-Dzookeeper.log.dir=" + dir_,
                                  "-Dlog4j.configuration=file:" + dir_ + "/conf/log4j.properties",
                                  "-cp",
                                  dir_ + "/conf:" + classpath_ + logJars_,
                                  "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                                  dir_ + "/conf/zoo.cfg"};
    std::string out = dir_ + "/server.out";
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    // The child: dies with dcosd, has its own process group, no inherited fds.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
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
    for (auto &a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }

  // Runs the server, restarting it with exponential backoff (1 s doubling to
  // 30 s; back to 1 s after a minute of running) until stop().
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
      if (stopping_) return;
      if (std::chrono::steady_clock::now() - started > 60s) backoff = 1s;
      std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                          : "was killed by signal " + std::to_string(WTERMSIG(status));
      lock.unlock();
      host_.reportHealth(DCOS_HEALTH_UNHEALTHY, "server " + how + "; restarting in " +
                                                    std::to_string(backoff.count()) + " s");
      host_.warning("ZooKeeper server " + how + "; restarting in " + std::to_string(backoff.count()) + " s");
      lock.lock();
      wake_.wait_for(lock, backoff, [&] { return stopping_; });
      if (stopping_) return;
      backoff = std::min<std::chrono::seconds>(backoff * 2, 30s);
    }
  }

  // Asks the local server what it is, twice a second, and reports it.
  void watchHealth() {
    std::string last;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      auto mode = dcos::zookeeper::serverMode(
          dcos::zookeeper::fourLetterWord(address_, ensemble_.clientPort, "srvr", 400ms));
      std::string now = mode ? "serving as " + *mode : "not serving (no quorum yet)";
      if (now != last) {
        if (mode) {
          host_.reportHealth(DCOS_HEALTH_HEALTHY, now);
        } else if (!last.empty() || lastWasServing_) {
          host_.reportHealth(DCOS_HEALTH_DEGRADED, "server " + std::to_string(id_) + " " + now);
        }
        lastWasServing_ = mode.has_value();
        last = now;
      }
      lock.lock();
      wake_.wait_for(lock, 500ms, [&] { return stopping_; });
    }
    // Stopping: give the server a few seconds to leave, then make sure.
    pid_t pid = pid_;
    lock.unlock();
    if (pid > 0) {
      for (int i = 0; i < 50 && ::kill(pid, 0) == 0; ++i) {
        std::unique_lock wait(mutex_);
        if (pid_ != pid) break;
        wake_.wait_for(wait, 100ms);
      }
      std::lock_guard again(mutex_);
      if (pid_ == pid) ::kill(pid, SIGKILL);
    }
  }

  dcos::sdk::Host host_;
  std::string java_;
  std::string classpath_;
  std::string logJars_;
  Ensemble ensemble_;
  std::string address_;
  int id_ = 0;
  std::string dir_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool lastWasServing_ = false;
  pid_t pid_ = -1;
  std::thread supervisor_;
  std::thread watcher_;
};

}  // namespace

DCOS_MODULE(ZooKeeperModule, "zookeeper", DCOS_PLUGIN_VERSION, "the master's ZooKeeper server, supervised")
