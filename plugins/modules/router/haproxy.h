// HAProxy as the edge router's data plane: its configuration file, its
// runtime API (the admin stats socket), and the reconciler that moves a
// running HAProxy to a Plan with runtime commands, reloading only when a
// listener or a backend's settings must change.
//
// The configuration holds pre-made backends ("be_<n>"), each with
// `server-template` slots s1..sN parked in maintenance: a task coming or
// going is `set server be_n/sK addr A port P` + `state ready` (or `state
// maint`), and a virtual host is a line of hosts.map (or paths.map), both
// changed at run time. Spare backends let a new http app be routed with no
// reload; its service port's listener comes with the next (coalesced)
// reload, which is seamless: master-worker mode hands the listeners over,
// and the servers' addresses and states survive it in the server-state file.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "plugins/modules/router/routes.h"

namespace dcos::router {

// One command on the admin socket (a connection per command, as HAProxy's
// non-interactive mode expects); the reply as HAProxy wrote it.
Result<std::string> runtimeCommand(const std::string &socketPath, const std::string &command,
                                   std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

struct Files {
  std::string dir;
  std::string cfg() const { return dir + "/haproxy.cfg"; }
  std::string admin() const { return dir + "/admin.sock"; }
  std::string master() const { return dir + "/master.sock"; }
  std::string serverState() const { return dir + "/server-state"; }
  std::string hostsMap() const { return dir + "/hosts.map"; }
  std::string pathsMap() const { return dir + "/paths.map"; }  // admin: the /service/ prefixes
  std::string pid() const { return dir + "/haproxy.pid"; }
  std::string layout() const { return dir + "/layout.json"; }
};

// What the configuration file holds: its backends and listeners.
struct Layout {
  struct BackendDef {
    std::string name;  // be_<n>
    std::string key;   // the service it serves, "" when spare
    Mode mode = Mode::Http;
    std::string balance = "roundrobin";
    bool sticky = false;
    bool redirectToHttps = false;
    int capacity = 16;  // server slots
  };
  struct Listener {
    int port = 0;
    Mode mode = Mode::Tcp;
    std::string backend;
    std::string path;  // http: only this prefix reaches the backend
    bool operator==(const Listener &) const = default;
  };
  std::vector<BackendDef> backends;
  std::vector<Listener> listeners;  // by port

  std::string toJson() const;
  static std::optional<Layout> fromJson(const std::string &json);
};

struct EdgeSettings {
  std::string bind;          // the address of port 80 and the service ports; "" all
  int httpPort = 80;
  int threads = 0;           // HAProxy's nbthread; 0 its own choice (one per CPU)
  int maxConnections = 0;    // HAProxy's global maxconn; 0 its own choice (by the fd limit)
  int spares = 8;            // spare backends kept for new apps
  int minCapacity = 16;      // server slots of a new backend
  std::chrono::seconds clientTimeout{60}, serverTimeout{60};
  // The admin router (masters): port 80 serves the node API, this master's
  // first and the other masters' when it does not answer, and each app's
  // first port at /service/<app id>/ (the prefix taken off). Every request
  // is held to the limits below (the header time is timeout http-request).
  bool admin = false;
  std::vector<std::string> nodeApis;  // "address:port", this master's first
  int httpsPort = 443;
  std::string tlsPem;  // cert and key for httpsPort; "" serves no https (yet)
  std::string caCert;  // the masters' CA certificates (a bundle), served at /ca/dcos-ca.crt; "" none
  int maxClientConnections = 256;     // at once, per client address: more get a 429
  long long maxBodyBytes = 1 << 20;   // a larger Content-Length gets a 413
};

std::string renderConfig(const Files &files, const EdgeSettings &settings, const Layout &layout);

// The reconciler: what is applied to the running HAProxy, and the commands
// that bring it to a plan.
class Edge {
 public:
  Edge(Files files, EdgeSettings settings, Layout layout);

  const Layout &layout() const { return layout_; }
  // Changes the layout for `plan` where it must (a new service, a changed
  // setting, more slots, a listener); true when the configuration file must
  // be rewritten and HAProxy reloaded.
  bool plan(const Plan &plan);
  // Why the last plan() asked for a reload.
  const std::vector<std::string> &reloadReasons() const { return why_; }
  // Reads what the running HAProxy serves (after a start, an adoption or a
  // reload): its servers' slots, from `show servers state`.
  Status readBack();
  // Brings the running HAProxy's servers and maps to the last plan with
  // runtime commands (the map files written first). Returns how many
  // commands it sent.
  Result<int> apply();
  // The map files' text for the last plan.
  std::string hostsMap() const;
  std::string pathsMap() const;

 private:
  Layout::BackendDef *backendFor(const std::string &key);
  Files files_;
  EdgeSettings settings_;
  Layout layout_;
  Plan plan_;
  // be_n -> slot (1-based) -> "addr:port" as HAProxy has it ("" parked).
  std::map<std::string, std::map<int, std::string>> applied_;
  std::string appliedHosts_, appliedPaths_;
  bool mapsKnown_ = false;
  std::vector<std::string> why_;
};

}  // namespace dcos::router
