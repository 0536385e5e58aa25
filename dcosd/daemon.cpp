#include "dcosd/daemon.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <cstring>
#include <set>
#include <iostream>
#include <thread>

#include "base/log.h"
#include "base/text.h"
#include "config/config.h"
#include "coord/zk_client.h"
#include "dcosd/coordination.h"
#include "firewall/firewall.h"
#include "firewall/task_cgroups.h"
#include "firewall/translate.h"
#include "dcosd/node_api.h"
#include "dcosd/node_state.h"
#include "pluginhost/plugin_host.h"
#include "systemd/notify.h"

namespace dcos::dcosd {

namespace {

namespace fs = std::filesystem;

Result<config::Config> loadConfig(const Options &options) {
  auto config = config::load(options.configDir);
  if (!config) return config;
  std::string level = options.logLevel.value_or(config->node.logLevel);
  log::setLevel(*log::parseLevel(level));
  log::setRole(config->node.role);
  return config;
}

Status makeStateDir(const std::string &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return makeError("--state-dir " + dir + ": cannot create: " + ec.message());
  if (::access(dir.c_str(), W_OK) != 0) return makeError("--state-dir " + dir + ": not writable");
  return Status::Ok();
}

double unixNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Printed to stderr one error per line, prefixed so that it reads well in a journal.
int fail(const Error &error) {
  for (size_t start = 0; start <= error.message.size();) {
    size_t end = error.message.find('\n', start);
    if (end == std::string::npos) end = error.message.size();
    log::error(error.message.substr(start, end - start));
    start = end + 1;
  }
  return 1;
}

}  // namespace

uint16_t listenPort(const std::string &hostPort) {
  size_t colon = hostPort.rfind(':');
  int port = colon == std::string::npos ? 0 : std::atoi(hostPort.c_str() + colon + 1);
  return port > 0 && port < 65536 ? static_cast<uint16_t>(port) : firewall::kNodeApiPort;
}

Result<std::unique_ptr<firewall::ZoneFirewall>> applyZoneFirewall(const config::Config &config,
                                                                   const std::string &zoneName) {
  auto zone = firewall::parseZone(zoneName);
  if (!zone) return zone.error();
  auto fw = firewall::Firewall::open();
  if (!fw) return fw.error();
  // Every node: a custom role may run tasks anywhere, and a guard with no
  // task in its cgroups costs a lookup per outgoing packet to the guarded ports.
  auto tasks = firewall::findTaskCgroups();
  if (!tasks.note.empty()) log::warning("task cgroups: " + tasks.note);
  auto zf = std::make_unique<firewall::ZoneFirewall>(std::move(*fw), config.cluster, *zone, tasks.cgroups,
                                                     listenPort(config.node.apiListen));
  if (auto s = zf->apply(); !s) return s.error();
  auto rs = zf->firewall().ruleset();
  std::string guard = "tasks are not kept from the control plane (no task cgroup)";
  if (rs.taskGuard) {
    std::vector<std::string> paths;
    for (const auto &c : rs.taskGuard->cgroups) paths.push_back(c.path);
    guard = "tasks in " + text::join(paths, ", ") + " kept from the control plane";
  }
  log::notice("zone firewall applied: table inet " + rs.table + ", zone " + zoneName + ", " +
              std::to_string(firewall::chainRuleCount(rs)) + " rules; " + guard);
  return zf;
}

int runCheck(const Options &options) {
  auto config = loadConfig(options);
  if (!config) return fail(config.error());
  // Plugins get a throwaway state dir: --check must not touch the node.
  std::string scratch = (fs::temp_directory_path() / ("dcosd-check-" + std::to_string(::getpid()))).string();
  int status = 0;
  {
    pluginhost::PluginHost host({options.pluginDir, scratch, {}}, *config);
    if (auto loaded = host.load(); !loaded) {
      status = fail(loaded.error());
    } else {
      const auto &m = host.manifest();
      const auto all = host.status();
      std::printf("config: %s (cluster %s, node %s, %s)\n", options.configDir.c_str(),
                  text::quote(config->cluster.name).c_str(), config->node.hostname.c_str(),
                  config->node.address.c_str());
      std::printf("role: %s %s (%s)\n", all[0].name.c_str(), all[0].version.c_str(), all[0].library.c_str());
      std::printf("zone: %s, resource role %s\n", m.zone.c_str(), m.resourceRole.c_str());
      std::vector<std::string> attrs;
      for (const auto &[k, v] : host.attributes()) attrs.push_back(k + ":" + v);
      std::printf("attributes: %s\n", attrs.empty() ? "(none)" : text::join(attrs, ", ").c_str());
      std::printf("firewall: %s\n", config->node.firewall ? "enabled" : "disabled (node.json /firewall/enabled)");
      std::printf("node API: %s%s%s\n", config->node.apiListen.c_str(), config->node.adminListen.empty() ? "" : ", admin port ",
                  config->node.adminListen.c_str());
      std::printf("modules, in start order:%s\n", all.size() == 1 ? " (none)" : "");
      for (size_t i = 1; i < all.size(); ++i) {
        const auto &p = all[i];
        std::printf("  %zu. %s %s%s (%s)%s\n", i, p.name.c_str(), p.version.empty() ? "?" : p.version.c_str(),
                    p.optional ? " optional" : "", p.library.c_str(),
                    p.state == pluginhost::State::Failed ? (" FAILED: " + p.message).c_str() : "");
      }
      std::printf("check passed\n");
    }
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  return status;
}

int runDaemon(const Options &options) {
  const auto t0 = std::chrono::steady_clock::now();
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // by default it would end dcosd without a clean stop
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (systemd::stderrIsJournal()) log::setSink(systemd::journalSink);

  // Signals arrive on a signalfd, the stopper's completion on an eventfd:
  // one poll() waits for either, waking for the watchdog when it wants pings.
  const auto ping = systemd::watchdogPingInterval();
  const int pingMs = ping.count() > 0 ? static_cast<int>(ping.count() / 1000) : -1;
  int sigfd = signalfd(-1, &signals, SFD_CLOEXEC);
  int stopfd = eventfd(0, EFD_CLOEXEC);
  if (sigfd < 0 || stopfd < 0) {
    return fail(makeError(std::string("cannot create signalfd/eventfd: ") + std::strerror(errno)));
  }
  auto waitFor = [&](int timeoutMs) {
    pollfd fds[2] = {{sigfd, POLLIN, 0}, {stopfd, POLLIN, 0}};
    int n = ::poll(fds, 2, timeoutMs);
    if (n <= 0) return 0;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(sigfd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
          log::notice("SIGHUP: dcosd reads its config only as it starts; `systemctl restart dcosd` applies a change");
          return 0;
        }
        return static_cast<int>(info.ssi_signo);
      }
    }
    if (fds[1].revents & POLLIN) return -1;
    return 0;
  };


