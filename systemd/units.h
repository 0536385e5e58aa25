// Services run by PID 1, asked for over sd-bus: a transient service unit
// started, watched and stopped by name. The zookeeper module runs
// dcos-zookeeper.service this way (restarted by PID 1, hardened); the
// agent's systemd executor runs each task as dcos-task-<id>.service (run
// once, kept after it exits so its exit status can be read, limited).
//
// A UnitManager holds one connection to the system bus and is not
// thread-safe: use it from one thread, or guard it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace dcos::systemd {

// True when systemd is PID 1 here (sd_booted()): the units path applies.
bool systemdIsInit();

struct ServiceSpec {
  std::string description;
  std::vector<std::string> argv;  // argv[0] is the absolute path of the program
  std::string workingDirectory;
  std::vector<std::string> environment;  // NAME=value
  std::string user;                      // empty: root
  // Restart=always with this delay; systemd never gives up (no start limit).
  std::chrono::milliseconds restartDelay{2000};
  std::chrono::milliseconds stopTimeout{10000};
  // ProtectSystem=strict with these writable, ProtectHome, PrivateTmp,
  // NoNewPrivileges.
  std::vector<std::string> readWritePaths;

  // A service run once instead (a task): Type=exec (started means exec'd),
  // no Restart, RemainAfterExit=yes and CollectMode=inactive, so the unit
  // and its ExecMainStatus stay until release(); KillMode=control-group,
  // SIGTERM, then SIGKILL after stopTimeout. No ProtectSystem/ProtectHome/
  // PrivateTmp: a task sees the machine as its user may.
  bool runOnce = false;
  std::string slice;  // Slice=; empty: system.slice
  std::optional<uint64_t> cpuQuotaPerSecUsec;  // CPUQuota= (1 cpu: 1000000)
  std::optional<uint64_t> cpuWeight;           // CPUWeight=, 1..10000
  std::optional<uint64_t> memoryMaxBytes;      // MemoryMax=
  std::string appendOutputTo;  // StandardOutput=append:PATH; empty: the journal
  std::string appendErrorTo;   // StandardError=append:PATH
  int stdoutFd = -1;           // StandardOutput=fd: a descriptor the caller opened (and closes)
  int stderrFd = -1;
  bool noCapabilities = false;  // CapabilityBoundingSet= and AmbientCapabilities= empty
  // Delegate=yes: other processes may be moved in (attach()); the unit's
  // user may make sub-cgroups, never loosen the unit's own limits.
  bool delegate = false;
};

struct UnitState {
  bool loaded = false;            // false: no such unit (never started, or collected)
  std::string activeState;        // active, activating, deactivating, inactive, failed
  std::string subState;           // running, auto-restart, dead, ...
  std::string result;             // success, exit-code, signal, ...
  pid_t mainPid = 0;
  uint32_t restarts = 0;          // NRestarts
  bool transient = false;
  std::string user;
  // How the main process ended, once it has: ExecMainCode is CLD_EXITED,
  // CLD_KILLED or CLD_DUMPED (0 while it runs), ExecMainStatus the exit
  // status or the signal.
  int execMainCode = 0;
  int execMainStatus = 0;
  uint64_t execMainStartUsec = 0;  // ExecMainStartTimestampMonotonic

  bool running() const { return activeState == "active" && subState == "running"; }
};

class UnitManager {
 public:
  // Connects to the system bus.
  static Result<std::unique_ptr<UnitManager>> connect();
  ~UnitManager();
  UnitManager(const UnitManager &) = delete;
  UnitManager &operator=(const UnitManager &) = delete;

  // StartTransientUnit(name, "fail", ...). An error when the unit already
  // exists; see state() and stop().
  Status startService(const std::string &name, const ServiceSpec &spec);
  // StopUnit(name, "replace") and waits up to `timeout` for the unit to be
  // gone or inactive. Stopping a unit that is not loaded succeeds.
  Status stop(const std::string &name, std::chrono::milliseconds timeout);
  // A unit not loaded is a state (loaded false); an error means PID 1 could
  // not be asked.
  Result<UnitState> state(const std::string &name);
  // The few properties a start is watched by (loaded, ActiveState,
  // SubState, MainPID, ExecMainCode): single Gets, far cheaper for PID 1
  // than GetAll, which computes every property (cgroup counters too).
  Result<UnitState> brief(const std::string &name);
  // KillUnit(name, who, signal): who is "all" (the unit's cgroup) or "main".
  Status kill(const std::string &name, const std::string &who, int signal);
  // A unit kept after its run (runOnce): stopped if active (not waited
  // for), its failed state reset, so PID 1 forgets it. A unit not loaded is
  // fine.
  Status release(const std::string &name);
  // AttachProcessesToUnit: moves `pid` into the unit's cgroup.
  Status attach(const std::string &name, pid_t pid);
  // The names of the loaded units matching a glob (ListUnitsByPatterns).
  Result<std::vector<std::string>> list(const std::string &pattern);

 private:
  struct Bus;
  explicit UnitManager(std::unique_ptr<Bus> bus);
  Status ensureConnected();
  // GetUnit: the unit's object path, or "" when it is not loaded.
  Result<std::string> unitPath(const std::string &name);
  std::unique_ptr<Bus> bus_;
};

}  // namespace dcos::systemd
