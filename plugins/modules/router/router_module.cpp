// The router module. Edge mode (public agents): HAProxy on port 80 and the
// apps' service ports, serving the apps marathon-lb's labels put in the
// router's group (routes.h), changed live through HAProxy's runtime API as
// the scheduler's state changes (haproxy.h). Admin mode (masters): port 80
// serves the node API (/marathon/, /mesos/, /mesos_dns/, /exhibitor/,
// /system/health/v1/, ...) and every app's first port at /service/<app>/,
// each request held to limits of header time, body size and connections
// per client. It follows the state through
// ZooKeeper watches, as the DNS module does:
//   /dcos/scheduler/apps/<key>   app definitions (labels, service ports, health checks)
//   /dcos/scheduler/tasks/<id>   tasks (running, healthy, not being killed: in rotation)
//   /dcos/agents/<id>            agents (the address a task is reached at)
// HAProxy runs in master-worker mode, a process of its own: it outlives
// dcosd (a crash or a restart), and the next dcosd adopts it, reads back what
// it serves, and goes on. A reload is needed only for a new listener or a
// backend's new settings; it is coalesced and seamless.
// Config (node.json's modules.router over the role's): "enabled" (true),
// "mode" ("edge" or
// "admin"), "group" ("external"), "http_port" (80), "bind" (""), "threads"
// (0: HAProxy's, one per CPU), "haproxy" ("/usr/sbin/haproxy"); admin mode:
// "max_client_connections" (256), "max_body_bytes" (1048576).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <dcos/plugin.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "base/text.h"
#include "coord/collection.h"
#include "coord/zk_client.h"
#include "plugins/modules/router/haproxy.h"
#include "plugins/modules/router/routes.h"
#include "plugins/modules/router/tls.h"

