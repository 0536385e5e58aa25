// The scheduler's core: Marathon's v2 API over apps and their tasks, all
// state in ZooKeeper (one znode per app and per task), and, on the leader,
// the loop that makes the cluster match it: tasks placed on agents by free
// resources and resource roles, launched and killed through the agents' API,
// replaced with backoff when they fail, and every status update stored
// before it is acknowledged. Followers answer nothing themselves: the module
// forwards their API calls to the leader.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/result.h"
#include "coord/client.h"
#include "coord/recipes.h"
#include "plugins/modules/scheduler/app.h"
#include "plugins/modules/scheduler/events.h"

namespace dcos::scheduler {

// An agent as it registered in /dcos/agents/<id>.
struct AgentInfo {
  std::string id;
  std::string hostname;
  std::string address;  // where its tasks are reached: the task's host
  std::string api;      // host:port of its node API
  std::string resourceRole = "*";
  std::map<std::string, std::string> attributes;
  double cpus = 0, mem = 0, disk = 0;
  std::vector<std::pair<int, int>> ports;  // inclusive ranges
};

// Parses /dcos/agents/<id>'s record.
std::optional<AgentInfo> parseAgent(const std::string &json);

// A task as the scheduler keeps it (/dcos/scheduler/tasks/<id>).
struct TaskRecord {
  std::string id;  // <app id, slashes as underscores>.<uuid>, as Marathon names tasks
  std::string appId;
  std::string agentId;
  std::string host;
  std::string version;  // of the app definition it runs
  std::vector<int> ports;
  std::string state = "TASK_STAGING";
  std::string message;
  int64_t stagedAtMs = 0;
  int64_t startedAtMs = 0;
  std::optional<bool> healthy;
  bool killing = false;  // the scheduler asked for its end
  std::string stateBeforeUnreachable;  // what it was when its agent went away
  int64_t lastKillMs = 0;              // in memory: when a kill was last sent
  // In memory: the task as the API shows it, with what it was made from
  // (kept with the task: a GET of 10,000 tasks looked each one up).
  struct View {
    std::string state, message, version, appVersion;
    std::optional<bool> healthy;
    int64_t startedAtMs = 0;
    std::shared_ptr<const std::string> text;
  };
  mutable std::shared_ptr<const View> view;
};

// How the leader talks to agents: over their API in the module, and a fake
// in unit tests of the placement and healing logic.
class AgentPort {
 public:
  virtual ~AgentPort() = default;
  // POST /agent/v1/tasks; the HTTP status, or an error when the agent could
  // not be reached.
  virtual Result<int> launch(const AgentInfo &agent, const std::string &taskJson) = 0;
  virtual Status kill(const AgentInfo &agent, const std::string &taskId) = 0;
  // Many launches, or kills, to one agent: each one's answer, in order (by
  // default one call each; over HTTP one call for them all).
  virtual std::vector<Result<int>> launchAll(const AgentInfo &agent, const std::vector<std::string> &taskJsons) {
    std::vector<Result<int>> out;
    out.reserve(taskJsons.size());
    for (const auto &json : taskJsons) out.push_back(launch(agent, json));
    return out;
  }
  virtual std::vector<Status> killAll(const AgentInfo &agent, const std::vector<std::string> &taskIds) {
    std::vector<Status> out;
    out.reserve(taskIds.size());
    for (const auto &id : taskIds) out.push_back(kill(agent, id));
    return out;
  }
  // POST /agent/v1/reconcile: every task the agent knows, id to state.
  virtual Result<std::map<std::string, std::string>> reconcile(const AgentInfo &agent) = 0;
};

struct SchedulerConfig {
  coord::Client *zk = nullptr;
  AgentPort *agents = nullptr;
  std::string address;  // this master's node API, host:port: the leader's record
  std::string hostname;
  std::function<void(int level, const std::string &)> log;
  std::chrono::milliseconds loopInterval{250};
  // A task chosen to go (a scale-down, a replaced version, a kill through
  // the API) is stored as killing at once, and its kill is sent this much
  // later: the routers, which follow the stored state, take it out of
  // rotation before it gets SIGTERM.
  std::chrono::milliseconds killDrain{500};
  // How long an agent's record may be missing before it counts as gone
  // (its tasks unreachable after their app's inactiveAfterSeconds on top):
  // a restarting dcosd's record is away for a moment while its old session
  // expires, and its tasks run on (Mesos waits for missed pings likewise).
  std::chrono::milliseconds agentLostGrace{5000};
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerConfig config);
  ~Scheduler();

  // Stands for election; the leader loads the state and starts acting.
  void start();
  void stop();

  bool isLeader() const;
  // The leader's node API address, from its record ("" when none).
  std::string leaderAddress() const;

