#include "plugins/modules/scheduler/scheduler.h"

#include <syslog.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "base/text.h"
#include "plugins/modules/scheduler/internal.h"

namespace dcos::scheduler {

namespace {

using namespace internal;

std::string taskRecordJson(const TaskRecord &t) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", t.id);
  o->set("appId", t.appId);
  o->set("agentId", t.agentId);
  o->set("host", t.host);
  o->set("version", t.version);
  Array::Ptr ports = new Array;
  for (int p : t.ports) ports->add(p);
  o->set("ports", ports);
  o->set("state", t.state);
  o->set("message", t.message);
  o->set("stagedAtMs", static_cast<Poco::Int64>(t.stagedAtMs));
  o->set("startedAtMs", static_cast<Poco::Int64>(t.startedAtMs));
  if (t.healthy) o->set("healthy", *t.healthy);
  o->set("killing", t.killing);
  return stringify(o);
}

std::optional<TaskRecord> parseTaskRecord(const std::string &json) {
  auto o = parse(json);
  if (!o) return std::nullopt;
  TaskRecord t;
  try {
    t.id = o->getValue<std::string>("id");
    t.appId = o->getValue<std::string>("appId");
    t.agentId = o->optValue<std::string>("agentId", "");
    t.host = o->optValue<std::string>("host", "");
    t.version = o->optValue<std::string>("version", "");
    if (auto ports = o->getArray("ports")) {
      for (size_t i = 0; i < ports->size(); ++i) t.ports.push_back(ports->getElement<int>(static_cast<unsigned>(i)));
    }
    t.state = o->optValue<std::string>("state", "TASK_STAGING");
    t.message = o->optValue<std::string>("message", "");
    t.stagedAtMs = o->optValue<Poco::Int64>("stagedAtMs", 0);
    t.startedAtMs = o->optValue<Poco::Int64>("startedAtMs", 0);
    if (o->has("healthy")) t.healthy = o->getValue<bool>("healthy");
    t.killing = o->optValue<bool>("killing", false);
  } catch (const Poco::Exception &) {
    return std::nullopt;
  }
  return t;
}

}  // namespace

std::optional<AgentInfo> parseAgent(const std::string &json) {
  auto o = parse(json);
  if (!o) return std::nullopt;
  AgentInfo a;
  try {
    a.id = o->getValue<std::string>("id");
    a.hostname = o->optValue<std::string>("hostname", "");
    a.address = o->optValue<std::string>("address", "");
    a.api = o->optValue<std::string>("api", "");
    a.resourceRole = o->optValue<std::string>("resource_role", "*");
    if (auto attrs = o->getObject("attributes")) {
      for (const auto &[k, v] : *attrs) a.attributes[k] = v.toString();
    }
    if (auto r = o->getObject("resources")) {
      a.cpus = r->optValue<double>("cpus", 0);
      a.mem = r->optValue<double>("mem", 0);
      a.disk = r->optValue<double>("disk", 0);
      std::string ports = r->optValue<std::string>("ports", "");
      std::string cleaned;
      for (char c : ports) {
        if (c != '[' && c != ']' && c != ' ') cleaned += c;
      }
      std::istringstream in(cleaned);
      for (std::string part; std::getline(in, part, ',');) {
        size_t dash = part.find('-');
        try {
          int b = std::stoi(part.substr(0, dash));
          int e = dash == std::string::npos ? b : std::stoi(part.substr(dash + 1));
          a.ports.emplace_back(b, e);
        } catch (...) {
        }
      }
    }
  } catch (const Poco::Exception &) {
    return std::nullopt;
  }
  if (a.api.empty() || a.id.empty()) return std::nullopt;
  if (a.hostname.empty()) a.hostname = a.address;
  return a;
}

Scheduler::Scheduler(SchedulerConfig config) : config_(std::move(config)) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::logMessage(int level, const std::string &m) const {
  if (config_.log) config_.log(level, m);
}

void Scheduler::start() {
  Object::Ptr me = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  me->set("address", config_.address);
  me->set("hostname", config_.hostname);
  (void)config_.zk->ensurePath(kElection);
  // This master's address is its identity: a candidate node of its own
  // from before a restart is removed, not waited out for a session timeout.
  election_ = std::make_unique<coord::LeaderElection>(
      *config_.zk, kElection, stringify(me), [this](bool leading) { onLeadership(leading); }, true);
  if (auto s = election_->start(); !s) logMessage(LOG_WARNING, "standing for scheduler leader: " + s.error().message);
  loop_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (loop_.joinable()) loop_.join();
  {
    std::lock_guard lock(leaderMutex_);
    if (leaderWatch_ != 0) config_.zk->unwatch(leaderWatch_);
    leaderWatch_ = 0;
  }
  {
    std::lock_guard lock(agents_->mutex);
    for (const auto &[n, id] : agents_->watches) config_.zk->unwatch(id);
    agents_->watches.clear();
  }
  if (election_) {
    election_->stop();
    election_.reset();
  }
  // The leader's record, if it is this session's: a follower's stop must
  // not take the leader's away.
  auto mine = config_.zk->exists(kLeader);
  if (mine && *mine && (*mine)->ephemeralOwner == config_.zk->sessionId()) config_.zk->withdraw(kLeader);
}

// Asked by every API call and every agent's updates: not under mutex_,
// which a round of act() holds for tens of milliseconds at 10,000 tasks.
bool Scheduler::isLeader() const { return serving_.load(); }

// Asked on every API call (forwarding) and every agent's updates: read
// from ZooKeeper only after a change of the record (a standing watch),
// not once per call.
std::string Scheduler::leaderAddress() const {
  if (!config_.zk->connected()) return "";
  std::lock_guard lock(leaderMutex_);
  if (leaderWatch_ == 0) {
    // The flag is shared with the callback, which may run once more while
    // stop() unwatches.
    leaderWatch_ = config_.zk->watchData(kLeader, [stale = leaderStale_] { *stale = true; });
  }
  if (!leaderStale_->exchange(false)) return leaderCached_;
  auto leader = config_.zk->get(kLeader);
  if (!leader) {
    // None: the watch says when there is one. Else read again next time.
    if (coord::codeOf(leader.error()) != coord::Code::NoNode) *leaderStale_ = true;
    leaderCached_.clear();
    return "";
  }
  auto o = parse(leader->first);
  leaderCached_ = o ? o->optValue<std::string>("address", "") : "";
  return leaderCached_;
}

void Scheduler::nudge() {
  nudged_ = true;
  wake_.notify_all();
}

void Scheduler::onLeadership(bool leading) {
  {
    std::lock_guard lock(mutex_);
    leading_ = leading;
    loaded_ = false;
    serving_ = false;
  }
  logMessage(LOG_NOTICE, leading ? "elected scheduler leader" : "not the scheduler leader");
  if (!leading) {
    auto mine = config_.zk->exists(kLeader);
    if (mine && *mine && (*mine)->ephemeralOwner == config_.zk->sessionId()) config_.zk->withdraw(kLeader);
  }
  nudge();
}

Status Scheduler::loadState() {
  for (const char *p : {kApps, kTasks, kDeployments}) {
    if (auto s = config_.zk->ensurePath(p); !s) return s;
  }
  std::map<std::string, AppState> apps;
  std::map<std::string, TaskRecord> tasks;
  std::map<std::string, Deployment> deployments;
  std::set<int> servicePorts;
  std::set<std::string> unloadable;
  // Every node of a kind read at once (a new leader's wait is the
  // session timeout and this, not one round trip per task).
  auto readKind = [&](const char *dir) -> Result<std::vector<std::pair<std::string, std::string>>> {
    auto names = config_.zk->children(dir);
    if (!names) return names.error();
    std::vector<std::string> paths;
    for (const auto &n : *names) paths.push_back(std::string(dir) + "/" + n);
    auto read = config_.zk->readAll(paths);
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 0; i < read.size(); ++i) {
      if (read[i]) {
        out.emplace_back((*names)[i], std::move(*read[i]));
      } else if (coord::codeOf(read[i].error()) != coord::Code::NoNode) {
        return read[i].error();
      }
    }
    return out;
  };
  auto appNodes = readKind(kApps);
  if (!appNodes) return appNodes.error();
  for (const auto &[n, appData] : *appNodes) {
    std::vector<Problem> problems;
    auto app = parseApp(appData, problems);
    if (!app) {
      // Its tasks are left alone: never killed as nobody's.
      std::string id = "/" + n;
      std::replace(id.begin(), id.end(), '_', '/');
      unloadable.insert(id);
      logMessage(LOG_ERR, "app " + id + " in ZooKeeper does not parse (" +
                              (problems.empty() ? app.error().message : problems[0].path + ": " + problems[0].message) +
                              "): left as it is, its tasks too");
      continue;
    }
    auto o = parse(appData);
    if (o) {
      app->version = o->optValue<std::string>("version", "");
      if (auto vi = o->getObject("versionInfo")) {
        app->lastScalingAt = vi->optValue<std::string>("lastScalingAt", app->version);
        app->lastConfigChangeAt = vi->optValue<std::string>("lastConfigChangeAt", app->version);
      }
    }
    for (const auto &p : app->portDefinitions) servicePorts.insert(p.port);
    AppState s;
    s.app = *app;
    apps[app->id] = s;
  }
  auto taskNodes = readKind(kTasks);
  if (!taskNodes) return taskNodes.error();
  {
    // Parsed on every core: 10,000 records are most of a new leader's
    // wait after the session timeout.
    const size_t n = taskNodes->size();
    const size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
    std::vector<std::optional<TaskRecord>> parsed(n);
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(256)) < n;) {
        for (size_t k = i; k < std::min(n, i + 256); ++k) {
          if (auto t = parseTaskRecord((*taskNodes)[k].second)) parsed[k] = std::move(*t);
        }
      }
    };
    std::vector<std::thread> threads;
    for (size_t w = 1; w < workers && w * 256 < n; ++w) threads.emplace_back(work);
    work();
    for (auto &t : threads) t.join();
    for (auto &t : parsed) {
      if (t) tasks.emplace(t->id, std::move(*t));
    }
  }
  auto depNodes = readKind(kDeployments);
  if (!depNodes) return depNodes.error();
  for (const auto &[n, depData] : *depNodes) {
    auto o = parse(depData);
    if (!o) continue;
    Deployment d;
    d.id = n;
    d.version = o->optValue<std::string>("version", "");
    if (auto a = o->getArray("affectedApps")) {
      for (size_t i = 0; i < a->size(); ++i) {
        Var v = a->get(static_cast<unsigned>(i));
        if (v.isString()) d.affectedApps.push_back(v.extract<std::string>());
      }
    }
    if (auto steps = o->getArray("steps")) {
      for (size_t i = 0; i < steps->size(); ++i) {
        auto acts = steps->getArray(static_cast<unsigned>(i));
        std::vector<std::pair<std::string, std::string>> step;
        for (size_t j = 0; acts && j < acts->size(); ++j) {
          auto act = acts->getObject(static_cast<unsigned>(j));
          if (act) step.emplace_back(act->optValue<std::string>("action", ""), act->optValue<std::string>("app", ""));
        }
        if (!step.empty()) d.steps.push_back(step);
      }
    } else {
      // Written before plans had steps: one step of one action.
      std::vector<std::pair<std::string, std::string>> step;
      for (const auto &a : d.affectedApps) step.emplace_back(o->optValue<std::string>("action", "ScaleApplication"), a);
      d.steps.push_back(step);
    }
    if (auto original = o->getObject("original")) {
      for (const auto &[id, def] : *original) {
        d.original[id] = def.isEmpty() ? "" : def.type() == typeid(Object::Ptr) ? stringify(def.extract<Object::Ptr>()) : "";
      }
    }
    d.stepsDone = kStepsUnknown;  // counted at the first round, without events
    deployments[n] = d;
  }
  std::map<std::string, std::string> groups;
  if (auto s = config_.zk->ensurePath(kGroups); !s) return s;
  auto groupNames = config_.zk->children(kGroups);
  if (!groupNames) return groupNames.error();
  for (const auto &n : *groupNames) {
    auto data = config_.zk->get(std::string(kGroups) + "/" + n);
    if (!data) continue;
    auto o = parse(data->first);
    if (!o) continue;
    std::ostringstream deps;
    if (auto d = o->getArray("dependencies")) {
      d->stringify(deps);
    } else {
      deps << "[]";
    }
    std::string id = o->optValue<std::string>("id", "");
    if (!id.empty()) groups[id] = deps.str();
  }
  std::lock_guard lock(mutex_);
  groups_ = std::move(groups);
  apps_ = std::move(apps);
  tasks_ = std::move(tasks);
  deployments_ = std::move(deployments);
  servicePorts_ = std::move(servicePorts);
  unloadableApps_ = std::move(unloadable);
  storeLater_.clear();  // what is stored is what was just read
  return Status::Ok();
}

