#include "plugins/modules/agent/task.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <set>
#include <sstream>

#include "base/text.h"

namespace dcos::agent {

namespace {

struct StateName {
  TaskState state;
  const char *name;
};
constexpr StateName kStates[] = {
    {TaskState::Staging, "TASK_STAGING"}, {TaskState::Starting, "TASK_STARTING"}, {TaskState::Running, "TASK_RUNNING"},
    {TaskState::Finished, "TASK_FINISHED"}, {TaskState::Failed, "TASK_FAILED"}, {TaskState::Killing, "TASK_KILLING"},
    {TaskState::Killed, "TASK_KILLED"}, {TaskState::Lost, "TASK_LOST"}, {TaskState::Gone, "TASK_GONE"},
};

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

std::string describe(const Var &v) {
  if (v.isEmpty()) return "null";
  if (v.type() == typeid(Object::Ptr)) return "an object";
  if (v.type() == typeid(Array::Ptr)) return "an array";
  if (v.isString()) return "a string";
  if (v.isBoolean()) return "a boolean";
  if (v.isNumeric()) return "a number";
  return "a value";
}

// Reads fields of one JSON object, noting every problem under `base`.
class Fields {
 public:
  Fields(Object::Ptr o, std::string base, std::vector<Problem> &problems)
      : o_(std::move(o)), base_(std::move(base)), problems_(problems) {}

  void fail(const std::string &key, const std::string &message) { problems_.push_back({base_ + "/" + key, message}); }
  bool has(const std::string &key) const { return o_->has(key) && !o_->get(key).isEmpty(); }

  std::optional<std::string> string(const std::string &key) {
    if (!has(key)) return std::nullopt;
    Var v = o_->get(key);
    if (!v.isString()) {
      fail(key, "expected a string, found " + describe(v));
      return std::nullopt;
    }
    std::string out = v.extract<std::string>();
    if (out.find('\0') != std::string::npos) {
      fail(key, "contains a NUL character");
      return std::nullopt;
    }
    return out;
  }
  std::optional<double> number(const std::string &key, double min, double max) {
    if (!has(key)) return std::nullopt;
    Var v = o_->get(key);
    if (!v.isNumeric() || v.isBoolean()) {
      fail(key, "expected a number, found " + describe(v));
      return std::nullopt;
    }
    double d = v.convert<double>();
    if (!std::isfinite(d) || d < min || d > max) {
      std::ostringstream m;
      m << "expected a number from " << min << " to " << max << ", found " << d;
      fail(key, m.str());
      return std::nullopt;
    }
    return d;
  }
  std::optional<int> integer(const std::string &key, int min, int max) {
    auto d = number(key, min, max);
    if (!d) return std::nullopt;
    if (std::floor(*d) != *d) {
      fail(key, "expected a whole number");
      return std::nullopt;
    }
    return static_cast<int>(*d);
  }
  std::optional<bool> boolean(const std::string &key) {
    if (!has(key)) return std::nullopt;
    Var v = o_->get(key);
    if (!v.isBoolean()) {
      fail(key, "expected true or false, found " + describe(v));
      return std::nullopt;
    }
    return v.extract<bool>();
  }
  Array::Ptr array(const std::string &key) {
    if (!has(key)) return nullptr;
    Var v = o_->get(key);
    if (v.type() != typeid(Array::Ptr)) {
      fail(key, "expected an array, found " + describe(v));
      return nullptr;
    }
    return v.extract<Array::Ptr>();
  }
  std::optional<std::map<std::string, std::string>> stringMap(const std::string &key) {
    if (!has(key)) return std::nullopt;
    Var v = o_->get(key);
    if (v.type() != typeid(Object::Ptr)) {
      fail(key, "expected an object of strings, found " + describe(v));
      return std::nullopt;
    }
    std::map<std::string, std::string> out;
    auto obj = v.extract<Object::Ptr>();
    for (const auto &name : obj->getNames()) {
      Var value = obj->get(name);
      if (!value.isString()) {
        problems_.push_back({base_ + "/" + key + "/" + name, "expected a string, found " + describe(value)});
        continue;
      }
      std::string text = value.extract<std::string>();
      if (text.find('\0') != std::string::npos || name.find('\0') != std::string::npos) {
        problems_.push_back({base_ + "/" + key + "/" + name, "contains a NUL character"});
        continue;
      }
      out[name] = text;
    }
    return out;
  }