  struct Reply {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  // Marathon's v2 API (/v2/...), /ping, Mesos's /mesos/master/state and
  // /slaves, and the agents' /scheduler/v1/updates. Only the leader's
  // answers are its own (the module forwards a follower's). `peer` is the
  // client's address (events name it).
  Reply handle(const std::string &method, const std::string &path, const std::string &query, const std::string &body,
               const std::string &peer = "");

  // The event bus /v2/events streams (the leader's: only it publishes).
  EventBus &events() { return events_; }

  // False while this leader has no ZooKeeper session (no quorum, or the
  // ensemble unreachable): it then changes nothing and says so.
  bool zookeeperReachable() const;

  // Runs one round of the leader's loop now (tests).
  void reconcileOnce();

 private:
  // What lastKillMs to set so that act()'s resend sends the first kill
  // killDrain after `now`.
  int64_t drainedKillAt(int64_t now) const;
  // An app in Marathon's shape, in two parts: what is gathered under the
  // lock (its text up to where the tasks go, and its tasks' views, shared),
  // and what writes it out, which needs no lock.
  struct AppViewParts {
    std::string head;  // the app's object without its closing brace
    bool embedTasks = false;
    std::vector<std::shared_ptr<const std::string>> tasks;
    std::string tail;  // after the tasks
    size_t size() const;  // of the text appendTo writes, about
    void appendTo(std::string &out) const;
  };
  struct AppState {
    App app;  // set anew, never changed in place: `json` goes with it
    mutable std::shared_ptr<const std::string> json;  // appJson(app), made when first shown
    // GET /v2/apps's last text of it, with the parts it was written from.
    std::shared_ptr<const std::pair<AppViewParts, std::shared_ptr<const std::string>>> shown;
    int failures = 0;             // in a row, for the backoff
    int64_t delayUntilMs = 0;     // no launch before
    std::string lastFailure;      // message of the last failed task
    int64_t lastFailureMs = 0;
  };
  static constexpr size_t kStepsUnknown = static_cast<size_t>(-1);
  struct Deployment {
    std::string id;
    std::string version;
    std::vector<std::string> affectedApps;
    // Marathon's plan: steps in dependency order, each (action, app id);
    // actions StartApplication, ScaleApplication, RestartApplication,
    // StopApplication.
    std::vector<std::vector<std::pair<std::string, std::string>>> steps;
    // Each affected app's definition before the deployment ("" when it did
    // not exist): what a rollback restores.
    std::map<std::string, std::string> original;
    size_t stepsDone = 0;  // in memory: for deployment_step_success
  };
  // One app's part in a deployment: its new definition, or none (removed).
  struct Change {
    std::string appId;
    std::optional<App> target;
    bool restart = false;  // every task replaced even if the definition is the same
  };

  void onLeadership(bool leading);
  Status loadState();
  void loop();
  void act();  // one round, with mutex_ held around the state and not around calls to agents
  // Every registered agent; `failed`, when given, says the records could
  // not be read (the list is then empty, not "no agents").
  std::vector<AgentInfo> readAgents(bool *failed = nullptr);
  void runPerAgent(const std::map<const AgentInfo *, std::vector<std::function<void()>>> &jobs);

  Reply appsGet(const std::string &query);
  Reply appsPost(const std::string &body, const std::string &peer);
  Reply appGet(const std::string &id, const std::string &query);
  Reply appPut(const std::string &id, const std::string &body, bool force, const std::string &peer,
               const std::string &uri);
  Reply appDelete(const std::string &id, bool force, const std::string &peer, const std::string &uri);
  Reply appRestart(const std::string &id, bool force, const std::string &peer, const std::string &uri);
  Reply appTasks(const std::string &id);
  Reply taskKill(const std::string &appId, const std::string &taskId, bool scale);
  Reply tasksGet(const std::string &query);
  Reply updates(const std::string &body);

