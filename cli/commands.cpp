#include "cli/commands.h"

#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/text.h"
#include "cli/args.h"
#include "cli/http.h"
#include "cli/local_cluster.h"
#include "cli/marathon.h"

namespace dcos::cli {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;
using namespace std::chrono_literals;

const char *const kMarathonHelp = R"(Usage: dcos marathon app|task|deployment SUBCOMMAND [OPTION]...

The cluster's apps, their tasks and deployments, through the scheduler's
Marathon API on the admin URL (under /marathon/v2/).

  app add [FILE]                      create an app from its JSON (stdin without FILE)
  app list [--json]                   every app
  app show ID [VERSION]               an app's definition, or one of its versions
  app update ID [PROP=VALUE]...       change an app (JSON on stdin without PROP=VALUE)
  app remove ID [--force]             remove an app and kill its tasks
  app restart ID [--force]            replace every task of an app
  app kill ID                         kill every task of an app (they are replaced)
  app start ID [N]                    scale a stopped app to N instances (default 1)
  app stop ID [--force]               scale an app to 0 instances
  task list [APP] [--json]            the tasks of every app, or of one
  task show ID                        one task
  deployment list [APP] [--json]      deployments under way
  deployment watch ID                 print a deployment until it is over
  deployment rollback ID              undo a deployment under way
  deployment stop ID                  stop a deployment where it is

Every subcommand takes --url URL, --ca-cert FILE, --name NAME and
--state-dir DIR to say which cluster (see `dcos --help`), and --help. Run
`dcos marathon app|task|deployment SUBCOMMAND --help` for the details.

Errors print the scheduler's message; an invalid app (HTTP 422) prints one
line `path: error` per problem. Exit status: 0 success; 1 the cluster refused
or the operation failed; 2 a usage error; 3 no cluster, or it cannot be
reached.
)";

const char *const kTaskHelp = R"(Usage: dcos task [FILTER] [--json] [--url URL] [--ca-cert FILE] [--name NAME] [--state-dir DIR]
       dcos task log [--follow] [--lines N] TASK [FILE]

`dcos task` lists the cluster's tasks that have not ended (GET
/marathon/v2/tasks): ID, HOST (the agent's address), USER (as the agent runs
it, else the app's user, else ---), STATE and APP. FILTER keeps the tasks whose
id contains it or matches it as a shell glob (web.*). --json prints the tasks
as the scheduler describes them.

`dcos task log` prints a file of a task's sandbox, stdout by default, read
through the master from the task's agent; run `dcos task log --help`.
)";

const char *const kNodeHelp = R"(Usage: dcos node list [--url URL] [--ca-cert FILE] [--name NAME] [--state-dir DIR] [--json]

Lists the cluster's nodes from its membership in ZooKeeper, as a master's admin
port serves it (GET /v1/cluster/nodes): hostname, address, role, zone,
resource role and version. Where the masters also serve the agents' resources
(GET /mesos/master/slaves), every agent's CPUS, MEM and DISK (MiB) follow as
used/total (--- for nodes that are no agents). --json prints the membership
records as they are.
)";

namespace {

const char *const kAppHelp = R"(Usage: dcos marathon app SUBCOMMAND [OPTION]...

Subcommands: add, list, show, update, remove, restart, kill, start, stop.
Run `dcos marathon app SUBCOMMAND --help` for each, `dcos marathon --help` for
an overview.
)";

const char *const kAppAddHelp = R"(Usage: dcos marathon app add [FILE] [OPTION]...

Creates an app from its Marathon JSON definition in FILE, or read from stdin
when no FILE is given (POST /marathon/v2/apps), and prints the deployment
that starts it:

  Created deployment <id>

An app with the same id is refused (409), an invalid one (422) prints each
problem as `path: error`.

Options:
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kAppListHelp = R"(Usage: dcos marathon app list [--json] [OPTION]...

Lists every app (GET /marathon/v2/apps) with its deployments under way
(GET /marathon/v2/deployments):

  ID          the app's id
  MEM, CPUS   what each task asks for (MiB, cpus)
  TASKS       running/instances
  HEALTH      healthy/running, for apps with health checks; --- otherwise
  DEPLOYMENT  what a deployment under way does: start, scale, restart, stop
  CMD         the command (or args)

Options:
      --json                                    print the apps as the API answers them
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kAppShowHelp = R"(Usage: dcos marathon app show ID [VERSION] [OPTION]...

Prints the app's definition as JSON, with its task counts, tasks and
deployments (GET /marathon/v2/apps/ID). With VERSION, that version of its
definition (GET /marathon/v2/apps/ID/versions/VERSION): a version as the
app's `version` names it, or a negative number counting back from the
current one (-1: the one before it), looked up in /versions.

Options:
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kAppUpdateHelp = R"(Usage: dcos marathon app update ID [PROP=VALUE]... [--force] [OPTION]...

Changes an existing app (PUT /marathon/v2/apps/ID): the properties named
replace the app's, the others stay. Each VALUE is read as JSON when it is JSON
(instances=2, env='{"A": "b"}', cmd='"true"'), as a string otherwise
(cmd='sleep 100'). Without PROP=VALUE, the JSON object to send is read from
stdin. Prints the deployment that rolls the change out:

  Created deployment <id>

