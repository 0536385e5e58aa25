// The dns module: on every master, Mesos-DNS's names for the cluster's
// tasks, masters and agents (zone.h), answered over UDP and TCP on port 53,
// other names forwarded to cluster.json's resolvers. It follows the
// scheduler's state through ZooKeeper watches (never polling, never asking
// the leader): every change rebuilds the zone in memory within tens of
// milliseconds, and the last zone keeps answering while ZooKeeper is away.
// Reads, never writes:
//   /dcos/scheduler/tasks/<id>   tasks (TASK_RUNNING ones get records)
//   /dcos/scheduler/apps/<key>   app definitions (port protocols and names)
//   /dcos/agents/<id>            agents (their addresses and APIs)
//   /dcos/scheduler/leader       the scheduler leader (leader.<domain>)
// HTTP, Mesos-DNS's API, also under /mesos_dns where the admin router will
// publish it: /v1/version, /v1/config, /v1/hosts/{host}, /v1/services/{service}.
// Config (the role's, node.json's modules.dns over it): "port" (53),
// "listen" (the node's address, 127.0.0.1 and ::1), "resolvers" (cluster.json's by default;
// "ip", "ip:port" or "[ipv6]:port"), "forward_timeout_ms" (2000).
#include <syslog.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <dcos/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "base/text.h"
#include "coord/collection.h"
#include "coord/zk_client.h"
#include "plugins/modules/dns/server.h"
#include "plugins/modules/dns/zone.h"

