#include "plugins/modules/scheduler/app.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <set>
#include <sstream>

#include "base/text.h"

namespace dcos::scheduler {

namespace {

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

// Reads the fields of one JSON object, noting every problem at Marathon's
// path of the field ("/healthChecks(0)/portIndex").
class Fields {
 public:
  Fields(Object::Ptr o, std::string base, std::vector<Problem> &problems)
      : o_(std::move(o)), base_(std::move(base)), problems_(problems) {}

  std::string at(const std::string &key) const { return base_ + "/" + key; }
  void fail(const std::string &key, const std::string &message) { problems_.push_back({at(key), message}); }
  bool has(const std::string &key) const { return o_->has(key) && !o_->get(key).isEmpty(); }

  std::optional<std::string> string(const std::string &key) {
    if (!has(key)) return std::nullopt;
    Var v = o_->get(key);
    if (!v.isString()) {
      fail(key, "error.expected.jsstring (found " + describe(v) + ")");
      return std::nullopt;
    }
    std::string out = v.extract<std::string>();
    if (out.find('\0') != std::string::npos) {
      fail(key, "must not contain a NUL character");
      return std::nullopt;
    }
    return out;
  }
  std::optional<double> number(const std::string &key, double min, double max) {
    if (!has(key)) return std::nullopt;
    Var v = o_->get(key);
    if (!v.isNumeric() || v.isBoolean()) {
      fail(key, "error.expected.jsnumber (found " + describe(v) + ")");
      return std::nullopt;
    }
    double d = v.convert<double>();
    if (!std::isfinite(d) || d < min || d > max) {
      std::ostringstream m;
      m << "must be between " << min << " and " << max << ", got " << d;
      fail(key, m.str());
      return std::nullopt;
    }
    return d;
  }
  std::optional<int> integer(const std::string &key, int min, int max) {
    auto d = number(key, min, max);
    if (!d) return std::nullopt;
    if (std::floor(*d) != *d) {
      fail(key, "must be a whole number");
      return std::nullopt;
    }
    return static_cast<int>(*d);
  }
  std::optional<bool> boolean(const std::string &key) {
    if (!has(key)) return std::nullopt;
    Var v = o_->get(key);
    if (!v.isBoolean()) {
      fail(key, "error.expected.jsboolean (found " + describe(v) + ")");
      return std::nullopt;
    }
    return v.extract<bool>();
  }
  Array::Ptr array(const std::string &key) {
    if (!has(key)) return nullptr;
    Var v = o_->get(key);
    if (v.type() != typeid(Array::Ptr)) {
      fail(key, "error.expected.jsarray (found " + describe(v) + ")");
      return nullptr;
    }
    return v.extract<Array::Ptr>();
  }
  Object::Ptr object(const std::string &key) {
    if (!has(key)) return nullptr;
    Var v = o_->get(key);
    if (v.type() != typeid(Object::Ptr)) {
      fail(key, "error.expected.jsobject (found " + describe(v) + ")");
      return nullptr;
    }
    return v.extract<Object::Ptr>();
  }
  // An object of strings (env, labels): numbers and booleans are refused,
  // as Marathon refuses them (env values that are objects are secrets).
  std::optional<std::map<std::string, std::string>> strings(const std::string &key) {
    auto o = object(key);
    if (!o) return std::nullopt;
    std::map<std::string, std::string> out;
    for (const auto &[k, v] : *o) {
      if (!v.isString()) {
        problems_.push_back({at(key) + "(" + k + ")", v.type() == typeid(Object::Ptr) && key == "env"
                                                          ? "secrets are not supported by this cluster"
                                                          : "error.expected.jsstring (found " + describe(v) + ")"});
        continue;
      }
      std::string s = v.extract<std::string>();
      if (s.find('\0') != std::string::npos || k.find('\0') != std::string::npos) {
        problems_.push_back({at(key) + "(" + k + ")", "must not contain a NUL character"});
        continue;
      }
      out[k] = s;
    }
    return out;
  }
  std::optional<std::vector<std::string>> stringList(const std::string &key) {
    auto a = array(key);
    if (!a) return std::nullopt;
    std::vector<std::string> out;
    for (size_t i = 0; i < a->size(); ++i) {
      Var v = a->get(static_cast<unsigned>(i));
      if (!v.isString()) {
        problems_.push_back({at(key) + "(" + std::to_string(i) + ")", "error.expected.jsstring (found " + describe(v) + ")"});
        continue;
      }
      out.push_back(v.extract<std::string>());
    }
    return out;
  }
  Object::Ptr raw() const { return o_; }
  const std::string &base() const { return base_; }