A change of instances alone scales the app; any other change replaces its
tasks by its upgradeStrategy.

Options:
      --force                                   change the app even while a deployment
                                                runs for it (the scheduler refuses
                                                otherwise, 409)
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kAppRemoveHelp = R"(Usage: dcos marathon app remove ID [--force] [OPTION]...

Removes the app and kills its tasks (DELETE /marathon/v2/apps/ID). Prints
nothing on success.

Options:
      --force                                   even while a deployment runs for it
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kAppRestartHelp = R"(Usage: dcos marathon app restart ID [--force] [OPTION]...

Replaces every task of the app by its upgradeStrategy, with the same
definition (POST /marathon/v2/apps/ID/restart), and prints the deployment:

  Created deployment <id>

Options:
      --force                                   even while a deployment runs for it
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kAppKillHelp = R"(Usage: dcos marathon app kill ID [OPTION]...

Kills every task of the app at once (DELETE /marathon/v2/apps/ID/tasks); the
scheduler then starts new ones, as many as the app's instances. Prints

  Killed tasks: <id>, <id>...

Options:
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kAppStartHelp = R"(Usage: dcos marathon app start ID [N] [--force] [OPTION]...

Starts a stopped app (0 instances) with N instances, 1 when N is not given
(PUT /marathon/v2/apps/ID with {"instances": N}), and prints the deployment.
An app that already has instances is left alone (exit status 1).

Options:
      --force                                   even while a deployment runs for it
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kAppStopHelp = R"(Usage: dcos marathon app stop ID [--force] [OPTION]...

Stops an app: scales it to 0 instances (PUT /marathon/v2/apps/ID with
{"instances": 0}), which kills its tasks and keeps its definition, and
prints the deployment. An app already at 0 is left alone (exit status 1).

Options:
      --force                                   even while a deployment runs for it
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kMarathonTaskHelp = R"(Usage: dcos marathon task list|show ...

Subcommands: list [APP] [--json], show ID. Run
`dcos marathon task SUBCOMMAND --help` for each.
)";

const char *const kTaskListHelp = R"(Usage: dcos marathon task list [APP] [--json] [OPTION]...

Lists the tasks that have not ended, of every app (GET /marathon/v2/tasks)
or of APP (GET /marathon/v2/apps/APP/tasks):

  APP      the app's id
  HEALTHY  False when a health check says the task is not alive, else True
  STARTED  when it started running (N/A while it stages)
  HOST     the agent's address
  ID       the task's id

Options:
      --json                                    print the tasks as the API answers them
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kTaskShowHelp = R"(Usage: dcos marathon task show ID [OPTION]...

Prints the task with that id as JSON, as GET /marathon/v2/tasks describes it.
A task that ended is no longer there (exit status 1).

Options:
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kDeploymentHelp = R"(Usage: dcos marathon deployment list|watch|rollback|stop ...

Subcommands: list [APP] [--json], watch ID, rollback ID, stop ID. Run
`dcos marathon deployment SUBCOMMAND --help` for each.
)";

const char *const kDeploymentListHelp = R"(Usage: dcos marathon deployment list [APP] [--json] [OPTION]...

Lists the deployments under way (GET /marathon/v2/deployments), all or those
affecting APP:

  APP       the apps it affects
  ACTION    what it does: start, scale, restart, stop
  PROGRESS  step/steps
  ID        the deployment's id

Options:
      --json                                    print the deployments as the API answers them
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kDeploymentWatchHelp = R"(Usage: dcos marathon deployment watch ID [--max-count N] [--interval S] [OPTION]...

Prints the deployment as JSON every S seconds while it is under way (it is in
GET /marathon/v2/deployments), then a line saying it is over. A deployment
that is not under way at the first look is an error (exit status 1).

Options:
      --max-count N                             stop after N prints (default: no limit)
      --interval S                              seconds between looks (default 1)
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kDeploymentRollbackHelp = R"(Usage: dcos marathon deployment rollback ID [OPTION]...

Rolls a deployment under way back: the scheduler starts a new deployment that
undoes it (DELETE /marathon/v2/deployments/ID), which is printed as JSON:
{"deploymentId": ..., "version": ...}.

Options:
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kDeploymentStopHelp = R"(Usage: dcos marathon deployment stop ID [OPTION]...

Stops a deployment under way where it is, without undoing what it did
(DELETE /marathon/v2/deployments/ID?force=true). Prints nothing on success.

Options:
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit
)";

const char *const kTaskLogHelp = R"(Usage: dcos task log [--follow] [--lines N] TASK [FILE] [OPTION]...

Prints the last lines of a file in the sandbox of each task that TASK matches
(its id contains TASK, or matches it as a shell glob; see `dcos task`). FILE
is stdout (the default), stderr, or another file of the sandbox. The file is
read through the master, which asks the task's agent
(GET /agent/<agent id>/agent/v1/tasks/<task id>/files/read on the admin
URL). With more than one task, each task's part starts with a line
`==> <task id> <FILE> <==`.

