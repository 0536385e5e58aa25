#include "pluginhost/plugin_host.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "base/log.h"
#include "base/text.h"

namespace dcos::pluginhost {

namespace fs = std::filesystem;

std::string_view stateName(State state) {
  switch (state) {
    case State::Loaded: return "loaded";
    case State::Created: return "created";
    case State::Starting: return "starting";
    case State::Running: return "running";
    case State::Stopping: return "stopping";
    case State::Stopped: return "stopped";
    case State::Failed: return "failed";
  }
  return "unknown";
}

std::string_view healthName(dcos_health health) {
  switch (health) {
    case DCOS_HEALTH_HEALTHY: return "healthy";
    case DCOS_HEALTH_DEGRADED: return "degraded";
    case DCOS_HEALTH_UNHEALTHY: return "unhealthy";
  }
  return "unhealthy";
}

struct PluginHost::Instance {
  PluginHost *owner = nullptr;
  ModuleSpec spec;
  std::string library;
  Library lib;
  dcos_host_v1 table{};
  std::string stateDir;
  void *handle = nullptr;
  bool started = false;
  // Guarded by owner->mutex_:
  State state = State::Loaded;
  dcos_health health = DCOS_HEALTH_HEALTHY;
  std::string message;
  int inFlight = 0;  // node API calls into this instance's routes
  std::vector<std::string> elections;  // names it stands for
};

PluginHost::PluginHost(HostOptions options, config::Config config)
    : options_(std::move(options)), config_(std::move(config)) {}

PluginHost::~PluginHost() {
  for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) {
    if ((*it)->handle != nullptr) (*it)->lib.descriptor->destroy((*it)->handle);
  }
  if (role_ && role_->handle != nullptr) role_->lib.descriptor->destroy(role_->handle);
}

std::vector<std::string> PluginHost::knownRoles(const std::string &pluginDir) {
  std::vector<std::string> roles;
  std::error_code ec;
  for (const auto &entry : fs::directory_iterator(pluginDir, ec)) {
    std::string file = entry.path().filename().string();
    if (text::startsWith(file, "role-") && text::endsWith(file, ".so")) {
      roles.push_back(file.substr(5, file.size() - 8));
    }
  }
  // The stock roles first, in their natural order, then custom ones.
  auto rank = [](const std::string &r) {
    if (r == "master") return 0;
    if (r == "agent-private") return 1;
    if (r == "agent-public") return 2;
    return 3;
  };
  std::sort(roles.begin(), roles.end(), [&](const auto &a, const auto &b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
  });
  return roles;
}

void PluginHost::progress(const std::string &line) {
  log::info(line);
  if (onProgress) onProgress(line);
}

void PluginHost::setState(Instance &instance, State state) {
  std::lock_guard lock(mutex_);
  instance.state = state;
}

void PluginHost::fail(Instance &instance, const std::string &reason) {
  {
    std::lock_guard lock(mutex_);
    instance.state = State::Failed;
    instance.health = DCOS_HEALTH_UNHEALTHY;
    instance.message = reason;
  }
  if (instance.spec.optional) {
    log::warning("optional module " + instance.spec.name + " failed, running without it: " + reason);
  }
}

// The role's config for a module with node.json's /modules/<name> laid over
// it, key by key.
std::string PluginHost::moduleConfig(const ModuleSpec &spec) const {
  auto node = config_.node.moduleConfig.find(spec.name);
  if (node == config_.node.moduleConfig.end()) return spec.configJson;
  Poco::JSON::Object::Ptr merged =
      Poco::JSON::Parser().parse(spec.configJson.empty() ? "{}" : spec.configJson).extract<Poco::JSON::Object::Ptr>();
  auto over = Poco::JSON::Parser().parse(node->second).extract<Poco::JSON::Object::Ptr>();
  for (const auto &[key, value] : *over) merged->set(key, value);
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(merged, out);
  return out.str();
}