void Scheduler::loop() {
  bool announced = false;
  using Clock = std::chrono::steady_clock;
  auto msSince = [](Clock::time_point t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
  };
  std::string took;  // how long the load and the reconciliation took, for the log
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // A round every loopInterval, or at once after a change through the
      // API or of leadership (a new app waited up to a whole interval).
      wake_.wait_for(lock, config_.loopInterval, [&] { return stopping_ || nudged_.exchange(false); });
      if (stopping_) return;
      if (!leading_) {
        announced = false;
        continue;
      }
    }
    if (!isLeader()) {
      // Just elected: the whole state from ZooKeeper, then the record that
      // agents send their updates to.
      const auto began = Clock::now();
      // The agents are asked what they run while the state is read: a new
      // leader's wait is the session timeout and the longer of the two.
      // (Asked before the records are read, an agent's answer is no older
      // than it would be otherwise: no leader launched anything meanwhile.)
      AgentAnswers asked;
      std::thread asking([&] { asked = askAgents(); });
      Status loaded = loadState();
      asking.join();
      if (!loaded) {
        logMessage(LOG_WARNING, "loading the scheduler's state: " + loaded.error().message + " (trying again)");
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        if (!leading_) continue;
        loaded_ = true;
        serving_ = true;
      }
      announced = false;
      // Named first (agents send their updates here, clients are sent
      // here), then the look at every agent before anything is decided.
      took = " and agents asked in " + msSince(began) + " ms";
      announce();
      reconcileAgents(asked);
    }
    announce();
    if (!announced) {
      announced = true;
      size_t apps = 0, tasks = 0;
      {
        std::lock_guard lock(mutex_);
        apps = apps_.size();
        tasks = tasks_.size();
      }
      logMessage(LOG_NOTICE, "scheduler leader at " + config_.address + ": " + std::to_string(apps) + " apps, " +
                                 std::to_string(tasks) + " tasks loaded" + took);
    }
    act();
  }
}

// The leader's record, /dcos/scheduler/leader: made if missing, and taken
// back from an earlier session (a former leader's, or our own before an
// expiry) that still holds it. Checked every round.
void Scheduler::announce() {
  auto old = config_.zk->exists(kLeader);
  if (!old) return;  // no ZooKeeper now: next round
  if (*old && (*old)->ephemeralOwner == config_.zk->sessionId()) return;
  if (*old) (void)config_.zk->remove(kLeader);
  Object::Ptr me = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  me->set("address", config_.address);
  me->set("hostname", config_.hostname);
  (void)config_.zk->create(kLeader, stringify(me), coord::CreateMode::Ephemeral);
}

Scheduler::AgentAnswers Scheduler::askAgents() {
  AgentAnswers out;
  bool unread = false;
  out.agents = readAgents(&unread);
  if (unread) return out;
  out.read = true;
  // Every agent asked at once; their answers then gone through in turn.
  std::mutex answersMutex;
  std::map<const AgentInfo *, std::vector<std::function<void()>>> jobs;
  for (const auto &a : out.agents) {
    jobs[&a].push_back([this, &a, &out, &answersMutex] {
      auto r = config_.agents->reconcile(a);
      std::lock_guard lock(answersMutex);
      out.answers.emplace(a.id, std::move(r));
    });
  }
  runPerAgent(jobs);
  return out;
}

void Scheduler::reconcileAgents() { reconcileAgents(askAgents()); }

void Scheduler::reconcileAgents(const AgentAnswers &asked) {
  if (!asked.read) return;
  const std::vector<AgentInfo> &agents = asked.agents;
  const auto &answers = asked.answers;
  size_t strangers = 0, gone = 0;
  // Each agent's tasks as stored, in one pass (not one per agent).
  std::map<std::string, std::vector<std::string>> storedOn;
  {
    std::lock_guard lock(mutex_);
    for (const auto &[id, t] : tasks_) storedOn[t.agentId].push_back(id);
  }
  for (const auto &a : agents) {
    auto &known = answers.at(a.id);
    if (!known) {
      logMessage(LOG_WARNING, "reconciling with agent " + a.id + ": " + known.error().message);
      continue;  // its updates will tell; its tasks stay as stored
    }
    std::vector<std::string> kill;
    {
      std::lock_guard lock(mutex_);
      std::vector<const TaskRecord *> changed;
      for (const auto &[id, state] : *known) {
        if (terminal(state)) continue;
        auto t = tasks_.find(id);
        if (t != tasks_.end()) {
          if (t->second.state != state && state.rfind("TASK_", 0) == 0 && updating_.count(id) == 0) {
            t->second.state = state;
            changed.push_back(&t->second);
          }
          continue;
        }
        // Not ours: unless its app is one that did not load, it goes.
        std::string key = id.substr(0, id.rfind('.'));  // app ids may hold dots; the uuid does not
        std::string app = "/" + key;
        std::replace(app.begin(), app.end(), '_', '/');
        if (unloadableApps_.count(app) != 0) continue;
        kill.push_back(id);
      }
      storeTasks(changed);  // one round trip for the agent's changes
      auto mine = storedOn.find(a.id);
      for (const auto &id : mine == storedOn.end() ? std::vector<std::string>{} : mine->second) {
        auto it = tasks_.find(id);
        if (it == tasks_.end()) continue;
        const TaskRecord &t = it->second;
        // Ours on this agent, which does not know it: it never arrived or
        // was forgotten. Gone; the loop replaces it.
        // (A task whose update is being stored: the agent knows it.)
        if (t.agentId == a.id && !terminal(t.state) && known->count(t.id) == 0 && updating_.count(t.id) == 0 &&
            removeTask(t.id)) {
          ++gone;
          tasks_.erase(it);
        }
      }
    }
    for (const auto &id : kill) {
      ++strangers;
      (void)config_.agents->kill(a, id);
    }
  }
  logMessage(LOG_NOTICE, "reconciled with " + std::to_string(agents.size()) + " agents: " + std::to_string(strangers) +
                             " tasks nobody asked for killed, " + std::to_string(gone) + " tasks no agent knows gone");
}

void Scheduler::reconcileOnce() {
  if (!isLeader()) {
    if (loadState()) {
      {
        std::lock_guard lock(mutex_);
        leading_ = loaded_ = true;
        serving_ = true;
      }
      reconcileAgents();
    }
  }
  act();
}

// The agents' records: their names listed each time (one read), each
// record read again only when it is new or its watch says it changed.
std::vector<AgentInfo> Scheduler::readAgents(bool *failed) {
  std::vector<AgentInfo> out;
  if (failed != nullptr) *failed = false;
  auto names = config_.zk->children("/dcos/agents");
  if (!names) {
    if (failed != nullptr) *failed = true;
    return out;
  }
  auto cache = agents_;
  std::lock_guard lock(cache->mutex);
  std::set<std::string> listed(names->begin(), names->end());
  for (auto it = cache->watches.begin(); it != cache->watches.end();) {
    if (listed.count(it->first) != 0) {
      ++it;
      continue;
    }
    config_.zk->unwatch(it->second);
    cache->records.erase(it->first);
    cache->stale.erase(it->first);
    it = cache->watches.erase(it);
  }
  for (const auto &n : listed) {
    if (cache->records.count(n) != 0 && cache->stale.count(n) == 0) continue;
    if (cache->watches.count(n) == 0) {
      // Fires once soon (marking it stale again: one more read) and after
      // every change of the record.
      cache->watches[n] = config_.zk->watchData("/dcos/agents/" + n, [cache, n] {
        std::lock_guard l(cache->mutex);
        cache->stale.insert(n);
      });
    }
    cache->stale.erase(n);
    auto data = config_.zk->get("/dcos/agents/" + n);
    if (!data) {
      if (coord::codeOf(data.error()) != coord::Code::NoNode) {
        cache->stale.insert(n);
        if (failed != nullptr) *failed = true;
        return {};
      }
      cache->records.erase(n);
      continue;
    }
    auto a = parseAgent(data->first);
    if (a) {
      cache->records[n] = *a;
    } else {
      cache->records.erase(n);
    }
  }
  for (const auto &[n, a] : cache->records) out.push_back(a);
  return out;
}

namespace {

// What the scheduler's own tasks use of an agent.
struct Usage {
  double cpus = 0, mem = 0, disk = 0;
  std::set<int> ports;
  std::map<std::string, int> perApp;
  // Per port range of the agent: every port below is in use (ports are
  // only taken within a round, so the search for a free one starts here).
  std::vector<int> freeFrom;
};

bool matchesLike(const std::string &value, const std::string &pattern) {
  // Marathon's LIKE is a full regular expression match; the common forms
  // (literals, alternatives a|b, and .*) are handled here.
  std::istringstream alts(pattern);
  for (std::string alt; std::getline(alts, alt, '|');) {
    if (alt == ".*" || alt == value) return true;
    if (alt.size() >= 2 && alt.substr(alt.size() - 2) == ".*" && value.rfind(alt.substr(0, alt.size() - 2), 0) == 0) {
      return true;
    }
  }
  return false;
}

std::string fieldOf(const AgentInfo &a, const std::string &field) {
  if (field == "hostname") return a.hostname;
  auto it = a.attributes.find(field);
  return it == a.attributes.end() ? std::string() : it->second;
}

}  // namespace

bool Scheduler::zookeeperReachable() const { return config_.zk->connected(); }

int64_t Scheduler::drainedKillAt(int64_t now) const {
  return now - kKillResendMs + static_cast<int64_t>(config_.killDrain.count());
}

