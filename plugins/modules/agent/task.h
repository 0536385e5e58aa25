// A task as the agent runs it: what the scheduler asks for (TaskSpec, parsed
// and checked from the launch request's JSON) and where it stands
// (TaskStatus, in Mesos's state names). No I/O here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"

namespace dcos::agent {

enum class TaskState {
  Staging,
  Starting,
  Running,
  Finished,
  Failed,
  Killing,
  Killed,
  Lost,
  Gone,
};

// "TASK_RUNNING" ...
const char *stateName(TaskState s);
std::optional<TaskState> stateFromName(std::string_view name);
bool isTerminal(TaskState s);

struct HealthCheck {
  std::string protocol = "HTTP";  // HTTP, HTTPS, TCP, COMMAND (MESOS_HTTP, MESOS_HTTPS, MESOS_TCP alike)
  std::string path = "/";
  int portIndex = 0;
  std::optional<int> port;  // a fixed port instead of portIndex
  std::string command;      // COMMAND
  double gracePeriodSeconds = 300;
  double intervalSeconds = 60;
  double timeoutSeconds = 20;
  int maxConsecutiveFailures = 3;
  bool ignoreHttp1xx = false;
};

struct TaskSpec {
  std::string id;
  std::string cmd;                // run with /bin/sh -c, or
  std::vector<std::string> args;  // exec'd as they are (args[0] looked up on PATH)
  std::map<std::string, std::string> env;
  double cpus = 0.1;
  double mem = 32;  // MiB
  double disk = 0;  // MiB
  std::vector<int> ports;
  std::vector<std::string> portNames;  // same order as ports; "" when unnamed
  std::string user;                    // empty: the agent's default task user
  double killGracePeriodSeconds = 3;
  std::vector<HealthCheck> healthChecks;
  std::string appId;       // MARATHON_APP_ID
  std::string appVersion;  // MARATHON_APP_VERSION
  std::map<std::string, std::string> labels;
};

// One problem with a request, at a JSON pointer into it ("/cpus").
struct Problem {
  std::string path;
  std::string message;
};

// What the agent allows; a request past it is refused.
struct SpecLimits {
  double maxCpus = 0;  // the agent's total
  double maxMem = 0;
  double maxDisk = 0;
};

// Parses a launch request. Malformed JSON: an Error with code 400; an invalid
// request: code 422 and every problem in `problems`.
Result<TaskSpec> parseTaskSpec(const std::string &json, const SpecLimits &limits, std::vector<Problem> &problems);
std::string taskSpecJson(const TaskSpec &spec);

// The task id as a file name and unit name part: ids are checked to be
// [A-Za-z0-9_.-]+, up to 200 characters, not "." or "..".
bool isTaskId(std::string_view id);

// The environment Marathon gives a task: PORT0..n, PORTS, PORT_<NAME>,
// PORT (the first), HOST, MESOS_TASK_ID, MESOS_SANDBOX, MARATHON_APP_ID,
// MARATHON_APP_VERSION (when given), then the spec's own env, which wins.
std::vector<std::string> taskEnvironment(const TaskSpec &spec, const std::string &host, const std::string &sandbox);

struct TaskStatus {
  std::string taskId;
  TaskState state = TaskState::Staging;
  std::string message;
  std::optional<int> exitCode;  // exited
  std::optional<int> signal;    // killed by
  std::optional<bool> healthy;  // absent until a health check has a result
  int64_t timestampMs = 0;      // wall clock, ms since the epoch
  std::string uuid;             // of this update, for acknowledgement
};


}  // namespace dcos::agent