  auto config = loadConfig(options);
  if (!config) return fail(config.error());
  if (auto s = makeStateDir(options.stateDir); !s) return fail(s.error());

  log::notice("dcosd " DCOS_VERSION " starting: role " + config->node.role + ", node " + config->node.hostname + " (" +
              config->node.address + "), cluster " + text::quote(config->cluster.name));

  // The zone firewall exists once the role has said which zone this is; the
  // hook that modules' open_port calls reach is in place before any starts.
  std::unique_ptr<firewall::ZoneFirewall> zoneFirewall;
  const bool firewallOn = config->node.firewall;
  auto portHook = [&zoneFirewall, firewallOn](uint32_t zones, uint32_t proto, uint16_t port, bool open) -> Status {
    if (!zoneFirewall) {
      if (!firewallOn) return Status::Ok();  // disabled: nothing to open
      // Silently doing nothing would leave the port shut for good.
      return makeError("the zone firewall is not applied yet: open ports from start(), not create()", EAGAIN);
    }
    std::vector<firewall::Zone> list;
    if (zones & DCOS_ZONE_ADMIN) list.push_back(firewall::Zone::Admin);
    if (zones & DCOS_ZONE_PRIVATE) list.push_back(firewall::Zone::Private);
    if (zones & DCOS_ZONE_PUBLIC) list.push_back(firewall::Zone::Public);
    auto p = proto == DCOS_PROTO_TCP ? firewall::Proto::Tcp : firewall::Proto::Udp;
    return open ? zoneFirewall->openPort(list, p, port) : zoneFirewall->closePort(list, p, port);
  };
  // Coordination exists from the start so that modules can stand for
  // elections as they start; it connects and registers in the background.
  std::unique_ptr<Coordination> coordination;
  pluginhost::ElectionHooks electionHooks{
      [&coordination](const std::string &name, const std::string &candidate, std::function<void(bool)> onChange) {
        if (!coordination) return Status(makeError("coordination is not running"));
        return coordination->standForElection(name, candidate, std::move(onChange));
      },
      [&coordination](const std::string &name) {
        if (coordination) coordination->resign(name);
      }};
  pluginhost::PluginHost host({options.pluginDir, options.stateDir, portHook, electionHooks}, *config);
  host.onProgress = [](const std::string &line) { systemd::notifyStatus(line); };

