// The agent's core: the node's resources and the tasks on it, launched,
// watched, killed and re-adopted through one of two executors (process: a
// dcos-task-supervisor per task; systemd: a transient unit per task), and every
// change of a task's state made a checkpointed status update. It serves the
// agent API (docs/agent-api.md) as a function of (method, path, query,
// body); the module around it wires that to the node API, registers the
// agent in ZooKeeper and delivers the updates. No ZooKeeper handle here.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "plugins/modules/agent/cgroups.h"
#include "plugins/modules/agent/status_updates.h"
#include "plugins/modules/agent/task.h"
#include "systemd/units.h"

namespace dcos::agent {

// A task's user as the agent looked it up at the launch: the supervisor is
// handed the ids.
struct TaskUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary, the primary one among them
};

struct PortRange {
  int begin;
  int end;  // inclusive
};

struct Resources {
  double cpus = 0;
  double mem = 0;   // MiB
  double disk = 0;  // MiB
  std::vector<PortRange> ports;
};

// What this machine has: cpus online, MemTotal, the state dir's file system,
// less `reserved` (cpus/mem/disk, for the system itself).
Resources measureResources(const std::string &stateDir, const Resources &reserved);
// "[31000-32000]" and back.
std::string portRangesText(const std::vector<PortRange> &ranges);
Result<std::vector<PortRange>> parsePortRanges(const std::string &text);

struct AgentConfig {
  std::string id;
  std::string address;  // the node's address: HOST, and health checks' target
  std::string hostname;
  std::string zone;
  std::string resourceRole;
  std::map<std::string, std::string> attributes;
  Resources total;
  std::string stateDir;
  std::string supervisor;                  // the dcos-task-supervisor program
  std::string defaultUser = "nobody";      // tasks that name no user
  bool allowRoot = false;                  // may a task run as root
  bool simulate = false;                   // no processes: tasks run at once, until killed
  bool systemd = false;                    // the systemd executor (else the process executor)
  std::function<void(int level, const std::string &)> log;  // syslog levels
};

class Agent {
 public:
  // Reads what the state dir holds (tasks, pending updates) and re-adopts
  // the tasks still running; starts the monitor thread.
  static Result<std::unique_ptr<Agent>> open(AgentConfig config);
  ~Agent();

  struct Reply {
    int status;
    std::string body;  // JSON
  };
  // The agent API, under /agent/v1.
  Reply handle(const std::string &method, const std::string &path, const std::string &query, const std::string &body);

  // Launches a task; the reply as the API gives it.
  Reply launch(const std::string &json);
  Reply kill(const std::string &taskId);
  // POST /agent/v1/launch {"tasks": [...]} and POST /agent/v1/kill
  // {"ids": [...]}: many in one call, each answered as its own call would be.
  Reply launchAll(const std::string &json);
  Reply killAll(const std::string &json);

  // The agent's record for ZooKeeper and GET /agent/v1/info: identity,
  // resources, and what is in use.
  std::string infoJson() const;
  // Every task the agent knows, as GET /agent/v1/tasks gives them.
  std::string tasksJson() const;

  StatusUpdates &updates() { return *updates_; }
  // Called (on the agent's threads) after every new status update and
  // every change of what is in use.
  void onChange(std::function<void()> f);

  // Stops the monitor; tasks go on running (their supervisors outlive us).
  void stop();

  size_t runningCount() const;

 private:
  struct Task {
    TaskSpec spec;
    std::string dir;  // <state>/tasks/<id>
    TaskStatus status;
    int64_t stagedAtMs = 0;
    int64_t startedAtMs = 0;
    pid_t supervisor = 0;
    pid_t pid = 0;  // the task's own (its process group)
    unsigned long long supervisorStart = 0;  // start time, to know the pid is still ours
    int pidfd = -1;
    int pidWatch = -1;  // the inotify watch of its meta/ while its pid is not known
    bool holds = false;  // its resources are counted as in use
    bool killing = false;
    int64_t killDeadlineMs = 0;
    bool sigkilled = false;
    // Health: consecutive failures of the first check, and when it is next due.
    int failures = 0;
    int64_t nextCheckMs = 0;
    bool checkedOnce = false;
    bool checking = false;  // a probe of it is under way
    // The systemd executor: the task is the unit dcos-task-<id>.service
    // (`supervisor` and `pid` are its main process); exitPending: that
    // process is gone, and PID 1 may not have said how yet.
    bool unit = false;
    bool exitPending = false;
  };

