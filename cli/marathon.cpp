#include "cli/marathon.h"

#include <fnmatch.h>

#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "base/text.h"

namespace dcos::cli {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

Var parseOrdered(const std::string &text) {
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
  return parser.parse(text);
}

// A field as text: "" when absent or null.
std::string str(const Object::Ptr &o, const std::string &key) {
  if (!o || !o->has(key)) return "";
  const Var &v = o->get(key);
  if (v.isEmpty()) return "";
  try {
    return v.convert<std::string>();
  } catch (const Poco::Exception &) {
    return "";
  }
}

double num(const Object::Ptr &o, const std::string &key) {
  if (!o || !o->has(key)) return 0;
  const Var &v = o->get(key);
  if (v.isEmpty()) return 0;
  try {
    return v.convert<double>();
  } catch (const Poco::Exception &) {
    return 0;
  }
}

Object::Ptr objectAt(const Array::Ptr &a, size_t i) { return a ? a->getObject(static_cast<unsigned>(i)) : nullptr; }
size_t sizeOf(const Array::Ptr &a) { return a ? a->size() : 0; }

// Where the last `n` lines of `text` start, or nothing when it holds fewer.
std::optional<size_t> lastLinesStart(const std::string &text, size_t n) {
  size_t limit = text.size();
  if (limit > 0 && text[limit - 1] == '\n') --limit;  // a final newline ends the last line, it starts none
  size_t start = limit;
  for (size_t found = 0; found < n; ++found) {
    if (start == 0) return std::nullopt;
    size_t nl = text.rfind('\n', start - 1);
    if (nl == std::string::npos) return std::nullopt;
    start = nl;
  }
  return n == 0 ? text.size() : start + 1;
}

// How `app list` and `deployment list` name a deployment's action.
std::string actionName(const std::string &action) {
  static const std::map<std::string, std::string> kNames = {
      {"StartApplication", "start"},   {"StopApplication", "stop"},     {"ScaleApplication", "scale"},
      {"RestartApplication", "restart"}, {"ResolveArtifacts", "artifacts"}, {"KillAllOldTasksOf", "kill-tasks"}};
  auto it = kNames.find(action);
  return it == kNames.end() ? action : it->second;
}

std::string oneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

std::string usedOfTotal(double used, double total) { return formatNumber(used) + "/" + formatNumber(total); }

}  // namespace

Result<Var> parseJson(const std::string &text) {
  try {
    return parseOrdered(text);
  } catch (const Poco::Exception &e) {
    // Poco's parser wants an object or an array at the top: a scalar is
    // read as the one element of an array.
    try {
      Var wrapped = parseOrdered("[" + text + "]");
      auto a = wrapped.extract<Array::Ptr>();
      if (a && a->size() == 1) return a->get(0);
    } catch (const Poco::Exception &) {
    }
    return makeError("not JSON: " + e.displayText());
  } catch (const std::exception &e) {
    return makeError(std::string("not JSON: ") + e.what());
  }
}

namespace {

// Poco's own indenting prints an empty array as "[", a blank line and "]".
void pretty(const Var &value, std::ostringstream &out, int depth) {
  const std::string pad(static_cast<size_t>(depth + 1) * 2, ' '), closing(static_cast<size_t>(depth) * 2, ' ');
  if (value.type() == typeid(Object::Ptr)) {
    auto o = value.extract<Object::Ptr>();
    if (!o || o->size() == 0) {
      out << "{}";
      return;
    }
    out << "{\n";
    bool first = true;
    for (const auto &key : o->getNames()) {  // in the object's order
      out << (first ? "" : ",\n") << pad;
      Poco::JSON::Stringifier::stringify(Var(key), out);
      out << ": ";
      pretty(o->get(key), out, depth + 1);
      first = false;
    }
    out << "\n" << closing << "}";
  } else if (value.type() == typeid(Array::Ptr)) {
    auto a = value.extract<Array::Ptr>();
    if (!a || a->size() == 0) {
      out << "[]";
      return;
    }
    out << "[\n";
    for (unsigned i = 0; i < a->size(); ++i) {
      out << (i == 0 ? "" : ",\n") << pad;
      pretty(a->get(i), out, depth + 1);
    }
    out << "\n" << closing << "]";
  } else {
    Poco::JSON::Stringifier::stringify(value, out);
  }
}

}  // namespace