void Scheduler::act() {
  // Without ZooKeeper nothing can be stored first: nothing is done.
  if (!zookeeperReachable()) return;
  bool unread = false;
  std::vector<AgentInfo> agents = readAgents(&unread);
  // Without the agents' records nothing is known of where tasks are: no
  // change this round (every task would look unreachable).
  if (unread) return;
  std::map<std::string, const AgentInfo *> byId;
  for (const auto &a : agents) byId[a.id] = &a;
  // Never byId[...]: that would make a missing agent present.
  auto agentOf = [&](const std::string &id) -> const AgentInfo * {
    auto it = byId.find(id);
    return it == byId.end() ? nullptr : it->second;
  };

  struct Launch {
    TaskRecord task;
    const AgentInfo *agent;
    std::string json;
  };
  struct Kill {
    std::string taskId;
    const AgentInfo *agent;
  };
  std::vector<Launch> launches;
  std::vector<Kill> kills;
  std::vector<TaskRecord> toStore;
  {
    std::lock_guard lock(mutex_);
    if (!leading_ || !loaded_) return;
    const int64_t now = nowMs();
    // Agents that went away: their tasks become unreachable after the
    // app's inactiveAfterSeconds, and replacements are launched.
    for (const auto &[id, since] : std::map<std::string, int64_t>(agentLostAtMs_)) {
      if (byId.count(id) != 0) agentLostAtMs_.erase(id);
    }
    std::unordered_map<std::string, Usage> usage;
    // Each agent's, by its place in `agents` (the placement below looks at
    // every agent for every task).
    std::vector<Usage *> usageAt;
    for (const auto &a : agents) usageAt.push_back(&usage[a.id]);
    std::vector<std::string> expunged;
    for (auto &[id, t] : tasks_) {
      if (terminal(t.state)) continue;
      if (byId.count(t.agentId) == 0) {
        agentLostAtMs_.emplace(t.agentId, now);
        auto app = apps_.find(t.appId);
        double after = app == apps_.end() ? 0 : app->second.app.inactiveAfterSeconds;
        const int64_t grace = static_cast<int64_t>(config_.agentLostGrace.count());
        if (t.state != "TASK_UNREACHABLE" && now - agentLostAtMs_[t.agentId] >= grace + static_cast<int64_t>(after * 1000)) {
          t.stateBeforeUnreachable = t.state;
          t.state = "TASK_UNREACHABLE";
          t.message = "its agent " + t.agentId + " is gone";
          toStore.push_back(t);
          publishStatus(t, t.healthy, t.killing);
        }
        // Unreachable for expungeAfterSeconds (when set): forgotten; if its
        // agent comes back, it is a task nobody asked for and is killed.
        double expunge = app == apps_.end() ? 0 : app->second.app.expungeAfterSeconds;
        if (t.state == "TASK_UNREACHABLE" && expunge > 0 &&
            now - agentLostAtMs_[t.agentId] >= grace + static_cast<int64_t>(std::max(expunge, after) * 1000)) {
          expunged.push_back(id);
        }
        continue;
      }
      if (t.state == "TASK_UNREACHABLE") {
        // Its agent is back: the task counts again as what it was; a
        // surplus is killed below.
        t.state = t.stateBeforeUnreachable.empty() ? "TASK_STAGING" : t.stateBeforeUnreachable;
        t.stateBeforeUnreachable.clear();
        t.message = "its agent " + t.agentId + " is back";
        toStore.push_back(t);
        publishStatus(t, t.healthy, t.killing);
      }
      // A launch the agent never reported on (its leader died between the
      // store and the launch, or the agent lost it): gone after Marathon's
      // task launch timeout, and replaced.
      if ((t.state == "TASK_STAGING") && now - t.stagedAtMs > kLaunchTimeoutMs && !t.killing) {
        t.killing = true;
        toStore.push_back(t);
        kills.push_back({t.id, agentOf(t.agentId)});
      }
      auto it = apps_.find(t.appId);
      Usage &u = usage[t.agentId];
      double cpus = 0, mem = 0, disk = 0;
      if (it != apps_.end()) {
        cpus = it->second.app.cpus;
        mem = it->second.app.mem;
        disk = it->second.app.disk;
      }
      u.cpus += cpus;
      u.mem += mem;
      u.disk += disk;
      for (int p : t.ports) u.ports.insert(p);
      u.perApp[t.appId]++;
      if (it == apps_.end() && !t.killing && unloadableApps_.count(t.appId) == 0) {
        // A task nobody asks for (its app was removed).
        t.killing = true;
        toStore.push_back(t);
        kills.push_back({t.id, agentOf(t.agentId)});
      }
    }

    for (const auto &id : expunged) {
      if (updating_.count(id) != 0 || !removeTask(id)) continue;  // next round
      logMessage(LOG_NOTICE, "task " + id + " expunged: unreachable for its app's expungeAfterSeconds");
      toStore.erase(std::remove_if(toStore.begin(), toStore.end(), [&](const TaskRecord &r) { return r.id == id; }),
                    toStore.end());
      tasks_.erase(id);
    }

    // Kills are sent again until the task's end is reported.
    std::unordered_set<std::string> queuedKills;
    for (const auto &k : kills) queuedKills.insert(k.taskId);
    for (auto &[id, t] : tasks_) {
      if (!t.killing || terminal(t.state) || byId.count(t.agentId) == 0) continue;
      if (now - t.lastKillMs >= kKillResendMs && queuedKills.insert(id).second) kills.push_back({id, agentOf(t.agentId)});
    }
    // Each app's tasks, in one pass: the loops below are per app (they
    // went through every task for each app, 10^6 steps a round at 10,000
    // tasks). Tasks launched this round are added as they are made.
    std::unordered_map<std::string, std::vector<TaskRecord *>> byApp;
    for (auto &[id, t] : tasks_) byApp[t.appId].push_back(&t);
    auto tasksOf = [&](const std::string &appId) -> const std::vector<TaskRecord *> & { return byApp[appId]; };
    auto isDone = [&](const std::string &appId) { return appDone(appId, tasksOf(appId)); };
    for (auto &k : kills) {
      auto t = tasks_.find(k.taskId);
      if (t != tasks_.end()) t->second.lastKillMs = now;
    }

    // Apps in a later step of a deployment than the one under way wait
    // for the apps they depend on.
    std::set<std::string> waiting;
    for (const auto &[did, d] : deployments_) {
      size_t done = 0;
      while (done < d.steps.size() &&
             std::all_of(d.steps[done].begin(), d.steps[done].end(), [&](const auto &a) { return isDone(a.second); })) {
        ++done;
      }
      for (size_t i = done + 1; i < d.steps.size(); ++i) {
        for (const auto &[action, app] : d.steps[i]) waiting.insert(app);
      }
    }
    for (auto &[appId, st] : apps_) {
      const App &app = st.app;
      if (waiting.count(appId) != 0) {
        queueReasons_[appId] = "waiting for the apps it depends on";
        continue;
      }
      std::vector<TaskRecord *> current, old;
      for (TaskRecord *task : tasksOf(appId)) {
        TaskRecord &t = *task;
        if (terminal(t.state) || t.killing || t.state == "TASK_UNREACHABLE") continue;
        if (byId.count(t.agentId) == 0) continue;  // its agent is away, not yet unreachable: neither counted nor killed
        (t.version == app.version ? current : old).push_back(&t);
      }
      auto ready = [&](const TaskRecord *t) {
        return t->state == "TASK_RUNNING" && (app.healthChecks.empty() || t->healthy == std::optional<bool>(true));
      };
      const int target = app.instances;
      const int minReady = static_cast<int>(std::ceil(target * app.minimumHealthCapacity - 1e-9));
      int maxTotal = target + static_cast<int>(std::floor(target * app.maximumOverCapacity + 1e-9));
      // No room to start a new task without going below minReady (over
      // capacity 0, health capacity 1): one over, as Marathon allows.
      if (minReady >= maxTotal && target > 0) maxTotal = minReady + 1;
      int readyCount = 0;
      for (auto *t : current) readyCount += ready(t);
      for (auto *t : old) readyCount += ready(t);

      // Surplus of the current version: killSelection picks which go.
      if (static_cast<int>(current.size()) > target) {
        std::sort(current.begin(), current.end(), [&](const TaskRecord *a, const TaskRecord *b) {
          return app.killSelection == "OLDEST_FIRST" ? a->stagedAtMs < b->stagedAtMs : a->stagedAtMs > b->stagedAtMs;
        });
        for (size_t i = 0; i < current.size() - static_cast<size_t>(target); ++i) {
          current[i]->killing = true;
          current[i]->lastKillMs = drainedKillAt(now);  // sent by the resend below, once drained
          toStore.push_back(*current[i]);
        }
        current.resize(static_cast<size_t>(target));
      }
      // Old versions go as the new ones are ready, never below minReady.
      std::sort(old.begin(), old.end(), [&](const TaskRecord *a, const TaskRecord *b) { return !ready(a) && ready(b); });
      size_t oldLeft = old.size();
      for (auto *t : old) {
        bool allNewReady = static_cast<int>(current.size()) >= target &&
                           std::all_of(current.begin(), current.end(), [&](const TaskRecord *c) { return ready(c); });
        int after = readyCount - (ready(t) ? 1 : 0);
        if (!(allNewReady || after >= minReady || !ready(t))) break;
        t->killing = true;
        t->lastKillMs = drainedKillAt(now);
        toStore.push_back(*t);
        readyCount = after;
        --oldLeft;
      }
      // Launches: the current version up to the target, within over-capacity.
      // Old tasks killed and not yet ended still count against the
      // over-capacity (their processes run until the agent reports them).
      int dyingOld = 0;
      for (const TaskRecord *t : tasksOf(appId)) {
        dyingOld += t->killing && !terminal(t->state) && t->state != "TASK_UNREACHABLE" && t->version != app.version &&
                    byId.count(t->agentId) != 0;
      }
      int want = target - static_cast<int>(current.size());
      int room = maxTotal - static_cast<int>(current.size() + oldLeft) - dyingOld;
      bool upgrading = oldLeft > 0 || dyingOld > 0;
      int n = std::max(0, std::min(want, upgrading ? room : want));
      if (n > 0 && now < st.delayUntilMs) {
        queueReasons_[appId] = "delayed: launch backoff until " + isoTime(st.delayUntilMs);
        n = 0;
      }
      if (n == 0 && want <= 0) queueReasons_.erase(appId);
      // This app's tasks per agent, by the agent's place in `agents`.
      std::vector<int> mineAt(n > 0 ? agents.size() : 0);
      for (size_t ai = 0; ai < mineAt.size(); ++ai) {
        auto it = usageAt[ai]->perApp.find(appId);
        mineAt[ai] = it == usageAt[ai]->perApp.end() ? 0 : it->second;
      }
      for (int k = 0; k < n; ++k) {
        // The agent with room that fits: roles, resources, ports, constraints.
        std::vector<std::string> roles = app.acceptedResourceRoles.empty() ? std::vector<std::string>{"*"}
                                                                           : app.acceptedResourceRoles;
        const AgentInfo *best = nullptr;
        Usage *bestUsage = nullptr;
        size_t bestAt = 0;
        std::vector<int> bestPorts;
        std::string why = "no agent registered";
        for (size_t ai = 0; ai < agents.size(); ++ai) {
          const AgentInfo &a = agents[ai];
          if (std::find(roles.begin(), roles.end(), a.resourceRole) == roles.end()) {
            // The least of the reasons: what an agent of its roles lacks says more.
            if (why == "no agent registered") why = "no agent with an accepted resource role (" + text::join(roles, ", ") + ")";
            continue;
          }
          Usage &u = *usageAt[ai];
          if (a.cpus - u.cpus + 1e-9 < app.cpus || a.mem - u.mem + 1e-9 < app.mem || a.disk - u.disk + 1e-9 < app.disk) {
            why = "no agent with enough free cpus, mem and disk";
            continue;
          }
          std::vector<int> ports;
          bool portsOk = true;
          for (const auto &pd : app.portDefinitions) {
            int chosen = 0;
            if (app.requirePorts && pd.port != 0) {
              bool inRange = std::any_of(a.ports.begin(), a.ports.end(),
                                         [&](const auto &r) { return pd.port >= r.first && pd.port <= r.second; });
              if (inRange && u.ports.count(pd.port) == 0) chosen = pd.port;
            } else {
              if (u.freeFrom.size() != a.ports.size()) {
                u.freeFrom.clear();
                for (const auto &r : a.ports) u.freeFrom.push_back(r.first);
              }
              for (size_t ri = 0; ri < a.ports.size() && chosen == 0; ++ri) {
                const auto &r = a.ports[ri];
                int &from = u.freeFrom[ri];
                while (from <= r.second && u.ports.count(from) != 0) ++from;
                for (int p = from; p <= r.second && chosen == 0; ++p) {
                  if (u.ports.count(p) == 0 && std::find(ports.begin(), ports.end(), p) == ports.end()) chosen = p;
                }
              }
            }
            if (chosen == 0) {
              portsOk = false;
              break;
            }
            ports.push_back(chosen);
          }
          if (!portsOk) {
            why = "no agent with the ports free";
            continue;
          }
          bool constraintsOk = true;
          for (const auto &c : app.constraints) {
            std::string v = fieldOf(a, c.field);
            int here = 0;
            std::map<std::string, int> byValue;
            for (const TaskRecord *task : tasksOf(appId)) {
              const TaskRecord &t = *task;
              if (terminal(t.state) || t.killing) continue;
              auto ag = byId.find(t.agentId);
              if (ag == byId.end() || ag->second == nullptr) continue;
              std::string tv = fieldOf(*ag->second, c.field);
              byValue[tv]++;
              if (tv == v) ++here;
            }
            bool ok = true;
            if (c.op == "UNIQUE") ok = here == 0;
            else if (c.op == "CLUSTER") ok = v == c.value;
            else if (c.op == "IS") ok = v == c.value;
            else if (c.op == "LIKE") ok = matchesLike(v, c.value);
            else if (c.op == "UNLIKE") ok = !matchesLike(v, c.value);
            else if (c.op == "MAX_PER") ok = here < std::atoi(c.value.c_str());
            else if (c.op == "GROUP_BY") {
              int fewest = here;
              // Among the agents the app may run on: a public agent is no
              // group of a private app's.
              for (const auto &b : agents) {
                if (std::find(roles.begin(), roles.end(), b.resourceRole) == roles.end()) continue;
                fewest = std::min(fewest, byValue[fieldOf(b, c.field)]);
              }
              ok = here == fewest;
            }
            if (!ok) {
              constraintsOk = false;
              why = "constraint " + c.field + ":" + c.op + (c.value.empty() ? "" : ":" + c.value) + " not met";
              break;
            }
          }
          if (!constraintsOk) continue;
          // Spread: the agent with the fewest of this app's tasks, then the most free mem.
          if (best == nullptr || mineAt[ai] < mineAt[bestAt] ||
              (mineAt[ai] == mineAt[bestAt] && a.mem - u.mem > best->mem - bestUsage->mem)) {
            best = &a;
            bestUsage = &u;
            bestAt = ai;
            bestPorts = ports;
          }
        }
        if (best == nullptr) {
          queueReasons_[appId] = why;
          break;
        }
        queueReasons_.erase(appId);
        TaskRecord t;
        t.id = appKey(appId) + "." + newUuid();
        t.appId = appId;
        t.agentId = best->id;
        t.host = best->address;
        t.version = app.version;
        t.ports = bestPorts;
        t.state = "TASK_STAGING";
        t.stagedAtMs = now;
        Usage &u = *bestUsage;
        u.cpus += app.cpus;
        u.mem += app.mem;
        u.disk += app.disk;
        for (int p : bestPorts) u.ports.insert(p);
        u.perApp[appId]++;
        mineAt[bestAt]++;
        // The agent's launch request.
        Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        o->set("id", t.id);
        if (app.cmd) o->set("cmd", *app.cmd);
        if (app.args) {
          Array::Ptr args = new Array;
          for (const auto &s : *app.args) args->add(s);
          o->set("args", args);
        }
        Object::Ptr env = new Object;
        for (const auto &[name, value] : app.env) env->set(name, value);
        o->set("env", env);
        o->set("cpus", app.cpus);
        o->set("mem", app.mem);
        o->set("disk", app.disk);
        Array::Ptr ports = new Array;
        Array::Ptr names = new Array;
        for (size_t i = 0; i < bestPorts.size(); ++i) {
          ports->add(bestPorts[i]);
          names->add(app.portDefinitions[i].name);
        }
        o->set("ports", ports);
        o->set("portNames", names);
        if (!app.user.empty()) o->set("user", app.user);
        o->set("killGracePeriodSeconds", app.taskKillGracePeriodSeconds);
        Array::Ptr hcs = new Array;
        for (const auto &h : app.healthChecks) {
          Object::Ptr ho = new Object;
          ho->set("protocol", h.protocol);
          ho->set("path", h.path);
          if (h.port) ho->set("port", *h.port); else ho->set("portIndex", h.portIndex);
          if (!h.command.empty()) {
            Object::Ptr cmd = new Object;
            cmd->set("value", h.command);
            ho->set("command", cmd);
          }
          ho->set("gracePeriodSeconds", h.gracePeriodSeconds);
          ho->set("intervalSeconds", h.intervalSeconds);
          ho->set("timeoutSeconds", h.timeoutSeconds);
          ho->set("maxConsecutiveFailures", h.maxConsecutiveFailures);
          ho->set("ignoreHttp1xx", h.ignoreHttp1xx);
          hcs->add(ho);
        }
        o->set("healthChecks", hcs);
        o->set("appId", appId);
        o->set("appVersion", app.version);
        Object::Ptr labels = new Object;
        for (const auto &[name, value] : app.labels) labels->set(name, value);
        o->set("labels", labels);
        TaskRecord &made = tasks_[t.id] = t;
        byApp[appId].push_back(&made);
        launches.push_back({t, best, stringify(o)});
      }
    }
    // Deployments go step by step: a step is done once its apps run as
    // asked; the last one done ends the deployment.
    for (auto it = deployments_.begin(); it != deployments_.end();) {
      Deployment &d = it->second;
      size_t done = 0;
      while (done < d.steps.size() &&
             std::all_of(d.steps[done].begin(), d.steps[done].end(), [&](const auto &a) { return isDone(a.second); })) {
        ++done;
      }
      if (d.stepsDone == kStepsUnknown) d.stepsDone = done;  // loaded: its done steps were told before
      for (; d.stepsDone < done; ++d.stepsDone) {
        Object::Ptr e = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        e->set("plan", planView(d));
        Object::Ptr step = new Object;
        step->set("actions", actionsJson(d.steps[d.stepsDone]));
        e->set("currentStep", step);
        events_.publish("deployment_step_success", e);
      }
      if (done == d.steps.size()) {
        auto r = config_.zk->remove(std::string(kDeployments) + "/" + it->first);
        if (!r && coord::codeOf(r.error()) != coord::Code::NoNode) {
          ++it;  // kept: next round
          continue;
        }
        logMessage(LOG_INFO, "deployment " + it->first + " done");
        Object::Ptr e = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        e->set("id", it->first);
        e->set("plan", planView(d));
        events_.publish("deployment_success", e);
        it = deployments_.erase(it);
      } else {
        ++it;
      }
    }
    // One write per task changed, of its record as it is now. A task whose
    // status update is being stored meanwhile is stored next round (two
    // writers of one record could land in either order), and asked nothing
    // of until then; the others are marked as being stored, so its updates
    // wait for this round's write.
    for (const auto &id : storeLater_) {
      auto it = tasks_.find(id);
      if (it != tasks_.end()) toStore.push_back(it->second);
    }
    storeLater_.clear();
    std::set<std::string> ids;
    for (const auto &t : toStore) ids.insert(t.id);
    toStore.clear();
    std::set<std::string> deferred;
    for (const auto &id : ids) {
      auto it = tasks_.find(id);
      if (it == tasks_.end()) continue;
      if (updating_.count(id) != 0) {
        storeLater_.insert(id);
        deferred.insert(id);
        continue;
      }
      toStore.push_back(it->second);
      updating_.insert(id);
    }
    // The launches' records too: a kill or a scaling through the API before
    // their creation lands is stored by the next round.
    for (const auto &l : launches) updating_.insert(l.task.id);
    if (!deferred.empty()) {
      kills.erase(std::remove_if(kills.begin(), kills.end(),
                                 [&](const Kill &k) {
                                   if (deferred.count(k.taskId) == 0) return false;
                                   tasks_[k.taskId].lastKillMs = 0;  // resent once stored
                                   return true;
                                 }),
                  kills.end());
    }
  }
  // Stored before anything is asked of an agent: a new leader knows every
  // task the old one launched.
  // Changes to known tasks only: a task whose end was stored meanwhile is
  // not brought back.
  std::vector<coord::Write> writes;
  writes.reserve(toStore.size() + launches.size());
  for (const auto &t : toStore) writes.push_back({coord::Write::Kind::Set, std::string(kTasks) + "/" + t.id, taskRecordJson(t)});
  for (const auto &l : launches) {
    writes.push_back({coord::Write::Kind::Create, std::string(kTasks) + "/" + l.task.id, taskRecordJson(l.task)});
  }
  std::vector<Status> stored = config_.zk->writeAll(writes);  // one round trip for all of them
  if (!writes.empty()) {
    std::lock_guard lock(mutex_);
    for (const auto &t : toStore) updating_.erase(t.id);
    for (const auto &l : launches) updating_.erase(l.task.id);
    // A change not stored (no quorum, a lost connection; not a task gone
    // meanwhile) is tried again next round, from what the task is then.
    for (size_t i = 0; i < toStore.size(); ++i) {
      if (!stored[i] && coord::codeOf(stored[i].error()) != coord::Code::NoNode) storeLater_.insert(toStore[i].id);
    }
  }
  // Each agent's launches in one call, then its kills in another.
  std::map<const AgentInfo *, std::vector<const Launch *>> launchesOf;
  std::map<const AgentInfo *, std::vector<std::string>> killsOf;
  for (size_t i = 0; i < launches.size(); ++i) {
    const Launch &l = launches[i];
    if (!stored[toStore.size() + i]) {
      std::lock_guard lock(mutex_);
      tasks_.erase(l.task.id);  // not stored: never launched
      continue;
    }
    launchesOf[l.agent].push_back(&l);
  }
  for (const auto &k : kills) {
    if (k.agent != nullptr) killsOf[k.agent].push_back(k.taskId);
  }
  std::map<const AgentInfo *, std::vector<std::function<void()>>> jobs;
  std::mutex failedMutex;
  std::vector<std::pair<const Launch *, std::string>> failed;
  for (const auto &[agent, list] : launchesOf) {
    jobs[agent].push_back([this, agent = agent, &list, &failedMutex, &failed] {
      std::vector<std::string> json;
      json.reserve(list.size());
      for (const Launch *l : list) json.push_back(l->json);
      auto answers = config_.agents->launchAll(*agent, json);
      std::lock_guard lock(failedMutex);
      for (size_t i = 0; i < list.size(); ++i) {
        const Result<int> *r = i < answers.size() ? &answers[i] : nullptr;
        if (r != nullptr && *r && **r == 201) continue;
        failed.emplace_back(list[i], r == nullptr ? "no answer"
                                     : *r         ? "the agent answered " + std::to_string(**r)
                                                  : r->error().message);
      }
    });
  }
  for (const auto &[agent, ids] : killsOf) {
    jobs[agent].push_back([this, agent = agent, &ids] {
      auto answers = config_.agents->killAll(*agent, ids);
      for (size_t i = 0; i < answers.size() && i < ids.size(); ++i) {
        if (!answers[i]) logMessage(LOG_WARNING, "killing " + ids[i] + ": " + answers[i].error().message);
      }
    });
  }
  runPerAgent(jobs);
  for (const auto &[l, why] : failed) {
    logMessage(LOG_WARNING, "launching " + l->task.id + " on " + l->agent->id + ": " + why);
    std::lock_guard lock(mutex_);
    auto it = tasks_.find(l->task.id);
    // Left in ZooKeeper if its removal fails: the launch timeout ends it.
    // (An update of it being stored: the agent has it after all.)
    if (it != tasks_.end() && updating_.count(it->first) == 0 && removeTask(it->first)) {
      TaskRecord refused = it->second;
      refused.state = "TASK_FAILED";
      refused.message = "launch on " + l->agent->id + " failed: " + why;
      publishStatus(refused, refused.healthy, refused.killing);
      tasks_.erase(it);
    }
    // Not again at once: the app's backoff grows as with a failed task.
    auto app = apps_.find(l->task.appId);
    if (app != apps_.end()) {
      AppState &st = app->second;
      st.failures++;
      double delay = std::min(st.app.backoffSeconds * std::pow(st.app.backoffFactor, st.failures - 1),
                              st.app.maxLaunchDelaySeconds);
      st.delayUntilMs = nowMs() + static_cast<int64_t>(delay * 1000);
      st.lastFailure = "launch on " + l->agent->id + " failed: " + why;
      st.lastFailureMs = nowMs();
    }
  }
}

