// Header-only C++ adapter over the dcos plugin ABI (dcos/plugin.h).
//
// A module is a class with a constructor (Host, config JSON), start() and
// stop(); a role is a class with a constructor and manifest(). One macro
// exports the ABI entry function for it:
//
//   class Hello : public dcos::sdk::Module {
//    public:
//     Hello(dcos::sdk::Host host, std::string_view config) : host_(host) {}
//     void start() override { host_.info("hello"); }
//     void stop() override {}
//    private:
//     dcos::sdk::Host host_;
//   };
//   DCOS_MODULE(Hello, "hello", "1.0.0", "says hello")
//
// Exceptions thrown by the constructor or start() become the error message the
// host prints; throw dcos::sdk::Error to choose the errno as well. Nothing
// escapes the boundary: stop(), the destructor and manifest() are guarded too.
// Requires C++17.
#pragma once

#include <dcos/plugin.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dcos::sdk {

// Throw to fail create() or start() with a given errno (a positive value).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string &message, int errnum = EINVAL)
      : std::runtime_error(message), errnum_(errnum) {}
  int errnum() const { return errnum_; }

 private:
  int errnum_;
};

// The host's services for one plugin instance. Cheap to copy; valid until the
// instance is destroyed. Safe to use from any thread.
class Host {
 public:
  explicit Host(const dcos_host_v1 *host) : host_(host) {}

  void log(dcos_log_level level, const std::string &message) const {
    host_->log(host_->ctx, level, message.c_str());
  }
  void error(const std::string &m) const { log(DCOS_LOG_ERROR, m); }
  void warning(const std::string &m) const { log(DCOS_LOG_WARNING, m); }
  void info(const std::string &m) const { log(DCOS_LOG_INFO, m); }
  void debug(const std::string &m) const { log(DCOS_LOG_DEBUG, m); }

  // This node's identity as a JSON object (see dcos_host_v1::node_json).
  std::string nodeJson() const { return host_->node_json(host_->ctx); }
  // The instance's own node-local state directory, which exists.
  std::string stateDir() const { return host_->state_dir(host_->ctx); }
  void reportHealth(dcos_health health, const std::string &message = {}) const {
    host_->report_health(host_->ctx, health, message.empty() ? nullptr : message.c_str());
  }

  // dcos_host_v1::open_port and close_port; throw Error when the host
  // refuses (or is too old to offer them: ENOSYS).
  void openPort(uint32_t zones, dcos_proto proto, uint16_t port) const { portCall(true, zones, proto, port); }
  void closePort(uint32_t zones, dcos_proto proto, uint16_t port) const { portCall(false, zones, proto, port); }

  // The cluster's configuration as JSON ("{}" from a dcosd too old to say).
  std::string clusterJson() const {
    if (host_->struct_size < offsetof(dcos_host_v1, cluster_json) + sizeof host_->cluster_json) return "{}";
    return host_->cluster_json(host_->ctx);
  }

  // Routes node API requests under `prefix` to `handler(user, request, response)`;
  // throws Error when refused.
  void httpRoute(const std::string &prefix, dcos_http_handler handler, void *user) const {
    if (host_->struct_size < offsetof(dcos_host_v1, http_route) + sizeof host_->http_route) {
      throw Error("this dcosd cannot route HTTP to plugins", ENOSYS);
    }
    char err[256] = {};
    int rc = host_->http_route(host_->ctx, prefix.c_str(), handler, user, err, sizeof err);
    if (rc != 0) throw Error(err[0] != '\0' ? err : "route refused", rc < 0 ? -rc : EINVAL);
  }

  // Stands for the cluster-wide election `name`; onChange(user, isLeader).
  void standForElection(const std::string &name, void (*onChange)(void *, int), void *user) const {
    if (host_->struct_size < offsetof(dcos_host_v1, resign) + sizeof host_->resign) {
      throw Error("this dcosd holds no elections", ENOSYS);
    }
    char err[256] = {};
    int rc = host_->stand_for_election(host_->ctx, name.c_str(), onChange, user, err, sizeof err);
    if (rc != 0) throw Error(err[0] != '\0' ? err : "election refused", rc < 0 ? -rc : EINVAL);
  }
  void resign(const std::string &name) const {
    if (host_->struct_size >= offsetof(dcos_host_v1, resign) + sizeof host_->resign) {
      host_->resign(host_->ctx, name.c_str());
    }
  }

  const dcos_host_v1 *raw() const { return host_; }

 private:
  void portCall(bool open, uint32_t zones, dcos_proto proto, uint16_t port) const;
  const dcos_host_v1 *host_;
};


inline void Host::portCall(bool open, uint32_t zones, dcos_proto proto, uint16_t port) const {
  const size_t needed = offsetof(dcos_host_v1, close_port) + sizeof host_->close_port;
  if (host_->struct_size < needed) throw Error("this dcosd cannot open ports", ENOSYS);
  char err[256] = {};
  int rc = (open ? host_->open_port : host_->close_port)(host_->ctx, zones, proto, port, err, sizeof err);
  if (rc != 0) throw Error(err[0] != '\0' ? err : "port change refused", rc < 0 ? -rc : EINVAL);
}

class Module {
 public:
  virtual ~Module() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
};

class Role {
 public:
  virtual ~Role() = default;
  // The role's manifest, a JSON object (docs/plugins.md). Called once, right
  // after construction.
  virtual std::string manifest() const = 0;
};