Status PluginHost::createInstance(Instance &instance, const std::string &configJson) {
  const auto *d = instance.lib.descriptor;
  instance.stateDir = options_.stateDir + "/" + d->name;
  std::error_code ec;
  fs::create_directories(instance.stateDir, ec);
  if (ec) {
    return makeError(instance.lib.path + ": cannot create state dir " + instance.stateDir + ": " + ec.message());
  }
  instance.owner = this;
  instance.table.struct_size = sizeof(dcos_host_v1);
  instance.table.abi_major = DCOS_ABI_MAJOR;
  instance.table.ctx = &instance;
  instance.table.log = &PluginHost::hostLog;
  instance.table.node_json = &PluginHost::hostNodeJson;
  instance.table.state_dir = &PluginHost::hostStateDir;
  instance.table.report_health = &PluginHost::hostReportHealth;
  instance.table.open_port = &PluginHost::hostOpenPort;
  instance.table.close_port = &PluginHost::hostClosePort;
  instance.table.cluster_json = &PluginHost::hostClusterJson;
  instance.table.http_route = &PluginHost::hostHttpRoute;
  instance.table.stand_for_election = &PluginHost::hostStand;
  instance.table.resign = &PluginHost::hostResign;

  char err[512] = {};
  void *handle = nullptr;
  int rc = d->create(&instance.table, configJson.c_str(), &handle, err, sizeof err);
  if (rc != 0 || handle == nullptr) {
    err[sizeof err - 1] = '\0';
    std::string reason = err[0] != '\0' ? err : (rc != 0 ? std::strerror(-rc) : "returned no instance");
    return makeError(instance.lib.path + ": create failed: " + reason);
  }
  instance.handle = handle;
  setState(instance, State::Created);
  return Status::Ok();
}

Status PluginHost::load() { return loadImpl(true); }
Status PluginHost::loadRoleOnly() { return loadImpl(false); }