// Each agent's calls in their order, agents side by side (a slow agent
// holds back no other's).
void Scheduler::runPerAgent(const std::map<const AgentInfo *, std::vector<std::function<void()>>> &jobs) {
  if (jobs.empty()) return;
  constexpr size_t kWorkers = 16;
  std::vector<const std::vector<std::function<void()>> *> lists;
  for (const auto &[agent, list] : jobs) lists.push_back(&list);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < lists.size();) {
      for (const auto &f : *lists[i]) f();
    }
  };
  std::vector<std::thread> workers;
  for (size_t w = 1; w < std::min(kWorkers, lists.size()); ++w) workers.emplace_back(work);
  work();
  for (auto &t : workers) t.join();
}

Status Scheduler::storeApp(const App &app, bool create) {
  std::string path = std::string(kApps) + "/" + appKey(app.id);
  std::string data = appJson(app);
  if (create) {
    auto r = config_.zk->create(path, data, coord::CreateMode::Persistent);
    if (!r) return r.error();
    return Status::Ok();
  }
  auto r = config_.zk->set(path, data);
  if (!r) return r.error();
  return Status::Ok();
}

// Being written without the lock (its status update, its launch): stored
// by the next round instead, from what the task is then, so that the older
// record cannot land last. A known task's record only: one gone has ended
// meanwhile (its end was stored), and is not brought back.
void Scheduler::storeTasks(const std::vector<const TaskRecord *> &tasks) {
  std::vector<coord::Write> writes;
  std::vector<std::string> ids;
  for (const TaskRecord *t : tasks) {
    if (updating_.count(t->id) != 0) {
      storeLater_.insert(t->id);
      continue;
    }
    writes.push_back({coord::Write::Kind::Set, std::string(kTasks) + "/" + t->id, taskRecordJson(*t)});
    ids.push_back(t->id);
  }
  if (writes.empty()) return;
  auto stored = config_.zk->writeAll(writes);
  for (size_t i = 0; i < stored.size() && i < ids.size(); ++i) {
    // Not stored (not a task gone meanwhile): act() stores it next round.
    if (!stored[i] && coord::codeOf(stored[i].error()) != coord::Code::NoNode) storeLater_.insert(ids[i]);
  }
}