 private:
  Object::Ptr o_;
  std::string base_;
  std::vector<Problem> &problems_;
};

bool validSegment(const std::string &s) {
  if (s == "." || s == "..") return true;
  if (s.empty()) return false;
  // (([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])
  std::istringstream parts(s);
  size_t count = 0;
  for (std::string p; std::getline(parts, p, '.');) {
    ++count;
    if (p.empty()) return false;
    if (p.front() == '-' || p.back() == '-') return false;
    for (char c : p) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
  }
  return count > 0 && s.back() != '.';
}

// Poco's parse errors quote the byte they stopped at ("unexpected byte
// '\x9c' in value"): bytes that are not printable ASCII are written as \xNN,
// so that the message, put in a JSON answer, is valid UTF-8.
std::string printable(const std::string &message) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : message) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
  return out;
}

// An app is stored as one znode, again as a version, and in the record of
// a deployment that replaces it; ZooKeeper takes at most 1 MiB a znode. A
// small body can be a big app (an empty health check is 3 bytes in, 150
// written out): the limit is on what is stored.
constexpr size_t kMaxDefinitionBytes = 512 * 1024;

const std::set<std::string> kHealthProtocols = {"HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS",
                                                "MESOS_TCP"};
const std::set<std::string> kOperators = {"UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"};


}  // namespace

std::string normalizeId(const std::string &id, std::string *why) {
  if (id.empty()) {
    if (why != nullptr) *why = "must not be empty";
    return "";
  }
  std::vector<std::string> out;
  std::istringstream parts(id);
  for (std::string seg; std::getline(parts, seg, '/');) {
    if (seg.empty()) continue;
    if (!validSegment(seg)) {
      if (why != nullptr) {
        *why = "'" + seg +
               "' must fully match the regular expression "
               "^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$";
      }
      return "";
    }
    if (seg == ".") continue;
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(seg);
  }
  if (out.empty()) {
    if (why != nullptr) *why = "an app id names the app, not the root group";
    return "";
  }
  std::string joined;
  for (const auto &s : out) joined += "/" + s;
  return joined;
}

std::string parentGroup(const std::string &id) {
  size_t slash = id.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : id.substr(0, slash);
}