Status PluginHost::loadImpl(bool withModules) {
  const std::string nodeFile = config_.dir.empty() ? "node.json" : config_.dir + "/node.json";
  const std::string &roleName = config_.node.role;
  std::string rolePath = options_.pluginDir + "/role-" + roleName + ".so";
  if (!fs::exists(rolePath)) {
    auto known = knownRoles(options_.pluginDir);
    std::string message = nodeFile + ": /role: unknown role " + text::quote(roleName) + " (known: " +
                          (known.empty() ? "none in " + options_.pluginDir : text::join(known, ", ")) + ")";
    std::string suggestion = text::nearest(roleName, known);
    if (!suggestion.empty()) message += "; did you mean " + text::quote(suggestion) + "?";
    return makeError(message);
  }

  Poco::JSON::Object::Ptr node = new Poco::JSON::Object;
  node->set("role", roleName);
  node->set("address", config_.node.address);
  node->set("hostname", config_.node.hostname);
  node->set("cluster_name", config_.cluster.name);
  // Where this node's API (and the plugins' routes) are reached: what
  // modules advertise (a wildcard listener at the node's address).
  node->set("api", config::reachableAt(config_.node.apiListen, config_.node.address));
  {
    std::ostringstream s;
    Poco::JSON::Stringifier::stringify(node, s);
    roleNodeJson_ = s.str();
  }

  clusterJson_ = config::clusterToJson(config_.cluster);
  progress("loading role " + roleName);
  auto lib = loader_.load(rolePath, DCOS_PLUGIN_ROLE);
  if (!lib) return lib.error();
  role_ = std::make_unique<Instance>();
  role_->lib = *lib;
  role_->library = rolePath;
  role_->spec.name = lib->descriptor->name;
  if (auto s = createInstance(*role_, config::toJson(config_)); !s) return s.error();

  const char *manifestText = lib->descriptor->role_manifest(role_->handle);
  if (manifestText == nullptr) return makeError(rolePath + ": role_manifest returned NULL");
  auto manifest = parseManifest(manifestText, rolePath + ": manifest");
  if (!manifest) return manifest.error();
  auto order = startOrder(manifest->modules);
  if (!order) return order.error().wrap(rolePath + ": manifest");
  manifest_ = *manifest;
  if (!withModules) return Status::Ok();

  attributes_ = manifest_.attributes;
  for (const auto &[k, v] : config_.node.attributes) attributes_[k] = v;
  node->set("zone", manifest_.zone);
  node->set("resource_role", manifest_.resourceRole);
  Poco::JSON::Object::Ptr attrs = new Poco::JSON::Object;
  for (const auto &[k, v] : attributes_) attrs->set(k, v);
  node->set("attributes", attrs);
  node->set("state_dir", options_.stateDir);
  {
    std::ostringstream s;
    Poco::JSON::Stringifier::stringify(node, s);
    nodeJson_ = s.str();
  }

  for (const auto &[name, json] : config_.node.moduleConfig) {
    bool known = false;
    for (const auto &m : manifest_.modules) known = known || m.name == name;
    if (!known) {
      return makeError(nodeFile + ": /modules/" + name + ": role " + text::quote(roleName) + " runs no module " +
                       text::quote(name));
    }
  }
  for (size_t index : *order) {
    const ModuleSpec &spec = manifest_.modules[index];
    auto instance = std::make_unique<Instance>();
    instance->spec = spec;
    instance->library = spec.library.empty() || spec.library.front() == '/' ? spec.library
                                                                             : options_.pluginDir + "/" + spec.library;
    instance->owner = this;
    Instance &inst = *instance;
    modules_.push_back(std::move(instance));

    std::string which;
    if (dependencyFailed(inst, which)) {
      std::string reason = "requires module " + text::quote(which) + ", which failed";
      fail(inst, reason);
      if (!spec.optional) return makeError("module " + text::quote(spec.name) + ": " + reason);
      continue;
    }
    progress("loading module " + spec.name);
    auto modLib = loader_.load(inst.library, DCOS_PLUGIN_MODULE);
    if (modLib && spec.name != modLib->descriptor->name) {
      modLib = makeError(inst.library + ": the plugin is named " + text::quote(modLib->descriptor->name) +
                         ", but the role lists it as " + text::quote(spec.name));
    }
    Status created = modLib ? Status::Ok() : Status(modLib.error());
    if (modLib) {
      inst.lib = *modLib;
      created = createInstance(inst, moduleConfig(spec));
    }
    if (!created) {
      fail(inst, created.error().message);
      if (!spec.optional) return created.error();
    }
  }
  return Status::Ok();
}

bool PluginHost::dependencyFailed(const Instance &instance, std::string &which) const {
  std::lock_guard lock(mutex_);
  for (const auto &dep : instance.spec.requires_) {
    for (const auto &other : modules_) {
      if (other->spec.name == dep && other->state == State::Failed) {
        which = dep;
        return true;
      }
    }
  }
  return false;
}

