// Loads plugin libraries and checks their descriptors.
//
// load() opens a library with dlopen(RTLD_NOW | RTLD_LOCAL) and checks, in
// this order: the file exists and links, the entry symbol, the ABI major, the
// descriptor's size and required functions, the kind expected here, and that
// no plugin of the same name was loaded before by this Loader. A failure is
// one line, "<file>: <reason>". Libraries are never closed: code from a
// plugin may still be referenced (threads, atexit) until the process ends.
//
// Not thread safe; dcosd loads from one thread.
#pragma once

#include <dcos/plugin.h>

#include <map>
#include <string>

#include "base/result.h"

namespace dcos::pluginhost {

struct Library {
  std::string path;
  const dcos_plugin_v1 *descriptor = nullptr;
};

std::string_view kindName(uint32_t kind);

// The smallest descriptor this host accepts: ABI v1 as first published.
constexpr size_t kMinDescriptorSize = sizeof(dcos_plugin_v1);

class Loader {
 public:
  Result<Library> load(const std::string &path, dcos_plugin_kind expected);

 private:
  std::map<std::string, std::string> loaded_;  // plugin name -> path
};

}  // namespace dcos::pluginhost