Status Scheduler::removeTask(const std::string &id) {
  auto r = config_.zk->remove(std::string(kTasks) + "/" + id);
  if (!r && coord::codeOf(r.error()) != coord::Code::NoNode) return r;
  return Status::Ok();
}

void Scheduler::assignServicePorts(App &app) {
  for (auto &p : app.portDefinitions) {
    if (p.port != 0) {
      servicePorts_.insert(p.port);
      continue;
    }
    for (int candidate = kServicePortFirst; candidate <= kServicePortLast; ++candidate) {
      if (servicePorts_.insert(candidate).second) {
        p.port = candidate;
        break;
      }
    }
  }
}

// Written out directly (no JSON objects made), and kept until what it
// shows changes: a GET of every app with its tasks shows 10,000 of these.
// Shared, so that the answer is put together without the lock. mutex_ held.
std::shared_ptr<const std::string> Scheduler::taskView(const TaskRecord &t, const App *app) const {
  if (app == nullptr) {
    auto it = apps_.find(t.appId);
    if (it != apps_.end()) app = &it->second.app;
  }
  static const std::string kNone;
  const std::string &appVersion = app != nullptr ? app->version : kNone;  // its service ports
  const TaskRecord::View *v = t.view.get();
  if (v != nullptr && v->state == t.state && v->healthy == t.healthy && v->startedAtMs == t.startedAtMs &&
      v->appVersion == appVersion && v->version == t.version &&
      (t.healthy != std::optional<bool>(false) || v->message == t.message)) {
    return v->text;
  }
  auto made = std::make_shared<TaskRecord::View>();
  made->state = t.state;
  made->message = t.message;
  made->version = t.version;
  made->appVersion = appVersion;
  made->healthy = t.healthy;
  made->startedAtMs = t.startedAtMs;
  made->text = std::make_shared<const std::string>(renderTaskView(t));
  t.view = made;
  return made->text;
}

std::string Scheduler::renderTaskView(const TaskRecord &t) const {
  using text::quote;
  std::string o;
  o.reserve(512);
  o += "{\"appId\":" + quote(t.appId) + ",\"healthCheckResults\":[";
  if (t.healthy) {
    const std::string since = quote(isoTime(t.startedAtMs));
    o += std::string("{\"alive\":") + (*t.healthy ? "true" : "false") +
         ",\"consecutiveFailures\":" + (*t.healthy ? "0" : "1") +
         ",\"firstSuccess\":" + (*t.healthy ? since : "null") + ",\"lastFailure\":null" +
         ",\"lastSuccess\":" + (*t.healthy ? since : "null") +
         ",\"lastFailureCause\":" + (*t.healthy ? "null" : quote(t.message)) + ",\"taskId\":" + quote(t.id) + "}";
  }
  o += "],\"host\":" + quote(t.host) + ",\"id\":" + quote(t.id) + ",\"ipAddresses\":[{\"ipAddress\":" + quote(t.host) +
       ",\"protocol\":" + (t.host.find(':') != std::string::npos ? "\"IPv6\"" : "\"IPv4\"") + "}],\"ports\":[";
  for (size_t i = 0; i < t.ports.size(); ++i) o += (i ? "," : "") + std::to_string(t.ports[i]);
  o += "],\"servicePorts\":[";
  if (auto app = apps_.find(t.appId); app != apps_.end()) {
    const auto &pds = app->second.app.portDefinitions;
    for (size_t i = 0; i < pds.size(); ++i) o += (i ? "," : "") + std::to_string(pds[i].port);
  }
  o += "],\"slaveId\":" + quote(t.agentId) + ",\"stagedAt\":" + quote(isoTime(t.stagedAtMs)) +
       ",\"startedAt\":" + (t.startedAtMs != 0 ? quote(isoTime(t.startedAtMs)) : "null") + ",\"state\":" + quote(t.state) +
       ",\"version\":" + quote(t.version) + "}";
  return o;
}

Scheduler::AppViewParts Scheduler::appViewParts(const AppState &s, bool embedTasks, bool counts, bool deployments,
                                                bool lastFailure,
                                                const std::vector<const TaskRecord *> *appTasks) const {
  // The definition as text, what the view adds spliced in at its end (in
  // the order the keys were set on the parsed object before).
  if (!s.json) s.json = std::make_shared<const std::string>(appJson(s.app));
  std::string out = *s.json;
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  int staged = 0, running = 0, healthy = 0, unhealthy = 0;
  // The tasks' views, put after the rest by whoever writes the answer.
  AppViewParts parts;
  parts.embedTasks = embedTasks;
  if (embedTasks && appTasks != nullptr) parts.tasks.reserve(appTasks->size());
  auto count = [&](const TaskRecord &t) {
    if (t.appId != s.app.id || terminal(t.state)) return;
    staged += t.state == "TASK_STAGING" || t.state == "TASK_STARTING";
    running += t.state == "TASK_RUNNING";
    healthy += t.healthy == std::optional<bool>(true);
    unhealthy += t.healthy == std::optional<bool>(false);
    if (embedTasks) parts.tasks.push_back(taskView(t, &s.app));
  };
  if (appTasks != nullptr) {
    for (const auto *t : *appTasks) count(*t);
  } else {
    for (const auto &[id, t] : tasks_) count(t);
  }
  if (counts) {
    o->set("tasksStaged", staged);
    o->set("tasksRunning", running);
    o->set("tasksHealthy", healthy);
    o->set("tasksUnhealthy", unhealthy);
  }
  if (deployments) {
    Array::Ptr ds = new Array;
    for (const auto &[id, d] : deployments_) {
      if (std::find(d.affectedApps.begin(), d.affectedApps.end(), s.app.id) == d.affectedApps.end()) continue;
      Object::Ptr one = new Object;
      one->set("id", id);
      ds->add(one);
    }
    o->set("deployments", ds);
  }
  if (lastFailure && !s.lastFailure.empty()) {
    Object::Ptr f = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    f->set("appId", s.app.id);
    f->set("message", s.lastFailure);
    f->set("timestamp", isoTime(s.lastFailureMs));
    f->set("version", s.app.version);
    o->set("lastTaskFailure", f);
  }
  std::string extra = stringify(o);  // {...} of what was added
  if (extra.size() > 2) out.insert(out.size() - 1, (out.size() > 2 ? "," : "") + extra.substr(1, extra.size() - 2));
  out.pop_back();  // its closing brace: the tasks may follow
  parts.head = std::move(out);
  return parts;
}

size_t Scheduler::AppViewParts::size() const {
  size_t n = head.size() + tail.size() + 16;
  for (const auto &t : tasks) n += t->size() + 1;
  return n;
}

void Scheduler::AppViewParts::appendTo(std::string &out) const {
  out += head;
  if (embedTasks) {
    out += ",\"tasks\":[";
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (i != 0) out += ',';
      out += *tasks[i];
    }
    out += ']';
  }
  out += tail;
  out += '}';
}

std::string Scheduler::appView(const AppState &s, bool embedTasks, bool counts, bool deployments, bool lastFailure,
                               const std::vector<const TaskRecord *> *appTasks) const {
  AppViewParts parts = appViewParts(s, embedTasks, counts, deployments, lastFailure, appTasks);
  std::string out;
  out.reserve(parts.size());
  parts.appendTo(out);
  return out;
}

