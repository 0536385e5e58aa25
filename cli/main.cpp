// dcos: the command-line client. `dcos cluster ...` manages a local cluster
// in network namespaces; every other command talks to a cluster's admin URL
// over HTTP, as an operator's workstation would.
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/text.h"
#include "cli/http.h"
#include "cli/local_cluster.h"

namespace {

using namespace dcos;
using namespace dcos::cli;
namespace fs = std::filesystem;

// Exit status, as --help tells.
constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kNoCluster = 3;

const char *kMainHelp = R"(Usage: dcos [--version] [--help] COMMAND [SUBCOMMAND] [OPTION]...

The dcos command-line client.

Commands:
  cluster up       bring up a local cluster in network namespaces (root)
  cluster status   show the local cluster's nodes, processes and health
  cluster down     stop the local cluster and remove everything it made (root)
  node list        list the cluster's nodes, as its masters know them

Which cluster `node` commands talk to, first found: --url URL, the DCOS_URL
environment variable, the admin URL of the local cluster --name (default
"local") kept in --state-dir (default /var/lib/dcos-local).

Run `dcos COMMAND --help` or `dcos COMMAND SUBCOMMAND --help` for more.

Exit status: 0 success; 1 the operation failed or the cluster is unhealthy;
2 a usage error; 3 no such cluster, or it cannot be reached.
)";

const char *kClusterHelp = R"(Usage: dcos cluster up|status|down [OPTION]...

A local cluster: one network namespace per node, each running its own dcosd
with its zone firewall, joined by a bridge in a namespace of its own, and a
link from this host into the cluster's operator network. This host is then the
operator's workstation: it reaches masters on TCP 80/443 and public agents on
their advertised ports, and nothing else.

Subcommands:
  up       create the cluster (or start the nodes of an existing one that are
           not running) and wait until every node is registered and healthy
  status   each node's dcosd process and health
  down     stop every process and remove every namespace, link and state dir

Run `dcos cluster SUBCOMMAND --help` for the options.
)";

const char *kUpHelp = R"(Usage: dcos cluster up [OPTION]...

Brings up a local cluster and returns once every node has registered and is
healthy, printing the admin URL. Run again, it reports the running cluster and
starts any node whose dcosd is not running (after a reboot, on a network made
again). Needs root.

Options:
      --masters N          1, 3, 5 or 7 (default 1)
      --private-agents N   0 to 50 (default 1)
      --public-agents N    0 to 50 (default 1)
      --name NAME          the cluster's name: 1-10 of [a-z0-9-] (default local)
      --network CIDR       a private IPv4 /24 for the cluster's addresses, which
                           exist only inside its namespaces and on the host's
                           link (default 172.31.254.0/24): masters .11 on,
                           private agents .65 on, public agents .129 on, the
                           host .254
      --state-dir DIR      where clusters keep their state (default
                           /var/lib/dcos-local; the cluster's is DIR/NAME)
      --dcosd PATH         the dcosd binary (default: the one beside this
                           dcos, else /usr/sbin/dcosd)
      --plugin-dir DIR     dcosd's plugins (default: beside dcosd, else
                           /usr/lib/dcos/plugins)
      --timeout SEC        how long to wait for a healthy cluster (default 180)
  -h, --help               show this help and exit

On failure it names the node that did not come up and shows the end of its
log; the cluster is left as it is for a look, and `dcos cluster down` removes it.
)";

const char *kStatusHelp = R"(Usage: dcos cluster status [--name NAME] [--state-dir DIR] [--json]

Shows each node of the local cluster: its namespace and address, whether its
dcosd runs, and its health as the masters report it (/system/health/v1/nodes
on the admin URL).

Exit status: 0 every node runs and is healthy; 1 not; 3 no such cluster.
)";

const char *kDownHelp = R"(Usage: dcos cluster down [--name NAME] [--state-dir DIR]

Stops every dcosd of the local cluster (SIGTERM, SIGKILL after 25 s) and
whatever else runs in its namespaces, removes the namespaces, the host's link
and the state dir. Also cleans up what a failed `cluster up` left. Taking down
a cluster that does not exist succeeds and says so. Needs root.
)";

