#include "dcosd/options.h"

#include <algorithm>
#include <charconv>

#include "base/log.h"
#include "base/text.h"

namespace dcos::dcosd {

std::string usage() {
  return R"(Usage: dcosd [OPTION]...
       dcosd firewall plan|apply|show|remove [OPTION]...
Runs this node of a dcos cluster: reads the node's configuration, programs its
zone firewall, loads its role plugin and starts the modules the role asks for.

Firewall commands (the zone comes from the node's role):
  plan    print the node's zone ruleset in nft syntax; touches nothing
  apply   program it (table inet dcos, replaced atomically) and exit
  show    print what is live: nft list table inet dcos
  remove  delete table inet dcos, leaving every other table alone

Options:
      --config-dir DIR    where cluster.json and node.json are (default /etc/dcos)
      --plugin-dir DIR    where role and module plugins are (default )" DCOS_DEFAULT_PLUGIN_DIR R"()
      --state-dir DIR     node-local state (default /var/lib/dcos)
      --log-level LEVEL   error, warning, notice, info or debug (default: node.json's
                          log_level, else info)
      --stop-timeout SEC  how long modules get to stop on SIGTERM/SIGINT (default 20)
      --check             validate the configuration and load the plugins without
                          starting them; print what would run and exit
  -h, --help              show this help and exit
      --version           show the version and the plugin ABI and exit

Exit status: 0 on a clean stop or a passed check, 1 when the configuration or a
plugin is wrong or a module failed, 2 on a usage error.

Under systemd, dcosd sends READY=1 when every module runs, STATUS= lines and
watchdog pings, and logs to the journal with the fields DCOS_ROLE and
DCOS_PLUGIN. The node API listens on node.json's api.listen (default
<address>:61001) and api.admin_listen if set: /health, /v1/node,
/v1/cluster/nodes, /system/health/v1/nodes, /metrics, and plugins' paths.
)";
}

Result<Options> parseOptions(const std::vector<std::string> &args, const std::string &defaultPluginDir) {
  Options o;
  o.pluginDir = defaultPluginDir;
  const std::vector<std::string> known{"--config-dir", "--plugin-dir", "--state-dir", "--log-level",
                                       "--stop-timeout", "--check", "--help", "--version"};
  size_t first = 0;
  if (!args.empty() && args[0] == "firewall") {
    if (args.size() < 2 || args[1].rfind("-", 0) == 0) return makeError("firewall: needs an action: plan, apply, show or remove");
    const std::vector<std::string> actions{"plan", "apply", "show", "remove"};
    if (std::find(actions.begin(), actions.end(), args[1]) == actions.end()) {
      std::string message = "firewall: unknown action " + text::quote(args[1]) + " (known: plan, apply, show, remove)";
      return makeError(message);
    }
    o.firewall = args[1];
    first = 2;
  }
  for (size_t i = first; i < args.size(); ++i) {
    std::string arg = args[i];
    std::string value;
    bool inlineValue = false;
    if (auto eq = arg.find('='); text::startsWith(arg, "--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inlineValue = true;
    }
    auto takeValue = [&]() -> Result<std::string> {
      if (inlineValue) return value;
      if (i + 1 >= args.size()) return makeError(arg + ": needs a value");
      return args[++i];
    };
    if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (arg == "--version") {
      o.version = true;
    } else if (arg == "--check") {
      o.check = true;
    } else if (arg == "--config-dir" || arg == "--plugin-dir" || arg == "--state-dir" || arg == "--log-level" ||
               arg == "--stop-timeout") {
      auto v = takeValue();
      if (!v) return v.error();
      if (v->empty()) return makeError(arg + ": needs a non-empty value");
      if (arg == "--config-dir") o.configDir = *v;
      if (arg == "--plugin-dir") o.pluginDir = *v;
      if (arg == "--state-dir") o.stateDir = *v;
      if (arg == "--log-level") {
        if (!log::parseLevel(*v)) {
          return makeError(arg + ": unknown level " + text::quote(*v) + " (known: error, warning, notice, info, debug)");
        }
        o.logLevel = *v;
      }
      if (arg == "--stop-timeout") {
        int n = 0;
        auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec != std::errc() || p != v->data() + v->size() || n < 1 || n > 3600) {
          return makeError(arg + ": expected seconds from 1 to 3600, found " + text::quote(*v));
        }
        o.stopTimeoutSeconds = n;
      }
    } else {
      std::string message = "unknown argument " + text::quote(args[i]);
      std::string suggestion = text::nearest(arg, known);
      if (!suggestion.empty()) message += " (did you mean " + suggestion + "?)";
      return makeError(message);
    }
  }
  return o;
}

}  // namespace dcos::dcosd