  std::mutex phaseMutex;
  Phase phase = Phase::Starting;
  std::string apiAddress = config->node.apiListen;
  const double startedAt = unixNow();
  auto snapshot = [&]() {
    NodeSnapshot s;
    {
      std::lock_guard lock(phaseMutex);
      s.phase = phase;
      s.apiAddress = apiAddress;
    }
    s.version = DCOS_VERSION;
    s.role = config->node.role;
    s.zone = host.manifest().zone;
    s.resourceRole = host.manifest().resourceRole;
    s.address = config->node.address;
    s.hostname = config->node.hostname;
    s.clusterName = config->cluster.name;
    s.attributes = host.attributes();
    s.plugins = host.status();
    s.firewallEnabled = config->node.firewall;
    s.firewallState = config->node.firewall ? (zoneFirewall ? "applied" : "pending") : "disabled";
    s.startedAt = startedAt;
    if (coordination) {
      auto c = coordination->state();
      s.coordination = true;
      s.coordinationConnected = c.connected;
      s.coordinationRegistered = c.registered;
      s.coordinationMessage = c.message;
    }
    return s;
  };
  auto setPhase = [&](Phase p) {
    std::lock_guard lock(phaseMutex);
    phase = p;
  };

  if (auto loaded = host.load(); !loaded) return fail(loaded.error());
  if (!config->node.firewall) {
    log::warning("zone firewall disabled by node.json /firewall/enabled: this node is not protected");
  } else {
    systemd::notifyStatus("applying the zone firewall");
    auto fw = applyZoneFirewall(*config, host.manifest().zone);
    if (!fw) return fail(fw.error().wrap("firewall: not starting any module"));
    zoneFirewall = std::move(*fw);
  }

  // Members' addresses go into the zone firewall's cluster_nodes set as they
  // join and leave; the masters are in it from the config already.
  std::set<std::string> members;
  std::mutex membersMutex;
  auto membersChanged = [&](const std::set<std::string> &now) {
    std::lock_guard lock(membersMutex);
    std::set<std::string> applied = now;
    if (zoneFirewall) {
      // What could not be applied is not remembered, so the next change retries it.
      for (const auto &a : now) {
        if (members.count(a) != 0) continue;
        if (auto s = zoneFirewall->nodeJoined(a); !s) {
          log::warning("firewall: node " + a + " joined: " + s.error().message);
          applied.erase(a);
        }
      }
      for (const auto &a : members) {
        if (now.count(a) != 0) continue;
        if (auto s = zoneFirewall->nodeLeft(a); !s) {
          log::warning("firewall: node " + a + " left: " + s.error().message);
          applied.insert(a);
        }
      }
    }
    if (applied != members) {
      log::info("cluster membership: " + std::to_string(now.size()) + " node" + (now.size() == 1 ? "" : "s"));
    }
    members = applied;
  };
  coordination = std::make_unique<Coordination>(
      coord::ZkClient::connect(config->cluster.zookeeperConnectString(),
                               std::chrono::milliseconds(config->cluster.zookeeper.sessionTimeoutMs)),
      config->node.address, [&snapshot]() { return memberJson(snapshot()); }, membersChanged);
  coordination->start();