namespace {

using namespace dcos::router;
using namespace std::chrono_literals;
using dcos::coord::Collection;
using Poco::JSON::Object;

Object::Ptr parseObject(const std::string &json, const std::string &what) {
  try {
    auto v = Poco::JSON::Parser().parse(json.empty() ? "{}" : json);
    if (v.type() == typeid(Object::Ptr)) return v.extract<Object::Ptr>();
  } catch (const Poco::Exception &e) {
    throw dcos::sdk::Error(what + ": malformed JSON: " + e.message());
  }
  throw dcos::sdk::Error(what + ": expected a JSON object");
}

Object::Ptr tryParse(const std::string &json) {
  try {
    auto v = Poco::JSON::Parser().parse(json);
    if (v.type() == typeid(Object::Ptr)) return v.extract<Object::Ptr>();
  } catch (const Poco::Exception &) {
  }
  return nullptr;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool writeAtomically(const std::string &path, const std::string &content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.good()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string hostOf(const std::string &address) {
  size_t colon = address.rfind(':');
  std::string h = colon == std::string::npos ? address : address.substr(0, colon);
  if (h.size() > 2 && h.front() == '[') h = h.substr(1, h.size() - 2);
  return h;
}

// The scheduler's records as the routes need them, each parsed once per
// version of its znode (coord::Collection keeps them).
struct AgentRecord {
  std::string id, address;
};

std::optional<AgentRecord> parseAgent(const std::string &name, const std::string &json) {
  auto o = tryParse(json);
  if (!o) return std::nullopt;
  try {
    AgentRecord a{o->optValue<std::string>("id", name), hostOf(o->optValue<std::string>("address", ""))};
    if (a.address.empty()) return std::nullopt;
    return a;
  } catch (const Poco::Exception &) {
    return std::nullopt;
  }
}

std::optional<AppInfo> parseApp(const std::string &, const std::string &json) {
  auto o = tryParse(json);
  if (!o) return std::nullopt;
  AppInfo a;
  try {
    a.id = o->optValue<std::string>("id", "");
    if (auto labels = o->getObject("labels")) {
      for (const auto &[k, v] : *labels) {
        if (v.isString()) a.labels[k] = v.extract<std::string>();
      }
    }
    if (auto pd = o->getArray("portDefinitions")) {
      for (size_t i = 0; i < pd->size(); ++i) {
        auto p = pd->getObject(static_cast<unsigned>(i));
        a.servicePorts.push_back(p ? p->optValue<int>("port", 0) : 0);
      }
    }
    if (auto hc = o->getArray("healthChecks"); hc && hc->size() > 0) {
      a.healthChecked = true;
      auto first = hc->getObject(0);
      std::string proto = first ? first->optValue<std::string>("protocol", "HTTP") : "";
      a.httpHealthCheck = proto == "HTTP" || proto == "HTTPS" || proto == "MESOS_HTTP" || proto == "MESOS_HTTPS";
    }
  } catch (const Poco::Exception &) {
    return std::nullopt;
  }
  if (a.id.empty()) return std::nullopt;
  return a;
}

// A task, with its agent: its host is the agent's address as last known,
// else the one in its record.
struct TaskRecord {
  TaskInfo info;
  std::string agentId;
};

std::optional<TaskRecord> parseTask(const std::string &name, const std::string &json) {
  auto o = tryParse(json);
  if (!o) return std::nullopt;
  TaskRecord r;
  TaskInfo &t = r.info;
  try {
    t.id = o->optValue<std::string>("id", name);
    t.appId = o->optValue<std::string>("appId", "");
    t.state = o->optValue<std::string>("state", "");
    t.killing = o->optValue<bool>("killing", false);
    if (o->has("healthy") && o->get("healthy").isBoolean()) t.healthy = o->getValue<bool>("healthy");
    r.agentId = o->optValue<std::string>("agentId", "");
    t.host = o->optValue<std::string>("host", "");
    if (auto ports = o->getArray("ports")) {
      for (size_t i = 0; i < ports->size(); ++i) t.ports.push_back(ports->getElement<int>(static_cast<unsigned>(i)));
    }
  } catch (const Poco::Exception &) {
    return std::nullopt;
  }
  return r;
}

// The command line of a process, NULs as spaces ("" when it is gone).
std::string cmdlineOf(pid_t pid) {
  std::string c = readFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (auto &ch : c) {
    if (ch == '\0') ch = ' ';
  }
  return c;
}

class RouterModule : public dcos::sdk::Module {
 public:
  RouterModule(dcos::sdk::Host host, std::string_view configText) : host_(host) {
    auto config = parseObject(std::string(configText), "router config");
    auto cluster = parseObject(host_.clusterJson(), "cluster config");
    enabled_ = config->optValue<bool>("enabled", true);
    mode_ = config->optValue<std::string>("mode", "edge");
    if (mode_ != "edge" && mode_ != "admin") throw dcos::sdk::Error("router config: /mode: expected edge or admin, found \"" + mode_ + "\"");
    settings_.admin = mode_ == "admin";
    edge_.group = config->optValue<std::string>("group", "external");
    if (edge_.group.empty() || edge_.group.find(',') != std::string::npos) {
      throw dcos::sdk::Error("router config: /group: expected one group name (or \"*\" for every app)");
    }
    settings_.httpPort = config->optValue<int>("http_port", 80);
    if (settings_.httpPort < 1 || settings_.httpPort > 65535) throw dcos::sdk::Error("router config: /http_port: expected 1 to 65535");
    settings_.bind = config->optValue<std::string>("bind", "");
    settings_.threads = config->optValue<int>("threads", 0);
    // marathon-lb's global maxconn, 50000, within what the fd limit lets
    // HAProxy hold (two descriptors a connection, and some to spare).
    // Left to itself HAProxy sizes its tables by the limit, half a million
    // under systemd, which costs its start seconds on a small machine.
    {
      struct rlimit fds {};
      long limit = ::getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_max != RLIM_INFINITY
                       ? static_cast<long>(fds.rlim_max)
                       : 1L << 20;
      settings_.maxConnections = static_cast<int>(std::max(256L, std::min(50000L, (limit - 256) / 2)));
    }
    if (settings_.threads < 0 || settings_.threads > 64) throw dcos::sdk::Error("router config: /threads: expected 1 to 64 (or 0, one per CPU)");
    haproxy_ = config->optValue<std::string>("haproxy", "/usr/sbin/haproxy");
    std::vector<std::string> masters;
    if (auto m = cluster->getArray("masters")) {
      for (size_t i = 0; i < m->size(); ++i) masters.push_back(m->getElement<std::string>(static_cast<unsigned>(i)));
    }
    masters_ = masters;
    auto node = parseObject(host_.nodeJson(), "node config");
    std::string address = node->optValue<std::string>("address", "");
    settings_.httpsPort = config->optValue<int>("https_port", 443);
    if (settings_.httpsPort < 1 || settings_.httpsPort > 65535 || settings_.httpsPort == settings_.httpPort) {
      throw dcos::sdk::Error("router config: /https_port: expected 1 to 65535, not http_port");
    }
    // Port 443's certificate: the operator's pair for this mode, else the
    // master's own CA's (admin) or the node's own self-signed one (edge), for
    // the node's address and names.
    if (auto t = cluster->getObject("tls")) {
      operatorCert_ = t->optValue<std::string>(settings_.admin ? "cert" : "edge_cert", "");
      operatorKey_ = t->optValue<std::string>(settings_.admin ? "key" : "edge_key", "");
    }
    clusterName_ = cluster->optValue<std::string>("cluster_name", "dcos");
    if (auto dns = cluster->getObject("dns")) dnsDomain_ = dns->optValue<std::string>("domain", "mesos");
    tlsNames_ = {address};
    if (auto h = node->optValue<std::string>("hostname", ""); !h.empty() && h != address) tlsNames_.push_back(h);
    if (settings_.admin) {
      tlsNames_.push_back("master." + dnsDomain_);
      tlsNames_.push_back("leader." + dnsDomain_);
      settings_.maxClientConnections = config->optValue<int>("max_client_connections", 256);
      if (settings_.maxClientConnections < 1 || settings_.maxClientConnections > 1000000) {
        throw dcos::sdk::Error("router config: /max_client_connections: expected 1 to 1000000");
      }
      settings_.maxBodyBytes = config->optValue<Poco::Int64>("max_body_bytes", 1 << 20);
      if (settings_.maxBodyBytes < 1) throw dcos::sdk::Error("router config: /max_body_bytes: expected a positive number");
      // The node API: this master's (api.listen, else <address>:61001),
      // then the other masters' at the same port.
      // (The host's node JSON says where this node's API is reached.)
      std::string listen = node->optValue<std::string>("api", "");
      if (listen.empty()) listen = (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":61001";
      std::string port = listen.substr(listen.rfind(':') + 1);
      std::string own = hostOf(listen);
      auto at = [&](const std::string &h) { return (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port; };
      settings_.nodeApis.push_back(at(own));
      for (const auto &m : masters) {
        if (m != address && m != own) settings_.nodeApis.push_back(at(m));
      }
    }
    int zport = 2181;
    if (auto zk = cluster->getObject("zookeeper")) {
      zport = zk->optValue<int>("client_port", 2181);
      sessionMs_ = zk->optValue<int>("session_timeout_ms", 10000);
    }
    for (size_t i = 0; i < masters.size(); ++i) {
      const auto &m = masters[i];
      connect_ += (i ? "," : "") + (m.find(':') != std::string::npos ? "[" + m + "]" : m) + ":" + std::to_string(zport);
    }
    if (connect_.empty()) throw dcos::sdk::Error("router: cluster.json names no masters");
    files_.dir = host_.stateDir();
    // HAProxy's configuration cannot quote every path it names.
    if (files_.dir.find_first_of(" \t\"'#") != std::string::npos) {
      throw dcos::sdk::Error("router: the state directory " + files_.dir +
                             " has a space, a quote or a # in it, which HAProxy's configuration cannot hold (give dcosd another --state-dir)");
    }
  }

  void start() override {
    if (!enabled_) {
      host_.info("not routing: node.json's modules.router.enabled is false");
      host_.reportHealth(DCOS_HEALTH_HEALTHY, "disabled");
      return;
    }
    std::error_code ec;
    std::filesystem::create_directories(files_.dir, ec);
    if (ec) throw dcos::sdk::Error("router: making " + files_.dir + ": " + ec.message());
    if (::access(haproxy_.c_str(), X_OK) != 0) throw dcos::sdk::Error("router: no HAProxy at " + haproxy_ + " (install haproxy)");
    zk_ = dcos::coord::ZkClient::connect(connect_, std::chrono::milliseconds(sessionMs_));
    // Port 443 from the first configuration when the certificate can be
    // had now; else the worker tries again, and reloads once it has it.
    if (auto s = prepareTls(); !s) host_.warning("no https yet: " + s.error().message);
    Layout layout;
    if (auto kept = Layout::fromJson(readFile(files_.layout()))) layout = *kept;
    edge_impl_ = std::make_unique<Edge>(files_, settings_, layout);
    // The first layout (spares, no listeners) when there is none yet.
    if (layout.backends.empty()) edge_impl_->plan(Plan{});
    pid_t running = runningPid();
    if (running > 0) {
      host_.info("adopted the running HAProxy (master pid " + std::to_string(running) + ")");
      pid_ = running;
      // Written by another version of this module: reloaded with this one's.
      reloadWanted_ = readFile(files_.cfg()) != renderConfig(files_, settings_, edge_impl_->layout());
      // A certificate of another content at the same path: only a reload
      // makes HAProxy read it.
      reloadWanted_ = reloadWanted_ || tlsChanged_;
    } else {
      writeConfig();
      // Refused at once, with HAProxy's reason, rather than a start that
      // never answers.
      if (auto checked = checkConfig(files_.cfg()); !checked) throw dcos::sdk::Error(checked.error().message);
      auto s = spawn();
      if (!s) throw dcos::sdk::Error("starting HAProxy: " + s.error().message);
    }
    auto changed = [this] {
      {
        std::lock_guard l(mutex_);
        dirty_ = true;
      }
      wake_.notify_all();
    };
    tasks_ = std::make_unique<Collection<TaskRecord>>(zk_.get(), "/dcos/scheduler/tasks", parseTask, changed);
    apps_ = std::make_unique<Collection<AppInfo>>(zk_.get(), "/dcos/scheduler/apps", parseApp, changed);
    agents_ = std::make_unique<Collection<AgentRecord>>(zk_.get(), "/dcos/agents", parseAgent, changed);
    tasks_->watch();
    apps_->watch();
    agents_->watch();
    worker_ = std::thread([this] { work(); });
    if (settings_.admin) {
      host_.info("admin router on port " + std::to_string(settings_.httpPort) + ": the node API at " +
                 dcos::text::join(settings_.nodeApis, ", ") + ", apps at /service/<app>/");
    } else {
      host_.info("edge router for group " + edge_.group + " on port " + std::to_string(settings_.httpPort));
    }
  }

  ~RouterModule() override { stop(); }

  // HAProxy is left serving: the next dcosd adopts it.
  void stop() override {
    {
      std::lock_guard l(mutex_);
      if (stopped_) return;
      stopped_ = stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
    if (zk_) {
      if (tasks_) tasks_->unwatchAll();
      if (apps_) apps_->unwatchAll();
      if (agents_) agents_->unwatchAll();
      zk_->close();
    }
    for (int port : opened_) host_.closePort(DCOS_ZONE_ALL, DCOS_PROTO_TCP, static_cast<uint16_t>(port));
  }

 private:
  // A master-worker HAProxy of ours, running: its master's pid, else 0.
  pid_t runningPid() {
    std::string text = dcos::text::trim(readFile(files_.pid()));
    if (text.empty()) return 0;
    pid_t pid = 0;
    try {
      pid = static_cast<pid_t>(std::stol(text));
    } catch (...) {
      return 0;
    }
    std::string cmd = cmdlineOf(pid);
    if (cmd.find("haproxy") == std::string::npos || cmd.find(files_.cfg()) == std::string::npos) return 0;
    // Ours, but in another network namespace (the node's was made again):
    // it serves nobody here, so it goes.
    std::error_code ec;
    auto theirs = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/net", ec);
    auto mine = std::filesystem::read_symlink("/proc/self/ns/net", ec);
    if (!ec && theirs != mine) {
      host_.warning("HAProxy " + std::to_string(pid) + " is ours but in another network namespace: stopping it");
      ::kill(pid, SIGKILL);
      return 0;
    }
    return pid;
  }

  // The certificate of port 443: the operator's (cluster.json's tls), else
  // one issued by this master's own CA (edge: the node's self-signed one),
  // made once and kept in the state directory, again only when the CA or
  // the node's names change, or within 30 days of its end.
  dcos::Status prepareTls() {
    const std::string dir = files_.dir + "/tls";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    ::chmod(dir.c_str(), 0700);
    const std::string pem = dir + (settings_.admin ? "/admin.pem" : "/edge.pem");
    auto writeKeyFile = [&](const std::string &content) {
      if (readFile(pem) == content) return true;
      tlsChanged_ = true;
      std::string tmp = pem + ".tmp";
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) return false;
      bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
      ::close(fd);
      return ok && std::rename(tmp.c_str(), pem.c_str()) == 0;
    };
    if (!operatorCert_.empty()) {
      const std::string at = settings_.admin ? "cluster.json: /tls/" : "cluster.json: /tls/edge_";
      std::string cert = readFile(operatorCert_), key = readFile(operatorKey_);
      if (cert.empty()) return dcos::makeError(at + "cert: cannot read " + operatorCert_);
      if (key.empty()) return dcos::makeError(at + "key: cannot read " + operatorKey_);
      if (auto ok = tls::checkPair(cert, key); !ok) {
        return dcos::makeError(at.substr(0, at.size() - (settings_.admin ? 1 : 6)) + ": " + operatorCert_ + " and " + operatorKey_ + ": " +
                               ok.error().message);
      }
      if (!writeKeyFile(cert + (cert.back() == '\n' ? "" : "\n") + key)) return dcos::makeError("writing " + pem);
      settings_.tlsPem = pem;
      settings_.caCert.clear();
      return dcos::Status::Ok();
    }
    std::vector<std::string> want;
    for (const auto &n : tlsNames_) want.push_back(tls::altName(n));
    std::string kept = readFile(pem);
    const std::string caFile = dir + "/ca.crt";
    if (!settings_.admin) {
      // The edge's own: self-signed (by a CA of this node alone, whose key
      // is not kept), as marathon-lb's default certificate is; clients
      // that must verify are given the operator's pair.
      if (kept.empty() || !tls::issuedBy(kept, readFile(caFile)) || tls::altNames(kept) != want) {
        auto ca = tls::makeCa(tlsNames_.back() + " edge (self-signed)");
        if (!ca) return ca.error();
        auto made = tls::issue(*ca, tlsNames_);
        if (!made) return made.error();
        if (!writeAtomically(caFile, ca->cert) || !writeKeyFile(made->cert + made->key)) return dcos::makeError("writing " + pem);
        host_.info("made this node's self-signed certificate for " + dcos::text::join(tlsNames_, ", "));
      }
      settings_.tlsPem = pem;
      return dcos::Status::Ok();
    }
    // A master's own CA: its key never leaves this state directory; its
    // certificate is published for the bundle clients trust.
    const std::string caKeyFile = dir + "/ca.key";
    tls::Pem ca{readFile(caFile), readFile(caKeyFile)};
    if (!tls::checkPair(ca.cert, ca.key) || !tls::issuedBy(ca.cert, ca.cert, 60)) {
      auto made = tls::makeCa(clusterName_ + " master " + tlsNames_.front() + " CA");
      if (!made) return made.error();
      ca = *made;
      std::string tmp = caKeyFile + ".tmp";
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      bool ok = fd >= 0 && ::write(fd, ca.key.data(), ca.key.size()) == static_cast<ssize_t>(ca.key.size());
      if (fd >= 0) ::close(fd);
      if (!ok || std::rename(tmp.c_str(), caKeyFile.c_str()) != 0 || !writeAtomically(caFile, ca.cert)) {
        return dcos::makeError("writing " + caFile + " and its key");
      }
      host_.info("made this master's CA (" + caFile + ")");
    }
    if (kept.empty() || !tls::issuedBy(kept, ca.cert) || tls::altNames(kept) != want) {
      auto made = tls::issue(ca, tlsNames_);
      if (!made) return made.error();
      if (!writeKeyFile(made->cert + made->key)) return dcos::makeError("writing " + pem);
      host_.info("issued this master's certificate for " + dcos::text::join(tlsNames_, ", "));
    }
    settings_.tlsPem = pem;
    // The bundle served at /ca/dcos-ca.crt: this master's CA at least, the
    // others' as ZooKeeper has them (refreshBundle()).
    const std::string bundle = dir + "/ca-bundle.crt";
    if (readFile(bundle).find(ca.cert) == std::string::npos && !writeAtomically(bundle, ca.cert)) {
      return dcos::makeError("writing " + bundle);
    }
    settings_.caCert = bundle;
    ownCa_ = ca.cert;
    return dcos::Status::Ok();
  }

  // This master's CA certificate published at /dcos/tls/ca/<address>, and
  // the cluster's masters' read back into the bundle (a removed master's is
  // left out); *changed when the bundle's file changed (HAProxy reads it at
  // a reload). An error leaves the bundle as it was.
  dcos::Status refreshBundle(bool *changed) {
    *changed = false;
    if (!settings_.admin || ownCa_.empty() || !zk_) return dcos::Status::Ok();
    if (!zk_->connected()) return dcos::makeError("no ZooKeeper session");
    const std::string parent = "/dcos/tls/ca";
    const std::string mine = parent + "/" + tlsNames_.front();
    using dcos::coord::Code;
    if (published_ != ownCa_) {
      if (auto s = zk_->ensurePath(parent); !s) return s.error().wrap("making " + parent);
      // No private key is kept there (an earlier layout held one).
      if (auto old = zk_->get(parent); old && !old->first.empty()) (void)zk_->set(parent, "");
      auto got = zk_->get(mine);
      if (!got && dcos::coord::codeOf(got.error()) != Code::NoNode) return got.error().wrap("reading " + mine);
      if (!got) {
        if (auto c = zk_->create(mine, ownCa_, dcos::coord::CreateMode::Persistent); !c) return c.error().wrap("publishing " + mine);
      } else if (got->first != ownCa_) {
        if (auto c = zk_->set(mine, ownCa_); !c) return c.error().wrap("publishing " + mine);
      }
      published_ = ownCa_;
    }
    std::set<std::string> certs{ownCa_};
    for (const auto &m : masters_) {
      if (m == tlsNames_.front()) continue;
      auto got = zk_->get(parent + "/" + m);
      if (!got) {
        if (dcos::coord::codeOf(got.error()) == Code::NoNode) continue;  // not started yet
        return got.error().wrap("reading " + parent + "/" + m);
      }
      if (tls::isCertificate(got->first)) certs.insert(got->first);
    }
    std::string text;
    for (const auto &c : certs) text += c;
    if (readFile(settings_.caCert) == text) return dcos::Status::Ok();
    if (!writeAtomically(settings_.caCert, text)) return dcos::makeError("writing " + settings_.caCert);
    *changed = true;
    return dcos::Status::Ok();
  }

  void writeConfig() {
    writeAtomically(files_.cfg(), renderConfig(files_, settings_, edge_impl_->layout()));
    layoutWritten_ = edge_impl_->layout().toJson();
    writeAtomically(files_.layout(), layoutWritten_);
    // Map files as they stand (a start reads them; apply() keeps them).
    if (!std::filesystem::exists(files_.hostsMap())) writeAtomically(files_.hostsMap(), "");
    if (!std::filesystem::exists(files_.pathsMap())) writeAtomically(files_.pathsMap(), "");
    if (!std::filesystem::exists(files_.serverState())) writeAtomically(files_.serverState(), "");
  }

  // HAProxy's master, in a session of its own: not a child that dies with
  // dcosd. Its pid file says where it is to the next dcosd.
  dcos::Status spawn() {
    pid_t pid = ::fork();
    if (pid < 0) return dcos::makeError(std::string("fork: ") + std::strerror(errno), errno);
    if (pid == 0) {
      // A grandchild, so that it is reparented at once and never a zombie of dcosd.
      ::setsid();
      if (::fork() != 0) ::_exit(0);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      int out = ::open((files_.dir + "/haproxy.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (out >= 0) {
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
      }
      if (null >= 0) ::dup2(null, STDIN_FILENO);
      ::closefrom(3);
      ::unsetenv("NOTIFY_SOCKET");
      std::string master = files_.master() + ",mode,600";
      std::vector<std::string> argv = {haproxy_, "-W", "-S", master, "-f", files_.cfg(), "-p", files_.pid()};
      std::vector<char *> args;
      for (auto &a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    // Up when its admin socket answers.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (runtimeCommand(files_.admin(), "show info", 500ms)) {
        pid_ = runningPid();
        return dcos::Status::Ok();
      }
      std::this_thread::sleep_for(20ms);
    }
    std::string log = readFile(files_.dir + "/haproxy.log");
    if (log.size() > 600) log = log.substr(log.size() - 600);
    return dcos::makeError("HAProxy did not answer on " + files_.admin() + " within 10 s; its log ends: " + log);
  }

  // A reload of the master: the new configuration, listeners handed over,
  // the servers' slots kept through the server-state file.
  dcos::Status reload() {
    // Checked before it replaces the running one: a configuration HAProxy
    // refuses leaves the old worker serving, and says why here.
    std::string candidate = files_.cfg() + ".new";
    writeAtomically(candidate, renderConfig(files_, settings_, edge_impl_->layout()));
    if (auto checked = checkConfig(candidate); !checked) return checked;
    auto state = runtimeCommand(files_.admin(), "show servers state");
    if (state) writeAtomically(files_.serverState(), *state);
    writeConfig();
    std::string before;
    if (auto info = runtimeCommand(files_.admin(), "show info")) before = pidLine(*info);
    if (pid_ <= 0 || ::kill(pid_, SIGUSR2) != 0) {
      auto s = spawn();
      if (!s) return s;
      return dcos::Status::Ok();
    }
    // Done when a new worker answers.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto info = runtimeCommand(files_.admin(), "show info", 500ms)) {
        if (pidLine(*info) != before && !pidLine(*info).empty()) return dcos::Status::Ok();
      }
      std::this_thread::sleep_for(10ms);
    }
    std::string log = readFile(files_.dir + "/haproxy.log");
    if (log.size() > 600) log = log.substr(log.size() - 600);
    return dcos::makeError("no new HAProxy worker within 10 s of a reload; its log ends: " + log);
  }

  dcos::Status checkConfig(const std::string &path) {
    std::string out = files_.dir + "/check.log";
    pid_t pid = ::fork();
    if (pid < 0) return dcos::makeError(std::string("fork: ") + std::strerror(errno), errno);
    if (pid == 0) {
      int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      ::closefrom(3);
      ::execl(haproxy_.c_str(), haproxy_.c_str(), "-c", "-q", "-f", path.c_str(), static_cast<char *>(nullptr));
      ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return dcos::Status::Ok();
    std::string why = dcos::text::trim(readFile(out));
    if (why.size() > 600) why = why.substr(0, 600);
    return dcos::makeError("HAProxy refuses the new configuration (" + path + "): " + why);
  }

  static std::string pidLine(const std::string &info) {
    std::istringstream in(info);
    for (std::string line; std::getline(in, line);) {
      if (dcos::text::startsWith(line, "Pid:")) return dcos::text::trim(line.substr(4));
    }
    return "";
  }

  void work() {
    bool needRead = true;
    std::set<std::string> lastProblems;
    auto lastReload = std::chrono::steady_clock::now() - 10s;
    bool reloadPending = reloadWanted_;
    bool retry = false;
    std::string reloadWhy = reloadWanted_ ? "its configuration was written by another version" : "";
    // An adopted HAProxy's service ports: opened again in this dcosd's firewall.
    syncPorts();
    std::string lastHealth;
    auto lastTlsLook = std::chrono::steady_clock::now() - 10s;  // the bundle at once
    for (;;) {
      {
        std::unique_lock l(mutex_);
        // After a failure: tried again in 500 ms, not at once (a failure
        // that stays would spin).
        if (retry) {
          wake_.wait_for(l, 500ms, [&] { return stopping_; });
        } else {
          wake_.wait_for(l, reloadPending ? 200ms : 1s, [&] { return stopping_ || dirty_; });
        }
        retry = false;
        if (stopping_) return;
        dirty_ = false;
      }
      // HAProxy gone (killed, crashed): started again, from the files.
      if (pid_ <= 0 || ::kill(pid_, 0) != 0 || runningPid() == 0) {
        host_.warning("HAProxy is not running: starting it");
        writeConfig();
        if (auto s = spawn(); !s) {
          health(DCOS_HEALTH_UNHEALTHY, "HAProxy does not start: " + s.error().message, lastHealth);
          std::unique_lock l(mutex_);
          wake_.wait_for(l, 2s, [&] { return stopping_; });
          continue;
        }
        needRead = true;
      }
      // The operator's pair, looked at again every 10 s: a renewed
      // certificate is served after a (seamless) reload.
      if (!settings_.tlsPem.empty() && std::chrono::steady_clock::now() - lastTlsLook >= 10s) {
        lastTlsLook = std::chrono::steady_clock::now();
        tlsChanged_ = false;
        if (auto t = prepareTls(); !t) {
          if (t.error().message != tlsProblem_) host_.warning("the certificate: " + t.error().message + " (the one before is served)");
          tlsProblem_ = t.error().message;
        } else if (tlsChanged_) {
          reloadPending = true;
          reloadWhy = "a new certificate";
        }
        bool changed = false;
        if (auto b = refreshBundle(&changed); !b) {
          if (b.error().message != bundleProblem_) host_.warning("the masters' CA bundle: " + b.error().message);
          bundleProblem_ = b.error().message;
        } else {
          bundleProblem_.clear();
        }
        if (changed) {
          reloadPending = true;
          reloadWhy = "the masters' CA bundle changed";
        }
      }
      if (settings_.tlsPem.empty()) {
        if (auto t = prepareTls(); t) {
          host_.info("https on port " + std::to_string(settings_.httpsPort));
          reloadPending = true;
          reloadWhy = "https ready";
        } else if (t.error().message != tlsProblem_) {
          host_.warning("no https yet: " + t.error().message);
          tlsProblem_ = t.error().message;
        }
      }
      bool changed = false;
      bool ok = agents_->refresh(changed);
      ok = apps_->refresh(changed) && ok;
      ok = tasks_->refresh(changed) && ok;
      if (!ok) {
        retry = true;
      }
      if (!ok && !everRead_) {
        health(DCOS_HEALTH_DEGRADED, "reading the cluster's state", lastHealth);
        continue;
      }
      everRead_ = true;
      Plan p = currentPlan();
      std::set<std::string> problems(p.problems.begin(), p.problems.end());
      for (const auto &m : problems) {
        if (lastProblems.count(m) == 0) host_.warning(m);
      }
      lastProblems = problems;
      logRotation(p);
      if (edge_impl_->plan(p)) {
        reloadPending = true;
        reloadWhy = dcos::text::join(edge_impl_->reloadReasons(), ", ");
      }
      // Which backend serves which app, as the next dcosd must find it.
      if (auto layout = edge_impl_->layout().toJson(); layout != layoutWritten_) {
        if (writeAtomically(files_.layout(), layout)) layoutWritten_ = layout;
      }
      // A reload at most every second: a burst of new apps is one.
      if (reloadPending && std::chrono::steady_clock::now() - lastReload >= 1s) {
        host_.info("reloading HAProxy: " + reloadWhy);
        auto s = reload();
        lastReload = std::chrono::steady_clock::now();
        if (!s) {
          host_.warning("reloading HAProxy: " + s.error().message);
        } else {
          reloadPending = false;
          needRead = true;
          syncPorts();
        }
      }
      // A new worker nobody here asked for (a reload from outside, or one
      // that a killed dcosd began): what it serves is read back.
      if (auto info = runtimeCommand(files_.admin(), "show info", 1s)) {
        std::string worker = pidLine(*info);
        if (!worker.empty() && worker != worker_pid_) needRead = true;
        worker_pid_ = worker;
      }
      if (needRead) {
        if (auto s = edge_impl_->readBack(); !s) {
          health(DCOS_HEALTH_DEGRADED, "reading HAProxy's servers: " + s.error().message, lastHealth);
          retry = true;
          continue;
        }
        needRead = false;
      }
      auto applied = edge_impl_->apply();
      // The server-state file kept current: any reload, ours or not, starts
      // the new worker with the servers as they are now.
      if (applied && *applied > 0) {
        if (auto state = runtimeCommand(files_.admin(), "show servers state")) writeAtomically(files_.serverState(), *state);
      }
      if (!applied) {
        host_.warning(applied.error().message);
        needRead = true;
        retry = true;
      }
      if (!zk_->connected()) {
        health(DCOS_HEALTH_DEGRADED, "no ZooKeeper session: serving the last state read", lastHealth);
      } else {
        if (settings_.tlsPem.empty()) {
          health(DCOS_HEALTH_DEGRADED, "no https: " + tlsProblem_, lastHealth);
        } else if (!bundleProblem_.empty()) {
          health(DCOS_HEALTH_DEGRADED, "the masters' CA bundle is not current: " + bundleProblem_, lastHealth);
        } else {
          health(DCOS_HEALTH_HEALTHY, "routing " + std::to_string(p.services.size()) + " services", lastHealth);
        }
      }
    }
  }

  // Each service's tasks in rotation, said as they change.
  void logRotation(const Plan &p) {
    std::map<std::string, std::set<std::string>> now;
    for (const auto &svc : p.services) {
      auto &ids = now[svc.key()];
      for (const auto &b : svc.backends) ids.insert(b.taskId + " at " + b.address + ":" + std::to_string(b.port));
    }
    for (const auto &[key, ids] : now) {
      const auto &before = rotation_[key];
      if (ids == before) continue;
      std::vector<std::string> in, out;
      for (const auto &i : ids) {
        if (before.count(i) == 0) in.push_back(i);
      }
      for (const auto &i : before) {
        if (ids.count(i) == 0) out.push_back(i);
      }
      host_.info(key + ": " + std::to_string(ids.size()) + " in rotation" + (in.empty() ? "" : "; in: " + dcos::text::join(in, ", ")) +
                 (out.empty() ? "" : "; out: " + dcos::text::join(out, ", ")));
    }
    rotation_ = std::move(now);
  }

  // Service ports opened in the zone firewall as listeners come, closed as they go.
  void syncPorts() {
    std::set<int> now;
    for (const auto &l : edge_impl_->layout().listeners) now.insert(l.port);
    for (int port : now) {
      if (opened_.count(port) == 0) host_.openPort(DCOS_ZONE_ALL, DCOS_PROTO_TCP, static_cast<uint16_t>(port));
    }
    for (int port : opened_) {
      if (now.count(port) == 0) host_.closePort(DCOS_ZONE_ALL, DCOS_PROTO_TCP, static_cast<uint16_t>(port));
    }
    opened_ = now;
  }

  void health(dcos_health h, const std::string &message, std::string &last) {
    if (message != last) host_.reportHealth(h, message);
    last = message;
  }

  Plan currentPlan() {
    // Agents' addresses, kept when a record goes: an agent whose dcosd
    // restarts is away from /dcos/agents for a while (its old session's
    // record expires, its new one comes), and its tasks run on meanwhile.
    auto &agentAddress = agentAddresses_;
    agents_->forEach([&](const std::string &, const AgentRecord &a) { agentAddress[a.id] = a.address; });
    std::map<std::string, AppInfo> apps;
    apps_->forEach([&](const std::string &, const AppInfo &a) { apps[a.id] = a; });
    std::vector<TaskInfo> tasks;
    tasks.reserve(tasks_->size());
    tasks_->forEach([&](const std::string &, const TaskRecord &r) {
      tasks.push_back(r.info);
      auto agent = agentAddress.find(r.agentId);
      if (agent != agentAddress.end()) tasks.back().host = agent->second;
    });
    return settings_.admin ? dcos::router::adminPlan(apps, tasks) : dcos::router::plan(edge_, apps, tasks);
  }

  dcos::sdk::Host host_;
  bool enabled_ = true;
  std::string mode_;
  // Port 443: the operator's pair for this mode, the names a certificate of
  // our own is issued for.
  std::string operatorCert_, operatorKey_, clusterName_, dnsDomain_ = "mesos";
  std::vector<std::string> tlsNames_;
  std::string tlsProblem_;  // the worker's: why there is no https, as last said
  std::string ownCa_;          // admin: this master's CA certificate
  std::string published_;      // the worker's: the CA certificate published in ZooKeeper
  std::string bundleProblem_;  // the worker's: why the bundle is not current, as last said
  std::vector<std::string> masters_;  // cluster.json's
  bool tlsChanged_ = false;  // prepareTls() wrote admin.pem anew
  EdgeConfig edge_;
  EdgeSettings settings_;
  Files files_;
  std::string haproxy_;
  std::string connect_;
  int sessionMs_ = 10000;
  std::unique_ptr<Edge> edge_impl_;
  pid_t pid_ = 0;
  std::unique_ptr<dcos::coord::ZkClient> zk_;
  std::unique_ptr<Collection<TaskRecord>> tasks_;
  std::unique_ptr<Collection<AppInfo>> apps_;
  std::unique_ptr<Collection<AgentRecord>> agents_;
  std::set<int> opened_;  // the worker's
  std::map<std::string, std::set<std::string>> rotation_;  // the worker's: service -> tasks in rotation
  std::map<std::string, std::string> agentAddresses_;  // the worker's: agent id -> address
  bool everRead_ = false;
  bool reloadWanted_ = false;  // set in start()
  std::string layoutWritten_;  // layout.json as last written
  std::string worker_pid_;     // the worker's: HAProxy's worker as last seen
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool dirty_ = true;
  bool stopping_ = false;
  bool stopped_ = false;
};

}  // namespace

DCOS_MODULE(RouterModule, "router", DCOS_PLUGIN_VERSION, "the admin and edge routers: HAProxy driven live from the scheduler's state")