namespace {

using namespace dcos::dns;
using Poco::JSON::Array;
using Poco::JSON::Object;
using dcos::coord::Collection;

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

std::string stringify(const Poco::Dynamic::Var &v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

// "host:port" -> port (0 when none).
int portOf(const std::string &address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return 0;
  try {
    return std::stoi(address.substr(colon + 1));
  } catch (...) {
    return 0;
  }
}

std::string hostOf(const std::string &address) {
  size_t colon = address.rfind(':');
  std::string h = colon == std::string::npos ? address : address.substr(0, colon);
  if (h.size() > 2 && h.front() == '[') h = h.substr(1, h.size() - 2);
  return h;
}

// The scheduler's records as the zone needs them, each parsed once per
// version of its znode (coord::Collection keeps them).
std::optional<ClusterState::Agent> parseAgent(const std::string &name, const std::string &json) {
  auto o = tryParse(json);
  if (!o) return std::nullopt;
  ClusterState::Agent a;
  try {
    a.id = o->optValue<std::string>("id", name);
    a.address = o->optValue<std::string>("address", "");
    a.hostname = o->optValue<std::string>("hostname", a.address);
    a.apiPort = portOf(o->optValue<std::string>("api", ""));
  } catch (const Poco::Exception &) {
    return std::nullopt;
  }
  return a;
}

std::optional<ClusterState::App> parseApp(const std::string &, const std::string &json) {
  auto o = tryParse(json);
  if (!o) return std::nullopt;
  ClusterState::App app;
  try {
    app.id = o->optValue<std::string>("id", "");
    if (auto pd = o->getArray("portDefinitions")) {
      for (size_t i = 0; i < pd->size(); ++i) {
        auto p = pd->getObject(static_cast<unsigned>(i));
        if (!p) continue;
        ClusterState::Port port;
        port.port = p->optValue<int>("port", 0);
        port.protocol = p->optValue<std::string>("protocol", "tcp");
        port.name = p->optValue<std::string>("name", "");
        app.ports.push_back(port);
      }
    }
  } catch (const Poco::Exception &) {
    return std::nullopt;
  }
  if (app.id.empty()) return std::nullopt;
  return app;
}

std::optional<ClusterState::Task> parseTask(const std::string &name, const std::string &json) {
  auto o = tryParse(json);
  if (!o) return std::nullopt;
  ClusterState::Task t;
  try {
    t.id = o->optValue<std::string>("id", name);
    t.appId = o->optValue<std::string>("appId", "");
    t.agentId = o->optValue<std::string>("agentId", "");
    t.state = o->optValue<std::string>("state", "");
    if (auto ports = o->getArray("ports")) {
      for (size_t i = 0; i < ports->size(); ++i) t.ports.push_back(ports->getElement<int>(static_cast<unsigned>(i)));
    }
  } catch (const Poco::Exception &) {
    return std::nullopt;
  }
  return t;
}

class DnsModule : public dcos::sdk::Module {
 public:
  DnsModule(dcos::sdk::Host host, std::string_view configText) : host_(host) {
    auto config = parseObject(std::string(configText), "dns config");
    auto node = parseObject(host_.nodeJson(), "node identity");
    auto cluster = parseObject(host_.clusterJson(), "cluster config");
    zone_.self = node->optValue<std::string>("address", "");
    if (auto dns = cluster->getObject("dns")) {
      zone_.domain = dns->optValue<std::string>("domain", "mesos");
      zone_.ttl = static_cast<uint32_t>(dns->optValue<int>("ttl", 60));
    }
    int port = config->optValue<int>("port", 53);
    if (port < 1 || port > 65535) throw dcos::sdk::Error("dns config: /port: expected 1 to 65535");
    server_.port = static_cast<uint16_t>(port);
    // The node's own address and loopback, not the wildcard: resolved's
    // stub holds 127.0.0.53:53 on the images.
    server_.listen = {zone_.self, "127.0.0.1", "::1"};
    if (zone_.self.empty()) server_.listen = {"0.0.0.0", "::"};
    if (auto listen = config->getArray("listen")) {
      server_.listen.clear();
      for (size_t i = 0; i < listen->size(); ++i) server_.listen.push_back(listen->getElement<std::string>(static_cast<unsigned>(i)));
    }
    auto resolvers = config->getArray("resolvers");
    if (!resolvers) resolvers = cluster->getArray("resolvers");
    for (size_t i = 0; resolvers && i < resolvers->size(); ++i) {
      server_.resolvers.push_back(resolvers->getElement<std::string>(static_cast<unsigned>(i)));
    }
    server_.forwardTimeout = std::chrono::milliseconds(config->optValue<int>("forward_timeout_ms", 2000));
    if (auto masters = cluster->getArray("masters")) {
      for (size_t i = 0; i < masters->size(); ++i) masters_.push_back(masters->getElement<std::string>(static_cast<unsigned>(i)));
    }
    if (auto zk = cluster->getObject("zookeeper")) {
      int zport = zk->optValue<int>("client_port", 2181);
      sessionMs_ = zk->optValue<int>("session_timeout_ms", 10000);
      for (size_t i = 0; i < masters_.size(); ++i) {
        const auto &m = masters_[i];
        connect_ += (i ? "," : "") + (m.find(':') != std::string::npos ? "[" + m + "]" : m) + ":" + std::to_string(zport);
      }
    }
    if (connect_.empty()) throw dcos::sdk::Error("dns: cluster.json names no masters");
  }

  void start() override {
    server_.log = [h = host_](int level, const std::string &m) { h.log(static_cast<dcos_log_level>(level), m); };
    dns_ = std::make_unique<Server>(server_);
    // An empty zone (the SOA, the masters) from the start: the names of
    // the zone are answered, never forwarded, before ZooKeeper is read.
    dns_->setZone(Zone::build(zone_, baseState(), 1, false));
    // Without a listener the master still runs (its ZooKeeper and scheduler
    // matter more than its names), and its health says why.
    auto started = dns_->start();
    if (!started) {
      listenProblem_ = "not serving DNS: " + started.error().message;
      host_.error("dns: " + listenProblem_);
    } else if (!dns_->problems().empty()) {
      host_.warning("dns: not listening on " + dcos::text::join(dns_->problems(), "; "));
    }
    zk_ = dcos::coord::ZkClient::connect(connect_, std::chrono::milliseconds(sessionMs_));
    auto changed = [this] {
      {
        std::lock_guard l(mutex_);
        dirty_ = true;
      }
      wake_.notify_all();
    };
    tasks_ = std::make_unique<Collection<ClusterState::Task>>(zk_.get(), "/dcos/scheduler/tasks", parseTask, changed);
    apps_ = std::make_unique<Collection<ClusterState::App>>(zk_.get(), "/dcos/scheduler/apps", parseApp, changed);
    agents_ = std::make_unique<Collection<ClusterState::Agent>>(zk_.get(), "/dcos/agents", parseAgent, changed);
    leaderWatch_ = zk_->watchData("/dcos/scheduler/leader", [this, changed] {
      {
        std::lock_guard l(mutex_);
        leaderStale_ = true;
      }
      changed();
    });
    // Routes before watches and threads: a refused route fails the start
    // with nothing running.
    for (const char *prefix : {"/v1/version", "/v1/config", "/v1/hosts", "/v1/services", "/mesos_dns"}) {
      host_.httpRoute(prefix, &DnsModule::serve, this);
    }
    tasks_->watch();
    apps_->watch();
    agents_->watch();
    builder_ = std::thread([this] { build(); });
    host_.info("dns for " + zone_.domain + ". on " + dcos::text::join(dns_->listening(), ", ") +
               (server_.resolvers.empty() ? ", forwarding nothing" : ", forwarding to " + dcos::text::join(server_.resolvers, ", ")));
  }

  // A failed start is not followed by stop(): the threads and watches it
  // made go here, before the members they use.
  ~DnsModule() override { stop(); }

  void stop() override {
    {
      std::lock_guard l(mutex_);
      if (stopped_) return;
      stopped_ = true;
      stopping_ = true;
    }
    wake_.notify_all();
    if (builder_.joinable()) builder_.join();
    if (zk_) {
      zk_->unwatch(leaderWatch_);
      if (tasks_) tasks_->unwatchAll();
      if (apps_) apps_->unwatchAll();
      if (agents_) agents_->unwatchAll();
    }
    if (dns_) dns_->stop();
    if (zk_) zk_->close();
  }

 private:
  ClusterState baseState() const {
    ClusterState s;
    s.masters = masters_;
    return s;
  }

  // Rebuilds the zone after every change, at most every 20 ms (or twice
  // the last rebuild's time: a burst of changes is one rebuild), and
  // reports health.
  void build() {
    uint32_t serial = 1;
    std::string lastHealth;
    bool everBuilt = false;
    for (;;) {
      {
        std::unique_lock l(mutex_);
        wake_.wait_for(l, std::chrono::seconds(1), [&] { return stopping_ || dirty_; });
        if (stopping_) return;
        if (!dirty_ && everBuilt) {
          reportHealth(lastHealth, everBuilt);
          continue;
        }
        dirty_ = false;
      }
      bool changed = false;
      bool ok = agents_->refresh(changed);
      ok = apps_->refresh(changed) && ok;
      ok = tasks_->refresh(changed) && ok;
      bool leaderStale;
      {
        std::lock_guard l(mutex_);
        leaderStale = leaderStale_;
        leaderStale_ = false;
      }
      if (leaderStale) {
        auto r = zk_->get("/dcos/scheduler/leader");
        std::string before = leader_;
        if (r) {
          auto o = tryParse(r->first);
          leader_ = o ? o->optValue<std::string>("address", "") : "";
        } else if (dcos::coord::codeOf(r.error()) == dcos::coord::Code::NoNode) {
          leader_.clear();
        }
        changed = changed || leader_ != before;
        if (!r && dcos::coord::codeOf(r.error()) != dcos::coord::Code::NoNode) {
          std::lock_guard l(mutex_);
          leaderStale_ = true;
          ok = false;
        }
      }
      if (!ok) {
        // ZooKeeper away: the last zone answers; tried again shortly.
        std::lock_guard l(mutex_);
        dirty_ = true;
      }
      // Rebuilt when something changed, and once the first whole read is
      // in (the zone is complete from then on: NXDOMAIN means no such name).
      const bool first = ok && !everBuilt;
      everBuilt = everBuilt || ok;
      auto began = std::chrono::steady_clock::now();
      if (changed || first) dns_->setZone(Zone::build(zone_, state(), ++serial, everBuilt));
      auto took = std::chrono::steady_clock::now() - began;
      reportHealth(lastHealth, everBuilt);
      // Coalescing: the changes of the next 20 ms make one rebuild, or of
      // twice the time the last one took: rebuilds of a big zone under a
      // stream of changes (10,000 tasks launched) take a third of a cpu at
      // most, and a change still shows within a few of them.
      auto pause = std::max<std::chrono::steady_clock::duration>(std::chrono::milliseconds(20), 2 * took);
      std::unique_lock l(mutex_);
      wake_.wait_for(l, ok ? pause : std::chrono::milliseconds(500), [&] { return stopping_; });
      if (stopping_) return;
    }
  }

  void reportHealth(std::string &last, bool built) {
    std::string now;
    dcos_health h = DCOS_HEALTH_HEALTHY;
    if (!listenProblem_.empty()) {
      h = DCOS_HEALTH_UNHEALTHY;
      now = listenProblem_;
    } else if (!zk_->connected()) {
      h = DCOS_HEALTH_DEGRADED;
      now = "no ZooKeeper session: answering from the last state read";
    } else if (!built) {
      h = DCOS_HEALTH_DEGRADED;
      now = "reading the cluster's state";
    } else {
      auto z = dns_->zone();
      now = "answering for " + zone_.domain + ".";
    }
    if (now != last) host_.reportHealth(h, now);
    last = now;
  }

  ClusterState state() {
    ClusterState s = baseState();
    if (!leader_.empty()) {
      s.leader = hostOf(leader_);
      s.leaderPort = portOf(leader_);
    }
    agents_->forEach([&](const std::string &, const ClusterState::Agent &a) { s.agents[a.id] = a; });
    apps_->forEach([&](const std::string &, const ClusterState::App &a) { s.apps[a.id] = a; });
    s.tasks.reserve(tasks_->size());
    tasks_->forEach([&](const std::string &, const ClusterState::Task &t) { s.tasks.push_back(t); });
    return s;
  }

  static void serve(void *self, const dcos_http_request *req, const dcos_http_response *resp) {
    try {
      static_cast<DnsModule *>(self)->serveRequest(req, resp);
    } catch (const std::exception &e) {
      std::string body = "{\"message\":" + dcos::text::quote(std::string("dns: ") + e.what()) + "}";
      resp->set_status(resp->ctx, 500);
      resp->write(resp->ctx, body.data(), body.size());
    }
  }

  void serveRequest(const dcos_http_request *req, const dcos_http_response *resp) {
    std::string path = req->path;
    if (dcos::text::startsWith(path, "/mesos_dns")) path = path.substr(10);
    auto reply = [&](int status, const std::string &body) {
      resp->set_status(resp->ctx, status);
      resp->set_header(resp->ctx, "Content-Type", "application/json");
      resp->write(resp->ctx, body.data(), body.size());
    };
    if (std::string(req->method) != "GET") {
      return reply(405, "{\"message\":" + dcos::text::quote("method " + std::string(req->method) + " not allowed on " +
                                                            req->path + " (allowed: GET)") + "}");
    }
    auto zone = dns_->zone();
    if (path == "/v1/version") {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("Service", "Mesos-DNS");
      o->set("URL", "https://github.com/mesosphere/mesos-dns");
      o->set("Version", DCOS_PLUGIN_VERSION);
      return reply(200, stringify(o));
    }
    if (path == "/v1/config") {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      Array::Ptr masters = new Array;
      for (const auto &m : masters_) masters->add(m);
      Array::Ptr resolvers = new Array;
      for (const auto &r : server_.resolvers) resolvers->add(r);
      o->set("Masters", masters);
      o->set("Zk", "zk://" + connect_ + "/dcos");
      o->set("RefreshSeconds", 0);  // none: ZooKeeper watches
      o->set("TTL", static_cast<int>(zone_.ttl));
      o->set("Port", static_cast<int>(server_.port));
      o->set("Domain", zone_.domain);
      o->set("Resolvers", resolvers);
      o->set("Timeout", static_cast<int>(server_.forwardTimeout.count() / 1000));
      o->set("Listener", server_.listen.empty() ? std::string("0.0.0.0") : server_.listen.front());
      o->set("DNSOn", true);
      o->set("HTTPOn", true);
      o->set("ExternalOn", !server_.resolvers.empty());
      o->set("SOAMname", "ns1." + zone_.domain + ".");
      o->set("SOARname", "root.ns1." + zone_.domain + ".");
      o->set("SOARefresh", 60);
      o->set("SOARetry", 600);
      o->set("SOAExpire", 86400);
      o->set("SOAMinttl", static_cast<int>(zone_.negativeTtl));
      o->set("IPSources", Array::Ptr(new Array));
      return reply(200, stringify(o));
    }
    auto tail = [&](const std::string &prefix) { return path.substr(prefix.size()); };
    if (dcos::text::startsWith(path, "/v1/hosts/")) {
      Array::Ptr out = new Array;
      for (const auto &h : zone->hosts(tail("/v1/hosts/"))) {
        Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        o->set("host", h.host);
        o->set("ip", h.ip);
        out->add(o);
      }
      if (out->size() == 0) {
        // Mesos-DNS's answer for a name it does not know.
        Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        o->set("host", "");
        o->set("ip", "");
        out->add(o);
      }
      return reply(200, stringify(out));
    }
    if (dcos::text::startsWith(path, "/v1/services/")) {
      Array::Ptr out = new Array;
      for (const auto &s : zone->services(tail("/v1/services/"))) {
        Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        o->set("service", s.service);
        o->set("host", s.host);
        o->set("ip", s.ip);
        o->set("port", std::to_string(s.port));  // a string, as Mesos-DNS writes it
        out->add(o);
      }
      if (out->size() == 0) {
        Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        o->set("service", "");
        o->set("host", "");
        o->set("ip", "");
        o->set("port", "");
        out->add(o);
      }
      return reply(200, stringify(out));
    }
    reply(404, "{\"message\":" + dcos::text::quote("no such path: " + std::string(req->path)) + "}");
  }

  dcos::sdk::Host host_;
  ZoneConfig zone_;
  ServerConfig server_;
  std::vector<std::string> masters_;
  std::string connect_;
  int sessionMs_ = 10000;
  std::unique_ptr<dcos::coord::ZkClient> zk_;
  std::unique_ptr<Server> dns_;
  std::unique_ptr<Collection<ClusterState::Task>> tasks_;
  std::unique_ptr<Collection<ClusterState::App>> apps_;
  std::unique_ptr<Collection<ClusterState::Agent>> agents_;
  dcos::coord::WatchId leaderWatch_{};
  std::string leader_;  // the builder thread's
  std::thread builder_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool dirty_ = true;
  bool leaderStale_ = true;
  bool stopping_ = false;
  bool stopped_ = false;
  std::string listenProblem_;  // set in start(), read after
};

}  // namespace

DCOS_MODULE(DnsModule, "dns", DCOS_PLUGIN_VERSION, "Mesos-DNS's names for the cluster's tasks, masters and agents")