// Quotes a string for JSON, escaping what RFC 8259 requires. Bytes that are
// not UTF-8 (a request's stray byte echoed in a message) become U+FFFD: the
// result is always valid JSON.
inline std::string jsonQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    // A multi-byte sequence: its length from the lead byte, each
    // continuation byte 10xxxxxx, no overlong form, surrogate or value
    // past U+10FFFF.
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = n != 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n > 2) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 > 0x9F) && !(c == 0xF0 && c1 < 0x90) &&
           !(c == 0xF4 && c1 > 0x8F);
    }
    if (!ok) {
      out += "\\ufffd";
      continue;
    }
    out.append(s.substr(i, n));
    i += n - 1;
  }
  out.push_back('"');
  return out;
}

namespace detail {

inline void writeError(char *err, size_t len, const char *message) {
  if (err != nullptr && len > 0) {
    std::snprintf(err, len, "%s", message);
  }
}

// Runs f, turning any exception into (negative errno, message).
template <class F>
int guarded(char *err, size_t len, F &&f) noexcept {
  try {
    f();
    return 0;
  } catch (const Error &e) {
    writeError(err, len, e.what());
    return e.errnum() > 0 ? -e.errnum() : -EINVAL;
  } catch (const std::bad_alloc &) {
    writeError(err, len, "out of memory");
    return -ENOMEM;
  } catch (const std::exception &e) {
    writeError(err, len, e.what());
    return -EINVAL;
  } catch (...) {
    writeError(err, len, "unknown exception");
    return -EINVAL;
  }
}

template <class T>
struct RoleBox {
  T role;
  std::string manifest;
  RoleBox(Host host, std::string_view config) : role(host, config), manifest(role.manifest()) {}
};

template <class T>
int createModule(const dcos_host_v1 *host, const char *config, void **instance, char *err,
                 size_t len) noexcept {
  return guarded(err, len, [&] {
    T *made = new T(Host(host), std::string_view(config != nullptr ? config : "{}"));
    *instance = made;
  });
}

template <class T>
int startModule(void *instance, char *err, size_t len) noexcept {
  return guarded(err, len, [&] { static_cast<T *>(instance)->start(); });
}

template <class T>
void stopModule(void *instance) noexcept {
  char ignored[1];
  (void)guarded(ignored, 0, [&] { static_cast<T *>(instance)->stop(); });
}

template <class T>
void destroyModule(void *instance) noexcept {
  char ignored[1];
  (void)guarded(ignored, 0, [&] { delete static_cast<T *>(instance); });
}

template <class T>
int createRole(const dcos_host_v1 *host, const char *config, void **instance, char *err,
               size_t len) noexcept {
  return guarded(err, len, [&] {
    auto *made = new RoleBox<T>(Host(host), std::string_view(config != nullptr ? config : "{}"));
    *instance = made;
  });
}

inline int startNothing(void *, char *, size_t) noexcept { return 0; }
inline void stopNothing(void *) noexcept {}

template <class T>
void destroyRole(void *instance) noexcept {
  char ignored[1];
  (void)guarded(ignored, 0, [&] { delete static_cast<RoleBox<T> *>(instance); });
}

template <class T>
const char *roleManifest(void *instance) noexcept {
  return static_cast<RoleBox<T> *>(instance)->manifest.c_str();
}

template <class T>
dcos_plugin_v1 moduleDescriptor(const char *name, const char *version, const char *description) {
  dcos_plugin_v1 d{};
  d.struct_size = sizeof(dcos_plugin_v1);
  d.abi_major = DCOS_ABI_MAJOR;
  d.kind = DCOS_PLUGIN_MODULE;
  d.name = name;
  d.version = version;
  d.description = description;
  d.create = &createModule<T>;
  d.start = &startModule<T>;
  d.stop = &stopModule<T>;
  d.destroy = &destroyModule<T>;
  d.role_manifest = nullptr;
  return d;
}

template <class T>
dcos_plugin_v1 roleDescriptor(const char *name, const char *version, const char *description) {
  dcos_plugin_v1 d{};
  d.struct_size = sizeof(dcos_plugin_v1);
  d.abi_major = DCOS_ABI_MAJOR;
  d.kind = DCOS_PLUGIN_ROLE;
  d.name = name;
  d.version = version;
  d.description = description;
  d.create = &createRole<T>;
  d.start = &startNothing;
  d.stop = &stopNothing;
  d.destroy = &destroyRole<T>;
  d.role_manifest = &roleManifest<T>;
  return d;
}

}  // namespace detail
}  // namespace dcos::sdk

#define DCOS_SDK_EXPORT_ENTRY(descriptor_expr)                                          \
  extern "C" __attribute__((visibility("default"))) const dcos_plugin_v1 *              \
  dcos_plugin_entry_v1(void) {                                                          \
    static const dcos_plugin_v1 descriptor = descriptor_expr;                           \
    return &descriptor;                                                                 \
  }

// Exports Class (a dcos::sdk::Module) as the module plugin `name`.
#define DCOS_MODULE(Class, name, version, description) \
  DCOS_SDK_EXPORT_ENTRY((::dcos::sdk::detail::moduleDescriptor<Class>(name, version, description)))

// Exports Class (a dcos::sdk::Role) as the role plugin `name`.
#define DCOS_ROLE(Class, name, version, description) \
  DCOS_SDK_EXPORT_ENTRY((::dcos::sdk::detail::roleDescriptor<Class>(name, version, description)))
