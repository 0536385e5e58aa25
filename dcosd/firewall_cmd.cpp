// `dcosd firewall plan|apply|show|remove`: the operator's view of the zone firewall.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/log.h"
#include "config/config.h"
#include "dcosd/daemon.h"
#include "firewall/nft_text.h"
#include "firewall/policy.h"
#include "firewall/task_cgroups.h"
#include "pluginhost/plugin_host.h"

namespace dcos::dcosd {

namespace {

namespace fs = std::filesystem;

int fail(const Error &error) {
  std::fprintf(stderr, "dcosd firewall %s\n", error.message.c_str());
  return 1;
}

// The node's config and the zone its role declares (plugins are created in a
// scratch state dir and destroyed again, as with --check).
Result<std::pair<config::Config, std::string>> nodeZone(const Options &options) {
  auto config = config::load(options.configDir);
  if (!config) return config.error();
  std::string scratch = (fs::temp_directory_path() / ("dcosd-firewall-" + std::to_string(::getpid()))).string();
  std::string zone;
  Status loaded;
  {
    pluginhost::PluginHost host({options.pluginDir, scratch, {}}, *config);
    loaded = host.load();
    if (loaded) zone = host.manifest().zone;
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  if (!loaded) return loaded.error();
  return std::make_pair(*config, zone);
}

}  // namespace

int runFirewallCommand(const Options &options) {
  const std::string &action = options.firewall;
  log::setLevel(log::parseLevel(options.logLevel.value_or("warning")).value_or(log::Level::Warning));
  if (action == "show") {
    // nft is the tool operators read rulesets with; show exactly what it shows.
    execlp("nft", "nft", "list", "table", "inet", "dcos", static_cast<char *>(nullptr));
    return fail(makeError(std::string("show: cannot run nft: ") + std::strerror(errno)));
  }
  if (action == "remove") {
    auto fw = firewall::Firewall::open();
    if (!fw) return fail(fw.error().wrap("remove"));
    if (auto s = (*fw)->remove("dcos"); !s) return fail(s.error().wrap("remove"));
    std::printf("removed table inet dcos\n");
    return 0;
  }
  auto node = nodeZone(options);
  if (!node) return fail(node.error().wrap(action));
  const auto &[config, zoneName] = *node;
  if (action == "plan") {
    auto zone = firewall::parseZone(zoneName);
    if (!zone) return fail(zone.error().wrap("plan"));
    auto rs = firewall::zoneRuleset(config.cluster, *zone, firewall::findTaskCgroups(false).cgroups,
                                    listenPort(config.node.apiListen));
    if (!rs) return fail(rs.error().wrap("plan"));
    std::printf("# zone %s, role %s, node %s\n%s", zoneName.c_str(), config.node.role.c_str(),
                config.node.address.c_str(), firewall::nftTable(*rs).c_str());
    return 0;
  }
  auto applied = applyZoneFirewall(config, zoneName);
  if (!applied) return fail(applied.error().wrap("apply"));
  std::printf("applied table inet dcos for zone %s\n", zoneName.c_str());
  return 0;
}

}  // namespace dcos::dcosd