Status PluginHost::start() {
  char err[512] = {};
  if (role_->lib.descriptor->start(role_->handle, err, sizeof err) != 0) {
    err[sizeof err - 1] = '\0';
    return makeError(role_->library + ": start failed: " + err);
  }
  role_->started = true;
  setState(*role_, State::Running);

  for (auto &m : modules_) {
    Instance &inst = *m;
    {
      std::lock_guard lock(mutex_);
      if (inst.state == State::Failed) continue;
    }
    std::string which;
    if (dependencyFailed(inst, which)) {
      std::string reason = "requires module " + text::quote(which) + ", which failed";
      fail(inst, reason);
      if (inst.spec.optional) continue;
      stop();
      return makeError("module " + text::quote(inst.spec.name) + ": " + reason);
    }
    progress("starting module " + inst.spec.name);
    setState(inst, State::Starting);
    std::fill(std::begin(err), std::end(err), '\0');
    int rc = inst.lib.descriptor->start(inst.handle, err, sizeof err);
    if (rc != 0) {
      err[sizeof err - 1] = '\0';
      std::string reason = inst.library + ": start failed: " + (err[0] != '\0' ? err : std::strerror(-rc));
      fail(inst, reason);
      release(inst);  // what it set up before it failed: routes, elections
      if (inst.spec.optional) continue;
      stop();
      return makeError(reason);
    }
    inst.started = true;
    setState(inst, State::Running);
    if (inst.spec.awaitHealthy) {
      std::unique_lock lock(mutex_);
      std::string last;
      while (inst.health != DCOS_HEALTH_HEALTHY) {
        std::string line = "waiting for " + inst.spec.name + (inst.message.empty() ? "" : ": " + inst.message);
        if (line != last) {
          last = line;
          lock.unlock();
          progress(line);
          lock.lock();
        }
        changed_.wait_for(lock, std::chrono::seconds(1));
        if (inst.health == DCOS_HEALTH_HEALTHY) break;
        lock.unlock();
        bool abandon = whileWaiting && whileWaiting();
        lock.lock();
        if (abandon) {
          lock.unlock();
          stop();
          return makeError("start abandoned while waiting for module " + text::quote(inst.spec.name));
        }
      }
      lock.unlock();
      progress("module " + inst.spec.name + " is healthy");
    }
  }
  return Status::Ok();
}

namespace {

// From Stopping on, and once failed, an instance takes no new routes or elections.
bool closedToWork(State state) { return state == State::Stopping || state == State::Stopped || state == State::Failed; }

}  // namespace

void PluginHost::release(Instance &inst) {
  std::vector<std::string> elections;
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return inst.inFlight == 0; });
    routes_.erase(std::remove_if(routes_.begin(), routes_.end(), [&](const Route &r) { return r.owner == &inst; }),
                  routes_.end());
    elections.swap(inst.elections);
  }
  for (const auto &name : elections) {
    if (options_.elections.resign) options_.elections.resign(name);
  }
}

void PluginHost::stopInstance(Instance &inst) {
  // Routes close, calls in flight finish, and leadership is handed over
  // before the plugin stops, not after its session ends. From Stopping on,
  // new routes and elections are refused.
  setState(inst, State::Stopping);
  release(inst);
  inst.lib.descriptor->stop(inst.handle);
  inst.started = false;
  setState(inst, State::Stopped);
}

bool PluginHost::serveRoute(const dcos_http_request &request, const dcos_http_response &response) {
  const std::string path = request.path != nullptr ? request.path : "";
  Route found{};
  {
    std::lock_guard lock(mutex_);
    for (const auto &r : routes_) {
      if ((path == r.prefix || text::startsWith(path, r.prefix + "/")) && r.owner->state == State::Running) {
        found = r;
        ++r.owner->inFlight;
        break;
      }
    }
  }
  if (found.owner == nullptr) return false;
  // Counted out however the handler leaves, or a stop would wait forever.
  struct Done {
    PluginHost *host;
    Instance *owner;
    ~Done() {
      {
        std::lock_guard lock(host->mutex_);
        --owner->inFlight;
      }
      host->changed_.notify_all();
    }
  } done{this, found.owner};
  found.handler(found.user, &request, &response);
  return true;
}

int PluginHost::hostStand(void *ctx, const char *name, void (*onChange)(void *, int), void *user, char *err,
                          size_t len) {
  auto *inst = static_cast<Instance *>(ctx);
  auto fail = [&](const std::string &message, int errnum) {
    if (err != nullptr && len > 0) std::snprintf(err, len, "%s", message.c_str());
    return -errnum;
  };
  std::string n = name != nullptr ? name : "";
  if (!config::isName(n)) return fail("election name " + text::quote(n) + " is not a name", EINVAL);
  const auto &hooks = inst->owner->options_.elections;
  if (!hooks.stand) return fail("this node takes part in no elections", ENOTSUP);
  auto changed = [onChange, user](bool leader) {
    if (onChange != nullptr) onChange(user, leader ? 1 : 0);
  };
  if (auto s = hooks.stand(n, inst->owner->config_.node.address, changed); !s) return fail(s.error().message, EIO);
  {
    std::lock_guard lock(inst->owner->mutex_);
    if (!closedToWork(inst->state)) {
      inst->elections.push_back(n);
      return 0;
    }
  }
  // It began to stop meanwhile: release() may have run already.
  if (hooks.resign) hooks.resign(n);
  return fail("module " + inst->spec.name + " is stopping or failed", ESHUTDOWN);
}