Options:
      --lines N                                 print the last N lines (default 10)
      --follow                                  then keep printing what is added, looking
                                                once a second, until interrupted
      --url URL, --ca-cert FILE, --name NAME, --state-dir DIR
                                                which cluster, and the CA of an https URL (see `dcos --help`)
  -h, --help                                    show this help and exit

Only tasks that have not ended are found.
)";

const std::vector<std::string> kClusterOptions = {"url", "ca-cert", "name", "state-dir"};
constexpr auto kTimeout = 10s;

// The scheduler's API and the master's other routes on one admin URL. Each
// call prints what went wrong and remembers the exit status for it.
class Api {
 public:
  explicit Api(std::string url) : url_(std::move(url)) {}

  // The answer when its status is 2xx; otherwise nothing, the reason printed.
  std::optional<HttpAnswer> call(const std::string &method, const std::string &path, const std::string &body = "") {
    auto answer = httpRequest(method, url_, path, body, kTimeout);
    if (!answer) {
      std::fprintf(stderr, "dcos: cannot reach the cluster at %s: %s\n", url_.c_str(), answer.error().message.c_str());
      exit_ = kNoCluster;
      return std::nullopt;
    }
    if (answer->status < 200 || answer->status > 299) {
      auto lines = errorLines(answer->status, answer->body);
      std::fprintf(stderr, "dcos: %s\n", lines[0].c_str());
      for (size_t i = 1; i < lines.size(); ++i) std::fprintf(stderr, "%s\n", lines[i].c_str());
      exit_ = kFailed;
      lastStatus_ = answer->status;
      return std::nullopt;
    }
    lastStatus_ = answer->status;
    return *answer;
  }

  // call(), and the answer's JSON.
  std::optional<Var> json(const std::string &method, const std::string &path, const std::string &body = "") {
    auto answer = call(method, path, body);
    if (!answer) return std::nullopt;
    auto v = parseJson(answer->body);
    if (!v) {
      std::fprintf(stderr, "dcos: %s %s%s: %s\n", method.c_str(), url_.c_str(), path.c_str(), v.error().message.c_str());
      exit_ = kFailed;
      return std::nullopt;
    }
    return *v;
  }

  // The answer's array under `key` (or the answer itself, with key "").
  Array::Ptr array(const std::string &path, const std::string &key) {
    auto v = json("GET", path);
    if (!v) return nullptr;
    Array::Ptr a;
    if (key.empty() && v->type() == typeid(Array::Ptr)) a = v->extract<Array::Ptr>();
    if (!key.empty() && v->type() == typeid(Object::Ptr)) a = v->extract<Object::Ptr>()->getArray(key);
    if (!a) {
      std::fprintf(stderr, "dcos: GET %s%s: %s\n", url_.c_str(), path.c_str(),
                   key.empty() ? "not a JSON array" : ("no " + text::quote(key) + " array").c_str());
      exit_ = kFailed;
    }
    return a;
  }

  Object::Ptr object(const std::string &method, const std::string &path, const std::string &body = "") {
    auto v = json(method, path, body);
    if (!v) return nullptr;
    if (v->type() != typeid(Object::Ptr)) {
      std::fprintf(stderr, "dcos: %s %s%s: not a JSON object\n", method.c_str(), url_.c_str(), path.c_str());
      exit_ = kFailed;
      return nullptr;
    }
    return v->extract<Object::Ptr>();
  }

  int exitCode() const { return exit_; }
  int lastStatus() const { return lastStatus_; }
  const std::string &url() const { return url_; }

 private:
  std::string url_;
  int exit_ = kFailed;
  int lastStatus_ = 0;
};

struct Command {
  Args args;
  std::string name;  // "dcos marathon app add", for usage errors
};

std::string appPath(const std::string &id) { return "/marathon/v2/apps" + escapePath(normalizeAppId(id)); }

std::string withForce(const std::string &path, const Command &c) { return has(c.args, "force") ? path + "?force=true" : path; }

void printJson(const Var &v) { std::printf("%s\n", prettyJson(v).c_str()); }

std::string field(const Object::Ptr &o, const std::string &key) {
  return o && o->has(key) && !o->get(key).isEmpty() ? o->get(key).toString() : "";
}

