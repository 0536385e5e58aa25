#include "pluginhost/loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstring>

#include "base/text.h"
#include "config/config.h"

namespace dcos::pluginhost {

std::string_view kindName(uint32_t kind) {
  switch (kind) {
    case DCOS_PLUGIN_ROLE: return "role";
    case DCOS_PLUGIN_MODULE: return "module";
    default: return "unknown";
  }
}

namespace {

// dlerror() repeats the file name; keep one line that names it once.
std::string dlReason(const std::string &path) {
  const char *e = dlerror();
  std::string reason = e != nullptr ? e : "unknown dlopen error";
  if (text::startsWith(reason, path + ": ")) {
    reason = reason.substr(path.size() + 2);
  }
  return reason;
}

}  // namespace

Result<Library> Loader::load(const std::string &path, dcos_plugin_kind expected) {
  auto fail = [&](const std::string &reason) { return makeError(path + ": " + reason); };

  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(std::string("cannot load: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail("cannot load: not a regular file");
  }
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return fail("cannot load: " + dlReason(path));
  }
  (void)dlerror();
  void *symbol = dlsym(handle, DCOS_PLUGIN_ENTRY_V1);
  if (symbol == nullptr) {
    return fail("no entry symbol " DCOS_PLUGIN_ENTRY_V1
                " (not a dcos plugin, or built for another ABI major)");
  }
  auto entry = reinterpret_cast<dcos_plugin_entry_v1_fn>(symbol);
  const dcos_plugin_v1 *d = entry();
  if (d == nullptr) {
    return fail(DCOS_PLUGIN_ENTRY_V1 " returned no descriptor");
  }
  if (d->abi_major != DCOS_ABI_MAJOR) {
    return fail("ABI major " + std::to_string(d->abi_major) + ", this dcosd speaks " +
                std::to_string(DCOS_ABI_MAJOR));
  }
  if (d->struct_size < kMinDescriptorSize) {
    return fail("descriptor too small: " + std::to_string(d->struct_size) + " bytes, at least " +
                std::to_string(kMinDescriptorSize) + " expected");
  }
  if (d->name == nullptr || !config::isName(d->name)) {
    return fail("descriptor has no valid name (lowercase letters, digits and dashes)");
  }
  if (d->version == nullptr || d->create == nullptr || d->start == nullptr || d->stop == nullptr ||
      d->destroy == nullptr) {
    return fail("descriptor of " + text::quote(d->name) + " is incomplete (version, create, start, stop and destroy "
                "are required)");
  }
  if (d->kind != static_cast<uint32_t>(expected)) {
    return fail(text::quote(d->name) + " is a " + std::string(kindName(d->kind)) + " plugin, expected a " +
                std::string(kindName(expected)) + " plugin here");
  }
  if (expected == DCOS_PLUGIN_ROLE && d->role_manifest == nullptr) {
    return fail("role " + text::quote(d->name) + " has no role_manifest function");
  }
  if (auto it = loaded_.find(d->name); it != loaded_.end()) {
    return fail("duplicate plugin name " + text::quote(d->name) + " (already loaded from " + it->second + ")");
  }
  loaded_[d->name] = path;
  return Library{path, d};
}

}  // namespace dcos::pluginhost