Scheduler::Reply Scheduler::appsGet(const std::string &query) {
  auto q = text::parseQuery(query);
  bool tasks = false, lastFailure = false, readiness = false;
  for (const auto &e : q["embed"]) {
    tasks |= e == "apps.tasks" || e == "app.tasks" || e == "group.apps.tasks";
    lastFailure |= e == "apps.lastTaskFailure" || e == "app.lastTaskFailure";
    readiness |= e == "apps.readiness" || e == "app.readiness";
  }
  std::string idFilter = q.count("id") ? q["id"].back() : "";
  std::string labelFilter = q.count("label") ? q["label"].back() : "";
  // What each app shows is gathered under the lock (its tasks' views are
  // shared, not copied); the answer, megabytes with 10,000 tasks, is put
  // together after it, while launches and updates go on.
  // Each app's text is kept with the parts it was written from: an app
  // whose parts are the same (its head, and the very same task views) is
  // not written again. On this project's machines copying megabytes is what
  // a GET of 10,000 tasks cost most.
  struct One {
    std::string id;
    AppViewParts parts;
    std::shared_ptr<const std::string> text;  // when the kept one serves
  };
  std::vector<One> views;
  {
    std::lock_guard lock(mutex_);
    std::map<std::string, std::vector<const TaskRecord *>> byApp;  // one pass over the tasks, not one per app
    for (const auto &[tid, t] : tasks_) byApp[t.appId].push_back(&t);
    static const std::vector<const TaskRecord *> none;
    views.reserve(apps_.size());
    for (const auto &[id, s] : apps_) {
      if (!idFilter.empty() && id.find(idFilter) == std::string::npos) continue;
      if (!labelFilter.empty()) {
        size_t eq = labelFilter.find("==");
        std::string key = labelFilter.substr(0, eq);
        auto l = s.app.labels.find(key);
        if (l == s.app.labels.end()) continue;
        if (eq != std::string::npos && l->second != labelFilter.substr(eq + 2)) continue;
      }
      auto mine = byApp.find(id);
      One one{id, appViewParts(s, tasks, true, true, lastFailure, mine == byApp.end() ? &none : &mine->second), nullptr};
      if (readiness) one.parts.tail = ",\"readinessCheckResults\":[]";  // no readiness checks here
      if (s.shown && s.shown->first.embedTasks == one.parts.embedTasks && s.shown->first.tasks == one.parts.tasks &&
          s.shown->first.head == one.parts.head && s.shown->first.tail == one.parts.tail) {
        one.text = s.shown->second;
      }
      views.push_back(std::move(one));
    }
  }
  // Written without the lock, and kept for the next GET.
  using Shown = std::pair<AppViewParts, std::shared_ptr<const std::string>>;
  std::vector<std::pair<std::string, std::shared_ptr<const Shown>>> made;
  for (auto &v : views) {
    if (v.text) continue;
    std::string text;
    text.reserve(v.parts.size());
    v.parts.appendTo(text);
    v.text = std::make_shared<const std::string>(std::move(text));
    made.emplace_back(v.id, std::make_shared<const Shown>(std::move(v.parts), v.text));
  }
  if (!made.empty()) {
    std::lock_guard lock(mutex_);
    for (auto &[id, shown] : made) {
      auto it = apps_.find(id);
      if (it != apps_.end()) it->second.shown = std::move(shown);
    }
  }
  size_t size = 16;
  for (const auto &v : views) size += v.text->size() + 1;
  std::string out;
  out.reserve(size);
  out = "{\"apps\":[";
  for (size_t i = 0; i < views.size(); ++i) {
    if (i != 0) out += ',';
    out += *views[i].text;
  }
  out += "]}";
  return {200, std::move(out), {}};
}

Scheduler::Reply Scheduler::appsPost(const std::string &body, const std::string &peer) {
  std::vector<Problem> problems;
  auto app = parseApp(body, problems);
  if (!app) {
    if (app.error().code == 400) return {400, messageJson(app.error().message), {}};
    return {422, problemsJson(problems), {}};
  }
  std::lock_guard lock(mutex_);
  if (apps_.count(app->id) != 0) {
    return {409, messageJson("An app with id [" + app->id + "] already exists."), {}};
  }
  const std::string version = newVersion();
  auto dep = commit({{app->id, *app, false}}, version, peer, "/v2/apps");
  if (!dep) {
    if (coord::codeOf(dep.error()) == coord::Code::NodeExists) {
      return {409, messageJson("An app with id [" + app->id + "] already exists."), {}};
    }
    return commitFailed(dep.error(), "cannot store the app");
  }
  nudge();
  return {201, appView(apps_[app->id], true, true, true, false), {{"Location", "/v2/apps" + app->id}}};
}

Scheduler::Reply Scheduler::appGet(const std::string &id, const std::string &) {
  std::lock_guard lock(mutex_);
  auto it = apps_.find(id);
  if (it == apps_.end()) return {404, messageJson("App '" + id + "' does not exist"), {}};
  return {200, "{\"app\":" + appView(it->second, true, true, true, true) + "}", {}};
}

std::string Scheduler::lockingDeployment(const std::vector<std::string> &appIds) const {
  for (const auto &[did, d] : deployments_) {
    for (const auto &a : appIds) {
      if (std::find(d.affectedApps.begin(), d.affectedApps.end(), a) != d.affectedApps.end()) return did;
    }
  }
  return "";
}

Scheduler::Reply Scheduler::lockedReply(const std::string &did) const {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("message", "App is locked by one or more deployments. Override with the option '?force=true'. View "
                    "details at '/v2/deployments/" + did + "'.");
  Array::Ptr ds = new Array;
  Object::Ptr one = new Object;
  one->set("id", did);
  ds->add(one);
  o->set("deployments", ds);
  return {409, stringify(o), {}};
}

Scheduler::Reply Scheduler::appPut(const std::string &id, const std::string &body, bool force,
                                   const std::string &peer, const std::string &uri) {
  std::vector<Problem> problems;
  std::unique_lock lock(mutex_);
  auto it = apps_.find(id);
  const bool creating = it == apps_.end();
  App base;
  if (!creating) base = it->second.app;
  // PUT of an app that does not exist creates it, under the path's id.
  std::string withId = body;
  if (creating) {
    auto o = parse(body);
    if (o && !o->has("id")) {
      o->set("id", id);
      withId = stringify(o);
    }
  }
  auto app = creating ? parseApp(withId, problems) : parseApp(body, problems, &base);
  if (!app) {
    if (app.error().code == 400) return {400, messageJson(app.error().message), {}};
    return {422, problemsJson(problems), {}};
  }
  if (app->id != id) {
    return {422, problemsJson({{"/id", "the id in the body (" + app->id + ") is not the path's (" + id + ")"}}), {}};
  }
  if (!creating && !force) {
    if (auto did = lockingDeployment({id}); !did.empty()) return lockedReply(did);
  }
  const std::string version = newVersion();
  auto dep = commit({{id, *app, false}}, version, peer, uri);
  if (!dep) return commitFailed(dep.error(), "cannot store the app");
  nudge();
  return {creating ? 201 : 200, "{\"deploymentId\":\"" + *dep + "\",\"version\":\"" + version + "\"}", {}};
}

Scheduler::Reply Scheduler::appDelete(const std::string &id, bool force, const std::string &peer,
                                      const std::string &uri) {
  std::lock_guard lock(mutex_);
  auto it = apps_.find(id);
  if (it == apps_.end()) return {404, messageJson("App '" + id + "' does not exist"), {}};
  if (!force) {
    if (auto did = lockingDeployment({id}); !did.empty()) return lockedReply(did);
  }
  const std::string version = newVersion();
  auto dep = commit({{id, std::nullopt, false}}, version, peer, uri);
  if (!dep) return commitFailed(dep.error(), "cannot remove the app");
  nudge();  // its tasks are killed as tasks nobody asks for
  return {200, "{\"deploymentId\":\"" + *dep + "\",\"version\":\"" + version + "\"}", {}};
}

Scheduler::Reply Scheduler::appRestart(const std::string &id, bool force, const std::string &peer,
                                       const std::string &uri) {
  std::lock_guard lock(mutex_);
  auto it = apps_.find(id);
  if (it == apps_.end()) return {404, messageJson("App '" + id + "' does not exist"), {}};
  if (!force) {
    if (auto did = lockingDeployment({id}); !did.empty()) return lockedReply(did);
  }
  const std::string version = newVersion();
  auto dep = commit({{id, it->second.app, true}}, version, peer, uri);
  if (!dep) return commitFailed(dep.error(), "cannot store the app");
  nudge();
  return {200, "{\"deploymentId\":\"" + *dep + "\",\"version\":\"" + version + "\"}", {}};
}

namespace {

// {"tasks":[...]} of the views given.
std::string tasksAnswer(const std::vector<std::shared_ptr<const std::string>> &views) {
  size_t size = 16;
  for (const auto &v : views) size += v->size() + 1;
  std::string out;
  out.reserve(size);
  out = "{\"tasks\":[";
  for (size_t i = 0; i < views.size(); ++i) {
    if (i != 0) out += ',';
    out += *views[i];
  }
  out += "]}";
  return out;
}

}  // namespace

Scheduler::Reply Scheduler::appTasks(const std::string &id) {
  std::vector<std::shared_ptr<const std::string>> views;
  {
    std::lock_guard lock(mutex_);
    auto app = apps_.find(id);
    if (app == apps_.end()) return {404, messageJson("App '" + id + "' does not exist"), {}};
    for (const auto &[tid, t] : tasks_) {
      if (t.appId == id && !terminal(t.state)) views.push_back(taskView(t, &app->second.app));
    }
  }
  return {200, tasksAnswer(views), {}};
}

// Kills tasks (app id, task id); with `scale`, each app shrinks by the
// tasks of it killed, as one deployment.
Scheduler::Reply Scheduler::tasksKill(const std::vector<std::pair<std::string, std::string>> &which, bool scale,
                                      bool force) {
  std::unique_lock lock(mutex_);
  std::map<std::string, int> perApp;
  std::vector<TaskRecord> killed;
  for (const auto &[appId, taskId] : which) {
    auto it = tasks_.find(taskId);
    if (it == tasks_.end() || it->second.appId != appId || terminal(it->second.state)) continue;
    killed.push_back(it->second);
    perApp[appId]++;
  }
  std::string body;
  if (scale && !perApp.empty()) {
    std::vector<std::string> ids;
    for (const auto &[a, n] : perApp) ids.push_back(a);
    if (!force) {
      if (auto did = lockingDeployment(ids); !did.empty()) return lockedReply(did);
    }
    std::vector<Change> changes;
    for (const auto &[a, n] : perApp) {
      auto app = apps_.find(a);
      if (app == apps_.end()) continue;
      App target = app->second.app;
      target.instances = std::max(0, target.instances - n);
      changes.push_back({a, target, false});
    }
    const std::string version = newVersion();
    auto dep = commit(changes, version, "", "/v2/tasks/delete");
    if (!dep) return commitFailed(dep.error(), "cannot store the app");
    body = "{\"deploymentId\":\"" + *dep + "\",\"version\":\"" + version + "\"}";
  }
  std::string list = "{\"tasks\":[";
  std::vector<const TaskRecord *> marked;
  for (size_t i = 0; i < killed.size(); ++i) {
    auto it = tasks_.find(killed[i].id);
    if (it == tasks_.end()) continue;
    it->second.killing = true;
    it->second.lastKillMs = drainedKillAt(nowMs());
    marked.push_back(&it->second);
    killed[i] = it->second;
    if (i != 0) list += ',';
    list += *taskView(it->second);
  }
  list += "]}";
  storeTasks(marked);  // one round trip for them all
  if (body.empty()) body = list;
  lock.unlock();
  // The kills go from act() once the routers have taken the tasks out.
  nudge();
  return {200, body, {}};
}

