#include "systemd/units.h"

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include <csignal>
#include <cstring>
#include <thread>

namespace dcos::systemd {

namespace {

constexpr const char *kDestination = "org.freedesktop.systemd1";
constexpr const char *kManagerPath = "/org/freedesktop/systemd1";
constexpr const char *kManager = "org.freedesktop.systemd1.Manager";
constexpr const char *kUnit = "org.freedesktop.systemd1.Unit";
constexpr const char *kService = "org.freedesktop.systemd1.Service";

// Owns an sd_bus_error and turns it into one line.
struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&e); }
  std::string text(int rc) const {
    if (e.message != nullptr) return e.message;
    return std::strerror(-rc);
  }
};

struct Message {
  sd_bus_message *m = nullptr;
  ~Message() { sd_bus_message_unref(m); }
};

uint64_t usec(std::chrono::milliseconds d) { return static_cast<uint64_t>(d.count()) * 1000; }

// Appends (s, v:s).
int appendString(sd_bus_message *m, const char *name, const std::string &value) {
  return sd_bus_message_append(m, "(sv)", name, "s", value.c_str());
}

int appendStrings(sd_bus_message *m, const char *name, const std::vector<std::string> &values) {
  int rc = sd_bus_message_open_container(m, 'r', "sv");
  if (rc >= 0) rc = sd_bus_message_append(m, "s", name);
  if (rc >= 0) rc = sd_bus_message_open_container(m, 'v', "as");
  if (rc >= 0) rc = sd_bus_message_open_container(m, 'a', "s");
  for (const auto &v : values) {
    if (rc >= 0) rc = sd_bus_message_append(m, "s", v.c_str());
  }
  if (rc >= 0) rc = sd_bus_message_close_container(m);
  if (rc >= 0) rc = sd_bus_message_close_container(m);
  if (rc >= 0) rc = sd_bus_message_close_container(m);
  return rc;
}

// ExecStart is a(sasb): path, argv, ignore-failure.
int appendExecStart(sd_bus_message *m, const std::vector<std::string> &argv) {
  int rc = sd_bus_message_open_container(m, 'r', "sv");
  if (rc >= 0) rc = sd_bus_message_append(m, "s", "ExecStart");
  if (rc >= 0) rc = sd_bus_message_open_container(m, 'v', "a(sasb)");
  if (rc >= 0) rc = sd_bus_message_open_container(m, 'a', "(sasb)");
  if (rc >= 0) rc = sd_bus_message_open_container(m, 'r', "sasb");
  if (rc >= 0) rc = sd_bus_message_append(m, "s", argv.front().c_str());
  if (rc >= 0) rc = sd_bus_message_open_container(m, 'a', "s");
  for (const auto &a : argv) {
    if (rc >= 0) rc = sd_bus_message_append(m, "s", a.c_str());
  }
  if (rc >= 0) rc = sd_bus_message_close_container(m);
  if (rc >= 0) rc = sd_bus_message_append(m, "b", 0);
  for (int i = 0; i < 4 && rc >= 0; ++i) rc = sd_bus_message_close_container(m);  // (sasb), a, v, (sv)
  return rc;
}

}  // namespace

bool systemdIsInit() { return sd_booted() > 0; }

struct UnitManager::Bus {
  sd_bus *bus = nullptr;
  ~Bus() { sd_bus_flush_close_unref(bus); }
};

UnitManager::UnitManager(std::unique_ptr<Bus> bus) : bus_(std::move(bus)) {}
UnitManager::~UnitManager() = default;

Result<std::unique_ptr<UnitManager>> UnitManager::connect() {
  auto bus = std::make_unique<Bus>();
  int rc = sd_bus_open_system(&bus->bus);
  if (rc < 0) return makeError("cannot connect to the system bus: " + std::string(std::strerror(-rc)), -rc);
  // A stuck PID 1 must not hold a health check (or a stop) for sd-bus's
  // default 25 s per call: every call here is a quick question to PID 1.
  (void)sd_bus_set_method_call_timeout(bus->bus, 5'000'000);
  return std::unique_ptr<UnitManager>(new UnitManager(std::move(bus)));
}

