// dcos: the command-line client. `dcos cluster ...` manages a local cluster
// in network namespaces; every other command (cli/commands.h) talks to a
// cluster's admin URL over HTTP, as an operator's workstation would.
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "base/text.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/local_cluster.h"

namespace {

using namespace dcos;
using namespace dcos::cli;
namespace fs = std::filesystem;

const char *kMainHelp = R"(Usage: dcos [--version] [--help] COMMAND [SUBCOMMAND] [OPTION]...

The dcos command-line client.

Commands:
  cluster up       bring up a local cluster in network namespaces (root)
  cluster status   show the local cluster's nodes, processes and health
  cluster down     stop the local cluster and remove everything it made (root)
  node list        list the cluster's nodes, as its masters know them
  marathon app     add, list, show, update, remove, restart, kill, start, stop apps
  marathon task    list and show the apps' tasks
  marathon deployment
                   list, watch, roll back and stop deployments
  task             list the cluster's tasks; `task log` prints a task's stdout

Which cluster `node`, `marathon` and `task` commands talk to, first found:
--url URL, the DCOS_URL environment variable, the admin URL of the local
cluster --name (default "local") kept in --state-dir (default
/var/lib/dcos-local). An https:// URL is verified against the CA certificate
of --ca-cert FILE or DCOS_CA_CERT (a cluster's own CAs are served at
http://<master>/ca/dcos-ca.crt), else against the system's CAs.

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
      --resolvers IP[,IP]  upstream DNS servers, where the masters' DNS
                           forwards names outside the cluster's domain
                           (default none: it refuses them)
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
  Args a = parseArgs(argc, argv, 3,
                 {"masters", "private-agents", "public-agents", "name", "network", "state-dir", "dcosd", "plugin-dir",
                  "timeout", "resolvers"},
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
  if (a.options.count("resolvers") != 0) {
    std::string list = option(a, "resolvers", "");
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      std::string one = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!one.empty()) o.resolvers.push_back(one);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
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
  Args a = parseArgs(argc, argv, 3, {"name", "state-dir"}, {"help", "json"});
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
  Args a = parseArgs(argc, argv, 3, {"name", "state-dir"}, {"help"});
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
  if (first == "marathon") return marathonCommand(argc, argv);
  if (first == "task") return taskCommand(argc, argv);
  std::string near = text::nearest(first, {"cluster", "node", "marathon", "task"});
  return usage("unknown command " + text::quote(first) +
                   (near.empty() ? " (known: cluster, node, marathon, task)" : " (did you mean " + text::quote(near) + "?)"),
               "dcos");
}
