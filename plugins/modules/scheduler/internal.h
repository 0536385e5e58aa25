// What the scheduler's parts share: ZooKeeper's layout and small JSON and
// naming helpers. Internal to the scheduler's core; no state.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/text.h"
#include "base/uuid.h"
#include "plugins/modules/scheduler/app.h"

namespace dcos::scheduler::internal {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr const char *kRoot = "/dcos/scheduler";
constexpr const char *kApps = "/dcos/scheduler/apps";
constexpr const char *kTasks = "/dcos/scheduler/tasks";
constexpr const char *kDeployments = "/dcos/scheduler/deployments";
constexpr const char *kLeader = "/dcos/scheduler/leader";
constexpr const char *kElection = "/dcos/scheduler/election";
constexpr int kServicePortFirst = 10000;
constexpr int kServicePortLast = 20000;
constexpr int64_t kKillResendMs = 5000;  // a kill is sent again until the task's end is reported
constexpr int64_t kLaunchTimeoutMs = 300'000;  // Marathon's task_launch_timeout
constexpr const char *kVersions = "/dcos/scheduler/versions";
constexpr const char *kGroups = "/dcos/scheduler/groups";
constexpr size_t kMaxVersions = 50;  // Marathon's zk_max_versions
constexpr size_t kMaxRecordBytes = 768 * 1024;  // a deployment's record, well within a znode's 1 MiB
constexpr int kMaxInstances = 100000;  // as parseApp allows

inline std::string stringify(const Object::Ptr &o) {
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

inline std::string stringify(const Array::Ptr &a) {
  std::ostringstream out;
  a->stringify(out);
  return out.str();
}

inline Object::Ptr parse(const std::string &json) {
  try {
    Var v = Poco::JSON::Parser().parse(json);
    if (v.type() == typeid(Object::Ptr)) return v.extract<Object::Ptr>();
  } catch (const Poco::Exception &) {
  }
  return nullptr;
}

inline std::string messageJson(const std::string &m) { return "{\"message\":" + text::quote(m) + "}"; }

using dcos::newUuid;

// /g/web -> g_web: a znode name and the first part of a task id. Marathon's
// ids never hold an underscore, so it reads back.
inline std::string appKey(const std::string &id) {
  std::string k = id.substr(1);
  std::replace(k.begin(), k.end(), '/', '_');
  return k;
}

inline bool terminal(const std::string &state) {
  return state == "TASK_FINISHED" || state == "TASK_FAILED" || state == "TASK_KILLED" || state == "TASK_LOST" ||
         state == "TASK_GONE" || state == "TASK_ERROR" || state == "TASK_DROPPED" || state == "TASK_GONE_BY_OPERATOR";
}

// Query booleans as clients send them: true, True, 1.
inline bool flag(const std::map<std::string, std::vector<std::string>> &q, const std::string &key) {
  auto it = q.find(key);
  if (it == q.end() || it->second.empty()) return false;
  std::string v = it->second.back();
  return v == "true" || v == "True" || v == "1" || v.empty();
}

// A deployment step's actions as Marathon writes them: [{"action", "app"}]
// (with readinessCheckResults where /v2/deployments shows them).
inline Array::Ptr actionsJson(const std::vector<std::pair<std::string, std::string>> &step, bool readiness = false) {
  Array::Ptr acts = new Array;
  for (const auto &[action, app] : step) {
    Object::Ptr a = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    a->set("action", action);
    a->set("app", app);
    if (readiness) a->set("readinessCheckResults", Array::Ptr(new Array));
    acts->add(a);
  }
  return acts;
}

// A plan's steps: [{"actions": [...]}].
inline Array::Ptr stepsJson(const std::vector<std::vector<std::pair<std::string, std::string>>> &steps) {
  Array::Ptr out = new Array;
  for (const auto &step : steps) {
    Object::Ptr s = new Object;
    s->set("actions", actionsJson(step));
    out->add(s);
  }
  return out;
}

inline std::string problemsJson(const std::vector<Problem> &problems) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("message", std::string("Object is not valid"));
  Array::Ptr details = new Array;
  for (const auto &p : problems) {
    Object::Ptr d = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    d->set("path", p.path.empty() ? std::string("/") : p.path);
    Array::Ptr errors = new Array;
    errors->add(p.message);
    d->set("errors", errors);
    details->add(d);
  }
  o->set("details", details);
  return stringify(o);
}

}  // namespace dcos::scheduler::internal