Status UnitManager::startService(const std::string &name, const ServiceSpec &spec) {
  if (auto c = ensureConnected(); !c) return c;
  if (spec.argv.empty() || spec.argv.front().empty() || spec.argv.front()[0] != '/') {
    return makeError(name + ": ExecStart needs an absolute program path");
  }
  Message call;
  int rc = sd_bus_message_new_method_call(bus_->bus, &call.m, kDestination, kManagerPath, kManager,
                                          "StartTransientUnit");
  if (rc >= 0) rc = sd_bus_message_append(call.m, "ss", name.c_str(), "fail");
  if (rc >= 0) rc = sd_bus_message_open_container(call.m, 'a', "(sv)");
  if (rc >= 0) rc = appendString(call.m, "Description", spec.description);
  if (rc >= 0) rc = appendString(call.m, "Type", spec.runOnce ? "exec" : "simple");
  if (rc >= 0) rc = appendExecStart(call.m, spec.argv);
  if (rc >= 0 && !spec.workingDirectory.empty()) rc = appendString(call.m, "WorkingDirectory", spec.workingDirectory);
  if (rc >= 0 && !spec.environment.empty()) rc = appendStrings(call.m, "Environment", spec.environment);
  if (rc >= 0 && !spec.user.empty()) rc = appendString(call.m, "User", spec.user);
  if (rc >= 0) rc = sd_bus_message_append(call.m, "(sv)", "TimeoutStopUSec", "t", usec(spec.stopTimeout));
  if (rc >= 0) rc = sd_bus_message_append(call.m, "(sv)", "NoNewPrivileges", "b", 1);
  if (spec.runOnce) {
    if (rc >= 0) rc = sd_bus_message_append(call.m, "(sv)", "RemainAfterExit", "b", 1);
    if (rc >= 0) rc = appendString(call.m, "KillMode", "control-group");
    if (rc >= 0) rc = sd_bus_message_append(call.m, "(sv)", "KillSignal", "i", SIGTERM);
    if (rc >= 0) rc = sd_bus_message_append(call.m, "(sv)", "SendSIGKILL", "b", 1);
    // Said outright: with Delegate=yes systemd's default is "continue".
    if (rc >= 0) rc = appendString(call.m, "OOMPolicy", "stop");
  } else {
    if (rc >= 0) rc = appendString(call.m, "Restart", "always");
    if (rc >= 0) rc = sd_bus_message_append(call.m, "(sv)", "RestartUSec", "t", usec(spec.restartDelay));
    if (rc >= 0) rc = sd_bus_message_append(call.m, "(sv)", "StartLimitIntervalUSec", "t", uint64_t{0});
    // Gone from PID 1's memory once stopped, failed or not, so the next
    // start by name succeeds.
    if (rc >= 0) rc = appendString(call.m, "CollectMode", "inactive-or-failed");
    if (rc >= 0) rc = appendString(call.m, "ProtectSystem", "strict");
    if (rc >= 0 && !spec.readWritePaths.empty()) rc = appendStrings(call.m, "ReadWritePaths", spec.readWritePaths);
    if (rc >= 0) rc = appendString(call.m, "ProtectHome", "yes");
    if (rc >= 0) rc = sd_bus_message_append(call.m, "(sv)", "PrivateTmp", "b", 1);
  }
  if (rc >= 0 && !spec.slice.empty()) rc = appendString(call.m, "Slice", spec.slice);
  if (rc >= 0 && spec.cpuQuotaPerSecUsec) {
    rc = sd_bus_message_append(call.m, "(sv)", "CPUQuotaPerSecUSec", "t", *spec.cpuQuotaPerSecUsec);
  }
  if (rc >= 0 && spec.cpuWeight) rc = sd_bus_message_append(call.m, "(sv)", "CPUWeight", "t", *spec.cpuWeight);
  if (rc >= 0 && spec.memoryMaxBytes) {
    rc = sd_bus_message_append(call.m, "(sv)", "MemoryMax", "t", *spec.memoryMaxBytes);
    // No swap to hide in: over MemoryMax is over its memory.
    if (rc >= 0) rc = sd_bus_message_append(call.m, "(sv)", "MemorySwapMax", "t", uint64_t{0});
  }
  // StandardOutput=append:PATH, as D-Bus spells it.
  if (rc >= 0 && !spec.appendOutputTo.empty()) {
    rc = appendString(call.m, "StandardOutputFileToAppend", spec.appendOutputTo);
  }
  if (rc >= 0 && !spec.appendErrorTo.empty()) rc = appendString(call.m, "StandardErrorFileToAppend", spec.appendErrorTo);
  // Descriptors the caller opened (PID 1 dups them): nothing is opened by
  // path as root on the task's behalf.
  if (rc >= 0 && spec.stdoutFd >= 0) {
    rc = sd_bus_message_append(call.m, "(sv)", "StandardOutputFileDescriptor", "h", spec.stdoutFd);
  }
  if (rc >= 0 && spec.stderrFd >= 0) {
    rc = sd_bus_message_append(call.m, "(sv)", "StandardErrorFileDescriptor", "h", spec.stderrFd);
  }
  if (rc >= 0 && spec.delegate) rc = sd_bus_message_append(call.m, "(sv)", "Delegate", "b", 1);
  if (rc >= 0 && spec.noCapabilities) {
    rc = sd_bus_message_append(call.m, "(sv)", "CapabilityBoundingSet", "t", uint64_t{0});
    if (rc >= 0) rc = sd_bus_message_append(call.m, "(sv)", "AmbientCapabilities", "t", uint64_t{0});
  }
  if (rc >= 0) rc = sd_bus_message_close_container(call.m);
  // No auxiliary units.
  if (rc >= 0) rc = sd_bus_message_append(call.m, "a(sa(sv))", 0);
  if (rc < 0) return makeError(name + ": cannot build StartTransientUnit: " + std::strerror(-rc), -rc);

  BusError error;
  Message reply;
  rc = sd_bus_call(bus_->bus, call.m, 0, &error.e, &reply.m);
  if (rc < 0) return makeError("cannot start " + name + ": " + error.text(rc), -rc);
  return Status::Ok();
}