Result<App> parseApp(const std::string &json, std::vector<Problem> &problems, const App *base) {
  Object::Ptr root;
  try {
    Var v = Poco::JSON::Parser().parse(json);
    if (v.type() != typeid(Object::Ptr)) return makeError("Invalid JSON: an app definition is a JSON object", 400);
    root = v.extract<Object::Ptr>();
  } catch (const Poco::Exception &e) {
    return makeError("Invalid JSON: " + printable(e.message()), 400);
  }
  App app = base != nullptr ? *base : App{};
  Fields f(root, "", problems);
  if (auto id = f.string("id")) {
    std::string why;
    std::string norm = normalizeId(*id, &why);
    if (norm.empty()) {
      f.fail("id", why);
    } else if (norm.size() > 160) {
      // A task id is the id (slashes as underscores), a dot and a uuid;
      // the agents take ids up to 200 characters.
      f.fail("id", "must be at most 160 characters long");
    } else if (base != nullptr && norm != base->id) {
      f.fail("id", "the id of an app cannot change (it is " + base->id + ")");
    } else {
      app.id = norm;
    }
  } else if (base == nullptr && !f.has("id")) {
    f.fail("id", "error.path.missing");
  }
  if (f.has("cmd")) app.cmd = f.string("cmd");
  if (f.has("args")) app.args = f.stringList("args");
  if (root->has("cmd") && root->get("cmd").isEmpty()) app.cmd.reset();
  if (root->has("args") && root->get("args").isEmpty()) app.args.reset();
  if (auto u = f.string("user")) app.user = *u;
  if (auto e = f.strings("env")) app.env = *e;
  if (auto n = f.integer("instances", 0, 100000)) app.instances = *n;
  if (auto c = f.number("cpus", 0, 1e6)) app.cpus = *c;
  if (auto m = f.number("mem", 0, 1e9)) app.mem = *m;
  if (auto d = f.number("disk", 0, 1e12)) app.disk = *d;
  // No GPUs on this cluster's agents: any but 0 is refused by the range.
  if (auto g = f.number("gpus", 0, 0)) app.gpus = *g;
  if (auto r = f.boolean("requirePorts")) app.requirePorts = *r;
  if (auto l = f.strings("labels")) app.labels = *l;
  if (auto r = f.stringList("acceptedResourceRoles")) {
    app.acceptedResourceRoles = *r;
    for (size_t i = 0; i < r->size(); ++i) {
      if ((*r)[i] != "*" && (*r)[i] != "slave_public") {
        problems.push_back({"/acceptedResourceRoles(" + std::to_string(i) + ")",
                            "unknown resource role " + text::quote((*r)[i]) + " (known: *, slave_public)"});
      }
    }
    if (r->empty()) problems.push_back({"/acceptedResourceRoles", "must not be empty"});
  }
  if (auto d = f.stringList("dependencies")) {
    app.dependencies.clear();
    for (size_t i = 0; i < d->size(); ++i) {
      std::string why;
      // Relative ids ("db", "../db") are read from the app's group, as
      // Marathon reads them.
      const std::string &raw = (*d)[i];
      std::string group = app.id.empty() ? "/" : parentGroup(app.id);
      std::string norm = normalizeId(raw.empty() || raw[0] == '/' ? raw : (group == "/" ? "" : group) + "/" + raw, &why);
      if (norm.empty()) {
        problems.push_back({"/dependencies(" + std::to_string(i) + ")", why});
      } else {
        app.dependencies.push_back(norm);
      }
    }
  }
  if (auto b = f.number("backoffSeconds", 0, 1e7)) app.backoffSeconds = *b;
  if (auto b = f.number("backoffFactor", 1, 1e3)) app.backoffFactor = *b;
  if (auto b = f.number("maxLaunchDelaySeconds", 0, 1e7)) app.maxLaunchDelaySeconds = *b;
  if (auto g = f.number("taskKillGracePeriodSeconds", 0, 86400)) app.taskKillGracePeriodSeconds = *g;
  if (auto k = f.string("killSelection")) {
    if (*k != "YOUNGEST_FIRST" && *k != "OLDEST_FIRST") {
      f.fail("killSelection", "must be YOUNGEST_FIRST or OLDEST_FIRST");
    } else {
      app.killSelection = *k;
    }
  }
  if (auto u = f.object("upgradeStrategy")) {
    Fields uf(u, "/upgradeStrategy", problems);
    if (auto m = uf.number("minimumHealthCapacity", 0, 1)) app.minimumHealthCapacity = *m;
    if (auto m = uf.number("maximumOverCapacity", 0, 1)) app.maximumOverCapacity = *m;
  }
  if (f.has("unreachableStrategy") && root->get("unreachableStrategy").isString() &&
      root->get("unreachableStrategy").extract<std::string>() == "disabled") {
    // Marathon's other spelling: replaced at once.
    app.inactiveAfterSeconds = 0;
    app.expungeAfterSeconds = 0;
  } else if (auto u = f.object("unreachableStrategy")) {
    Fields uf(u, "/unreachableStrategy", problems);
    if (auto v = uf.number("inactiveAfterSeconds", 0, 1e7)) app.inactiveAfterSeconds = *v;
    if (auto v = uf.number("expungeAfterSeconds", 0, 1e7)) app.expungeAfterSeconds = *v;
  }

  // Ports: portDefinitions, or the older ports list (not both).
  // Both, as a client sends back what a GET gave: they must agree.
  if (f.has("portDefinitions") && f.has("ports")) {
    auto pd = root->getArray("portDefinitions");
    auto ps = root->getArray("ports");
    bool agree = pd && ps && pd->size() == ps->size();
    for (size_t i = 0; agree && i < pd->size(); ++i) {
      auto d = pd->getObject(static_cast<unsigned>(i));
      Var port = ps->get(static_cast<unsigned>(i));
      agree = d && port.isNumeric() && !port.isBoolean() && d->has("port") && d->get("port").isNumeric() &&
              d->get("port").convert<double>() == port.convert<double>();
    }
    if (!agree) problems.push_back({"/", "You cannot specify both ports and port definitions"});
  }
  if (auto pd = f.array("portDefinitions")) {
    app.portDefinitions.clear();
    for (size_t i = 0; i < pd->size(); ++i) {
      std::string at = "/portDefinitions(" + std::to_string(i) + ")";
      Var v = pd->get(static_cast<unsigned>(i));
      if (v.type() != typeid(Object::Ptr)) {
        problems.push_back({at, "error.expected.jsobject (found " + describe(v) + ")"});
        continue;
      }
      Fields pf(v.extract<Object::Ptr>(), at, problems);
      PortDefinition p;
      if (auto n = pf.integer("port", 0, 65535)) p.port = *n;
      if (auto pr = pf.string("protocol")) {
        if (*pr != "tcp" && *pr != "udp" && *pr != "udp,tcp" && *pr != "tcp,udp") {
          pf.fail("protocol", "must be tcp, udp or udp,tcp");
        } else {
          p.protocol = *pr;
        }
      }
      if (auto nm = pf.string("name")) p.name = *nm;
      if (auto l = pf.strings("labels")) p.labels = *l;
      app.portDefinitions.push_back(p);
    }
  } else if (auto ports = f.array("ports")) {
    app.portDefinitions.clear();
    for (size_t i = 0; i < ports->size(); ++i) {
      Var v = ports->get(static_cast<unsigned>(i));
      double d = v.isNumeric() && !v.isBoolean() ? v.convert<double>() : -1;
      if (d < 0 || d > 65535 || std::floor(d) != d) {
        problems.push_back({"/ports(" + std::to_string(i) + ")", "must be a port number from 0 to 65535"});
        continue;
      }
      PortDefinition p;
      p.port = static_cast<int>(d);
      app.portDefinitions.push_back(p);
    }
  }
  {
    std::set<int> fixed;
    std::set<std::string> names;
    for (size_t i = 0; i < app.portDefinitions.size(); ++i) {
      const auto &p = app.portDefinitions[i];
      if (p.port != 0 && !fixed.insert(p.port).second) {
        problems.push_back({"/portDefinitions(" + std::to_string(i) + ")/port", "ports must be unique"});
      }
      if (!p.name.empty() && !names.insert(p.name).second) {
        problems.push_back({"/portDefinitions(" + std::to_string(i) + ")/name", "port names must be unique"});
      }
    }
  }

  if (auto hcs = f.array("healthChecks")) {
    app.healthChecks.clear();
    for (size_t i = 0; i < hcs->size(); ++i) {
      std::string at = "/healthChecks(" + std::to_string(i) + ")";
      Var v = hcs->get(static_cast<unsigned>(i));
      if (v.type() != typeid(Object::Ptr)) {
        problems.push_back({at, "error.expected.jsobject (found " + describe(v) + ")"});
        continue;
      }
      Fields hf(v.extract<Object::Ptr>(), at, problems);
      HealthCheck h;
      if (auto p = hf.string("protocol")) {
        if (kHealthProtocols.count(*p) == 0) {
          hf.fail("protocol", "unknown protocol " + text::quote(*p));
        } else {
          h.protocol = *p;
        }
      }
      if (auto p = hf.string("path")) h.path = *p;
      if (auto n = hf.integer("portIndex", 0, 1000)) h.portIndex = *n;
      if (auto n = hf.integer("port", 1, 65535)) h.port = *n;
      if (auto cmd = hf.object("command")) {
        Fields cf(cmd, at + "/command", problems);
        if (auto value = cf.string("value")) h.command = *value;
      }
      if (auto n = hf.integer("gracePeriodSeconds", 0, 1000000)) h.gracePeriodSeconds = *n;
      if (auto n = hf.integer("intervalSeconds", 1, 1000000)) h.intervalSeconds = *n;
      if (auto n = hf.integer("timeoutSeconds", 1, 1000000)) h.timeoutSeconds = *n;
      if (auto n = hf.integer("maxConsecutiveFailures", 0, 1000000)) h.maxConsecutiveFailures = *n;
      if (auto b = hf.boolean("ignoreHttp1xx")) h.ignoreHttp1xx = *b;
      if (h.protocol == "COMMAND" && h.command.empty()) {
        problems.push_back({at + "/command", "a COMMAND health check needs command.value"});
      }
      app.healthChecks.push_back(h);
    }
  }
  // Checked against the ports the app ends with: a change that names only
  // the ports must not leave the health checks it keeps pointing past them.
  for (size_t i = 0; i < app.healthChecks.size(); ++i) {
    const auto &h = app.healthChecks[i];
    if (h.protocol != "COMMAND" && !h.port && h.portIndex >= static_cast<int>(app.portDefinitions.size())) {
      problems.push_back({"/healthChecks(" + std::to_string(i) + ")/portIndex",
                          "Health check port indices must address an element of the ports array or container port "
                          "mappings."});
    }
  }
  if (auto cs = f.array("constraints")) {
    app.constraints.clear();
    for (size_t i = 0; i < cs->size(); ++i) {
      std::string at = "/constraints(" + std::to_string(i) + ")";
      Var v = cs->get(static_cast<unsigned>(i));
      if (v.type() != typeid(Array::Ptr)) {
        problems.push_back({at, "a constraint is [field, operator] or [field, operator, value]"});
        continue;
      }
      auto a = v.extract<Array::Ptr>();
      std::vector<std::string> parts;
      bool strings = true;
      for (size_t k = 0; k < a->size(); ++k) {
        Var e = a->get(static_cast<unsigned>(k));
        strings = strings && e.isString() && !e.extract<std::string>().empty();
        parts.push_back(strings ? e.extract<std::string>() : std::string());
      }
      if (!strings || parts.size() < 2 || parts.size() > 3) {
        problems.push_back({at, "a constraint is [field, operator] or [field, operator, value]"});
        continue;
      }
      Constraint c{parts[0], parts[1], parts.size() == 3 ? parts[2] : ""};
      if (kOperators.count(c.op) == 0) {
        problems.push_back({at, "Constraint operator must be one of the following: [UNIQUE, CLUSTER, GROUP_BY, LIKE, "
                                "UNLIKE, MAX_PER, IS]"});
        continue;
      }
      if ((c.op == "LIKE" || c.op == "UNLIKE" || c.op == "CLUSTER" || c.op == "MAX_PER" || c.op == "IS") &&
          parts.size() != 3) {
        problems.push_back({at, c.op + " needs a value"});
        continue;
      }
      if (c.op == "MAX_PER") {
        bool digits = !c.value.empty() && c.value.size() <= 6 && c.value.find_first_not_of("0123456789") == std::string::npos;
        if (!digits) problems.push_back({at, "MAX_PER takes a whole number up to 999999"});
      }
      app.constraints.push_back(c);
    }
  }
  // What this cluster cannot honour is named, never ignored.
  if (auto c = f.object("container")) {
    if (c->has("docker") || c->optValue<std::string>("type", "MESOS") == "DOCKER") {
      problems.push_back({"/container/docker", "this cluster has no container runtime: docker containers cannot run"});
    }
    if (auto vols = c->getArray("volumes"); vols && vols->size() > 0) {
      problems.push_back({"/container/volumes", "volumes are not supported by this cluster"});
    }
  }
  if (f.has("secrets")) {
    if (auto s = f.object("secrets"); s && s->size() > 0) {
      problems.push_back({"/secrets", "secrets are not supported by this cluster"});
    }
  }
  if (f.has("residency")) problems.push_back({"/residency", "persistent volumes are not supported by this cluster"});

  if (app.cmd && app.args) problems.push_back({"/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."});
  if (!app.cmd && !app.args) problems.push_back({"/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."});
  if (app.args && app.args->empty()) problems.push_back({"/args", "must not be empty"});
  if (app.cmd && app.cmd->empty()) problems.push_back({"/cmd", "must not be empty"});
  if (problems.empty()) {
    size_t stored = appJson(app).size();
    if (stored > kMaxDefinitionBytes) {
      problems.push_back({"/", "the app definition is " + std::to_string(stored) + " bytes as stored, over the limit of " +
                                   std::to_string(kMaxDefinitionBytes)});
    }
  }
  if (!problems.empty()) return makeError("Object is not valid", 422);
  return app;
}