  explicit Agent(AgentConfig config);
  Status recover();
  struct Started {
    pid_t supervisor = 0;
    int pidfd = -1;
    unsigned long long start = 0;
    pid_t pid = 0;
  };
  // Writes the launch file and starts the supervisor (hands the task to the
  // spare one when there is one); called without mutex_.
  Result<Started> startProcess(const Task &t, const TaskUser &user) const;
  // The process executor's spare supervisors (`dcos-task-supervisor --wait`):
  // started by the monitor ahead of the next launch, which then hands it
  // the task's meta dir over `go` instead of starting a process (a spawn
  // is the slowest step of a launch: 1 to 5 ms on a busy machine).
  struct Spare {
    pid_t pid = 0;
    int pidfd = -1;
    unsigned long long start = 0;
    int go = -1;  // a socket to the spare's stdin; closed: it exits
    bool idle = false;  // started at SCHED_IDLE
  };
  bool wantsSpare() const;
  // The monitor: one more spare when there are fewer than kSpares (not
  // retried within 1 s of a failure to start one).
  void startSpare();
  // The spare, if there is one; waits for one being started.
  std::optional<Spare> takeSpare() const;
  // Ends the spare (EOF on its stdin) and reaps it.
  static void dropSpare(Spare &s);
  // Spares that ended (killed by someone) reaped, so that others replace them.
  void pruneSpares();
  Result<Started> startUnit(const Task &t, const TaskUser &user) const;
  // The systemd executor, once the main process is gone: false while PID 1
  // still has the unit running; else how it ended, as the supervisor's exit
  // file says it ("exited N", "signaled N", "failed why"; "" when the unit
  // is gone), with whether the kernel's OOM killer ended it.
  // A unit still running whose main process is not watched yet gets its
  // pidfd here (and false: not ended).
  bool unitExit(Task &t, std::string &exit, bool &oom);
  // Drops the watch of the task's meta/ (its pid is known, or it ended).
  void unwatchPid(Task &t);
  // False when the signal could not be sent (no pid yet, PID 1 refused).
  bool signalTask(Task &t, int sig);
  // Kills what is left in the task's unit and has PID 1 forget it; false
  // when PID 1 could not be asked (the monitor tries again).
  bool releaseUnit(const std::string &id);
  void transition(Task &t, TaskState state, const std::string &message, std::optional<int> exitCode = std::nullopt,
                  std::optional<int> signal = std::nullopt);
  // A launch's staging and starting: updates checkpointed like any other,
  // the task's state file left to the launch's end, which writes it once
  // (a dcosd that dies before then finds no state file and no supervisor
  // to adopt, as it would have with one: the task is failed either way).
  void launchStep(Task &t, TaskState state);
  // The update made and checkpointed, and the task's status set.
  void recordStatus(Task &t, TaskState state, const std::string &message, std::optional<int> exitCode,
                    std::optional<int> signal);
  void finish(Task &t);
  void hold(Task &t);
  void release(Task &t);
  void monitor();
  void runHealthChecks();
  void healthResult(Task &t, const HealthCheck &c, bool ok);
  bool probe(const Task &t, const HealthCheck &c) const;
  void saveState(const Task &t) const;
  std::string taskJson(const Task &t) const;
  void notify();
  void logMessage(int level, const std::string &m) const;

  AgentConfig config_;
  Cgroups cgroups_;
  std::unique_ptr<systemd::UnitManager> units_;  // the systemd executor
  mutable std::mutex unitsMutex_;                 // after mutex_, never before
  std::unique_ptr<StatusUpdates> updates_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, Task> tasks_;
  std::set<int> portsInUse_;
  std::set<std::string> staleCgroups_;  // of ended tasks, not removable yet
  std::set<std::string> staleUnits_;    // of ended tasks, not released yet
  int64_t staleUnitsRetryMs_ = 0;       // when they are tried again
  double cpusUsed_ = 0, memUsed_ = 0, diskUsed_ = 0;
  std::vector<std::function<void()>> listeners_;
  std::thread monitor_;
  std::thread health_;
  int wakeFd_ = -1;
  int pidWatchFd_ = -1;  // inotify: the supervisors' renames of meta/pids
  mutable std::mutex spareMutex_;  // never held with mutex_
  mutable std::condition_variable spareReady_;
  // Two: launches back to back find one ready while the next is started.
  static constexpr size_t kSpares = 2;
  mutable std::deque<Spare> spares_;
  mutable bool spareStarting_ = false;
  int64_t spareRetryMs_ = 0;
  // Spares start at idle priority until a launch could not put one back.
  mutable std::atomic<bool> spareIdle_{true};
  bool stopping_ = false;
  int checksRunning_ = 0;
};

}  // namespace dcos::agent
