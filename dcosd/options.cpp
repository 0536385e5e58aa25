#include "dcosd/options.h"

#include <charconv>

#include "base/log.h"
#include "base/text.h"

namespace dcos::dcosd {

std::string usage() {
  return R"(Usage: dcosd [OPTION]...
Runs this node of a dcos cluster: reads the node's configuration, programs its
zone firewall, loads its role plugin and starts the modules the role asks for.

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
<address>:61001): /health, /v1/node, /metrics.
)";
}

Result<Options> parseOptions(const std::vector<std::string> &args, const std::string &defaultPluginDir) {
  Options o;
  o.pluginDir = defaultPluginDir;
  const std::vector<std::string> known{"--config-dir", "--plugin-dir", "--state-dir", "--log-level",
                                       "--stop-timeout", "--check", "--help", "--version"};
  for (size_t i = 0; i < args.size(); ++i) {
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