const char *kNodeHelp = R"(Usage: dcos node list [--url URL] [--name NAME] [--state-dir DIR] [--json]

Lists the cluster's nodes from its membership in ZooKeeper, as a master's admin
port serves it (GET /v1/cluster/nodes): hostname, address, role, zone,
resource role and version. --json prints the records as they are.
)";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::vector<std::string> flags;
  std::string error;
};

// --opt VALUE, --opt=VALUE, or a flag; `valued` names the options that take
// a value.
Args parse(int argc, char **argv, int from, const std::vector<std::string> &valued,
           const std::vector<std::string> &flags) {
  Args a;
  for (int i = from; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h") arg = "--help";
    if (arg.rfind("--", 0) != 0) {
      a.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (std::find(valued.begin(), valued.end(), name) != valued.end()) {
      if (!value) {
        if (i + 1 >= argc) {
          a.error = "--" + name + " needs a value";
          return a;
        }
        value = argv[++i];
      }
      a.options[name] = *value;
    } else if (std::find(flags.begin(), flags.end(), name) != flags.end() && !value) {
      a.flags.push_back(name);
    } else {
      std::vector<std::string> known;
      for (const auto &v : valued) known.push_back("--" + v);
      for (const auto &f : flags) known.push_back("--" + f);
      std::string near = text::nearest("--" + name, known);
      a.error = "unknown option --" + name + (near.empty() ? "" : " (did you mean " + near + "?)");
      return a;
    }
  }
  return a;
}

bool has(const Args &a, const std::string &flag) {
  return std::find(a.flags.begin(), a.flags.end(), flag) != a.flags.end();
}

int usage(const std::string &message, const std::string &helpCommand) {
  std::fprintf(stderr, "dcos: %s\nTry `%s --help`.\n", message.c_str(), helpCommand.c_str());
  return kUsage;
}

std::optional<int> number(const Args &a, const std::string &name, int fallback, std::string &error) {
  auto it = a.options.find(name);
  if (it == a.options.end()) return fallback;
  char *end = nullptr;
  errno = 0;
  long v = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno != 0 || v < 0 || v > 100000) {
    error = "--" + name + ": expected a number, found " + text::quote(it->second);
    return std::nullopt;
  }
  return static_cast<int>(v);
}

std::string option(const Args &a, const std::string &name, const std::string &fallback) {
  auto it = a.options.find(name);
  return it == a.options.end() ? fallback : it->second;
}

// dcosd and its plugins: beside this binary in a build tree (cli/dcos next to
// dcosd/dcosd and plugins/), else where the packages install them.
std::pair<std::string, std::string> defaultDaemon() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path build = self.parent_path().parent_path();
    if (fs::exists(build / "dcosd/dcosd") && fs::exists(build / "plugins")) {
      return {(build / "dcosd/dcosd").string(), (build / "plugins").string()};
    }
    fs::path prefix = self.parent_path().parent_path();
    if (fs::exists(prefix / "sbin/dcosd")) return {(prefix / "sbin/dcosd").string(), (prefix / "lib/dcos/plugins").string()};
  }
  return {"/usr/sbin/dcosd", "/usr/lib/dcos/plugins"};
}