  // `appTasks`: the app's tasks, when the caller has them at hand (else
  // every task is looked at). mutex_ held.
  AppViewParts appViewParts(const AppState &s, bool embedTasks, bool counts, bool deployments, bool lastFailure,
                            const std::vector<const TaskRecord *> *appTasks = nullptr) const;
  std::string appView(const AppState &s, bool embedTasks, bool counts, bool deployments, bool lastFailure,
                      const std::vector<const TaskRecord *> *appTasks = nullptr) const;
  // A task in Marathon's shape (cached until what it shows changes); `app`
  // is its app when the caller has it. mutex_ held.
  std::shared_ptr<const std::string> taskView(const TaskRecord &t, const App *app = nullptr) const;
  std::string renderTaskView(const TaskRecord &t) const;
  // Stores each change (apps, their versions, service ports) and makes one
  // deployment of them all. mutex_ held. The deployment's id, or an error
  // (nothing after the failed store is changed).
  Result<std::string> commit(std::vector<Change> changes, const std::string &version, const std::string &peer,
                             const std::string &uri);
  // A failed commit's answer: 422 for a change too big to record, else 503.
  Reply commitFailed(const Error &e, const std::string &what) const;
  // The deployment that locks one of `appIds`, if any ("" when none).
  std::string lockingDeployment(const std::vector<std::string> &appIds) const;
  Reply lockedReply(const std::string &deploymentId) const;
  Reply deploymentsGet() const;
  Reply deploymentDelete(const std::string &id, bool force, const std::string &peer);
  Reply groupsGet(const std::string &id, const std::string &query) const;
  Reply groupPut(const std::string &id, const std::string &body, bool create, bool force, const std::string &peer,
                 const std::string &uri);
  Reply groupDelete(const std::string &id, bool force, const std::string &peer, const std::string &uri);
  Reply tasksKill(const std::vector<std::pair<std::string, std::string>> &appAndTask, bool scale, bool force);
  Reply mesosState(bool slavesOnly);
  bool appDone(const std::string &appId) const;
  // The same, given the app's tasks (all of them; act() indexes them once).
  bool appDone(const std::string &appId, const std::vector<TaskRecord *> &tasks) const;
  // A version for a change: now, and always later than the last one (a
  // version names one definition). mutex_ held.
  std::string newVersion();
  int64_t lastVersionMs_ = 0;
  Poco::JSON::Object::Ptr planView(const Deployment &d) const;
  void publishStatus(const TaskRecord &t, std::optional<bool> wasHealthy, bool wasKilling);
  Status storeVersion(const App &app, bool fresh);  // fresh: the app is new
  Status removeVersions(const std::string &appId);
  Status storeApp(const App &app, bool create);
  // Tasks' records in one round trip (known tasks only: one gone is not
  // brought back); one being written without the lock, or that could not
  // be stored, is stored by the next round. mutex_ held.
  void storeTasks(const std::vector<const TaskRecord *> &tasks);
  Status removeTask(const std::string &id);
  void assignServicePorts(App &app);
  void logMessage(int level, const std::string &m) const;

  SchedulerConfig config_;
  EventBus events_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> nudged_{false};  // a round is due now (nudge())
  void nudge();
  std::map<std::string, AppState> apps_;
  std::map<std::string, TaskRecord> tasks_;
  // Tasks whose records are being written without the lock (updates(),
  // act()): nobody else writes them meanwhile.
  std::unordered_set<std::string> updating_;
  std::set<std::string> storeLater_;  // changed while being written: act() stores them next round
  // leaderAddress(): the leader's record as last read, read again after a
  // change (leaderWatch_ sets leaderStale_).
  mutable std::mutex leaderMutex_;
  mutable coord::WatchId leaderWatch_ = 0;
  std::shared_ptr<std::atomic<bool>> leaderStale_ = std::make_shared<std::atomic<bool>>(true);
  mutable std::string leaderCached_;
  std::map<std::string, Deployment> deployments_;
  std::map<std::string, std::string> groups_;  // explicitly made groups (may be empty): id to dependencies JSON
  std::set<int> servicePorts_;
  bool leading_ = false;
  bool loaded_ = false;
  std::atomic<bool> serving_{false};  // leading_ && loaded_, read without mutex_ (isLeader())
  bool stopping_ = false;
  std::thread loop_;
  std::unique_ptr<coord::LeaderElection> election_;
  std::map<std::string, int64_t> agentLostAtMs_;  // agents gone from /dcos/agents, since
  std::map<std::string, std::string> queueReasons_;  // per app: why nothing was placed
  std::set<std::string> unloadableApps_;  // ids of apps in ZooKeeper that did not parse: their tasks are left alone
  // The agents' records as last read, and which changed since (their
  // watches run on the client's thread, and may outlive the scheduler by a
  // moment: they hold this, not the scheduler).
  struct AgentsCache {
    std::mutex mutex;
    std::map<std::string, AgentInfo> records;
    std::set<std::string> stale;
    std::map<std::string, coord::WatchId> watches;
  };
  std::shared_ptr<AgentsCache> agents_ = std::make_shared<AgentsCache>();
  void announce();
  // A new leader's look at every agent: tasks it does not know are killed,
  // and its tasks an agent does not know are gone.
  // Every agent's tasks (POST /agent/v1/reconcile), asked at once.
  struct AgentAnswers {
    bool read = false;  // the agents' records were read
    std::vector<AgentInfo> agents;
    std::map<std::string, Result<std::map<std::string, std::string>>> answers;
  };
  AgentAnswers askAgents();
  void reconcileAgents(const AgentAnswers &asked);
  void reconcileAgents();
};

}  // namespace dcos::scheduler
