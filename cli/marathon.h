// The pure parts of the CLI's Marathon, task and node commands: what a
// command sends (PROP=VALUE updates, escaped paths) and how it shows what the
// cluster answers (tables as the DC/OS CLI printed them, Marathon's errors,
// the tail of a log). No I/O here: values in, text out.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::cli {

using Rows = std::vector<std::vector<std::string>>;

// What the tables print where there is nothing, as the DC/OS CLI did.
inline constexpr const char *kEmptyCell = "---";

// JSON text as a value, objects keeping their keys' order (so --json prints
// what the API sent, as it sent it); a top-level scalar is accepted. An error
// says why it is not JSON.
Result<Poco::Dynamic::Var> parseJson(const std::string &text);
// Indented by two, as --json prints.
std::string prettyJson(const Poco::Dynamic::Var &value);

// A PROP=VALUE value: JSON when the whole of it parses as JSON (2, true,
// [1], {"a": "b"}, "quoted"), the text as a string otherwise (sleep 10).
Poco::Dynamic::Var propertyValue(const std::string &text);
// `app update`'s body from PROP=VALUE arguments: an object of each property
// and its value. An error names an argument without `=`, with an empty
// property, or a property given twice.
Result<std::string> propertiesBody(const std::vector<std::string> &assignments);

// "/id" for "id", without a trailing slash: how Marathon names apps.
std::string normalizeAppId(const std::string &id);
// A path (an app id, a version) for a URL: what a path may not hold as it is
// (a space, ?, #, %, &, =, +) percent-encoded; slashes and colons kept.
std::string escapePath(const std::string &path);
// A query value, percent-encoded but for slashes.
std::string escapeQuery(const std::string &value);

// Marathon's error answer as lines: its `message` first (or, when the body
// is no JSON with a message, "HTTP <status>: <body>"), then, for each of
// `details` ({path, errors[]}, or the older {attribute, error}), one line
// "path: error" per error.
std::vector<std::string> errorLines(int status, const std::string &body);

// `app list`: ID MEM CPUS TASKS HEALTH DEPLOYMENT CMD, header first. TASKS
// is running/instances; HEALTH healthy/running for apps with health checks;
// DEPLOYMENT the current actions of the app's deployments (start, scale,
// restart, stop...), looked up in `deployments` (GET /v2/deployments).
Rows appTable(const Poco::JSON::Array::Ptr &apps, const Poco::JSON::Array::Ptr &deployments);
// `marathon task list`: APP HEALTHY STARTED HOST ID, sorted by app then id.
// HEALTHY is True unless a health check result says it is not alive.
Rows taskTable(const Poco::JSON::Array::Ptr &tasks);
// `deployment list`: APP ACTION PROGRESS ID, only deployments affecting
// `appId` when it is not empty.
Rows deploymentTable(const Poco::JSON::Array::Ptr &deployments, const std::string &appId);
// `dcos task`: ID HOST USER STATE APP, sorted by id. `users` maps task ids to
// the user they run as; a task not in it shows kEmptyCell.
Rows clusterTaskTable(const Poco::JSON::Array::Ptr &tasks, const std::map<std::string, std::string> &users);

// Whether a task id matches a `dcos task` FILTER: the filter is a part of
// the id, or a shell glob matching all of it. An empty filter matches all.
bool taskMatches(const std::string &taskId, const std::string &filter);

// The last `n` lines of `text`; a final line without a newline counts.
std::string lastLines(const std::string &text, size_t n);
// Whether `tail`, the end of a longer text, holds its last `n` lines whole.
bool holdsLastLines(const std::string &tail, size_t n);

// An agent as GET /mesos/master/slaves describes it.
struct AgentResources {
  std::string id;
  std::string hostname;
  std::string address;  // from its pid, slave(1)@<address>:<port>, when given
  double cpus = 0, mem = 0, disk = 0;
  double usedCpus = 0, usedMem = 0, usedDisk = 0;
};
// The agents of a /mesos/master/slaves answer; an error when it is not that shape.
Result<std::vector<AgentResources>> parseSlaves(const std::string &body);

// `node list`: HOSTNAME ADDRESS ROLE ZONE RESOURCE-ROLE VERSION, masters
// first, then private and public agents, each by address. With `agents`
// (nullptr: not known), CPUS, MEM and DISK (MiB) as used/total are added for
// every node that is one of them (by hostname or address).
Rows nodeTable(const Poco::JSON::Array::Ptr &nodes, const std::vector<AgentResources> *agents);

// A number as the tables print it: whole numbers without a fraction, others
// with at most three decimals (0.1, 32, 0.333).
std::string formatNumber(double v);

}  // namespace dcos::cli
