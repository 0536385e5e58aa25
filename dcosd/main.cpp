// dcosd: the one daemon on every dcos node.
#include <cstdio>
#include <string>
#include <vector>

#include <dcos/plugin.h>

#include "base/log.h"
#include "dcosd/daemon.h"
#include "dcosd/options.h"

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto options = dcos::dcosd::parseOptions(args, DCOS_DEFAULT_PLUGIN_DIR);
  if (!options) {
    std::fprintf(stderr, "dcosd: %s\nTry 'dcosd --help'.\n", options.error().message.c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(dcos::dcosd::usage().c_str(), stdout);
    return 0;
  }
  if (options->version) {
    std::printf("dcosd %s (plugin ABI %d)\n", DCOS_VERSION, DCOS_ABI_MAJOR);
    return 0;
  }
  if (!options->firewall.empty()) return dcos::dcosd::runFirewallCommand(*options);
  if (options->check) return dcos::dcosd::runCheck(*options);
  return dcos::dcosd::runDaemon(*options);
}