Status UnitManager::stop(const std::string &name, std::chrono::milliseconds timeout) {
  if (auto c = ensureConnected(); !c) return c;
  BusError error;
  Message reply;
  int rc = sd_bus_call_method(bus_->bus, kDestination, kManagerPath, kManager, "StopUnit", &error.e, &reply.m, "ss",
                              name.c_str(), "replace");
  if (rc < 0) {
    if (sd_bus_error_has_name(&error.e, "org.freedesktop.systemd1.NoSuchUnit")) return Status::Ok();
    return makeError("cannot stop " + name + ": " + error.text(rc), -rc);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto s = state(name);
    if (!s) return s.error();
    if (!s->loaded || s->activeState == "inactive" || s->activeState == "failed") return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return makeError(name + " still " + s->activeState + " after " + std::to_string(timeout.count()) + " ms");
    }
    // PID 1 answers the state at once; the stop job itself takes as long as
    // the service takes to exit.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

namespace {

// Reads one property's variant into `s` if it is one we keep; skips it else.
int readProperty(sd_bus_message *m, const char *name, UnitState &s) {
  auto str = [&](std::string &out) {
    const char *v = nullptr;
    int rc = sd_bus_message_read(m, "v", "s", &v);
    if (rc >= 0 && v != nullptr) out = v;
    return rc;
  };
  const std::string_view n(name);
  if (n == "ActiveState") return str(s.activeState);
  if (n == "SubState") return str(s.subState);
  if (n == "Result") return str(s.result);
  if (n == "User") return str(s.user);
  if (n == "Transient") {
    int b = 0;
    int rc = sd_bus_message_read(m, "v", "b", &b);
    s.transient = b != 0;
    return rc;
  }
  if (n == "MainPID") {
    uint32_t pid = 0;
    int rc = sd_bus_message_read(m, "v", "u", &pid);
    s.mainPid = static_cast<pid_t>(pid);
    return rc;
  }
  if (n == "NRestarts") return sd_bus_message_read(m, "v", "u", &s.restarts);
  if (n == "ExecMainCode") return sd_bus_message_read(m, "v", "i", &s.execMainCode);
  if (n == "ExecMainStatus") return sd_bus_message_read(m, "v", "i", &s.execMainStatus);
  if (n == "ExecMainStartTimestampMonotonic") return sd_bus_message_read(m, "v", "t", &s.execMainStartUsec);
  return sd_bus_message_skip(m, "v");
}

}  // namespace

Status UnitManager::ensureConnected() {
  if (bus_->bus != nullptr && sd_bus_is_open(bus_->bus) > 0) return Status::Ok();
  // PID 1 re-executed, or the connection broke: a new one.
  sd_bus_flush_close_unref(bus_->bus);
  bus_->bus = nullptr;
  int rc = sd_bus_open_system(&bus_->bus);
  if (rc < 0) return makeError("cannot connect to the system bus: " + std::string(std::strerror(-rc)), -rc);
  (void)sd_bus_set_method_call_timeout(bus_->bus, 5'000'000);
  return Status::Ok();
}

Result<std::string> UnitManager::unitPath(const std::string &name) {
  BusError error;
  Message reply;
  int rc = sd_bus_call_method(bus_->bus, kDestination, kManagerPath, kManager, "GetUnit", &error.e, &reply.m, "s",
                              name.c_str());
  if (rc < 0) {
    if (sd_bus_error_has_name(&error.e, "org.freedesktop.systemd1.NoSuchUnit")) return std::string();
    return makeError("cannot look up " + name + ": " + error.text(rc), -rc);
  }
  const char *path = nullptr;
  rc = sd_bus_message_read(reply.m, "o", &path);
  if (rc < 0) return makeError("cannot read the path of " + name + ": " + std::strerror(-rc), -rc);
  return std::string(path);
}

Result<UnitState> UnitManager::brief(const std::string &name) {
  if (auto c = ensureConnected(); !c) return c.error();
  UnitState s;
  auto found = unitPath(name);
  if (!found) return found.error();
  if (found->empty()) return s;  // not loaded
  const std::string &object = *found;
  auto getString = [&](const char *iface, const char *prop, std::string &out) -> int {
    BusError e;
    char *value = nullptr;
    int r = sd_bus_get_property_string(bus_->bus, kDestination, object.c_str(), iface, prop, &e.e, &value);
    if (r >= 0) {
      out = value;
      std::free(value);
    }
    return r;
  };
  auto getTrivial = [&](const char *iface, const char *prop, char type, void *out) -> int {
    BusError e;
    return sd_bus_get_property_trivial(bus_->bus, kDestination, object.c_str(), iface, prop, &e.e, type, out);
  };
  // Collected between the calls: gone.
  if (getString(kUnit, "ActiveState", s.activeState) < 0) return UnitState{};
  s.loaded = true;
  uint32_t pid = 0;
  if (getTrivial(kService, "MainPID", 'u', &pid) >= 0) s.mainPid = static_cast<pid_t>(pid);
  (void)getTrivial(kService, "ExecMainCode", 'i', &s.execMainCode);
  return s;
}

// GetUnit, then every property in one GetAll: two round trips to PID 1.
Result<UnitState> UnitManager::state(const std::string &name) {
  if (auto c = ensureConnected(); !c) return c.error();
  UnitState s;
  auto found = unitPath(name);
  if (!found) return found.error();
  if (found->empty()) return s;  // not loaded
  const std::string &object = *found;
  int rc;
  BusError propsError;
  Message props;
  rc = sd_bus_call_method(bus_->bus, kDestination, object.c_str(), "org.freedesktop.DBus.Properties", "GetAll",
                          &propsError.e, &props.m, "s", "");
  if (rc < 0) {
    // Collected between the two calls: gone.
    if (sd_bus_error_has_name(&propsError.e, "org.freedesktop.DBus.Error.UnknownObject") ||
        sd_bus_error_has_name(&propsError.e, "org.freedesktop.systemd1.NoSuchUnit")) {
      return s;
    }
    return makeError("cannot read the properties of " + name + ": " + propsError.text(rc), -rc);
  }
  rc = sd_bus_message_enter_container(props.m, 'a', "{sv}");
  while (rc > 0) {
    rc = sd_bus_message_enter_container(props.m, 'e', "sv");
    if (rc <= 0) break;
    const char *prop = nullptr;
    rc = sd_bus_message_read(props.m, "s", &prop);
    if (rc >= 0) rc = readProperty(props.m, prop, s);
    if (rc >= 0) rc = sd_bus_message_exit_container(props.m);
    if (rc >= 0) rc = 1;
  }
  if (rc < 0) return makeError("cannot read the properties of " + name + ": " + std::strerror(-rc), -rc);
  s.loaded = !s.activeState.empty();
  return s;
}

Status UnitManager::kill(const std::string &name, const std::string &who, int signal) {
  if (auto c = ensureConnected(); !c) return c;
  BusError error;
  Message reply;
  int rc = sd_bus_call_method(bus_->bus, kDestination, kManagerPath, kManager, "KillUnit", &error.e, &reply.m, "ssi",
                              name.c_str(), who.c_str(), signal);
  if (rc < 0) return makeError("cannot signal " + name + ": " + error.text(rc), -rc);
  return Status::Ok();
}

Status UnitManager::release(const std::string &name) {
  auto s = state(name);
  if (!s) return s.error();
  if (!s->loaded) return Status::Ok();
  BusError error;
  Message reply;
  if (s->activeState != "inactive" && s->activeState != "failed") {
    // No wait: what is left in it has been killed, and once inactive PID 1
    // collects it.
    int rc = sd_bus_call_method(bus_->bus, kDestination, kManagerPath, kManager, "StopUnit", &error.e, &reply.m, "ss",
                                name.c_str(), "replace");
    if (rc < 0 && !sd_bus_error_has_name(&error.e, "org.freedesktop.systemd1.NoSuchUnit")) {
      return makeError("cannot stop " + name + ": " + error.text(rc), -rc);
    }
    return Status::Ok();
  }
  int rc = sd_bus_call_method(bus_->bus, kDestination, kManagerPath, kManager, "ResetFailedUnit", &error.e, &reply.m,
                              "s", name.c_str());
  if (rc < 0 && !sd_bus_error_has_name(&error.e, "org.freedesktop.systemd1.NoSuchUnit")) {
    return makeError("cannot reset " + name + ": " + error.text(rc), -rc);
  }
  return Status::Ok();
}

Status UnitManager::attach(const std::string &name, pid_t pid) {
  if (auto c = ensureConnected(); !c) return c;
  BusError error;
  Message reply;
  int rc = sd_bus_call_method(bus_->bus, kDestination, kManagerPath, kManager, "AttachProcessesToUnit", &error.e,
                              &reply.m, "ssau", name.c_str(), "", 1, static_cast<uint32_t>(pid));
  if (rc < 0) return makeError("cannot move pid " + std::to_string(pid) + " into " + name + ": " + error.text(rc), -rc);
  return Status::Ok();
}

Result<std::vector<std::string>> UnitManager::list(const std::string &pattern) {
  if (auto c = ensureConnected(); !c) return c.error();
  Message call;
  int rc = sd_bus_message_new_method_call(bus_->bus, &call.m, kDestination, kManagerPath, kManager,
                                          "ListUnitsByPatterns");
  if (rc >= 0) rc = sd_bus_message_append(call.m, "as", 0);
  if (rc >= 0) rc = sd_bus_message_append(call.m, "as", 1, pattern.c_str());
  if (rc < 0) return makeError("cannot build ListUnitsByPatterns: " + std::string(std::strerror(-rc)), -rc);
  BusError error;
  Message reply;
  rc = sd_bus_call(bus_->bus, call.m, 0, &error.e, &reply.m);
  if (rc < 0) return makeError("cannot list units " + pattern + ": " + error.text(rc), -rc);
  std::vector<std::string> names;
  rc = sd_bus_message_enter_container(reply.m, 'a', "(ssssssouso)");
  while (rc > 0) {
    const char *unitName = nullptr;
    rc = sd_bus_message_read(reply.m, "(ssssssouso)", &unitName, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                             nullptr, nullptr, nullptr);
    if (rc > 0) names.emplace_back(unitName);
  }
  if (rc < 0) return makeError("cannot read the units " + pattern + ": " + std::strerror(-rc), -rc);
  return names;
}

}  // namespace dcos::systemd
