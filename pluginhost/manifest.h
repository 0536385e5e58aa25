// A role's manifest: what the node is and which modules it runs.
// The JSON shape is documented in docs/plugins.md.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::pluginhost {

struct ModuleSpec {
  std::string name;     // the module plugin's name
  std::string library;  // file in the plugin dir (default "<name>.so") or an absolute path
  bool optional = false;
  bool awaitHealthy = false;  // later modules start only once this one reports healthy
  std::vector<std::string> requires_;  // modules that must be running first
  std::string configJson = "{}";       // passed to create()
};

struct ImageSpec {
  std::vector<std::string> packages;  // Debian packages the node image needs
  std::vector<std::string> units;     // systemd units to enable
  // Files written into the image: absolute path -> content (e.g. a
  // sysusers.d entry for a module's user).
  std::map<std::string, std::string> files;
  // dpkg path filters for the image, after the builder's own: globs of
  // absolute paths not to unpack, and ones to unpack all the same (an
  // include after an exclude wins, as with dpkg's path-include).
  std::vector<std::string> pathExclude;
  std::vector<std::string> pathInclude;
  // Programs run inside the finished rootfs at build time, in order, as
  // root with /proc but no network (e.g. a class-data archive built from
  // the image's own jars): each an argv, its program an absolute path.
  std::vector<std::vector<std::string>> commands;
};

struct Manifest {
  std::string zone;          // admin, private or public
  std::string resourceRole;  // "*", "slave_public" or a custom one
  std::map<std::string, std::string> attributes;
  std::vector<ModuleSpec> modules;
  ImageSpec image;
};

// Validates a manifest; errors are "<source>: <JSON pointer>: <problem>", all of them.
Result<Manifest> parseManifest(const std::string &json, const std::string &source);

// The order to start modules in: every module after those it requires,
// otherwise in the order listed. Fails naming an unknown dependency or a cycle.
Result<std::vector<size_t>> startOrder(const std::vector<ModuleSpec> &modules);

}  // namespace dcos::pluginhost