 private:
  Object::Ptr o_;
  std::string base_;
  std::vector<Problem> &problems_;
};

const std::set<std::string> kHealthProtocols = {"HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"};

// A user name as useradd allows it.
bool isUserName(const std::string &u) {
  if (u.empty() || u.size() > 32 || u[0] == '-') return false;
  for (char c : u) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

}  // namespace

const char *stateName(TaskState s) {
  for (const auto &n : kStates) {
    if (n.state == s) return n.name;
  }
  return "TASK_UNKNOWN";
}

std::optional<TaskState> stateFromName(std::string_view name) {
  for (const auto &n : kStates) {
    if (name == n.name) return n.state;
  }
  return std::nullopt;
}

bool isTerminal(TaskState s) {
  return s == TaskState::Finished || s == TaskState::Failed || s == TaskState::Killed || s == TaskState::Lost ||
         s == TaskState::Gone;
}

bool isTaskId(std::string_view id) {
  if (id.empty() || id.size() > 200 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

Result<TaskSpec> parseTaskSpec(const std::string &json, const SpecLimits &limits, std::vector<Problem> &problems) {
  Var parsed;
  try {
    parsed = Poco::JSON::Parser().parse(json);
  } catch (const Poco::Exception &e) {
    return makeError("malformed JSON: " + e.message(), 400);
  }
  if (parsed.type() != typeid(Object::Ptr)) return makeError("expected a JSON object, found " + describe(parsed), 400);
  TaskSpec spec;
  Fields f(parsed.extract<Object::Ptr>(), "", problems);
  if (auto id = f.string("id")) {
    if (!isTaskId(*id)) {
      f.fail("id", "expected 1 to 200 of A-Z a-z 0-9 _ . -, found " + text::quote(*id));
    } else {
      spec.id = *id;
    }
  } else if (!f.has("id")) {
    f.fail("id", "required");
  }
  if (auto cmd = f.string("cmd")) spec.cmd = *cmd;
  if (auto args = f.array("args")) {
    for (size_t i = 0; i < args->size(); ++i) {
      Var a = args->get(static_cast<unsigned>(i));
      if (!a.isString()) {
        problems.push_back({"/args/" + std::to_string(i), "expected a string, found " + describe(a)});
      } else if (a.extract<std::string>().find('\0') != std::string::npos) {
        problems.push_back({"/args/" + std::to_string(i), "contains a NUL character"});
      } else {
        spec.args.push_back(a.extract<std::string>());
      }
    }
  }
  if (spec.cmd.empty() && spec.args.empty() && !f.has("cmd") && !f.has("args")) {
    f.fail("cmd", "a task needs cmd or args");
  } else if (!spec.cmd.empty() && !spec.args.empty()) {
    f.fail("args", "give cmd or args, not both");
  } else if (f.has("cmd") && spec.cmd.empty() && spec.args.empty() && !f.has("args")) {
    f.fail("cmd", "must not be empty");
  }
  if (auto env = f.stringMap("env")) {
    for (const auto &[k, v] : *env) {
      if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos) {
        problems.push_back({"/env/" + k, "not a variable name"});
      }
      spec.env[k] = v;
    }
  }
  // Resources: positive, and within what the agent has at all.
  if (auto cpus = f.number("cpus", 0, 1e6)) spec.cpus = *cpus;
  if (auto mem = f.number("mem", 0, 1e9)) spec.mem = *mem;
  if (auto disk = f.number("disk", 0, 1e12)) spec.disk = *disk;
  auto over = [&](const char *key, double asked, double total, const char *unit) {
    if (total > 0 && asked > total) {
      std::ostringstream m;
      m << "asks for " << asked << unit << ", more than this agent has (" << total << unit << ")";
      f.fail(key, m.str());
    }
  };
  over("cpus", spec.cpus, limits.maxCpus, "");
  over("mem", spec.mem, limits.maxMem, " MiB");
  over("disk", spec.disk, limits.maxDisk, " MiB");
  if (spec.cpus <= 0 && spec.mem <= 0) f.fail("cpus", "a task needs some cpus or mem");
  if (auto ports = f.array("ports")) {
    std::set<int> seen;
    for (size_t i = 0; i < ports->size(); ++i) {
      Var p = ports->get(static_cast<unsigned>(i));
      std::string at = "/ports/" + std::to_string(i);
      if (!p.isNumeric() || p.isBoolean() || p.convert<double>() != std::floor(p.convert<double>()) ||
          p.convert<double>() < 1 || p.convert<double>() > 65535) {
        problems.push_back({at, "expected a port number from 1 to 65535"});
        continue;
      }
      int port = p.convert<int>();
      if (!seen.insert(port).second) problems.push_back({at, "port " + std::to_string(port) + " given twice"});
      spec.ports.push_back(port);
    }
  }
  if (auto names = f.array("portNames")) {
    for (size_t i = 0; i < names->size(); ++i) {
      Var n = names->get(static_cast<unsigned>(i));
      spec.portNames.push_back(n.isString() ? n.extract<std::string>() : "");
    }
    if (spec.portNames.size() != spec.ports.size()) f.fail("portNames", "expected one name per port");
  }
  if (auto user = f.string("user")) {
    if (!isUserName(*user)) {
      f.fail("user", "not a user name: " + text::quote(*user));
    } else {
      spec.user = *user;
    }
  }
  if (auto grace = f.number("killGracePeriodSeconds", 0, 3600)) spec.killGracePeriodSeconds = *grace;
  if (auto app = f.string("appId")) spec.appId = *app;
  if (auto version = f.string("appVersion")) spec.appVersion = *version;
  if (auto labels = f.stringMap("labels")) spec.labels = *labels;
  if (auto checks = f.array("healthChecks")) {
    for (size_t i = 0; i < checks->size(); ++i) {
      Var c = checks->get(static_cast<unsigned>(i));
      std::string at = "/healthChecks/" + std::to_string(i);
      if (c.type() != typeid(Object::Ptr)) {
        problems.push_back({at, "expected an object, found " + describe(c)});
        continue;
      }
      Fields h(c.extract<Object::Ptr>(), at, problems);
      HealthCheck check;
      if (auto p = h.string("protocol")) {
        if (kHealthProtocols.count(*p) == 0) {
          h.fail("protocol", "unknown protocol " + text::quote(*p) + " (known: HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, "
                                                                        "MESOS_HTTPS, MESOS_TCP)");
        }
        check.protocol = *p;
      }
      if (auto p = h.string("path")) check.path = *p;
      if (auto p = h.integer("portIndex", 0, 1000)) check.portIndex = *p;
      if (auto p = h.integer("port", 1, 65535)) check.port = *p;
      if (h.has("command")) {
        // Marathon's shape: {"command": {"value": "..."}}; a plain string too.
        Var cmd = c.extract<Object::Ptr>()->get("command");
        Var value = cmd.type() == typeid(Object::Ptr) ? cmd.extract<Object::Ptr>()->get("value") : cmd;
        if (value.isString() && value.extract<std::string>().find('\0') == std::string::npos) {
          check.command = value.extract<std::string>();
        } else {
          h.fail("command", "expected {\"value\": \"...\"} with a command line");
        }
      }
      if (auto v = h.number("gracePeriodSeconds", 0, 86400)) check.gracePeriodSeconds = *v;
      if (auto v = h.number("intervalSeconds", 0.01, 86400)) check.intervalSeconds = *v;
      if (auto v = h.number("timeoutSeconds", 0.01, 86400)) check.timeoutSeconds = *v;
      if (auto v = h.integer("maxConsecutiveFailures", 0, 1000000)) check.maxConsecutiveFailures = *v;
      if (auto v = h.boolean("ignoreHttp1xx")) check.ignoreHttp1xx = *v;
      bool needsPort = check.protocol != "COMMAND";
      if (needsPort && !check.port && check.portIndex >= static_cast<int>(spec.ports.size())) {
        h.fail("portIndex", "no port at index " + std::to_string(check.portIndex) + " (the task has " +
                                std::to_string(spec.ports.size()) + ")");
      }
      if (check.protocol == "COMMAND" && check.command.empty()) h.fail("command", "a COMMAND check needs a command");
      spec.healthChecks.push_back(check);
    }
  }
  if (!problems.empty()) return makeError("invalid task", 422);
  return spec;
}

std::string taskSpecJson(const TaskSpec &s) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", s.id);
  if (!s.cmd.empty()) o->set("cmd", s.cmd);
  if (!s.args.empty()) {
    Array::Ptr a = new Array;
    for (const auto &x : s.args) a->add(x);
    o->set("args", a);
  }
  Object::Ptr env = new Object;
  for (const auto &[k, v] : s.env) env->set(k, v);
  o->set("env", env);
  o->set("cpus", s.cpus);
  o->set("mem", s.mem);
  o->set("disk", s.disk);
  Array::Ptr ports = new Array;
  for (int p : s.ports) ports->add(p);
  o->set("ports", ports);
  if (!s.portNames.empty()) {
    Array::Ptr names = new Array;
    for (const auto &n : s.portNames) names->add(n);
    o->set("portNames", names);
  }
  if (!s.user.empty()) o->set("user", s.user);
  o->set("killGracePeriodSeconds", s.killGracePeriodSeconds);
  if (!s.appId.empty()) o->set("appId", s.appId);
  if (!s.appVersion.empty()) o->set("appVersion", s.appVersion);
  Object::Ptr labels = new Object;
  for (const auto &[k, v] : s.labels) labels->set(k, v);
  o->set("labels", labels);
  Array::Ptr checks = new Array;
  for (const auto &c : s.healthChecks) {
    Object::Ptr h = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    h->set("protocol", c.protocol);
    h->set("path", c.path);
    h->set("portIndex", c.portIndex);
    if (c.port) h->set("port", *c.port);
    if (!c.command.empty()) {
      Object::Ptr cmd = new Object;
      cmd->set("value", c.command);
      h->set("command", cmd);
    }
    h->set("gracePeriodSeconds", c.gracePeriodSeconds);
    h->set("intervalSeconds", c.intervalSeconds);
    h->set("timeoutSeconds", c.timeoutSeconds);
    h->set("maxConsecutiveFailures", c.maxConsecutiveFailures);
    h->set("ignoreHttp1xx", c.ignoreHttp1xx);
    checks->add(h);
  }
  o->set("healthChecks", checks);
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

std::vector<std::string> taskEnvironment(const TaskSpec &spec, const std::string &host, const std::string &sandbox) {
  std::map<std::string, std::string> env;
  std::string ports;
  for (size_t i = 0; i < spec.ports.size(); ++i) {
    std::string p = std::to_string(spec.ports[i]);
    env["PORT" + std::to_string(i)] = p;
    ports += (i == 0 ? "" : ",") + p;
    if (i < spec.portNames.size() && !spec.portNames[i].empty()) {
      std::string name;
      for (char c : spec.portNames[i]) name += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : '_';
      env["PORT_" + name] = p;
    }
  }
  if (!spec.ports.empty()) {
    env["PORT"] = std::to_string(spec.ports[0]);
    env["PORTS"] = ports;
  }
  env["HOST"] = host;
  env["MESOS_TASK_ID"] = spec.id;
  env["MESOS_SANDBOX"] = sandbox;
  if (!spec.appId.empty()) env["MARATHON_APP_ID"] = spec.appId;
  if (!spec.appVersion.empty()) env["MARATHON_APP_VERSION"] = spec.appVersion;
  env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  for (const auto &[k, v] : spec.env) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto &[k, v] : env) out.push_back(k + "=" + v);
  return out;
}

}  // namespace dcos::agent