int clusterUpCommand(int argc, char **argv) {
  Args a = parse(argc, argv, 3,
                 {"masters", "private-agents", "public-agents", "name", "network", "state-dir", "dcosd", "plugin-dir",
                  "timeout"},
                 {"help"});
  if (has(a, "help")) return std::printf("%s", kUpHelp), kOk;
  if (!a.error.empty()) return usage(a.error, "dcos cluster up");
  if (!a.positional.empty()) return usage("unexpected argument " + text::quote(a.positional[0]), "dcos cluster up");
  UpOptions o;
  std::string error;
  auto masters = number(a, "masters", 1, error);
  auto privateAgents = number(a, "private-agents", 1, error);
  auto publicAgents = number(a, "public-agents", 1, error);
  auto timeout = number(a, "timeout", 180, error);
  if (!error.empty()) return usage(error, "dcos cluster up");
  o.masters = *masters;
  o.privateAgents = *privateAgents;
  o.publicAgents = *publicAgents;
  o.timeout = std::chrono::seconds(*timeout);
  o.sizeGiven = a.options.count("masters") + a.options.count("private-agents") + a.options.count("public-agents") > 0;
  o.name = option(a, "name", "local");
  o.network = option(a, "network", o.network);
  o.stateDir = option(a, "state-dir", o.stateDir);
  auto [dcosd, plugins] = defaultDaemon();
  o.dcosd = option(a, "dcosd", dcosd);
  o.pluginDir = option(a, "plugin-dir", a.options.count("dcosd") != 0
                                            ? (fs::path(o.dcosd).parent_path().parent_path() / "plugins").string()
                                            : plugins);
  if (auto planned = planCluster(o); !planned) return usage(planned.error().message, "dcos cluster up");
  auto s = clusterUp(o);
  if (!s) {
    std::string message = s.error().message;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    std::fprintf(stderr, "dcos: cluster up: %s\n", message.c_str());
    if (loadCluster(o.stateDir, o.name)) {
      std::fprintf(stderr, "The cluster is left as it is for a look; `dcos cluster down%s` removes it.\n",
                   o.name == "local" ? "" : (" --name " + o.name).c_str());
    }
    return kFailed;
  }
  return kOk;
}

int clusterStatusCommand(int argc, char **argv) {
  Args a = parse(argc, argv, 3, {"name", "state-dir"}, {"help", "json"});
  if (has(a, "help")) return std::printf("%s", kStatusHelp), kOk;
  if (!a.error.empty()) return usage(a.error, "dcos cluster status");
  if (!a.positional.empty()) return usage("unexpected argument " + text::quote(a.positional[0]), "dcos cluster status");
  std::string name = option(a, "name", "local");
  if (auto s = checkName(name); !s) return usage(s.error().message, "dcos cluster status");
  auto c = loadCluster(option(a, "state-dir", "/var/lib/dcos-local"), name);
  if (!c) {
    std::fprintf(stderr, "dcos: %s; bring one up with `dcos cluster up%s`\n", c.error().message.c_str(),
                 name == "local" ? "" : (" --name " + name).c_str());
    return c.error().code == ENOENT ? kNoCluster : kFailed;
  }
  return printClusterStatus(*c, has(a, "json"));
}

int clusterDownCommand(int argc, char **argv) {
  Args a = parse(argc, argv, 3, {"name", "state-dir"}, {"help"});
  if (has(a, "help")) return std::printf("%s", kDownHelp), kOk;
  if (!a.error.empty()) return usage(a.error, "dcos cluster down");
  if (!a.positional.empty()) return usage("unexpected argument " + text::quote(a.positional[0]), "dcos cluster down");
  if (auto s = checkName(option(a, "name", "local")); !s) return usage(s.error().message, "dcos cluster down");
  auto s = clusterDown(option(a, "state-dir", "/var/lib/dcos-local"), option(a, "name", "local"));
  if (!s) {
    std::fprintf(stderr, "dcos: cluster down: %s\n", s.error().message.c_str());
    return kFailed;
  }
  return kOk;
}

// The cluster `node` commands talk to, or an explanation.
Result<std::string> clusterUrl(const Args &a) {
  if (auto it = a.options.find("url"); it != a.options.end()) return it->second;
  if (const char *env = std::getenv("DCOS_URL"); env != nullptr && *env != '\0') return std::string(env);
  std::string name = option(a, "name", "local");
  auto c = loadCluster(option(a, "state-dir", "/var/lib/dcos-local"), name);
  if (c) return c->adminUrl();
  return makeError("no cluster to talk to: give --url URL, set DCOS_URL, or bring up a local one with `dcos cluster up`",
                   ENOENT);
}