void PluginHost::hostResign(void *ctx, const char *name) {
  auto *inst = static_cast<Instance *>(ctx);
  std::string n = name != nullptr ? name : "";
  {
    std::lock_guard lock(inst->owner->mutex_);
    auto it = std::find(inst->elections.begin(), inst->elections.end(), n);
    if (it == inst->elections.end()) return;
    inst->elections.erase(it);
  }
  if (inst->owner->options_.elections.resign) inst->owner->options_.elections.resign(n);
}

const char *PluginHost::hostClusterJson(void *ctx) { return static_cast<Instance *>(ctx)->owner->clusterJson_.c_str(); }

int PluginHost::hostHttpRoute(void *ctx, const char *prefix, dcos_http_handler handler, void *user, char *err,
                              size_t len) {
  auto *inst = static_cast<Instance *>(ctx);
  auto fail = [&](const std::string &message) {
    if (err != nullptr && len > 0) std::snprintf(err, len, "%s", message.c_str());
    return -EINVAL;
  };
  std::string p = prefix != nullptr ? prefix : "";
  if (p.size() < 2 || p.front() != '/' || p.back() == '/' || handler == nullptr) {
    return fail("route prefix " + text::quote(p) + " must start with / and not end with it, with a handler");
  }
  for (const char *own : {"/health", "/v1/node", "/v1/cluster", "/metrics"}) {
    if (p == own || text::startsWith(p, std::string(own) + "/") || text::startsWith(own, p + "/")) {
      return fail("route prefix " + text::quote(p) + " overlaps dcosd's own " + own);
    }
  }
  std::lock_guard lock(inst->owner->mutex_);
  if (closedToWork(inst->state)) {
    return fail("module " + inst->spec.name + " is stopping or failed");
  }
  for (const auto &r : inst->owner->routes_) {
    if (r.prefix == p) return fail("route prefix " + text::quote(p) + " belongs to " + r.owner->spec.name);
  }
  inst->owner->routes_.push_back(Route{p, handler, user, inst});
  log::write(log::Level::Info, inst->spec.name, "serves " + p + " on the node API");
  return 0;
}

void PluginHost::stop() {
  for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) {
    Instance &inst = **it;
    if (!inst.started) continue;
    progress("stopping module " + inst.spec.name);
    stopInstance(inst);
  }
  if (role_ && role_->started) {
    stopInstance(*role_);
  }
  // Modules that never started or failed to: nothing may call into them once destroyed.
  for (auto &m : modules_) release(*m);
  if (role_) release(*role_);
  for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) {
    if ((*it)->handle != nullptr) {
      (*it)->lib.descriptor->destroy((*it)->handle);
      (*it)->handle = nullptr;
    }
  }
  if (role_ && role_->handle != nullptr) {
    role_->lib.descriptor->destroy(role_->handle);
    role_->handle = nullptr;
  }
}

std::vector<PluginStatus> PluginHost::status() const {
  std::lock_guard lock(mutex_);
  std::vector<PluginStatus> out;
  auto describe = [&](const Instance &inst, const char *kind) {
    PluginStatus s;
    s.name = inst.spec.name;
    s.kind = kind;
    if (inst.lib.descriptor != nullptr) {
      s.version = inst.lib.descriptor->version;
      s.description = inst.lib.descriptor->description != nullptr ? inst.lib.descriptor->description : "";
    }
    s.library = inst.library;
    s.optional = inst.spec.optional;
    s.state = inst.state;
    s.health = inst.health;
    s.message = inst.message;
    out.push_back(std::move(s));
  };
  if (role_) describe(*role_, "role");
  for (const auto &m : modules_) describe(*m, "module");
  return out;
}