Scheduler::Reply Scheduler::taskKill(const std::string &appId, const std::string &taskId, bool scale) {
  {
    std::lock_guard lock(mutex_);
    if (apps_.count(appId) == 0) return {404, messageJson("App '" + appId + "' does not exist"), {}};
    auto it = tasks_.find(taskId);
    if (it == tasks_.end() || it->second.appId != appId || terminal(it->second.state)) {
      return {404, messageJson("Task '" + taskId + "' does not exist"), {}};
    }
  }
  Reply r = tasksKill({{appId, taskId}}, scale, true);
  if (r.status == 200 && !scale) {
    // One task: {"task": ...}, as Marathon answers.
    auto o = parse(r.body);
    auto list = o ? o->getArray("tasks") : nullptr;
    if (list && list->size() == 1) {
      std::ostringstream out;
      list->getObject(0)->stringify(out);
      r.body = "{\"task\":" + out.str() + "}";
    }
  }
  return r;
}

Scheduler::Reply Scheduler::tasksGet(const std::string &query) {
  auto q = text::parseQuery(query);
  std::string status = q.count("status") ? q["status"].back() : "";
  std::vector<std::shared_ptr<const std::string>> views;
  {
    std::lock_guard lock(mutex_);
    views.reserve(tasks_.size());
    for (const auto &[tid, t] : tasks_) {
      if (terminal(t.state)) continue;
      if (status == "running" && t.state != "TASK_RUNNING") continue;
      if (status == "staging" && t.state != "TASK_STAGING" && t.state != "TASK_STARTING") continue;
      views.push_back(taskView(t));
    }
  }
  return {200, tasksAnswer(views), {}};
}

// Status updates from an agent: each stored, then acknowledged.
// The events of a stored status update: the task's status and its
// instance's condition, and a change of health.
void Scheduler::publishStatus(const TaskRecord &t, std::optional<bool> wasHealthy, bool wasKilling) {
  Object::Ptr s = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  s->set("slaveId", t.agentId);
  s->set("taskId", t.id);
  s->set("taskStatus", t.state);
  s->set("message", t.message);
  s->set("appId", t.appId);
  s->set("host", t.host);
  Array::Ptr ips = new Array;
  Object::Ptr ip = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  ip->set("ipAddress", t.host);
  ip->set("protocol", std::string(t.host.find(':') != std::string::npos ? "IPv6" : "IPv4"));
  ips->add(ip);
  s->set("ipAddresses", ips);
  Array::Ptr ports = new Array;
  for (int p : t.ports) ports->add(p);
  s->set("ports", ports);
  s->set("version", t.version);
  events_.publish("status_update_event", s);
  Object::Ptr c = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  c->set("instanceId", instanceId(t.id));
  c->set("condition", instanceCondition(t.state));
  c->set("runSpecId", t.appId);
  c->set("agentId", t.agentId);
  c->set("host", t.host);
  c->set("runSpecVersion", t.version);
  events_.publish("instance_changed_event", c);
  if (t.killing && !wasKilling && t.healthy == std::optional<bool>(false)) {
    Object::Ptr k = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    k->set("appId", t.appId);
    k->set("taskId", t.id);
    k->set("instanceId", instanceId(t.id));
    k->set("version", t.version);
    k->set("reason", t.message);
    k->set("host", t.host);
    k->set("slaveId", t.agentId);
    events_.publish("unhealthy_instance_kill_event", k);
  }
  if (!t.healthy || t.healthy == wasHealthy) return;
  auto app = apps_.find(t.appId);
  Object::Ptr h = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  h->set("appId", t.appId);
  h->set("taskId", t.id);
  h->set("instanceId", instanceId(t.id));
  h->set("version", t.version);
  h->set("alive", *t.healthy);
  events_.publish("health_status_changed_event", h);
  Object::Ptr ih = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  ih->set("instanceId", instanceId(t.id));
  ih->set("runSpecId", t.appId);
  ih->set("runSpecVersion", t.version);
  ih->set("healthy", *t.healthy);
  events_.publish("instance_health_changed_event", ih);
  if (*t.healthy) return;
  Object::Ptr f = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  f->set("appId", t.appId);
  f->set("taskId", t.id);
  f->set("instanceId", instanceId(t.id));
  if (app != apps_.end() && !app->second.app.healthChecks.empty()) {
    auto hc = parse(appJson(app->second.app));
    auto list = hc ? hc->getArray("healthChecks") : nullptr;
    if (list && list->size() > 0) f->set("healthCheck", list->getObject(0));
  }
  events_.publish("failed_health_check_event", f);
}

Scheduler::Reply Scheduler::updates(const std::string &body) {
  auto o = parse(body);
  if (!o) return {400, messageJson("Invalid JSON"), {}};
  if (!isLeader()) return {503, messageJson("not the scheduler leader"), {}};
  if (!zookeeperReachable()) return {503, messageJson("no ZooKeeper quorum: nothing is stored or acknowledged"), {}};
  std::string agentId = o->optValue<std::string>("agent_id", "");
  struct Update {
    std::string uuid, taskId, state, message;
    std::optional<bool> healthy;
    int64_t timestampMs = 0;
  };
  std::vector<Update> list;
  try {
    auto array = o->getArray("updates");
    for (size_t i = 0; array && i < array->size(); ++i) {
      auto u = array->getObject(static_cast<unsigned>(i));
      if (!u) continue;
      Update x;
      x.uuid = u->optValue<std::string>("uuid", "");
      x.taskId = u->optValue<std::string>("task_id", "");
      x.state = u->optValue<std::string>("state", "");
      if (x.uuid.empty() || x.taskId.empty() || x.state.rfind("TASK_", 0) != 0) continue;  // not an update: never acknowledged
      x.message = u->optValue<std::string>("message", "");
      if (u->has("healthy") && u->get("healthy").isBoolean()) x.healthy = u->get("healthy").extract<bool>();
      x.timestampMs = u->optValue<Poco::Int64>("timestamp_ms", nowMs());
      list.push_back(std::move(x));
    }
  } catch (const Poco::Exception &e) {
    return {400, messageJson("Invalid updates: " + e.message()), {}};
  }
  // What an update does to its task's record (a health-check limit
  // reached: the task is to be killed and replaced).
  auto apply = [](TaskRecord &t, const Update &u) {
    t.state = u.state;
    t.message = u.message;
    if (u.healthy) t.healthy = u.healthy;
    if (u.state == "TASK_RUNNING" && t.startedAtMs == 0) t.startedAtMs = u.timestampMs;
    if (!terminal(u.state) && t.healthy == std::optional<bool>(false) && t.message.find("in a row") != std::string::npos) {
      t.killing = true;
    }
  };

  Array::Ptr acked = new Array;
  std::vector<std::string> strangers;
  std::unique_lock lock(mutex_);
  // Every update's record, in order, written at once: one write per task
  // (its last record; a task that ended is removed).
  std::map<std::string, TaskRecord> after;
  std::map<std::string, size_t> writeFor;
  std::vector<coord::Write> writes;
  constexpr long kNobodys = -1, kEndedBefore = -2;
  std::vector<long> writeOf(list.size(), kNobodys);
  for (size_t i = 0; i < list.size(); ++i) {
    const Update &u = list[i];
    if (updating_.count(u.taskId) != 0) {
      // Its earlier update is being stored by another call (a resend
      // while the first was under way): this one and the rest wait.
      list.resize(i);
      writeOf.resize(i);
      break;
    }
    auto seen = after.find(u.taskId);
    if (seen == after.end()) {
      auto known = tasks_.find(u.taskId);
      if (known == tasks_.end()) continue;  // nobody's: acknowledged below, nothing stored
      seen = after.emplace(u.taskId, known->second).first;
    } else if (terminal(seen->second.state)) {
      // After its end in this same batch (a resend): nothing to store.
      writeOf[i] = kEndedBefore;
      continue;
    }
    apply(seen->second, u);
    coord::Write w = terminal(u.state)
                         ? coord::Write{coord::Write::Kind::Remove, std::string(kTasks) + "/" + u.taskId, ""}
                         : coord::Write{coord::Write::Kind::Set, std::string(kTasks) + "/" + u.taskId,
                                        taskRecordJson(seen->second)};
    auto w0 = writeFor.find(u.taskId);
    if (w0 == writeFor.end()) {
      writeFor[u.taskId] = writes.size();
      writes.push_back(std::move(w));
    } else {
      writes[w0->second] = std::move(w);
    }
    writeOf[i] = static_cast<long>(writeFor[u.taskId]);
  }
  // Stored without the lock: the API, the other agents' updates and the
  // planning go on meanwhile (a round trip to ZooKeeper held them all). The
  // tasks written are marked, so that no other call writes them meanwhile
  // and a later record never lands before an earlier one.
  for (const auto &[id, w] : writeFor) updating_.insert(id);
  lock.unlock();
  std::vector<Status> stored = config_.zk->writeAll(writes);
  lock.lock();
  for (const auto &[id, w] : writeFor) updating_.erase(id);
  // A record already gone: a removal is done (a resend after a lost reply),
  // and a task whose record went meanwhile (expunged, given up) has ended
  // here: nothing is brought back, and the update is acknowledged.
  auto isStored = [&](size_t w) { return stored[w].ok() || coord::codeOf(stored[w].error()) == coord::Code::NoNode; };
  for (size_t i = 0; i < list.size(); ++i) {
    const Update &u = list[i];
    if (writeOf[i] == kNobodys || writeOf[i] == kEndedBefore) {
      // A task nobody here asked for (ended, or ended now), or a resend
      // after its end: acknowledged, nothing to do.
      if (writeOf[i] == kNobodys && !terminal(u.state)) strangers.push_back(u.taskId);
      acked->add(u.uuid);
      continue;
    }
    // Not stored: this one and the rest wait (a later update never
    // overtakes an earlier one); the agent sends them again.
    if (!isStored(static_cast<size_t>(writeOf[i]))) break;
    auto it = tasks_.find(u.taskId);
    if (it == tasks_.end()) {
      acked->add(u.uuid);
      continue;
    }
    TaskRecord &t = it->second;
    const std::optional<bool> wasHealthy = t.healthy;
    const bool wasKilling = t.killing;
    apply(t, u);
    auto app = apps_.find(t.appId);
    if (terminal(u.state)) {
      if (app != apps_.end() && !t.killing) {
        // Healing: replaced, after a backoff that grows with each failure.
        AppState &st = app->second;
        st.failures++;
        double delay = st.app.backoffSeconds * std::pow(st.app.backoffFactor, st.failures - 1);
        delay = std::min(delay, st.app.maxLaunchDelaySeconds);
        st.delayUntilMs = nowMs() + static_cast<int64_t>(delay * 1000);
        st.lastFailure = t.message.empty() ? u.state : t.message;
        st.lastFailureMs = nowMs();
      }
      publishStatus(t, wasHealthy, wasKilling);
      tasks_.erase(it);
    } else {
      if (t.killing && !wasKilling) strangers.push_back(t.id);  // failed its health check too often: replaced
      publishStatus(t, wasHealthy, wasKilling);
      if (u.state == "TASK_RUNNING" && app != apps_.end() &&
          (app->second.app.healthChecks.empty() || t.healthy == std::optional<bool>(true))) {
        app->second.failures = 0;  // it runs: the backoff starts over
      }
    }
    acked->add(u.uuid);
  }
  lock.unlock();
  if (!strangers.empty()) {
    for (const auto &a : readAgents()) {
      if (a.id != agentId) continue;
      for (const auto &id : strangers) (void)config_.agents->kill(a, id);
    }
  }
  wake_.notify_all();
  Object::Ptr reply = new Object;
  reply->set("acknowledged", acked);
  return {200, stringify(reply), {}};
}