std::string prettyJson(const Var &value) {
  std::ostringstream out;
  pretty(value, out, 0);
  return out.str();
}

Var propertyValue(const std::string &text) {
  auto v = parseJson(text);
  if (v) return *v;
  return Var(text);
}

Result<std::string> propertiesBody(const std::vector<std::string> &assignments) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  std::set<std::string> seen;
  for (const auto &a : assignments) {
    size_t eq = a.find('=');
    if (eq == std::string::npos) return makeError("expected PROP=VALUE, found " + text::quote(a));
    std::string prop = a.substr(0, eq);
    if (prop.empty()) return makeError("no property before = in " + text::quote(a));
    if (!seen.insert(prop).second) return makeError("property " + text::quote(prop) + " given twice");
    o->set(prop, propertyValue(a.substr(eq + 1)));
  }
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

std::string normalizeAppId(const std::string &id) {
  std::string out = id;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out.empty() || out[0] != '/') out = "/" + out;
  return out;
}

namespace {

std::string percentEncode(const std::string &s, std::string_view keep) {
  static const char *kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || std::string_view("-._~").find(static_cast<char>(c)) != std::string_view::npos ||
        keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

// The node API does not decode paths: what a path may hold as it is (a
// version's colons) stays as it is.
std::string escapePath(const std::string &path) { return percentEncode(path, "/:@!$'()*,;"); }

std::string escapeQuery(const std::string &value) { return percentEncode(value, "/"); }

std::vector<std::string> errorLines(int status, const std::string &body) {
  auto raw = [&] {
    std::string b = body.substr(0, body.find('\n'));
    if (b.size() > 300) b = b.substr(0, 300) + "...";
    return "HTTP " + std::to_string(status) + (b.empty() ? "" : ": " + b);
  };
  auto parsed = parseJson(body);
  if (!parsed || parsed->type() != typeid(Object::Ptr)) return {raw()};
  auto o = parsed->extract<Object::Ptr>();
  std::string message = str(o, "message");
  std::vector<std::string> lines{message.empty() ? raw() : message};
  auto details = o->getArray("details");
  for (size_t i = 0; i < sizeOf(details); ++i) {
    auto d = objectAt(details, i);
    if (!d) continue;
    std::string path = d->has("path") ? str(d, "path") : str(d, "attribute");
    if (auto errors = d->getArray("errors")) {
      for (size_t k = 0; k < errors->size(); ++k) lines.push_back(path + ": " + errors->get(static_cast<unsigned>(k)).toString());
    } else if (d->has("error")) {
      lines.push_back(path + ": " + str(d, "error"));
    }
  }
  return lines;
}

Rows appTable(const Array::Ptr &apps, const Array::Ptr &deployments) {
  // deployment id -> the names of its current actions, per app
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> actions;
  for (size_t i = 0; i < sizeOf(deployments); ++i) {
    auto d = objectAt(deployments, i);
    auto current = d ? d->getArray("currentActions") : nullptr;
    for (size_t k = 0; k < sizeOf(current); ++k) {
      auto a = objectAt(current, k);
      if (a) actions[str(d, "id")].emplace_back(str(a, "app"), actionName(str(a, "action")));
    }
  }
  Rows rows;
  for (size_t i = 0; i < sizeOf(apps); ++i) {
    auto app = objectAt(apps, i);
    if (!app) continue;
    std::string id = str(app, "id");
    auto checks = app->getArray("healthChecks");
    std::string health = sizeOf(checks) > 0
                             ? formatNumber(num(app, "tasksHealthy")) + "/" + formatNumber(num(app, "tasksRunning"))
                             : kEmptyCell;
    std::vector<std::string> names;
    auto ds = app->getArray("deployments");
    for (size_t k = 0; k < sizeOf(ds); ++k) {
      for (const auto &[appId, name] : actions[str(objectAt(ds, k), "id")]) {
        if (appId == id) names.push_back(name);
      }
    }
    std::string deployment = names.empty()     ? kEmptyCell
                             : names.size() == 1 ? names[0]
                                                 : "(" + text::join(names, ", ") + ")";
    std::string cmd = oneLine(str(app, "cmd"));
    if (cmd.empty()) {
      std::vector<std::string> args;
      auto a = app->getArray("args");
      for (size_t k = 0; k < sizeOf(a); ++k) args.push_back(a->get(static_cast<unsigned>(k)).toString());
      cmd = args.empty() ? kEmptyCell : oneLine(text::join(args, " "));
    }
    rows.push_back({id, formatNumber(num(app, "mem")), formatNumber(num(app, "cpus")),
                    formatNumber(num(app, "tasksRunning")) + "/" + formatNumber(num(app, "instances")), health,
                    deployment, cmd});
  }
  std::sort(rows.begin(), rows.end());
  rows.insert(rows.begin(), {"ID", "MEM", "CPUS", "TASKS", "HEALTH", "DEPLOYMENT", "CMD"});
  return rows;
}

Rows taskTable(const Array::Ptr &tasks) {
  Rows rows;
  for (size_t i = 0; i < sizeOf(tasks); ++i) {
    auto t = objectAt(tasks, i);
    if (!t) continue;
    bool healthy = true;
    auto results = t->getArray("healthCheckResults");
    for (size_t k = 0; k < sizeOf(results); ++k) {
      auto r = objectAt(results, k);
      healthy = healthy && r && r->has("alive") && r->get("alive").isBoolean() && r->get("alive").extract<bool>();
    }
    std::string started = str(t, "startedAt");
    rows.push_back({str(t, "appId"), healthy ? "True" : "False", started.empty() ? "N/A" : started, str(t, "host"),
                    str(t, "id")});
  }
  std::sort(rows.begin(), rows.end(), [](const auto &x, const auto &y) {
    return std::tie(x[0], x[4]) < std::tie(y[0], y[4]);
  });
  rows.insert(rows.begin(), {"APP", "HEALTHY", "STARTED", "HOST", "ID"});
  return rows;
}

Rows deploymentTable(const Array::Ptr &deployments, const std::string &appId) {
  Rows rows;
  for (size_t i = 0; i < sizeOf(deployments); ++i) {
    auto d = objectAt(deployments, i);
    if (!d) continue;
    std::vector<std::string> apps;
    auto affected = d->getArray("affectedApps");
    for (size_t k = 0; k < sizeOf(affected); ++k) apps.push_back(affected->get(static_cast<unsigned>(k)).toString());
    if (!appId.empty() && std::find(apps.begin(), apps.end(), appId) == apps.end()) continue;
    std::vector<std::string> names;
    auto current = d->getArray("currentActions");
    for (size_t k = 0; k < sizeOf(current); ++k) {
      std::string name = actionName(str(objectAt(current, k), "action"));
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    rows.push_back({apps.empty() ? kEmptyCell : text::join(apps, ", "),
                    names.empty() ? kEmptyCell : text::join(names, ", "),
                    formatNumber(num(d, "currentStep")) + "/" + formatNumber(num(d, "totalSteps")), str(d, "id")});
  }
  std::sort(rows.begin(), rows.end());
  rows.insert(rows.begin(), {"APP", "ACTION", "PROGRESS", "ID"});
  return rows;
}

Rows clusterTaskTable(const Array::Ptr &tasks, const std::map<std::string, std::string> &users) {
  Rows rows;
  for (size_t i = 0; i < sizeOf(tasks); ++i) {
    auto t = objectAt(tasks, i);
    if (!t) continue;
    std::string id = str(t, "id");
    auto user = users.find(id);
    rows.push_back({id, str(t, "host"), user == users.end() || user->second.empty() ? kEmptyCell : user->second,
                    str(t, "state"), str(t, "appId")});
  }
  std::sort(rows.begin(), rows.end());
  rows.insert(rows.begin(), {"ID", "HOST", "USER", "STATE", "APP"});
  return rows;
}

bool taskMatches(const std::string &taskId, const std::string &filter) {
  return filter.empty() || taskId.find(filter) != std::string::npos ||
         ::fnmatch(filter.c_str(), taskId.c_str(), 0) == 0;
}

std::string lastLines(const std::string &text, size_t n) {
  auto start = lastLinesStart(text, n);
  return start ? text.substr(*start) : text;
}

bool holdsLastLines(const std::string &tail, size_t n) { return lastLinesStart(tail, n).has_value(); }

Result<std::vector<AgentResources>> parseSlaves(const std::string &body) {
  auto parsed = parseJson(body);
  if (!parsed) return parsed.error();
  if (parsed->type() != typeid(Object::Ptr)) return makeError("not an object");
  auto slaves = parsed->extract<Object::Ptr>()->getArray("slaves");
  if (!slaves) return makeError("no \"slaves\" array");
  std::vector<AgentResources> out;
  for (size_t i = 0; i < slaves->size(); ++i) {
    auto s = objectAt(slaves, i);
    if (!s) continue;
    AgentResources a;
    a.id = str(s, "id");
    a.hostname = str(s, "hostname");
    std::string pid = str(s, "pid");
    if (auto at = pid.find('@'); at != std::string::npos) {
      a.address = pid.substr(at + 1, pid.rfind(':') > at ? pid.rfind(':') - at - 1 : std::string::npos);
    }
    auto total = s->getObject("resources");
    auto used = s->getObject("used_resources");
    a.cpus = num(total, "cpus");
    a.mem = num(total, "mem");
    a.disk = num(total, "disk");
    a.usedCpus = num(used, "cpus");
    a.usedMem = num(used, "mem");
    a.usedDisk = num(used, "disk");
    out.push_back(a);
  }
  return out;
}

Rows nodeTable(const Array::Ptr &nodes, const std::vector<AgentResources> *agents) {
  Rows rows;
  for (size_t i = 0; i < sizeOf(nodes); ++i) {
    auto n = objectAt(nodes, i);
    if (!n) continue;
    std::vector<std::string> row{str(n, "hostname"), str(n, "address"), str(n, "role"),
                                 str(n, "zone"),     str(n, "resource_role"), str(n, "version")};
    if (agents != nullptr) {
      auto it = std::find_if(agents->begin(), agents->end(), [&](const AgentResources &a) {
        return (!a.hostname.empty() && (a.hostname == row[0] || a.hostname == row[1])) ||
               (!a.address.empty() && a.address == row[1]);
      });
      if (it == agents->end()) {
        row.insert(row.end(), {kEmptyCell, kEmptyCell, kEmptyCell});
      } else {
        row.insert(row.end(), {usedOfTotal(it->usedCpus, it->cpus), usedOfTotal(it->usedMem, it->mem),
                               usedOfTotal(it->usedDisk, it->disk)});
      }
    }
    rows.push_back(row);
  }
  // Masters first, then private and public agents, each by address.
  auto rank = [](const std::string &role) { return role == "master" ? 0 : role == "agent-private" ? 1 : 2; };
  std::sort(rows.begin(), rows.end(), [&](const auto &x, const auto &y) {
    return std::make_tuple(rank(x[2]), x[1].size(), x[1]) < std::make_tuple(rank(y[2]), y[1].size(), y[1]);
  });
  std::vector<std::string> header{"HOSTNAME", "ADDRESS", "ROLE", "ZONE", "RESOURCE-ROLE", "VERSION"};
  if (agents != nullptr) header.insert(header.end(), {"CPUS", "MEM", "DISK"});
  rows.insert(rows.begin(), header);
  return rows;
}

std::string formatNumber(double v) {
  if (!std::isfinite(v)) return "?";
  if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(std::llround(v)));
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace dcos::cli