void PluginHost::hostLog(void *ctx, dcos_log_level level, const char *message) {
  auto *inst = static_cast<Instance *>(ctx);
  int l = std::clamp(static_cast<int>(level), static_cast<int>(log::Level::Error), static_cast<int>(log::Level::Debug));
  log::write(static_cast<log::Level>(l), inst->spec.name, message != nullptr ? message : "");
}

const char *PluginHost::hostNodeJson(void *ctx) {
  auto *inst = static_cast<Instance *>(ctx);
  if (inst == inst->owner->role_.get()) return inst->owner->roleNodeJson_.c_str();
  return inst->owner->nodeJson_.c_str();
}

const char *PluginHost::hostStateDir(void *ctx) { return static_cast<Instance *>(ctx)->stateDir.c_str(); }

void PluginHost::hostReportHealth(void *ctx, dcos_health health, const char *message) {
  auto *inst = static_cast<Instance *>(ctx);
  if (health != DCOS_HEALTH_HEALTHY && health != DCOS_HEALTH_DEGRADED) health = DCOS_HEALTH_UNHEALTHY;
  std::string text = message != nullptr ? message : "";
  bool changed = false;
  {
    std::lock_guard lock(inst->owner->mutex_);
    changed = inst->health != health || inst->message != text;
    inst->health = health;
    inst->message = text;
  }
  inst->owner->changed_.notify_all();
  if (changed) {
    log::write(health == DCOS_HEALTH_HEALTHY ? log::Level::Info : log::Level::Warning, inst->spec.name,
               "health " + std::string(healthName(health)) + (text.empty() ? "" : ": " + text));
  }
}

int PluginHost::hostPort(void *ctx, bool open, uint32_t zones, uint32_t proto, uint16_t port, char *err,
                         size_t len) {
  auto *inst = static_cast<Instance *>(ctx);
  auto fail = [&](const std::string &message, int errnum) {
    if (err != nullptr && len > 0) std::snprintf(err, len, "%s", message.c_str());
    return -errnum;
  };
  if (proto != DCOS_PROTO_TCP && proto != DCOS_PROTO_UDP) {
    return fail("protocol " + std::to_string(proto) + " is neither TCP (6) nor UDP (17)", EINVAL);
  }
  if (zones == 0 || (zones & ~DCOS_ZONE_ALL) != 0) return fail("zone mask " + std::to_string(zones) + " is not valid", EINVAL);
  if (port == 0) return fail("port 0 cannot be opened", EINVAL);
  const auto &hook = inst->owner->options_.ports;
  if (!hook) return 0;
  Status s = hook(zones, proto, port, open);
  std::string what = std::string(open ? "open" : "close") + " " + (proto == DCOS_PROTO_TCP ? "tcp" : "udp") + " port " +
                     std::to_string(port);
  if (!s) {
    log::write(log::Level::Warning, inst->spec.name, what + " refused: " + s.error().message);
    return fail(s.error().message, s.error().code == EAGAIN ? EAGAIN : EIO);
  }
  log::write(log::Level::Info, inst->spec.name, what);
  return 0;
}

int PluginHost::hostOpenPort(void *ctx, uint32_t zones, uint32_t proto, uint16_t port, char *err, size_t len) {
  return hostPort(ctx, true, zones, proto, port, err, len);
}

int PluginHost::hostClosePort(void *ctx, uint32_t zones, uint32_t proto, uint16_t port, char *err, size_t len) {
  return hostPort(ctx, false, zones, proto, port, err, len);
}

}  // namespace dcos::pluginhost