Scheduler::Reply Scheduler::handle(const std::string &method, const std::string &rawPath, const std::string &query,
                                   const std::string &body, const std::string &peer) {
  // marathon-python sends /v2/apps//web: slashes collapse.
  std::string path;
  for (char c : rawPath) {
    if (c == '/' && !path.empty() && path.back() == '/') continue;
    path += c;
  }
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  auto q = text::parseQuery(query);
  auto notAllowed = [&] { return Reply{405, messageJson("method " + method + " not allowed on " + path), {}}; };
  const bool force = flag(q, "force");

  if (path == "/ping") return {200, "pong", {{"Content-Type", "text/plain"}}};
  if (path == "/scheduler/v1/updates") {
    if (method != "POST") return notAllowed();
    return updates(body);
  }
  const bool reachable = zookeeperReachable();
  if (path == "/v2/leader") {
    std::string leader = reachable ? leaderAddress() : "";
    if (method == "DELETE") {
      if (!isLeader()) return {404, messageJson("There is no leader"), {}};
      election_->stop();
      (void)config_.zk->remove(kLeader);
      (void)election_->start();
      return {200, messageJson("Leadership abdicated"), {}};
    }
    if (leader.empty()) return {404, messageJson("There is no leader"), {}};
    return {200, "{\"leader\":" + text::quote(leader) + "}", {}};
  }
  if (path == "/v2/info") {
    // Without ZooKeeper no leader is known, this one included: it acts on
    // nothing until the session is back.
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("name", std::string("marathon"));
    o->set("version", std::string("1.10.0"));
    o->set("buildref", std::string("dcos"));
    o->set("elected", reachable && isLeader());
    std::string leader = reachable ? leaderAddress() : "";
    o->set("leader", leader.empty() ? Var() : Var(leader));
    o->set("frameworkId", std::string("dcos-marathon"));
    Object::Ptr zk = new Object;
    zk->set("zk", "zk://" + config_.zk->connectString() + "/dcos/scheduler");
    o->set("zookeeper_config", zk);
    Object::Ptr mc = new Object;
    mc->set("hostname", config_.hostname);
    mc->set("mesos_role", Var());
    o->set("marathon_config", mc);
    Object::Ptr hc = new Object;
    hc->set("http_port", std::atoi(config_.address.substr(config_.address.rfind(':') + 1).c_str()));
    o->set("http_config", hc);
    o->set("event_subscriber", Var());
    return {200, stringify(o), {}};
  }
  if (!reachable) {
    return {503, messageJson("no ZooKeeper quorum: the scheduler changes nothing until ZooKeeper is back"), {}};
  }
  if (!isLeader()) return {503, messageJson("no scheduler leader yet"), {}};
  if (path == "/mesos/master/state" || path == "/mesos/master/state.json" || path == "/mesos/master/slaves") {
    if (method != "GET") return notAllowed();
    return mesosState(path == "/mesos/master/slaves");
  }
  if (path == "/v2/apps") {
    if (method == "GET") return appsGet(query);
    if (method == "POST") return appsPost(body, peer);
    return notAllowed();
  }
  if (text::startsWith(path, "/v2/apps/")) {
    std::string rest = path.substr(8);  // "/web/tasks/x"
    std::string id = rest, tail;
    for (const char *marker : {"/tasks", "/restart", "/versions"}) {
      size_t at = rest.rfind(marker);
      if (at != std::string::npos && at > 0 &&
          (rest.size() == at + std::strlen(marker) || rest[at + std::strlen(marker)] == '/')) {
        id = rest.substr(0, at);
        tail = rest.substr(at);
        break;
      }
    }
    std::string norm = normalizeId(id);
    if (norm.empty()) return {404, messageJson("App '" + id + "' does not exist"), {}};
    if (tail.empty()) {
      if (method == "GET") return appGet(norm, query);
      if (method == "PUT" || method == "PATCH") return appPut(norm, body, force, peer, path);
      if (method == "DELETE") return appDelete(norm, force, peer, path);
      return notAllowed();
    }
    if (tail == "/restart") {
      if (method != "POST") return notAllowed();
      return appRestart(norm, force, peer, path);
    }
    if (tail == "/tasks") {
      if (method == "GET") return appTasks(norm);
      if (method == "DELETE") {
        // Every task of the app (on one host with ?host=).
        std::string host = q.count("host") ? q["host"].back() : "";
        std::vector<std::pair<std::string, std::string>> which;
        {
          std::lock_guard lock(mutex_);
          if (apps_.count(norm) == 0) return {404, messageJson("App '" + norm + "' does not exist"), {}};
          for (const auto &[tid, t] : tasks_) {
            if (t.appId == norm && !terminal(t.state) && (host.empty() || t.host == host)) which.emplace_back(norm, tid);
          }
        }
        return tasksKill(which, flag(q, "scale"), force);
      }
      return notAllowed();
    }
    if (text::startsWith(tail, "/tasks/")) {
      if (method != "DELETE") return notAllowed();
      return taskKill(norm, tail.substr(7), flag(q, "scale"));
    }
    if (tail == "/versions" || text::startsWith(tail, "/versions/")) {
      if (method != "GET") return notAllowed();
      {
        std::lock_guard lock(mutex_);
        if (apps_.count(norm) == 0) return {404, messageJson("App '" + norm + "' does not exist"), {}};
      }
      std::string dir = std::string(kVersions) + "/" + appKey(norm);
      if (tail == "/versions") {
        auto names = config_.zk->children(dir);
        std::vector<std::string> versions = names ? *names : std::vector<std::string>{};
        std::sort(versions.rbegin(), versions.rend());  // newest first, as Marathon lists them
        Array::Ptr list = new Array;
        for (const auto &v : versions) list->add(v);
        Object::Ptr o = new Object;
        o->set("versions", list);
        return {200, stringify(o), {}};
      }
      std::string version = tail.substr(10);
      auto data = config_.zk->get(dir + "/" + version);
      if (!data) {
        std::lock_guard lock(mutex_);
        auto it = apps_.find(norm);
        if (it != apps_.end() && it->second.app.version == version) return {200, appJson(it->second.app), {}};
        return {404, messageJson("App '" + norm + "' does not exist in version " + version), {}};
      }
      return {200, data->first, {}};
    }
  }
  if (path == "/v2/tasks") {
    if (method != "GET") return notAllowed();
    return tasksGet(query);
  }
  if (path == "/metrics") {
    // Marathon's metrics (Dropwizard's JSON shape), at /marathon/metrics:
    // the node API's own /metrics is dcosd's.
    std::lock_guard lock(mutex_);
    int running = 0, staged = 0;
    for (const auto &[id, t] : tasks_) {
      running += t.state == "TASK_RUNNING";
      staged += t.state == "TASK_STAGING" || t.state == "TASK_STARTING";
    }
    auto gauge = [](double v) {
      Object::Ptr g = new Object;
      g->set("value", v);
      return g;
    };
    Object::Ptr gauges = new Object;
    gauges->set("marathon.apps.active.gauge", gauge(static_cast<double>(apps_.size())));
    gauges->set("marathon.deployments.active.gauge", gauge(static_cast<double>(deployments_.size())));
    gauges->set("marathon.groups.active.gauge", gauge(static_cast<double>(groups_.size())));
    gauges->set("marathon.instances.running.gauge", gauge(running));
    gauges->set("marathon.instances.staged.gauge", gauge(staged));
    gauges->set("marathon.tasks.running.gauge", gauge(running));
    gauges->set("marathon.tasks.staged.gauge", gauge(staged));
    gauges->set("marathon.http.event-streams.active.gauge", gauge(static_cast<double>(events_.subscribers())));
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("version", std::string("4.0.0"));
    o->set("gauges", gauges);
    for (const char *k : {"counters", "histograms", "meters", "timers"}) o->set(k, Object::Ptr(new Object));
    return {200, stringify(o), {}};
  }
  if (path == "/v2/tasks/delete") {
    if (method != "POST") return notAllowed();
    auto o = parse(body);
    auto ids = o ? o->getArray("ids") : nullptr;
    if (!ids) return {400, messageJson("Invalid JSON: expected {\"ids\": [task ids]}"), {}};
    std::vector<std::pair<std::string, std::string>> which;
    {
      std::lock_guard lock(mutex_);
      for (size_t i = 0; i < ids->size(); ++i) {
        Var v = ids->get(static_cast<unsigned>(i));
        if (!v.isString()) continue;
        auto t = tasks_.find(v.extract<std::string>());
        if (t != tasks_.end()) which.emplace_back(t->second.appId, t->first);
      }
    }
    return tasksKill(which, flag(q, "scale"), force);
  }
  if (path == "/v2/deployments") {
    if (method != "GET") return notAllowed();
    return deploymentsGet();
  }
  if (text::startsWith(path, "/v2/deployments/")) {
    if (method != "DELETE") return notAllowed();
    return deploymentDelete(path.substr(16), force, peer);
  }
  if (path == "/v2/groups" || text::startsWith(path, "/v2/groups/")) {
    std::string raw = path.size() > 10 ? path.substr(10) : "/";
    std::string gid = raw == "/" ? "/" : normalizeId(raw);
    if (gid.empty()) return {404, messageJson("Group '" + raw + "' does not exist"), {}};
    if (method == "GET") return groupsGet(gid, query);
    if (method == "POST") {
      // POST /v2/groups/{id} makes that group (or a subgroup the body names).
      return groupPut(gid, body, true, force, peer, path);
    }
    if (method == "PUT" || method == "PATCH") return groupPut(gid, body, false, force, peer, path);
    if (method == "DELETE") return groupDelete(gid, force, peer, path);
    return notAllowed();
  }
  if (path == "/v2/queue") {
    std::lock_guard lock(mutex_);
    Array::Ptr queue = new Array;
    for (const auto &[appId, why] : queueReasons_) {
      auto a = apps_.find(appId);
      if (a == apps_.end()) continue;
      int active = 0;
      for (const auto &[tid, t] : tasks_) active += t.appId == appId && !terminal(t.state) && !t.killing;
      Object::Ptr item = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      item->set("count", std::max(0, a->second.app.instances - active));
      Object::Ptr delay = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      int64_t left = std::max<int64_t>(0, a->second.delayUntilMs - nowMs());
      delay->set("timeLeftSeconds", static_cast<Poco::Int64>((left + 999) / 1000));
      delay->set("overdue", left == 0);
      item->set("delay", delay);
      item->set("app", parse(appJson(a->second.app)));
      Object::Ptr summary = new Object;
      summary->set("reason", why);
      item->set("processedOffersSummary", summary);
      queue->add(item);
    }
    Object::Ptr o = new Object;
    o->set("queue", queue);
    return {200, stringify(o), {}};
  }
  if (text::startsWith(path, "/v2/queue/") && path.size() > 16 && path.substr(path.size() - 6) == "/delay") {
    if (method != "DELETE") return notAllowed();
    std::string norm = normalizeId(path.substr(10, path.size() - 16));
    std::lock_guard lock(mutex_);
    auto a = apps_.find(norm);
    if (norm.empty() || a == apps_.end()) {
      return {404, messageJson("Application " + path.substr(10, path.size() - 16) + " not found in tasks queue."), {}};
    }
    a->second.delayUntilMs = 0;
    a->second.failures = 0;
    nudge();
    return {204, "", {}};
  }
  return {404, messageJson("no such path: " + path), {}};
}

}  // namespace dcos::scheduler
