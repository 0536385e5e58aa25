// Deployments (every change to apps, in Marathon's plan shape, with the
// definitions it replaced so it can be rolled back), app versions, groups
// (the tree of grouped ids), and Mesos's view of the cluster
// (/mesos/master/state and /slaves) for tools that read Mesos.
#include <syslog.h>

#include <cmath>

#include "plugins/modules/scheduler/internal.h"
#include "plugins/modules/scheduler/scheduler.h"

namespace dcos::scheduler {

using namespace internal;

namespace {

// Whether `id` is `group` or inside it.
bool within(const std::string &id, const std::string &group) {
  if (group == "/") return true;
  return id == group || (id.size() > group.size() && id.compare(0, group.size(), group) == 0 && id[group.size()] == '/');
}

// Whether app `id` is inside group `group` (an app is never its own group).
bool inGroup(const std::string &id, const std::string &group) { return id != group && within(id, group); }

std::string depJson(const std::string &deploymentId, const std::string &version) {
  return "{\"deploymentId\":\"" + deploymentId + "\",\"version\":\"" + version + "\"}";
}

}  // namespace

std::string Scheduler::newVersion() {
  lastVersionMs_ = std::max(nowMs(), lastVersionMs_ + 1);
  return isoTime(lastVersionMs_);
}

Status Scheduler::storeVersion(const App &app, bool fresh) {
  std::string dir = std::string(kVersions) + "/" + appKey(app.id);
  if (fresh) {
    // A new app: the node of its versions and its first, in one round trip
    // (and no list to trim).
    auto made = config_.zk->writeAll({{coord::Write::Kind::Create, dir, ""},
                                      {coord::Write::Kind::Create, dir + "/" + app.version, appJson(app)}});
    if (made[1]) return Status::Ok();
  }
  if (auto s = config_.zk->ensurePath(dir); !s) return s;
  auto r = config_.zk->create(dir + "/" + app.version, appJson(app), coord::CreateMode::Persistent);
  if (!r && coord::codeOf(r.error()) != coord::Code::NodeExists) return r.error();
  auto names = config_.zk->children(dir);
  if (names && names->size() > kMaxVersions) {
    std::sort(names->begin(), names->end());  // Marathon's times sort as strings
    for (size_t i = 0; i + kMaxVersions < names->size(); ++i) (void)config_.zk->remove(dir + "/" + (*names)[i]);
  }
  return Status::Ok();
}

Status Scheduler::removeVersions(const std::string &appId) {
  std::string dir = std::string(kVersions) + "/" + appKey(appId);
  auto names = config_.zk->children(dir);
  if (!names) return coord::codeOf(names.error()) == coord::Code::NoNode ? Status::Ok() : Status(names.error());
  for (const auto &n : *names) (void)config_.zk->remove(dir + "/" + n);
  auto r = config_.zk->remove(dir);
  if (!r && coord::codeOf(r.error()) != coord::Code::NoNode) return r;
  return Status::Ok();
}

Scheduler::Reply Scheduler::commitFailed(const Error &e, const std::string &what) const {
  if (e.code == 422) return {422, problemsJson({{"/", e.message}}), {}};
  return {503, messageJson(what + ": " + e.message), {}};
}

Result<std::string> Scheduler::commit(std::vector<Change> changes, const std::string &version,
                                      const std::string &peer, const std::string &uri) {
  // The deployment's record keeps every definition it replaces: refused
  // before anything is written when that would not fit in a znode.
  size_t record = 0;
  for (const auto &c : changes) {
    auto it = apps_.find(c.appId);
    record += 256 + c.appId.size() + (it == apps_.end() ? 0 : appJson(it->second.app).size());
  }
  if (record > kMaxRecordBytes) {
    return makeError("the deployment would keep " + std::to_string(record / 1024) +
                         " KiB of earlier definitions, more than a ZooKeeper node holds (" +
                         std::to_string(kMaxRecordBytes / 1024) + " KiB): change fewer apps at once",
                     422);
  }
  Deployment d;
  d.id = newUuid();
  d.version = version;
  std::vector<std::pair<std::string, std::string>> actions;  // (action, app) in the order applied
  Status failed = Status::Ok();
  for (auto &c : changes) {
    auto it = apps_.find(c.appId);
    const bool exists = it != apps_.end();
    Object::Ptr post = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    post->set("clientIp", peer);
    post->set("uri", uri);
    if (!c.target) {
      if (!exists) continue;
      auto r = config_.zk->remove(std::string(kApps) + "/" + appKey(c.appId));
      if (!r && coord::codeOf(r.error()) != coord::Code::NoNode) {
        failed = r;
        break;
      }
      (void)removeVersions(c.appId);
      d.original[c.appId] = appJson(it->second.app);
      for (const auto &p : it->second.app.portDefinitions) servicePorts_.erase(p.port);
      post->set("appDefinition", parse(appJson(it->second.app)));
      apps_.erase(it);
      actions.push_back({"StopApplication", c.appId});
      events_.publish("api_post_event", post);
      Object::Ptr gone = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      gone->set("appId", c.appId);
      events_.publish("app_terminated_event", gone);
      continue;
    }
    App app = *c.target;
    app.id = c.appId;
    app.version = version;
    const App *base = exists ? &it->second.app : nullptr;
    // A port 0 sent back where the app has a service port keeps that port.
    if (base != nullptr) {
      for (size_t i = 0; i < app.portDefinitions.size() && i < base->portDefinitions.size(); ++i) {
        if (app.portDefinitions[i].port == 0) app.portDefinitions[i].port = base->portDefinitions[i].port;
      }
    }
    const bool config = base == nullptr || c.restart || !sameConfig(app, *base);
    app.lastScalingAt = version;
    app.lastConfigChangeAt = config ? version : base->lastConfigChangeAt;
    std::set<int> before = servicePorts_;
    assignServicePorts(app);
    if (auto s = storeApp(app, !exists); !s) {
      servicePorts_ = before;
      failed = s;
      break;
    }
    if (auto s = storeVersion(app, base == nullptr); !s) logMessage(LOG_WARNING, "storing a version of " + app.id + ": " + s.error().message);
    d.original[c.appId] = base != nullptr ? appJson(*base) : "";
    if (base != nullptr) {
      for (const auto &p : base->portDefinitions) {
        bool kept = std::any_of(app.portDefinitions.begin(), app.portDefinitions.end(),
                                [&](const PortDefinition &q) { return q.port == p.port; });
        if (!kept) servicePorts_.erase(p.port);
      }
      if (!config) {
        // A scaling alone keeps the tasks: they run the same definition
        // (stored in one round trip: one each froze the scheduler for
        // seconds when an app of thousands was scaled).
        std::vector<const TaskRecord *> kept;
        for (auto &[tid, t] : tasks_) {
          if (t.appId == c.appId && t.version == base->version) {
            t.version = version;
            kept.push_back(&t);
          }
        }
        storeTasks(kept);
      }
    }
    const std::string action = base == nullptr ? "StartApplication" : config ? "RestartApplication" : "ScaleApplication";
    AppState &st = apps_[c.appId];
    if (config) {
      st.failures = 0;  // a new definition starts without the old one's backoff
      st.delayUntilMs = 0;
    }
    st.app = app;
    st.json.reset();
    actions.push_back({action, c.appId});
    post->set("appDefinition", parse(appJson(app)));
    events_.publish("api_post_event", post);
  }
  if (actions.empty() && !failed) return failed.error();

  // Steps in dependency order: an app after every app (or group) it
  // depends on among those deployed. Removals go first.
  auto dependsOn = [&](const std::string &id) {
    std::vector<std::string> deps;
    auto a = apps_.find(id);
    if (a == apps_.end()) return deps;
    deps = a->second.app.dependencies;
    for (const auto &[gid, gdeps] : groups_) {
      if (!within(id, gid)) continue;
      auto o = parse("{\"d\":" + gdeps + "}");
      auto arr = o ? o->getArray("d") : nullptr;
      for (size_t i = 0; arr && i < arr->size(); ++i) deps.push_back(arr->getElement<std::string>(static_cast<unsigned>(i)));
    }
    return deps;
  };
  std::map<std::string, size_t> level;
  for (size_t round = 0; round < actions.size(); ++round) {
    bool changed = false;
    for (const auto &[action, id] : actions) {
      if (action == "StopApplication") continue;
      for (const auto &dep : dependsOn(id)) {
        for (const auto &[otherAction, other] : actions) {
          if (other == id || !within(other, dep) || otherAction == "StopApplication") continue;
          if (level[id] < level[other] + 1) {
            level[id] = level[other] + 1;
            changed = true;
          }
        }
      }
    }
    if (!changed) break;  // a cycle stops growing after actions.size() rounds
  }
  for (const auto &[action, id] : actions) {
    size_t l = level[id];
    if (d.steps.size() <= l) d.steps.resize(l + 1);
    d.steps[l].push_back({action, id});
    d.affectedApps.push_back(id);
  }
  d.steps.erase(std::remove_if(d.steps.begin(), d.steps.end(), [](const auto &s) { return s.empty(); }), d.steps.end());

  // A deployment that locked these apps (a change forced past it, a
  // rollback) is over: this one takes its place, as Marathon cancels it.
  for (auto it = deployments_.begin(); it != deployments_.end();) {
    bool shared = std::any_of(it->second.affectedApps.begin(), it->second.affectedApps.end(), [&](const std::string &a) {
      return std::find(d.affectedApps.begin(), d.affectedApps.end(), a) != d.affectedApps.end();
    });
    auto r = shared ? config_.zk->remove(std::string(kDeployments) + "/" + it->first) : Status::Ok();
    if (!shared || (!r && coord::codeOf(r.error()) != coord::Code::NoNode)) {
      ++it;
      continue;
    }
    Object::Ptr cancelled = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    cancelled->set("id", it->first);
    cancelled->set("plan", planView(it->second));
    events_.publish("deployment_failed", cancelled);
    logMessage(LOG_NOTICE, "deployment " + it->first + " cancelled by deployment " + d.id);
    it = deployments_.erase(it);
  }

  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("version", version);
  Array::Ptr affected = new Array;
  for (const auto &a : d.affectedApps) affected->add(a);
  o->set("affectedApps", affected);
  Array::Ptr steps = new Array;
  for (const auto &step : d.steps) steps->add(actionsJson(step));  // stored as arrays of actions
  o->set("steps", steps);
  Object::Ptr original = new Object;
  for (const auto &[id, def] : d.original) original->set(id, def.empty() ? Var() : Var(parse(def)));
  o->set("original", original);
  auto stored = config_.zk->create(std::string(kDeployments) + "/" + d.id, stringify(o), coord::CreateMode::Persistent);
  if (!stored) logMessage(LOG_WARNING, "storing deployment " + d.id + ": " + stored.error().message);
  deployments_[d.id] = d;
  Object::Ptr info = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  info->set("plan", planView(d));
  Object::Ptr current = new Object;
  current->set("actions", d.steps.empty() ? Array::Ptr(new Array) : actionsJson(d.steps.front()));
  info->set("currentStep", current);
  events_.publish("deployment_info", info);
  if (!failed) {
    return makeError(failed.error().message + (actions.empty() ? "" : " (the changes before it are made: deployment " + d.id + ")"));
  }
  return d.id;
}

Poco::JSON::Object::Ptr Scheduler::planView(const Deployment &d) const {
  Object::Ptr plan = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  plan->set("id", d.id);
  plan->set("version", d.version);
  plan->set("steps", stepsJson(d.steps));
  // The root group before and after, as far as this deployment goes: the
  // definitions of the apps it changes.
  auto state = [&](bool before) {
    Object::Ptr g = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    g->set("id", std::string("/"));
    Array::Ptr apps = new Array;
    for (const auto &[id, def] : d.original) {
      if (before) {
        if (!def.empty()) apps->add(parse(def));
      } else {
        auto a = apps_.find(id);
        if (a != apps_.end()) apps->add(parse(appJson(a->second.app)));
      }
    }
    g->set("apps", apps);
    g->set("groups", Array::Ptr(new Array));
    g->set("pods", Array::Ptr(new Array));
    g->set("dependencies", Array::Ptr(new Array));
    g->set("version", d.version);
    return g;
  };
  plan->set("original", state(true));
  plan->set("target", state(false));
  return plan;
}

bool Scheduler::appDone(const std::string &appId) const {
  std::vector<TaskRecord *> mine;
  for (const auto &[id, t] : tasks_) {
    if (t.appId == appId) mine.push_back(const_cast<TaskRecord *>(&t));
  }
  return appDone(appId, mine);
}

bool Scheduler::appDone(const std::string &appId, const std::vector<TaskRecord *> &tasks) const {
  auto a = apps_.find(appId);
  int count = 0;
  for (const TaskRecord *task : tasks) {
    const TaskRecord &t = *task;
    if (terminal(t.state) || t.state == "TASK_UNREACHABLE") continue;
    if (a == apps_.end() || t.killing || t.version != a->second.app.version) return false;
    bool ready = t.state == "TASK_RUNNING" &&
                 (a->second.app.healthChecks.empty() || t.healthy == std::optional<bool>(true));
    if (!ready) return false;
    ++count;
  }
  return a == apps_.end() || count == a->second.app.instances;
}

Scheduler::Reply Scheduler::deploymentsGet() const {
  std::lock_guard lock(mutex_);
  Array::Ptr out = new Array;
  for (const auto &[id, d] : deployments_) {
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("id", id);
    o->set("version", d.version);
    Array::Ptr affected = new Array;
    for (const auto &a : d.affectedApps) affected->add(a);
    o->set("affectedApps", affected);
    o->set("affectedPods", Array::Ptr(new Array));
    o->set("steps", stepsJson(d.steps));
    size_t current = std::min(d.stepsDone, d.steps.empty() ? 0 : d.steps.size() - 1);
    o->set("currentActions", d.steps.empty() ? Array::Ptr(new Array) : actionsJson(d.steps[current], true));
    o->set("currentStep", static_cast<int>(current + 1));
    o->set("totalSteps", static_cast<int>(d.steps.size()));
    out->add(o);
  }
  return {200, stringify(out), {}};
}

// DELETE /v2/deployments/{id}: rolled back (a new deployment restores what
// it changed), or with force stopped where it is.
Scheduler::Reply Scheduler::deploymentDelete(const std::string &id, bool force, const std::string &peer) {
  std::lock_guard lock(mutex_);
  auto it = deployments_.find(id);
  if (it == deployments_.end()) return {404, messageJson("DeploymentPlan " + id + " does not exist"), {}};
  Deployment d = it->second;
  // What a rollback puts back, all of it read first: nothing is changed
  // unless every app can be restored.
  std::vector<Change> changes;
  if (!force) {
    for (const auto &[appId, def] : d.original) {
      if (def.empty()) {
        changes.push_back({appId, std::nullopt, false});
        continue;
      }
      std::vector<Problem> problems;
      auto app = parseApp(def, problems);
      if (!app) return {409, messageJson("cannot roll back " + appId + ": its earlier definition does not parse"), {}};
      changes.push_back({appId, *app, false});
    }
  }
  auto end = [&]() -> Status {
    auto r = config_.zk->remove(std::string(kDeployments) + "/" + id);
    if (!r && coord::codeOf(r.error()) != coord::Code::NoNode) return r;
    deployments_.erase(id);
    Object::Ptr failed = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    failed->set("id", id);
    failed->set("plan", planView(d));
    events_.publish("deployment_failed", failed);
    logMessage(LOG_NOTICE, std::string("deployment ") + id + (force ? " stopped" : " rolled back"));
    return Status::Ok();
  };
  if (force) {
    if (auto s = end(); !s) return {503, messageJson("cannot remove the deployment: " + s.error().message), {}};
    return {202, "", {}};
  }
  const std::string version = newVersion();
  auto dep = commit(changes, version, peer, "/v2/deployments/" + id);
  if (!dep) return commitFailed(dep.error(), "cannot roll back");
  if (deployments_.count(id) != 0) (void)end();  // commit() ends it when it shares an app with the rollback
  nudge();
  return {200, depJson(*dep, version), {}};
}

Scheduler::Reply Scheduler::groupsGet(const std::string &id, const std::string &query) const {
  auto q = text::parseQuery(query);
  bool tasks = false, counts = false, deployments = false, lastFailure = false;
  for (const auto &e : q["embed"]) {
    tasks |= e == "group.apps.tasks";
    counts |= e == "group.apps.counts";
    deployments |= e == "group.apps.deployments";
    lastFailure |= e == "group.apps.lastTaskFailure";
  }
  std::lock_guard lock(mutex_);
  // Every group there is: each app's ancestors, and the groups made empty.
  std::set<std::string> groups{"/"};
  auto addWithAncestors = [&](std::string g) {
    while (g != "/" && groups.insert(g).second) g = parentGroup(g);
  };
  for (const auto &[appId, s] : apps_) addWithAncestors(parentGroup(appId));
  for (const auto &[gid, deps] : groups_) addWithAncestors(gid);
  if (groups.count(id) == 0) return {404, messageJson("Group '" + id + "' does not exist"), {}};
  std::function<Object::Ptr(const std::string &)> view = [&](const std::string &gid) {
    Object::Ptr g = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    g->set("id", gid);
    Array::Ptr apps = new Array;
    std::string version;
    for (const auto &[appId, s] : apps_) {
      if (!inGroup(appId, gid)) continue;
      version = std::max(version, s.app.version);
      if (parentGroup(appId) == gid) apps->add(parse(appView(s, tasks, counts, deployments, lastFailure)));
    }
    g->set("apps", apps);
    Array::Ptr children = new Array;
    for (const auto &child : groups) {
      if (child != "/" && child != gid && parentGroup(child) == gid) children->add(view(child));
    }
    g->set("groups", children);
    g->set("pods", Array::Ptr(new Array));
    auto deps = groups_.find(gid);
    auto parsed = deps == groups_.end() ? nullptr : parse("{\"d\":" + deps->second + "}");
    g->set("dependencies", parsed && parsed->getArray("d") ? parsed->getArray("d") : Array::Ptr(new Array));
    g->set("version", version.empty() ? isoTime(nowMs()) : version);
    return g;
  };
  return {200, stringify(view(id)), {}};
}

// POST /v2/groups (create) and PUT /v2/groups/{id} (change): the apps of
// the body, with ids relative to their group, are created or replace
// theirs; with "apps" (or "groups") given, the group's apps (or subgroups)
// the body leaves out are removed. {"scaleBy": f} scales every app in it.
Scheduler::Reply Scheduler::groupPut(const std::string &pathId, const std::string &body, bool create, bool force,
                                     const std::string &peer, const std::string &uri) {
  auto root = parse(body.empty() ? "{}" : body);
  if (!root) return {400, messageJson("Invalid JSON: a group is a JSON object"), {}};
  std::string gid = pathId;
  if (root->has("id") && root->get("id").isString()) {
    std::string raw = root->getValue<std::string>("id");
    std::string why;
    std::string norm = raw.empty() || raw == "/" ? "/" : normalizeId(raw[0] == '/' || gid == "/" ? raw : gid + "/" + raw, &why);
    if (norm.empty()) return {422, problemsJson({{"/id", why}}), {}};
    if (!create && norm != gid) {
      return {422, problemsJson({{"/id", "the id in the body (" + norm + ") is not the path's (" + gid + ")"}}), {}};
    }
    gid = norm;
  } else if (create && gid == "/") {
    return {422, problemsJson({{"/id", "a new group needs an id"}}), {}};
  }
  std::vector<Problem> problems;
  std::map<std::string, App> targets;     // app id to its new definition
  std::set<std::string> coveredApps;      // groups whose apps the body lists: the rest go
  std::set<std::string> coveredGroups;    // groups whose subgroups the body lists
  std::map<std::string, std::string> explicitGroups;  // group id to dependencies JSON
  std::function<void(const Object::Ptr &, const std::string &, const std::string &, int)> walk =
      [&](const Object::Ptr &g, const std::string &id, const std::string &path, int depth) {
        if (depth > 16) {
          problems.push_back({path.empty() ? "/" : path, "groups nest at most 16 deep"});
          return;
        }
        if (g->has("dependencies")) {
          if (id == "/") {
            problems.push_back({path + "/dependencies", "the root group has no dependencies"});
            return;
          }
          std::ostringstream deps;
          Array::Ptr list = g->getArray("dependencies");
          Array::Ptr norm = new Array;
          for (size_t i = 0; list && i < list->size(); ++i) {
            Var v = list->get(static_cast<unsigned>(i));
            std::string why;
            std::string d = v.isString() ? normalizeId(v.extract<std::string>(), &why) : "";
            if (d.empty()) {
              problems.push_back({path + "/dependencies(" + std::to_string(i) + ")", v.isString() ? why : "must be a string"});
            } else {
              norm->add(d);
            }
          }
          if (!list) problems.push_back({path + "/dependencies", "must be an array of ids"});
          norm->stringify(deps);
          explicitGroups[id] = deps.str();
        } else if (id != "/" && groups_.count(id) == 0) {
          explicitGroups.emplace(id, "[]");  // made now, kept while empty; an existing group keeps its dependencies
        }
        if (g->has("apps")) {
          coveredApps.insert(id);
          Array::Ptr apps = g->getArray("apps");
          if (!apps) problems.push_back({path + "/apps", "must be an array of apps"});
          for (size_t i = 0; apps && i < apps->size(); ++i) {
            std::string at = path + "/apps(" + std::to_string(i) + ")";
            Object::Ptr a = apps->getObject(static_cast<unsigned>(i));
            if (!a) {
              problems.push_back({at, "must be an app object"});
              continue;
            }
            std::string appId = a->optValue<std::string>("id", "");
            if (appId.empty()) {
              problems.push_back({at + "/id", "must not be empty"});
              continue;
            }
            if (appId[0] != '/') appId = (id == "/" ? "" : id) + "/" + appId;
            std::string why;
            std::string norm = normalizeId(appId, &why);
            if (norm.empty()) {
              problems.push_back({at + "/id", why});
              continue;
            }
            if (parentGroup(norm) != id) {
              problems.push_back({at + "/id", "app " + norm + " is not in group " + id});
              continue;
            }
            Object::Ptr copy = parse(stringify(a));
            copy->set("id", norm);
            std::vector<Problem> appProblems;
            auto app = parseApp(stringify(copy), appProblems);
            for (const auto &p : appProblems) problems.push_back({at + p.path, p.message});
            if (!app && appProblems.empty()) problems.push_back({at, app.error().message});
            if (app) {
              if (targets.count(norm) != 0) problems.push_back({at + "/id", "app " + norm + " is given twice"});
              targets[norm] = *app;
            }
          }
        }
        if (g->has("groups")) {
          coveredGroups.insert(id);
          Array::Ptr groups = g->getArray("groups");
          if (!groups) problems.push_back({path + "/groups", "must be an array of groups"});
          for (size_t i = 0; groups && i < groups->size(); ++i) {
            std::string at = path + "/groups(" + std::to_string(i) + ")";
            Object::Ptr sub = groups->getObject(static_cast<unsigned>(i));
            std::string subId = sub ? sub->optValue<std::string>("id", "") : "";
            if (!sub || subId.empty()) {
              problems.push_back({at + (sub ? "/id" : ""), sub ? "must not be empty" : "must be a group object"});
              continue;
            }
            if (subId[0] != '/') subId = (id == "/" ? "" : id) + "/" + subId;
            std::string why;
            std::string norm = normalizeId(subId, &why);
            if (norm.empty() || parentGroup(norm) != id) {
              problems.push_back({at + "/id", norm.empty() ? why : "group " + norm + " is not in group " + id});
              continue;
            }
            walk(sub, norm, at, depth + 1);
          }
        }
      };
  try {
    walk(root, gid, "", 0);
  } catch (const Poco::Exception &e) {
    problems.push_back({"/", e.message()});
  }
  std::optional<double> scaleBy;
  if (root->has("scaleBy")) {
    Var v = root->get("scaleBy");
    if (!v.isNumeric() || v.convert<double>() < 0 || v.convert<double>() > 1e4) {
      problems.push_back({"/scaleBy", "must be a number from 0 to 10000"});
    } else {
      scaleBy = v.convert<double>();
    }
  }
  if (!problems.empty()) return {422, problemsJson(problems), {}};

  std::lock_guard lock(mutex_);
  auto exists = [&](const std::string &g) {
    if (groups_.count(g) != 0) return true;
    return std::any_of(apps_.begin(), apps_.end(), [&](const auto &a) { return within(a.first, g) && a.first != g; });
  };
  if (create && exists(gid)) {
    return {409, messageJson("Group " + gid + " is already created. Use PUT to change this group."), {}};
  }
  for (const auto &[id, app] : targets) {
    if (create && apps_.count(id) != 0) return {409, messageJson("An app with id [" + id + "] already exists."), {}};
  }
  std::vector<Change> changes;
  for (const auto &[id, app] : targets) changes.push_back({id, app, false});
  for (const auto &[id, s] : apps_) {
    if (!inGroup(id, gid) || targets.count(id) != 0) continue;
    bool listedGroup = coveredApps.count(parentGroup(id)) != 0;
    // In a subgroup the body leaves out of a "groups" it gives.
    bool droppedGroup = false;
    for (const auto &g : coveredGroups) {
      if (!inGroup(id, g) || parentGroup(id) == g) continue;
      std::string child = id;
      while (parentGroup(child) != g) child = parentGroup(child);
      if (explicitGroups.count(child) == 0) droppedGroup = true;
    }
    if (listedGroup || droppedGroup) {
      changes.push_back({id, std::nullopt, false});
    } else if (scaleBy) {
      App scaled = s.app;
      double instances = std::ceil(scaled.instances * *scaleBy - 1e-9);
      if (instances > kMaxInstances) {
        return {422, problemsJson({{"/scaleBy", "would give " + id + " " + std::to_string(static_cast<long long>(instances)) +
                                                    " instances, more than " + std::to_string(kMaxInstances)}}),
                {}};
      }
      scaled.instances = static_cast<int>(instances);
      changes.push_back({id, scaled, false});
    }
  }
  if (!force) {
    std::vector<std::string> ids;
    for (const auto &c : changes) ids.push_back(c.appId);
    if (auto did = lockingDeployment(ids); !did.empty()) return lockedReply(did);
  }
  const std::string version = newVersion();
  auto dep = commit(changes, version, peer, uri);
  if (!dep) return commitFailed(dep.error(), "cannot store the group");
  for (const auto &[g, deps] : explicitGroups) {
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("id", g);
    o->set("dependencies", parse("{\"d\":" + deps + "}")->getArray("d"));
    std::string path = std::string(kGroups) + "/" + appKey(g);
    auto r = config_.zk->set(path, stringify(o));
    if (!r && coord::codeOf(r.error()) == coord::Code::NoNode) {
      auto c = config_.zk->create(path, stringify(o), coord::CreateMode::Persistent);
      if (!c) return {503, messageJson("the apps are changed (deployment " + *dep + "), but group " + g + " is not stored: " + c.error().message), {}};
    } else if (!r) {
      return {503, messageJson("the apps are changed (deployment " + *dep + "), but group " + g + " is not stored: " + r.error().message), {}};
    }
    groups_[g] = deps;
  }
  // Explicit groups under a subgroup the body's "groups" leaves out go too.
  for (auto it = groups_.begin(); it != groups_.end();) {
    bool dropped = false;
    for (const auto &g : coveredGroups) {
      if (!inGroup(it->first, g) || explicitGroups.count(it->first) != 0) continue;
      std::string child = it->first;
      while (parentGroup(child) != g) child = parentGroup(child);
      if (explicitGroups.count(child) == 0) dropped = true;
    }
    if (dropped && config_.zk->remove(std::string(kGroups) + "/" + appKey(it->first)).ok()) {
      it = groups_.erase(it);
    } else {
      ++it;
    }
  }
  Object::Ptr done = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  done->set("groupId", gid);
  done->set("version", version);
  events_.publish("group_change_success", done);
  nudge();
  return {create ? 201 : 200, depJson(*dep, version), {}};
}

Scheduler::Reply Scheduler::groupDelete(const std::string &gid, bool force, const std::string &peer,
                                        const std::string &uri) {
  std::lock_guard lock(mutex_);
  std::vector<Change> changes;
  for (const auto &[id, s] : apps_) {
    if (inGroup(id, gid)) changes.push_back({id, std::nullopt, false});
  }
  std::vector<std::string> groups;
  for (const auto &[g, deps] : groups_) {
    if (within(g, gid)) groups.push_back(g);
  }
  if (changes.empty() && groups.empty() && gid != "/") {
    return {404, messageJson("Group '" + gid + "' does not exist"), {}};
  }
  if (!force) {
    std::vector<std::string> ids;
    for (const auto &c : changes) ids.push_back(c.appId);
    if (auto did = lockingDeployment(ids); !did.empty()) return lockedReply(did);
  }
  const std::string version = newVersion();
  auto dep = commit(changes, version, peer, uri);
  if (!dep) return commitFailed(dep.error(), "cannot remove the group");
  for (const auto &g : groups) {
    auto r = config_.zk->remove(std::string(kGroups) + "/" + appKey(g));
    if (!r && coord::codeOf(r.error()) != coord::Code::NoNode) {
      return {503, messageJson("the apps are removed (deployment " + *dep + "), but group " + g + " is not: " + r.error().message), {}};
    }
    groups_.erase(g);
  }
  nudge();
  return {200, depJson(*dep, version), {}};
}

// Mesos's /master/state (or /master/slaves alone): the agents with their
// resources, used and total, and the "marathon" framework with its tasks,
// in Mesos's shapes, for tools that read Mesos (Mesos-DNS among them).
Scheduler::Reply Scheduler::mesosState(bool slavesOnly) {
  std::vector<AgentInfo> agents = readAgents();
  std::lock_guard lock(mutex_);
  auto rangesText = [](const std::vector<std::pair<int, int>> &ranges) {
    std::string out = "[";
    for (size_t i = 0; i < ranges.size(); ++i) {
      out += (i ? ", " : "") + std::to_string(ranges[i].first) + "-" + std::to_string(ranges[i].second);
    }
    return out + "]";
  };
  auto portsText = [&](std::vector<int> ports) {
    std::sort(ports.begin(), ports.end());
    std::vector<std::pair<int, int>> ranges;
    for (int p : ports) {
      if (!ranges.empty() && ranges.back().second + 1 == p) {
        ranges.back().second = p;
      } else {
        ranges.emplace_back(p, p);
      }
    }
    return rangesText(ranges);
  };
  struct Used {
    double cpus = 0, mem = 0, disk = 0;
    std::vector<int> ports;
  };
  std::map<std::string, Used> used;
  Array::Ptr tasks = new Array;
  for (const auto &[id, t] : tasks_) {
    if (terminal(t.state)) continue;
    auto a = apps_.find(t.appId);
    Used &u = used[t.agentId];
    double cpus = a == apps_.end() ? 0 : a->second.app.cpus;
    double mem = a == apps_.end() ? 0 : a->second.app.mem;
    double disk = a == apps_.end() ? 0 : a->second.app.disk;
    u.cpus += cpus;
    u.mem += mem;
    u.disk += disk;
    u.ports.insert(u.ports.end(), t.ports.begin(), t.ports.end());
    if (slavesOnly) continue;
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("id", t.id);
    // Marathon names a task by its app's id as a host name: /g/web is web.g.
    std::vector<std::string> segs;
    std::istringstream in(t.appId);
    for (std::string s; std::getline(in, s, '/');) {
      if (!s.empty()) segs.insert(segs.begin(), s);
    }
    o->set("name", text::join(segs, "."));
    o->set("framework_id", std::string("dcos-marathon"));
    o->set("executor_id", std::string(""));
    o->set("slave_id", t.agentId);
    o->set("state", t.state);
    Object::Ptr res = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    res->set("cpus", cpus);
    res->set("mem", mem);
    res->set("disk", disk);
    res->set("ports", portsText(t.ports));
    o->set("resources", res);
    Array::Ptr statuses = new Array;
    Object::Ptr st = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    st->set("state", t.state);
    st->set("timestamp", static_cast<double>(t.startedAtMs != 0 ? t.startedAtMs : t.stagedAtMs) / 1000.0);
    Object::Ptr ip = new Object;
    ip->set("ip_address", t.host);
    Array::Ptr ips = new Array;
    ips->add(ip);
    Object::Ptr ni = new Object;
    ni->set("ip_addresses", ips);
    Array::Ptr nis = new Array;
    nis->add(ni);
    Object::Ptr cs = new Object;
    cs->set("network_infos", nis);
    st->set("container_status", cs);
    statuses->add(st);
    o->set("statuses", statuses);
    Array::Ptr labels = new Array;
    Object::Ptr discovery = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    discovery->set("visibility", std::string("FRAMEWORK"));
    discovery->set("name", text::join(segs, "."));
    Array::Ptr dports = new Array;
    if (a != apps_.end()) {
      for (const auto &[k, v] : a->second.app.labels) {
        Object::Ptr l = new Object;
        l->set("key", k);
        l->set("value", v);
        labels->add(l);
      }
      for (size_t i = 0; i < t.ports.size() && i < a->second.app.portDefinitions.size(); ++i) {
        Object::Ptr p = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        p->set("number", t.ports[i]);
        if (!a->second.app.portDefinitions[i].name.empty()) p->set("name", a->second.app.portDefinitions[i].name);
        p->set("protocol", a->second.app.portDefinitions[i].protocol);
        dports->add(p);
      }
    }
    Object::Ptr portsObj = new Object;
    portsObj->set("ports", dports);
    discovery->set("ports", portsObj);
    o->set("discovery", discovery);
    Object::Ptr labelsObj = new Object;
    labelsObj->set("labels", labels);
    o->set("labels", labelsObj);
    tasks->add(o);
  }
  Array::Ptr slaves = new Array;
  for (const auto &a : agents) {
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("id", a.id);
    o->set("pid", "slave(1)@" + a.api);
    o->set("hostname", a.hostname);
    o->set("port", std::atoi(a.api.substr(a.api.rfind(':') + 1).c_str()));
    Object::Ptr attrs = new Object;
    for (const auto &[k, v] : a.attributes) attrs->set(k, v);
    o->set("attributes", attrs);
    auto resources = [&](double cpus, double mem, double disk, const std::string &ports) {
      Object::Ptr r = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      r->set("cpus", cpus);
      r->set("mem", mem);
      r->set("disk", disk);
      r->set("ports", ports);
      return r;
    };
    const Used &u = used[a.id];
    o->set("resources", resources(a.cpus, a.mem, a.disk, rangesText(a.ports)));
    o->set("used_resources", resources(u.cpus, u.mem, u.disk, portsText(u.ports)));
    o->set("offered_resources", resources(0, 0, 0, "[]"));
    o->set("unreserved_resources", resources(a.cpus, a.mem, a.disk, rangesText(a.ports)));
    Object::Ptr reserved = new Object;
    if (a.resourceRole != "*") reserved->set(a.resourceRole, resources(a.cpus, a.mem, a.disk, rangesText(a.ports)));
    o->set("reserved_resources", reserved);
    o->set("active", true);
    o->set("version", std::string("1.10.0"));
    slaves->add(o);
  }
  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  if (slavesOnly) {
    out->set("slaves", slaves);
    out->set("recovered_slaves", Array::Ptr(new Array));
    return {200, stringify(out), {}};
  }
  out->set("version", std::string("1.10.0"));
  out->set("id", std::string("dcos"));
  out->set("pid", "master@" + config_.address);
  out->set("hostname", config_.hostname);
  out->set("activated_slaves", static_cast<int>(agents.size()));
  out->set("deactivated_slaves", 0);
  out->set("leader", "master@" + config_.address);
  Object::Ptr leaderInfo = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  leaderInfo->set("hostname", config_.hostname);
  leaderInfo->set("ip", config_.address.substr(0, config_.address.rfind(':')));
  leaderInfo->set("port", std::atoi(config_.address.substr(config_.address.rfind(':') + 1).c_str()));
  out->set("leader_info", leaderInfo);
  out->set("slaves", slaves);
  Object::Ptr fw = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  fw->set("id", std::string("dcos-marathon"));
  fw->set("name", std::string("marathon"));
  fw->set("pid", "scheduler@" + config_.address);
  fw->set("hostname", config_.hostname);
  fw->set("webui_url", "http://" + config_.address);
  fw->set("active", true);
  fw->set("role", std::string("*"));
  fw->set("tasks", tasks);
  fw->set("completed_tasks", Array::Ptr(new Array));
  Array::Ptr frameworks = new Array;
  frameworks->add(fw);
  out->set("frameworks", frameworks);
  out->set("completed_frameworks", Array::Ptr(new Array));
  out->set("unregistered_frameworks", Array::Ptr(new Array));
  return {200, stringify(out), {}};
}

}  // namespace dcos::scheduler