// The whole of stdin or of a file; an error names the file.
Result<std::string> readInput(const std::optional<std::string> &file) {
  if (!file) {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(*file, std::ios::binary);
  if (!in) return makeError(*file + ": " + std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A JSON object from stdin or a file, as text; an error says where and why not.
Result<std::string> readAppJson(const std::optional<std::string> &file) {
  auto text = readInput(file);
  if (!text) return text.error();
  std::string where = file ? *file : "stdin";
  auto v = parseJson(*text);
  if (!v) return v.error().wrap(where);
  if (v->type() != typeid(Object::Ptr)) return makeError(where + ": not a JSON object");
  return *text;
}

void printCreated(const Object::Ptr &answer) {
  std::string id = field(answer, "deploymentId");
  if (id.empty() && answer) {
    auto ds = answer->getArray("deployments");
    if (ds && ds->size() > 0) id = field(ds->getObject(0), "id");
  }
  if (id.empty()) {
    std::printf("Done\n");
  } else {
    std::printf("Created deployment %s\n", id.c_str());
  }
}

// Usage unless the positional arguments number from `min` to `max`.
std::optional<int> positionals(const Command &c, size_t min, size_t max, const char *what) {
  const auto &p = c.args.positional;
  if (p.size() < min) return usage(std::string("missing ") + what, c.name);
  if (p.size() > max) return usage("unexpected argument " + text::quote(p[max]), c.name);
  return std::nullopt;
}

Result<std::string> urlOf(const Command &c) { return clusterUrl(c.args); }

int noCluster(const Error &e) {
  std::fprintf(stderr, "dcos: %s\n", e.message.c_str());
  // An unreadable --ca-cert (or DCOS_CA_CERT) is the caller's mistake.
  return e.code == EINVAL ? kUsage : kNoCluster;
}

// -- dcos marathon app -------------------------------------------------------

int appAdd(const Command &c) {
  if (auto u = positionals(c, 0, 1, "")) return *u;
  auto body = readAppJson(c.args.positional.empty() ? std::nullopt : std::optional(c.args.positional[0]));
  if (!body) {
    std::fprintf(stderr, "dcos: %s\n", body.error().message.c_str());
    return kFailed;
  }
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  auto answer = api.object("POST", "/marathon/v2/apps", *body);
  if (!answer) return api.exitCode();
  printCreated(answer);
  return kOk;
}

int appList(const Command &c) {
  if (auto u = positionals(c, 0, 0, "")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  auto apps = api.array("/marathon/v2/apps", "apps");
  if (!apps) return api.exitCode();
  if (has(c.args, "json")) return printJson(apps), kOk;
  auto deployments = api.array("/marathon/v2/deployments", "");
  if (!deployments) return api.exitCode();
  std::printf("%s", formatTable(appTable(apps, deployments)).c_str());
  return kOk;
}

int appShow(const Command &c) {
  if (auto u = positionals(c, 1, 2, "the app's ID")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  const std::string id = normalizeAppId(c.args.positional[0]);
  if (c.args.positional.size() == 1) {
    auto answer = api.object("GET", appPath(id));
    if (!answer) return api.exitCode();
    auto app = answer->getObject("app");
    printJson(app ? Var(app) : Var(answer));
    return kOk;
  }
  std::string version = c.args.positional[1];
  if (version.size() > 1 && version[0] == '-' && version.find_first_not_of("0123456789", 1) == std::string::npos) {
    size_t back = std::stoul(version.substr(1));
    auto versions = api.array(appPath(id) + "/versions", "versions");
    if (!versions) return api.exitCode();
    if (back >= versions->size()) {
      std::fprintf(stderr, "dcos: app %s has %zu version%s: there is no version %s\n", id.c_str(), versions->size(),
                   versions->size() == 1 ? "" : "s", version.c_str());
      return kFailed;
    }
    version = versions->get(static_cast<unsigned>(back)).toString();  // newest first
  }
  auto app = api.object("GET", appPath(id) + "/versions/" + escapePath(version));
  if (!app) return api.exitCode();
  printJson(app);
  return kOk;
}

// The app, or nothing (printed why): update, start and stop change only apps
// that exist, where a PUT would create one.
Object::Ptr existingApp(Api &api, const std::string &id) {
  auto answer = api.object("GET", appPath(id));
  if (!answer) return nullptr;
  auto app = answer->getObject("app");
  if (!app) std::fprintf(stderr, "dcos: GET %s%s: no \"app\" in the answer\n", api.url().c_str(), appPath(id).c_str());
  return app;
}

int putApp(Api &api, const Command &c, const std::string &id, const std::string &body) {
  auto answer = api.object("PUT", withForce(appPath(id), c), body);
  if (!answer) return api.exitCode();
  printCreated(answer);
  return kOk;
}

int appUpdate(const Command &c) {
  if (auto u = positionals(c, 1, SIZE_MAX, "the app's ID")) return *u;
  std::vector<std::string> props(c.args.positional.begin() + 1, c.args.positional.end());
  Result<std::string> body = props.empty() ? readAppJson(std::nullopt) : propertiesBody(props);
  if (!body) {
    if (!props.empty()) return usage(body.error().message, c.name);
    std::fprintf(stderr, "dcos: %s\n", body.error().message.c_str());
    return kFailed;
  }
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  const std::string id = normalizeAppId(c.args.positional[0]);
  if (!existingApp(api, id)) return kFailed;
  return putApp(api, c, id, *body);
}

int appScale(const Command &c, bool start) {
  if (auto u = positionals(c, 1, start ? 2 : 1, "the app's ID")) return *u;
  int instances = 0;
  if (start) {
    instances = 1;
    if (c.args.positional.size() == 2) {
      const std::string &n = c.args.positional[1];
      if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos) {
        return usage("N: expected a number of instances, found " + text::quote(n), c.name);
      }
      instances = std::stoi(n);
    }
  }
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  const std::string id = normalizeAppId(c.args.positional[0]);
  auto app = existingApp(api, id);
  if (!app) return kFailed;
  int now = app->optValue<int>("instances", 0);
  if (start && now > 0) {
    std::fprintf(stderr, "dcos: app %s is already started: %d instance%s\n", id.c_str(), now, now == 1 ? "" : "s");
    return kFailed;
  }
  if (!start && now == 0) {
    std::fprintf(stderr, "dcos: app %s is already stopped: 0 instances\n", id.c_str());
    return kFailed;
  }
  return putApp(api, c, id, "{\"instances\":" + std::to_string(instances) + "}");
}

int appStart(const Command &c) { return appScale(c, true); }
int appStop(const Command &c) { return appScale(c, false); }

int appRemove(const Command &c) {
  if (auto u = positionals(c, 1, 1, "the app's ID")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  return api.call("DELETE", withForce(appPath(c.args.positional[0]), c)) ? kOk : api.exitCode();
}

int appRestart(const Command &c) {
  if (auto u = positionals(c, 1, 1, "the app's ID")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  auto answer = api.object("POST", withForce(appPath(c.args.positional[0]) + "/restart", c));
  if (!answer) return api.exitCode();
  printCreated(answer);
  return kOk;
}

int appKill(const Command &c) {
  if (auto u = positionals(c, 1, 1, "the app's ID")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  auto answer = api.object("DELETE", appPath(c.args.positional[0]) + "/tasks");
  if (!answer) return api.exitCode();
  std::vector<std::string> ids;
  auto tasks = answer->getArray("tasks");
  for (size_t i = 0; tasks && i < tasks->size(); ++i) ids.push_back(field(tasks->getObject(static_cast<unsigned>(i)), "id"));
  std::printf("Killed tasks: %s\n", ids.empty() ? "none" : text::join(ids, ", ").c_str());
  return kOk;
}

// -- dcos marathon task ------------------------------------------------------

int marathonTaskList(const Command &c) {
  if (auto u = positionals(c, 0, 1, "")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  auto tasks = api.array(c.args.positional.empty() ? "/marathon/v2/tasks" : appPath(c.args.positional[0]) + "/tasks",
                         "tasks");
  if (!tasks) return api.exitCode();
  if (has(c.args, "json")) return printJson(tasks), kOk;
  std::printf("%s", formatTable(taskTable(tasks)).c_str());
  return kOk;
}

int marathonTaskShow(const Command &c) {
  if (auto u = positionals(c, 1, 1, "the task's ID")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  auto tasks = api.array("/marathon/v2/tasks", "tasks");
  if (!tasks) return api.exitCode();
  for (size_t i = 0; i < tasks->size(); ++i) {
    auto t = tasks->getObject(static_cast<unsigned>(i));
    if (field(t, "id") == c.args.positional[0]) return printJson(t), kOk;
  }
  std::fprintf(stderr, "dcos: no task %s (a task that ended is not kept)\n", text::quote(c.args.positional[0]).c_str());
  return kFailed;
}

// -- dcos marathon deployment ------------------------------------------------

Array::Ptr deploymentsOf(const Array::Ptr &all, const std::string &appId) {
  if (appId.empty()) return all;
  Array::Ptr out = new Array;
  for (size_t i = 0; i < all->size(); ++i) {
    auto d = all->getObject(static_cast<unsigned>(i));
    auto apps = d ? d->getArray("affectedApps") : nullptr;
    for (size_t k = 0; apps && k < apps->size(); ++k) {
      if (apps->get(static_cast<unsigned>(k)).toString() == appId) {
        out->add(d);
        break;
      }
    }
  }
  return out;
}

int deploymentList(const Command &c) {
  if (auto u = positionals(c, 0, 1, "")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  auto all = api.array("/marathon/v2/deployments", "");
  if (!all) return api.exitCode();
  std::string appId = c.args.positional.empty() ? "" : normalizeAppId(c.args.positional[0]);
  if (has(c.args, "json")) return printJson(deploymentsOf(all, appId)), kOk;
  std::printf("%s", formatTable(deploymentTable(all, appId)).c_str());
  return kOk;
}

int deploymentWatch(const Command &c) {
  if (auto u = positionals(c, 1, 1, "the deployment's ID")) return *u;
  std::string error;
  auto maxCount = number(c.args, "max-count", -1, error);
  auto interval = number(c.args, "interval", 1, error, 3600);
  if (!error.empty()) return usage(error, c.name);
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  const std::string &id = c.args.positional[0];
  for (int printed = 0; *maxCount < 0 || printed < *maxCount; ++printed) {
    if (printed > 0) std::this_thread::sleep_for(std::chrono::seconds(*interval));
    auto all = api.array("/marathon/v2/deployments", "");
    if (!all) return api.exitCode();
    Object::Ptr found;
    for (size_t i = 0; i < all->size() && !found; ++i) {
      auto d = all->getObject(static_cast<unsigned>(i));
      if (field(d, "id") == id) found = d;
    }
    if (!found) {
      if (printed == 0) {
        std::fprintf(stderr, "dcos: no deployment %s is under way\n", id.c_str());
        return kFailed;
      }
      std::printf("Deployment %s is over\n", id.c_str());
      return kOk;
    }
    printJson(found);
    std::fflush(stdout);
  }
  return kOk;
}

int deploymentRollback(const Command &c) {
  if (auto u = positionals(c, 1, 1, "the deployment's ID")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  auto answer = api.json("DELETE", "/marathon/v2/deployments/" + escapePath(c.args.positional[0]));
  if (!answer) return api.exitCode();
  printJson(*answer);
  return kOk;
}

int deploymentStop(const Command &c) {
  if (auto u = positionals(c, 1, 1, "the deployment's ID")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  return api.call("DELETE", "/marathon/v2/deployments/" + escapePath(c.args.positional[0]) + "?force=true")
             ? kOk
             : api.exitCode();
}

// -- dispatch ------------------------------------------------------------------

struct Subcommand {
  const char *name;
  const char *help;
  std::vector<std::string> valued;
  std::vector<std::string> flags;
  int (*run)(const Command &);
};

// argv[from] names the subcommand among `subs`; its options follow.
int dispatch(int argc, char **argv, int from, const std::string &prefix, const char *groupHelp,
             const std::vector<Subcommand> &subs) {
  std::vector<std::string> names;
  for (const auto &s : subs) names.push_back(s.name);
  std::string sub = argc > from ? argv[from] : "";
  if (sub.empty()) return usage(prefix.substr(5) + ": missing subcommand (" + text::join(names, ", ") + ")", prefix);
  if (sub == "--help" || sub == "-h") return std::printf("%s", groupHelp), kOk;
  for (const auto &s : subs) {
    if (sub != s.name) continue;
    std::vector<std::string> valued = s.valued, flags = s.flags;
    valued.insert(valued.end(), kClusterOptions.begin(), kClusterOptions.end());
    flags.push_back("help");
    Command c{parseArgs(argc, argv, from + 1, valued, flags), prefix + " " + s.name};
    if (has(c.args, "help")) return std::printf("%s", s.help), kOk;
    if (!c.args.error.empty()) return usage(c.args.error, c.name);
    return s.run(c);
  }
  std::string near = text::nearest(sub, names);
  return usage(prefix.substr(5) + ": unknown subcommand " + text::quote(sub) +
                   (near.empty() ? " (known: " + text::join(names, ", ") + ")" : " (did you mean " + text::quote(near) + "?)"),
               prefix);
}

// -- dcos task -----------------------------------------------------------------

// Which user each task runs as: what its agent says (through the master),
// else its app's `user`.
std::map<std::string, std::string> taskUsers(Api &api, const Array::Ptr &tasks) {
  std::map<std::string, std::string> users;
  std::set<std::string> agents;
  for (size_t i = 0; i < tasks->size(); ++i) agents.insert(field(tasks->getObject(static_cast<unsigned>(i)), "slaveId"));
  for (const auto &agent : agents) {
    if (agent.empty()) continue;
    auto answer = httpGet(api.url(), "/agent/" + escapePath(agent) + "/agent/v1/tasks", 5s);
    if (!answer || answer->status != 200) continue;
    auto v = parseJson(answer->body);
    if (!v || v->type() != typeid(Object::Ptr)) continue;
    auto list = v->extract<Object::Ptr>()->getArray("tasks");
    for (size_t i = 0; list && i < list->size(); ++i) {
      auto t = list->getObject(static_cast<unsigned>(i));
      if (!field(t, "user").empty()) users[field(t, "id")] = field(t, "user");
    }
  }
  bool missing = false;
  for (size_t i = 0; i < tasks->size(); ++i) missing |= users.count(field(tasks->getObject(static_cast<unsigned>(i)), "id")) == 0;
  if (!missing) return users;
  auto answer = httpGet(api.url(), "/marathon/v2/apps", kTimeout);
  if (!answer || answer->status != 200) return users;
  auto v = parseJson(answer->body);
  if (!v || v->type() != typeid(Object::Ptr)) return users;
  std::map<std::string, std::string> appUsers;
  auto apps = v->extract<Object::Ptr>()->getArray("apps");
  for (size_t i = 0; apps && i < apps->size(); ++i) {
    auto a = apps->getObject(static_cast<unsigned>(i));
    appUsers[field(a, "id")] = field(a, "user");
  }
  for (size_t i = 0; i < tasks->size(); ++i) {
    auto t = tasks->getObject(static_cast<unsigned>(i));
    if (users.count(field(t, "id")) == 0) users[field(t, "id")] = appUsers[field(t, "appId")];
  }
  return users;
}

// The tasks whose id `filter` matches.
Array::Ptr matchingTasks(Api &api, const std::string &filter) {
  auto tasks = api.array("/marathon/v2/tasks", "tasks");
  if (!tasks) return nullptr;
  Array::Ptr out = new Array;
  for (size_t i = 0; i < tasks->size(); ++i) {
    auto t = tasks->getObject(static_cast<unsigned>(i));
    if (t && taskMatches(field(t, "id"), filter)) out->add(t);
  }
  return out;
}

int taskList(int argc, char **argv) {
  std::vector<std::string> valued = kClusterOptions;
  Command c{parseArgs(argc, argv, 2, valued, {"help", "json"}), "dcos task"};
  if (has(c.args, "help")) return std::printf("%s", kTaskHelp), kOk;
  if (!c.args.error.empty()) return usage(c.args.error, c.name);
  if (auto u = positionals(c, 0, 1, "")) return *u;
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  auto tasks = matchingTasks(api, c.args.positional.empty() ? "" : c.args.positional[0]);
  if (!tasks) return api.exitCode();
  if (has(c.args, "json")) return printJson(tasks), kOk;
  std::printf("%s", formatTable(clusterTaskTable(tasks, taskUsers(api, tasks))).c_str());
  return kOk;
}

// One file of a task's sandbox, read through the master.
class SandboxFile {
 public:
  SandboxFile(Api &api, std::string agentId, std::string taskId, std::string file)
      : api_(api), agentId_(std::move(agentId)), taskId_(std::move(taskId)), file_(std::move(file)) {}

  const std::string &taskId() const { return taskId_; }

  // The file's size; nothing when it cannot be read (printed why).
  std::optional<long long> size() {
    auto o = read(-1, 0);
    if (!o) return std::nullopt;
    return o->first;
  }

  // Up to `length` bytes from `offset` (fewer at the end of the file).
  std::optional<std::string> bytes(long long offset, long long length) {
    std::string out;
    while (static_cast<long long>(out.size()) < length) {
      long long want = std::min<long long>(length - static_cast<long long>(out.size()), kMaxRead);
      auto o = read(offset + static_cast<long long>(out.size()), want);
      if (!o) return std::nullopt;
      out += o->second;
      if (static_cast<long long>(o->second.size()) < want) break;  // the end of the file
    }
    return out;
  }

  // The last `n` lines, read backwards from `end` in growing pieces.
  std::optional<std::string> lastLinesBefore(long long end, size_t n) {
    std::string tail;
    long long piece = 64 * 1024;
    while (end > 0 && !holdsLastLines(tail, n)) {
      long long begin = std::max(0LL, end - piece);
      auto b = bytes(begin, end - begin);
      if (!b) return std::nullopt;
      tail = *b + tail;
      end = begin;
      piece = std::min<long long>(piece * 2, kMaxRead);
    }
    return lastLines(tail, n);
  }

 private:
  static constexpr long long kMaxRead = 1 << 20;  // what the agent answers at most per call

  // {offset, data} as the files API answers.
  std::optional<std::pair<long long, std::string>> read(long long offset, long long length) {
    std::string path = "/agent/" + escapePath(agentId_) + "/agent/v1/tasks/" + escapePath(taskId_) +
                       "/files/read?path=" + escapeQuery(file_) + "&offset=" + std::to_string(offset) +
                       (offset >= 0 ? "&length=" + std::to_string(length) : "");
    auto o = api_.object("GET", path);
    if (!o) return std::nullopt;
    long long at = 0;
    try {
      at = o->has("offset") ? o->get("offset").convert<long long>() : 0;
    } catch (const Poco::Exception &) {
    }
    return std::make_pair(at, field(o, "data"));
  }

  Api &api_;
  std::string agentId_, taskId_, file_;
};

int taskLog(int argc, char **argv) {
  std::vector<std::string> valued = kClusterOptions;
  valued.push_back("lines");
  Command c{parseArgs(argc, argv, 3, valued, {"help", "follow"}), "dcos task log"};
  if (has(c.args, "help")) return std::printf("%s", kTaskLogHelp), kOk;
  if (!c.args.error.empty()) return usage(c.args.error, c.name);
  if (auto u = positionals(c, 1, 2, "TASK")) return *u;
  std::string error;
  auto lines = number(c.args, "lines", 10, error, 1000000);
  if (!error.empty()) return usage(error, c.name);
  const std::string file = c.args.positional.size() > 1 ? c.args.positional[1] : "stdout";
  auto url = urlOf(c);
  if (!url) return noCluster(url.error());
  Api api(*url);
  auto tasks = matchingTasks(api, c.args.positional[0]);
  if (!tasks) return api.exitCode();
  if (tasks->size() == 0) {
    std::fprintf(stderr, "dcos: no task matches %s (see `dcos task`)\n", text::quote(c.args.positional[0]).c_str());
    return kFailed;
  }
  std::vector<SandboxFile> files;
  for (size_t i = 0; i < tasks->size(); ++i) {
    auto t = tasks->getObject(static_cast<unsigned>(i));
    files.emplace_back(api, field(t, "slaveId"), field(t, "id"), file);
  }
  const bool many = files.size() > 1;
  std::string shown;  // whose output was printed last
  auto print = [&](const SandboxFile &f, const std::string &data) {
    if (data.empty()) return;
    if (many && shown != f.taskId()) {
      std::printf("%s==> %s %s <==\n", shown.empty() ? "" : "\n", f.taskId().c_str(), file.c_str());
    }
    shown = f.taskId();
    std::fwrite(data.data(), 1, data.size(), stdout);
    std::fflush(stdout);
  };
  std::vector<long long> positions;
  for (auto &f : files) {
    auto size = f.size();
    if (!size) return api.exitCode();
    auto tail = f.lastLinesBefore(*size, static_cast<size_t>(*lines));
    if (!tail) return api.exitCode();
    if (many && shown != f.taskId()) {
      std::printf("%s==> %s %s <==\n", shown.empty() ? "" : "\n", f.taskId().c_str(), file.c_str());
      shown = f.taskId();
    }
    print(f, *tail);
    positions.push_back(*size);
  }
  if (!has(c.args, "follow")) return kOk;
  for (;;) {
    bool grew = false;
    for (size_t i = 0; i < files.size(); ++i) {
      auto data = files[i].bytes(positions[i], 1 << 20);
      if (!data) return api.exitCode();
      print(files[i], *data);
      positions[i] += static_cast<long long>(data->size());
      grew |= !data->empty();
    }
    if (!grew) std::this_thread::sleep_for(1s);
  }
}

}  // namespace

int marathonCommand(int argc, char **argv) {
  std::string group = argc > 2 ? argv[2] : "";
  if (group.empty()) return usage("marathon: missing subcommand (app, task or deployment)", "dcos marathon");
  if (group == "--help" || group == "-h") return std::printf("%s", kMarathonHelp), kOk;
  if (group == "app") {
    return dispatch(argc, argv, 3, "dcos marathon app", kAppHelp,
                    {{"add", kAppAddHelp, {}, {}, appAdd},
                     {"list", kAppListHelp, {}, {"json"}, appList},
                     {"show", kAppShowHelp, {}, {}, appShow},
                     {"update", kAppUpdateHelp, {}, {"force"}, appUpdate},
                     {"remove", kAppRemoveHelp, {}, {"force"}, appRemove},
                     {"restart", kAppRestartHelp, {}, {"force"}, appRestart},
                     {"kill", kAppKillHelp, {}, {}, appKill},
                     {"start", kAppStartHelp, {}, {"force"}, appStart},
                     {"stop", kAppStopHelp, {}, {"force"}, appStop}});
  }
  if (group == "task") {
    return dispatch(argc, argv, 3, "dcos marathon task", kMarathonTaskHelp,
                    {{"list", kTaskListHelp, {}, {"json"}, marathonTaskList},
                     {"show", kTaskShowHelp, {}, {}, marathonTaskShow}});
  }
  if (group == "deployment") {
    return dispatch(argc, argv, 3, "dcos marathon deployment", kDeploymentHelp,
                    {{"list", kDeploymentListHelp, {}, {"json"}, deploymentList},
                     {"watch", kDeploymentWatchHelp, {"max-count", "interval"}, {}, deploymentWatch},
                     {"rollback", kDeploymentRollbackHelp, {}, {}, deploymentRollback},
                     {"stop", kDeploymentStopHelp, {}, {}, deploymentStop}});
  }
  std::string near = text::nearest(group, {"app", "task", "deployment"});
  return usage("marathon: unknown subcommand " + text::quote(group) +
                   (near.empty() ? " (known: app, task, deployment)" : " (did you mean " + text::quote(near) + "?)"),
               "dcos marathon");
}

int taskCommand(int argc, char **argv) {
  if (argc > 2 && std::string(argv[2]) == "log") return taskLog(argc, argv);
  return taskList(argc, argv);
}

int nodeListCommand(int argc, char **argv) {
  Args a = parseArgs(argc, argv, 3, kClusterOptions, {"help", "json"});
  if (has(a, "help")) return std::printf("%s", kNodeHelp), kOk;
  if (!a.error.empty()) return usage(a.error, "dcos node list");
  if (!a.positional.empty()) return usage("unexpected argument " + text::quote(a.positional[0]), "dcos node list");
  auto url = clusterUrl(a);
  if (!url) return noCluster(url.error());
  auto answer = httpGet(*url, "/v1/cluster/nodes", 5s);
  if (!answer) {
    std::fprintf(stderr, "dcos: cannot reach the cluster at %s: %s\n", url->c_str(), answer.error().message.c_str());
    return kNoCluster;
  }
  if (answer->status != 200) {
    std::fprintf(stderr, "dcos: %s answered HTTP %d to /v1/cluster/nodes: %s\n", url->c_str(), answer->status,
                 answer->body.c_str());
    return kFailed;
  }
  auto parsed = parseJson(answer->body);
  if (!parsed || parsed->type() != typeid(Array::Ptr)) {
    std::fprintf(stderr, "dcos: %s/v1/cluster/nodes is not a JSON array\n", url->c_str());
    return kFailed;
  }
  auto nodes = parsed->extract<Array::Ptr>();
  if (has(a, "json")) return printJson(nodes), kOk;
  // The agents' resources, where the masters serve them; a master that does
  // not (404) gets today's table.
  std::optional<std::vector<AgentResources>> agents;
  auto slaves = httpGet(*url, "/mesos/master/slaves", 5s);
  if (slaves && slaves->status == 200) {
    auto parsedSlaves = parseSlaves(slaves->body);
    if (parsedSlaves) {
      agents = *parsedSlaves;
    } else {
      std::fprintf(stderr, "dcos: resources unknown: /mesos/master/slaves: %s\n", parsedSlaves.error().message.c_str());
    }
  } else if (!slaves) {
    std::fprintf(stderr, "dcos: resources unknown: %s\n", slaves.error().message.c_str());
  } else if (slaves->status != 404) {
    std::fprintf(stderr, "dcos: resources unknown: /mesos/master/slaves answered HTTP %d\n", slaves->status);
  }
  std::printf("%s", formatTable(nodeTable(nodes, agents ? &*agents : nullptr)).c_str());
  return kOk;
}

}  // namespace dcos::cli
