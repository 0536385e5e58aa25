// dcosd's command line.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::dcosd {

struct Options {
  std::string configDir = "/etc/dcos";
  std::string pluginDir;  // default: the installed plugin dir
  std::string stateDir = "/var/lib/dcos";
  std::optional<std::string> logLevel;  // overrides node.json
  int stopTimeoutSeconds = 20;
  bool check = false;
  std::string firewall;  // "plan", "apply", "show" or "remove" for `dcosd firewall ACTION`
  bool help = false;
  bool version = false;
};

// Parses argv[1..]; an error names the argument at fault.
Result<Options> parseOptions(const std::vector<std::string> &args, const std::string &defaultPluginDir);

std::string usage();

}  // namespace dcos::dcosd
