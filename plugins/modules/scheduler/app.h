// An app as Marathon defines it: parsed and checked from its JSON (every
// problem named by Marathon's path syntax, "/cpus", "/healthChecks(0)/portIndex"),
// and written back in Marathon's shape with Marathon's keys only (clients
// such as marathon-python build objects from every key and refuse one they
// do not know). No I/O here.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"

namespace dcos::scheduler {

struct Problem {
  std::string path;  // Marathon's: "/cpus", "/portDefinitions(0)/port", "/" for the whole app
  std::string message;
};

struct PortDefinition {
  int port = 0;  // 0: a service port is picked for it
  std::string protocol = "tcp";
  std::string name;
  std::map<std::string, std::string> labels;
};

struct HealthCheck {
  std::string protocol = "HTTP";
  std::string path = "/";
  int portIndex = 0;
  std::optional<int> port;
  std::string command;
  int gracePeriodSeconds = 300;
  int intervalSeconds = 60;
  int timeoutSeconds = 20;
  int maxConsecutiveFailures = 3;
  bool ignoreHttp1xx = false;
};

struct Constraint {
  std::string field;     // "hostname" or an attribute
  std::string op;        // UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS
  std::string value;     // may be empty (UNIQUE, GROUP_BY)
};

struct App {
  std::string id;  // absolute: "/group/web"
  std::optional<std::string> cmd;
  std::optional<std::vector<std::string>> args;
  std::string user;
  std::map<std::string, std::string> env;
  int instances = 1;
  double cpus = 1;
  double mem = 128;
  double disk = 0;
  double gpus = 0;
  std::vector<PortDefinition> portDefinitions{PortDefinition{}};
  bool requirePorts = false;
  std::map<std::string, std::string> labels;
  std::vector<std::string> acceptedResourceRoles;  // empty: ["*"]
  std::vector<HealthCheck> healthChecks;
  std::vector<Constraint> constraints;
  std::vector<std::string> dependencies;
  double backoffSeconds = 1;
  double backoffFactor = 1.15;
  double maxLaunchDelaySeconds = 300;
  double minimumHealthCapacity = 1;
  double maximumOverCapacity = 1;
  std::string killSelection = "YOUNGEST_FIRST";
  double taskKillGracePeriodSeconds = 3;
  double inactiveAfterSeconds = 0;  // unreachableStrategy
  double expungeAfterSeconds = 0;
  std::string version;             // when this definition was made, Marathon's time format
  std::string lastScalingAt;       // versionInfo
  std::string lastConfigChangeAt;
};

// "web" or "/g/web/" to "/g/web"; empty when it breaks Marathon's path
// rules (each segment lowercase letters, digits, dashes and dots, no dash
// at either end), with `why` saying how.
std::string normalizeId(const std::string &id, std::string *why = nullptr);
// Where it sits among ids: "/g/web" is in group "/g".
std::string parentGroup(const std::string &id);

// Parses a definition. `base`, when given, is the app it changes (PUT and
// PATCH are partial: what the body names replaces what base has). Read-only
// fields a client sends back from a GET (tasks, tasksRunning, deployments,
// version, versionInfo ...) are ignored, as are unknown fields. Malformed
// JSON: an Error with code 400. An invalid app: code 422 and every problem
// in `problems`.
Result<App> parseApp(const std::string &json, std::vector<Problem> &problems, const App *base = nullptr);
// The definition alone, as it is stored and as /versions/{version} shows it.
std::string appJson(const App &app);

// Two definitions that run the same tasks (a change of instances alone is
// a scaling, not a configuration change).
bool sameConfig(const App &a, const App &b);


}  // namespace dcos::scheduler
