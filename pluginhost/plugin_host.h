// Runs one node's plugins: the role plugin named by node.json and the modules
// its manifest lists.
//
//   PluginHost host(options, config);
//   if (auto s = host.load(); !s) ...   // role, manifest, every module created
//   if (auto s = host.start(); !s) ...  // modules started in dependency order
//   ...
//   host.stop();                        // stopped in reverse, then destroyed
//
// A module marked optional in the manifest may fail to load, create or start:
// it is then reported Failed (with the reason) and the node runs without it,
// as do the modules that require it if they are optional too. Any other
// failure is returned, after stopping what was already started.
//
// load(), start() and stop() are called from one thread. status() and the
// host services given to plugins are safe from any thread.
#pragma once

#include <dcos/plugin.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "pluginhost/loader.h"
#include "pluginhost/manifest.h"

namespace dcos::pluginhost {

enum class State { Loaded, Created, Starting, Running, Stopping, Stopped, Failed };
std::string_view stateName(State state);
std::string_view healthName(dcos_health health);

struct PluginStatus {
  std::string name;
  std::string kind;  // "role" or "module"
  std::string version;
  std::string description;
  std::string library;
  bool optional = false;
  State state = State::Loaded;
  dcos_health health = DCOS_HEALTH_HEALTHY;
  std::string message;  // why it failed, or what it said with its health
};

// Carries out a plugin's open_port (open = true) or close_port. Called on
// the plugin's thread; must be thread safe.
using PortHook = std::function<Status(uint32_t zones, uint32_t proto, uint16_t port, bool open)>;

// Carries out stand_for_election and resign; thread safe.
struct ElectionHooks {
  std::function<Status(const std::string &name, const std::string &candidate, std::function<void(bool)> onChange)>
      stand;
  std::function<void(const std::string &name)> resign;
};

struct HostOptions {
  std::string pluginDir;
  std::string stateDir;  // each plugin gets <stateDir>/<name>
  PortHook ports;        // empty: the firewall is off, and port changes succeed doing nothing
  ElectionHooks elections = {};  // empty: stand_for_election fails with ENOTSUP
};

class PluginHost {
 public:
  PluginHost(HostOptions options, config::Config config);
  ~PluginHost();
  PluginHost(const PluginHost &) = delete;
  PluginHost &operator=(const PluginHost &) = delete;

  // Loads and creates the role, reads its manifest, loads and creates every module.
  Status load();
  // Loads and creates the role and reads its manifest, and no module: what
  // dcos-image needs to know what goes into the role's image.
  Status loadRoleOnly();
  // Starts the role, then the modules in dependency order.
  Status start();
  // Stops what runs in reverse start order, then destroys every instance.
  void stop();

  // Valid after a successful load().
  const Manifest &manifest() const { return manifest_; }
  // The role first, then the modules in start order.
  std::vector<PluginStatus> status() const;
  // The node identity handed to modules (dcos_host_v1::node_json).
  const std::string &nodeJson() const { return nodeJson_; }
  // Attributes of the node: the role's, overridden by node.json's.
  const std::map<std::string, std::string> &attributes() const { return attributes_; }

  // Called with a short line at each step ("starting module dns"), for
  // systemd's STATUS= and the log. Set before load().
  std::function<void(const std::string &)> onProgress;
  // While start() waits for a module marked await_healthy: called about once
  // a second (dcosd pings the watchdog there); returning true abandons the
  // start. Set before start().
  std::function<bool()> whileWaiting;

  // Serves a node API request with the plugin route for `path`, if a running
  // plugin has one; false when none does. Thread safe; stop() waits for
  // calls in flight before stopping a plugin.
  bool serveRoute(const dcos_http_request &request, const dcos_http_response &response);

  // The roles that have a plugin in the plugin dir (role-<name>.so).
  static std::vector<std::string> knownRoles(const std::string &pluginDir);

 private:
  struct Instance;

  Status loadImpl(bool withModules);
  Status createInstance(Instance &instance, const std::string &configJson);
  std::string moduleConfig(const ModuleSpec &spec) const;
  void fail(Instance &instance, const std::string &reason);
  void setState(Instance &instance, State state);
  void progress(const std::string &line);
  bool dependencyFailed(const Instance &instance, std::string &which) const;

  static void hostLog(void *ctx, dcos_log_level level, const char *message);
  static const char *hostNodeJson(void *ctx);
  static const char *hostStateDir(void *ctx);
  static void hostReportHealth(void *ctx, dcos_health health, const char *message);
  static const char *hostClusterJson(void *ctx);
  static int hostHttpRoute(void *ctx, const char *prefix, dcos_http_handler handler, void *user, char *err,
                           size_t len);
  void stopInstance(Instance &instance);
  // Closes the instance's routes (calls in flight finish first) and resigns
  // its elections: after it, nothing of the host calls into the instance.
  void release(Instance &instance);
  static int hostStand(void *ctx, const char *name, void (*onChange)(void *, int), void *user, char *err, size_t len);
  static void hostResign(void *ctx, const char *name);
  static int hostPort(void *ctx, bool open, uint32_t zones, uint32_t proto, uint16_t port, char *err, size_t len);
  static int hostOpenPort(void *ctx, uint32_t zones, uint32_t proto, uint16_t port, char *err, size_t len);
  static int hostClosePort(void *ctx, uint32_t zones, uint32_t proto, uint16_t port, char *err, size_t len);

  HostOptions options_;
  config::Config config_;
  Loader loader_;
  Manifest manifest_;
  std::map<std::string, std::string> attributes_;
  std::string roleNodeJson_;  // what the role sees (no zone yet)
  std::string nodeJson_;      // what modules see
  std::unique_ptr<Instance> role_;
  std::vector<std::unique_ptr<Instance>> modules_;  // in start order
  std::string clusterJson_;

  struct Route {
    std::string prefix;
    dcos_http_handler handler;
    void *user;
    Instance *owner;
  };
  mutable std::mutex mutex_;  // guards state, health, message and in-flight calls of instances, and routes_
  std::condition_variable changed_;  // health reported, or a route call finished
  std::vector<Route> routes_;
};

}  // namespace dcos::pluginhost