int nodeListCommand(int argc, char **argv) {
  Args a = parse(argc, argv, 3, {"url", "name", "state-dir"}, {"help", "json"});
  if (has(a, "help")) return std::printf("%s", kNodeHelp), kOk;
  if (!a.error.empty()) return usage(a.error, "dcos node list");
  if (!a.positional.empty()) return usage("unexpected argument " + text::quote(a.positional[0]), "dcos node list");
  auto url = clusterUrl(a);
  if (!url) {
    std::fprintf(stderr, "dcos: %s\n", url.error().message.c_str());
    return kNoCluster;
  }
  auto answer = httpGet(*url, "/v1/cluster/nodes", std::chrono::seconds(5));
  if (!answer) {
    std::fprintf(stderr, "dcos: cannot reach the cluster at %s: %s\n", url->c_str(), answer.error().message.c_str());
    return kNoCluster;
  }
  if (answer->status != 200) {
    std::fprintf(stderr, "dcos: %s answered HTTP %d to /v1/cluster/nodes: %s\n", url->c_str(), answer->status,
                 answer->body.c_str());
    return kFailed;
  }
  Poco::JSON::Array::Ptr nodes;
  try {
    nodes = Poco::JSON::Parser().parse(answer->body).extract<Poco::JSON::Array::Ptr>();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "dcos: %s/v1/cluster/nodes is not a JSON array: %s\n", url->c_str(), e.what());
    return kFailed;
  }
  if (has(a, "json")) {
    nodes->stringify(std::cout, 2);
    std::printf("\n");
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < nodes->size(); ++i) {
    auto n = nodes->getObject(static_cast<unsigned>(i));
    if (!n) continue;
    rows.push_back({n->optValue<std::string>("hostname", ""), n->optValue<std::string>("address", ""),
                    n->optValue<std::string>("role", ""), n->optValue<std::string>("zone", ""),
                    n->optValue<std::string>("resource_role", ""), n->optValue<std::string>("version", "")});
  }
  // Masters first, then private and public agents, each by address.
  auto rank = [](const std::string &role) { return role == "master" ? 0 : role == "agent-private" ? 1 : 2; };
  std::sort(rows.begin(), rows.end(), [&](const auto &x, const auto &y) {
    return std::make_tuple(rank(x[2]), x[1].size(), x[1]) < std::make_tuple(rank(y[2]), y[1].size(), y[1]);
  });
  rows.insert(rows.begin(), {"HOSTNAME", "ADDRESS", "ROLE", "ZONE", "RESOURCE-ROLE", "VERSION"});
  std::printf("%s", formatTable(rows).c_str());
  return kOk;
}

}  // namespace

int main(int argc, char **argv) {
  std::string first = argc > 1 ? argv[1] : "";
  if (first.empty()) return usage("missing command", "dcos");
  if (first == "--help" || first == "-h" || first == "help") return std::printf("%s", kMainHelp), kOk;
  if (first == "--version") return std::printf("dcos %s\n", DCOS_VERSION), kOk;
  std::string second = argc > 2 ? argv[2] : "";
  if (first == "cluster") {
    if (second.empty()) return usage("cluster: missing subcommand (up, status or down)", "dcos cluster");
    if (second == "--help" || second == "-h") return std::printf("%s", kClusterHelp), kOk;
    if (second == "up") return clusterUpCommand(argc, argv);
    if (second == "status") return clusterStatusCommand(argc, argv);
    if (second == "down") return clusterDownCommand(argc, argv);
    std::string near = text::nearest(second, {"up", "status", "down"});
    return usage("cluster: unknown subcommand " + text::quote(second) +
                     (near.empty() ? " (known: up, status, down)" : " (did you mean " + text::quote(near) + "?)"),
                 "dcos cluster");
  }
  if (first == "node") {
    if (second.empty()) return usage("node: missing subcommand (list)", "dcos node");
    if (second == "--help" || second == "-h") return std::printf("%s", kNodeHelp), kOk;
    if (second == "list") return nodeListCommand(argc, argv);
    return usage("node: unknown subcommand " + text::quote(second) + " (known: list)", "dcos node");
  }
  std::string near = text::nearest(first, {"cluster", "node"});
  return usage("unknown command " + text::quote(first) +
                   (near.empty() ? " (known: cluster, node)" : " (did you mean " + text::quote(near) + "?)"),
               "dcos");
}