  NodeApi api(
      snapshot,
      [&host](const dcos_http_request &req, const dcos_http_response &resp) { return host.serveRoute(req, resp); },
      [&coordination]() { return coordination->nodesJson(); }, [&] {
        http::Limits limits;
        limits.headerTimeout = std::chrono::milliseconds(config->node.apiHeaderTimeoutMs);
        limits.maxConnectionsPerClient = static_cast<size_t>(config->node.apiMaxConnectionsPerClient);
        return limits;
      }());
  // A module marked await_healthy holds the rest back (a master waits for
  // ZooKeeper's quorum); meanwhile the watchdog is fed and a signal ends the wait.
  int earlySignal = 0;
  host.whileWaiting = [&]() {
    if (ping.count() > 0) systemd::notifyWatchdog();
    int event = waitFor(0);
    if (event > 0) earlySignal = event;
    return event > 0;
  };
  if (auto s = api.start(config->node.apiListen, config->node.adminListen); !s) {
    coordination->stop();  // its thread reads what goes out of scope with this return
    return fail(s.error());
  }
  log::info("node API listening on " + api.address() +
            (config->node.adminListen.empty() ? "" : " and on the admin port " + config->node.adminListen));
  {
    std::lock_guard lock(phaseMutex);
    apiAddress = api.address();
  }

  if (auto started = host.start(); !started) {
    setPhase(Phase::Failed);
    api.stop();
    coordination->stop();
    if (earlySignal != 0) {
      log::notice(std::string("received ") + (earlySignal == SIGINT ? "SIGINT" : "SIGTERM") + " while starting; stopped");
      return 0;
    }
    return fail(started.error());
  }
  setPhase(Phase::Running);

  size_t running = 0;
  size_t failed = 0;
  for (const auto &p : host.status()) {
    if (p.kind != "module") continue;
    (p.state == pluginhost::State::Running ? running : failed) += 1;
  }
  std::string status = "running: role " + config->node.role + ", " + std::to_string(running) + " module" +
                       (running == 1 ? "" : "s") + (failed > 0 ? ", " + std::to_string(failed) + " failed" : "") +
                       ", node API on " + api.address();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  systemd::notifyReady(status);
  coordination->refresh();  // the record now shows what runs
  log::notice("dcosd ready in " + std::to_string(ms) + " ms: " + status);

  int signal = 0;
  while (signal <= 0) {
    if (ping.count() > 0) systemd::notifyWatchdog();
    signal = waitFor(pingMs);
  }

  log::notice(std::string("received ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
  setPhase(Phase::Stopping);
  systemd::notifyStopping("stopping modules");

  // Modules stop on a thread of their own so that the deadline holds even if
  // one of them hangs; a second signal ends the process at once.
  std::thread stopper([&] {
    // Leave the membership and every election first, while the ensemble
    // (on a master, partly this node's own server) still answers.
    coordination->stop();
    host.stop();
    uint64_t one = 1;
    if (::write(stopfd, &one, sizeof one) != sizeof one) {
      std::abort();  // an eventfd write of 1 cannot fail short of a broken invariant
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.stopTimeoutSeconds);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      log::error("modules did not stop within " + std::to_string(options.stopTimeoutSeconds) +
                 " s (--stop-timeout); exiting without them");
      std::fflush(stderr);
      _exit(1);
    }
    if (ping.count() > 0) systemd::notifyWatchdog();
    int event = waitFor(pingMs > 0 ? std::min<int>(pingMs, static_cast<int>(left.count())) : static_cast<int>(left.count()));
    if (event == -1) break;
    if (event > 0) {
      log::error("second signal while stopping; exiting now");
      std::fflush(stderr);
      _exit(1);
    }
  }
  stopper.join();
  api.stop();
  log::notice("dcosd stopped");
  return 0;
}

}  // namespace dcos::dcosd