namespace {

Object::Ptr stringsObject(const std::map<std::string, std::string> &m) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const auto &[k, v] : m) o->set(k, v);
  return o;
}

Object::Ptr definitionObject(const App &a) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", a.id);
  if (a.cmd) o->set("cmd", *a.cmd); else o->set("cmd", Var());
  if (a.args) {
    Array::Ptr args = new Array;
    for (const auto &s : *a.args) args->add(s);
    o->set("args", args);
  } else {
    o->set("args", Var());
  }
  o->set("user", a.user.empty() ? Var() : Var(a.user));
  o->set("env", stringsObject(a.env));
  o->set("instances", a.instances);
  o->set("cpus", a.cpus);
  o->set("mem", a.mem);
  o->set("disk", a.disk);
  o->set("gpus", a.gpus);
  o->set("executor", std::string());
  Array::Ptr constraints = new Array;
  for (const auto &c : a.constraints) {
    Array::Ptr one = new Array;
    one->add(c.field);
    one->add(c.op);
    if (!c.value.empty()) one->add(c.value);
    constraints->add(one);
  }
  o->set("constraints", constraints);
  o->set("uris", Array::Ptr(new Array));
  o->set("fetch", Array::Ptr(new Array));
  o->set("storeUrls", Array::Ptr(new Array));
  o->set("backoffSeconds", a.backoffSeconds);
  o->set("backoffFactor", a.backoffFactor);
  o->set("maxLaunchDelaySeconds", a.maxLaunchDelaySeconds);
  o->set("container", Var());
  Array::Ptr hcs = new Array;
  for (const auto &h : a.healthChecks) {
    Object::Ptr ho = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    ho->set("gracePeriodSeconds", h.gracePeriodSeconds);
    ho->set("intervalSeconds", h.intervalSeconds);
    ho->set("maxConsecutiveFailures", h.maxConsecutiveFailures);
    if (h.port) {
      ho->set("port", *h.port);
    } else if (h.protocol != "COMMAND") {
      ho->set("portIndex", h.portIndex);
    }
    ho->set("timeoutSeconds", h.timeoutSeconds);
    ho->set("protocol", h.protocol);
    if (h.protocol == "HTTP" || h.protocol == "HTTPS" || h.protocol == "MESOS_HTTP" || h.protocol == "MESOS_HTTPS") {
      ho->set("path", h.path);
      ho->set("ignoreHttp1xx", h.ignoreHttp1xx);
    }
    if (h.protocol == "COMMAND") {
      Object::Ptr cmd = new Object;
      cmd->set("value", h.command);
      ho->set("command", cmd);
    }
    hcs->add(ho);
  }
  o->set("healthChecks", hcs);
  o->set("readinessChecks", Array::Ptr(new Array));
  Array::Ptr deps = new Array;
  for (const auto &d : a.dependencies) deps->add(d);
  o->set("dependencies", deps);
  Object::Ptr up = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  up->set("minimumHealthCapacity", a.minimumHealthCapacity);
  up->set("maximumOverCapacity", a.maximumOverCapacity);
  o->set("upgradeStrategy", up);
  o->set("labels", stringsObject(a.labels));
  Array::Ptr roles = new Array;
  if (a.acceptedResourceRoles.empty()) {
    roles->add(std::string("*"));
  } else {
    for (const auto &r : a.acceptedResourceRoles) roles->add(r);
  }
  o->set("acceptedResourceRoles", roles);
  o->set("version", a.version);
  Object::Ptr vi = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  vi->set("lastScalingAt", a.lastScalingAt.empty() ? a.version : a.lastScalingAt);
  vi->set("lastConfigChangeAt", a.lastConfigChangeAt.empty() ? a.version : a.lastConfigChangeAt);
  o->set("versionInfo", vi);
  o->set("killSelection", a.killSelection);
  Object::Ptr unreachable = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  unreachable->set("inactiveAfterSeconds", a.inactiveAfterSeconds);
  unreachable->set("expungeAfterSeconds", a.expungeAfterSeconds);
  o->set("unreachableStrategy", unreachable);
  o->set("taskKillGracePeriodSeconds", a.taskKillGracePeriodSeconds);
  o->set("requirePorts", a.requirePorts);
  Array::Ptr ports = new Array;
  Array::Ptr defs = new Array;
  for (const auto &p : a.portDefinitions) {
    ports->add(p.port);
    Object::Ptr d = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    d->set("port", p.port);
    d->set("protocol", p.protocol);
    if (!p.name.empty()) d->set("name", p.name);
    d->set("labels", stringsObject(p.labels));
    defs->add(d);
  }
  o->set("ports", ports);
  o->set("portDefinitions", defs);
  o->set("networks", Array::Ptr(new Array));
  return o;
}

}  // namespace

std::string appJson(const App &app) {
  std::ostringstream out;
  definitionObject(app)->stringify(out);
  return out.str();
}

bool sameConfig(const App &a, const App &b) {
  App x = a;
  App y = b;
  x.instances = y.instances = 0;
  x.version = y.version = x.lastScalingAt = y.lastScalingAt = x.lastConfigChangeAt = y.lastConfigChangeAt = "";
  // Service ports picked for port 0 are the same config.
  return appJson(x) == appJson(y);
}

}  // namespace dcos::scheduler
