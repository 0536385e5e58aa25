// What the edge router serves, from the scheduler's state: marathon-lb's
// labels read off each app, and the tasks that should get traffic. Pure
// logic, no HAProxy and no ZooKeeper: the module turns a Plan into HAProxy's
// configuration and runtime commands (haproxy.h).
//
// Labels (app-level, and HAPROXY_{n}_ per port index n, as marathon-lb reads them):
//   HAPROXY_GROUP, HAPROXY_{n}_GROUP   comma-separated groups; served when one is the router's group ("*": all)
//   HAPROXY_{n}_ENABLED                 "false" (or 0, no, off) leaves the port out
//   HAPROXY_{n}_VHOST                   comma-separated virtual hosts on port 80 (http mode)
//   HAPROXY_{n}_PATH                    a path prefix: with a vhost on port 80, and on the service port
//   HAPROXY_{n}_MODE                    http or tcp (default: http with a vhost or an HTTP health check, else tcp)
//   HAPROXY_{n}_BALANCE                 roundrobin, static-rr, leastconn, first, source, random
//   HAPROXY_{n}_REDIRECT_TO_HTTPS       true: plain http on port 80 gets a 301 to https
//   HAPROXY_{n}_STICKY                  true: a cookie keeps a client on its server
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dcos::router {

struct AppInfo {
  std::string id;
  std::map<std::string, std::string> labels;
  std::vector<int> servicePorts;  // portDefinitions[n].port, in order
  bool httpHealthCheck = false;   // its first health check is HTTP or HTTPS
  bool healthChecked = false;     // it has a health check at all
};

struct TaskInfo {
  std::string id, appId, host, state;
  std::vector<int> ports;        // host ports, by port index
  std::optional<bool> healthy;   // the scheduler's last health result
  bool killing = false;          // a kill is on its way: out of rotation
};

struct Backend {
  std::string taskId, address;
  int port = 0;
  bool operator==(const Backend &) const = default;
};

enum class Mode { Http, Tcp };

struct Service {
  std::string appId;
  int portIndex = 0;
  int servicePort = 0;  // 0: none bound
  Mode mode = Mode::Tcp;
  std::vector<std::string> vhosts;  // lower-cased
  std::string path;                 // "" or starting with '/'
  std::string balance = "roundrobin";
  bool redirectToHttps = false;
  bool sticky = false;
  std::vector<Backend> backends;  // in task id order

  // "<app id>:<port index>": a service's name across plans.
  std::string key() const { return appId + ":" + std::to_string(portIndex); }
  // What needs a new HAProxy configuration when it changes (its backends
  // and virtual hosts change at run time).
  std::string shape() const;
};

struct Plan {
  std::vector<Service> services;  // by key
  std::vector<std::string> problems;  // "app /web: label HAPROXY_2_VHOST: ..."
};

struct EdgeConfig {
  std::string group = "external";
};

// Should this task get traffic: running, not being killed, and healthy when
// its app checks health.
bool inRotation(const TaskInfo &task, const AppInfo &app);

Plan plan(const EdgeConfig &config, const std::map<std::string, AppInfo> &apps, const std::vector<TaskInfo> &tasks);

// The admin router's services: every app with a port, whatever its labels,
// at the path /service/<app id>/ (its first port, http), as DC/OS's admin
// router served them to operators.
// App ids of at most this many segments (a /service/ prefix is taken off
// by a rule per depth).
constexpr int kMaxServiceDepth = 8;
Plan adminPlan(const std::map<std::string, AppInfo> &apps, const std::vector<TaskInfo> &tasks);

}  // namespace dcos::router
