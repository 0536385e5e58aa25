#include "plugins/modules/router/routes.h"

#include <algorithm>
#include <set>

#include "base/text.h"

namespace dcos::router {

namespace {

std::optional<bool> parseBool(std::string v) {
  v = text::asciiLower(text::trim(v));
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return std::nullopt;
}

bool isHostName(const std::string &h) {
  if (h.empty() || h.size() > 253 || h.front() == '.' || h.front() == '-' || h.back() == '-') return false;
  for (char c : h) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  }
  return h.find("..") == std::string::npos;
}

bool isPath(const std::string &p) {
  if (p.empty() || p.front() != '/' || p.size() > 1024) return false;
  // RFC 3986's path characters, less what HAProxy's configuration or its
  // runtime commands would read as syntax (; ' " \ { } $ #).
  for (char c : p) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    if (std::string_view("/-._~%!*+,=:@&()").find(c) == std::string_view::npos) return false;
  }
  return true;
}

const std::set<std::string> kBalances = {"roundrobin", "static-rr", "leastconn", "first", "source", "random"};
// Ports of the edge itself: never a service port.
const std::set<int> kReserved = {80, 443, 9090, 61001};

// "HAPROXY_3_VHOST" -> {3, "VHOST"}; nullopt for any other label.
std::optional<std::pair<long, std::string>> portLabel(const std::string &key) {
  static const std::string prefix = "HAPROXY_";
  if (!text::startsWith(key, prefix)) return std::nullopt;
  size_t i = prefix.size(), j = i;
  while (j < key.size() && std::isdigit(static_cast<unsigned char>(key[j]))) ++j;
  // HAPROXY_00_VHOST is not port 0's label: marathon-lb asks for exact names.
  if (j == i || j >= key.size() || key[j] != '_' || j - i > 6 || (key[i] == '0' && j - i > 1)) return std::nullopt;
  return std::make_pair(std::stol(key.substr(i, j - i)), key.substr(j + 1));
}

// Is a port with these groups (its label's value) served by a router of
// group `mine`? A router of group "*" serves every app, grouped or not.
bool inGroup(const std::string &groups, const std::string &mine) {
  if (mine == "*") return true;
  for (auto &g : text::split(groups, ',')) {
    auto t = text::trim(g);
    if (t == mine) return true;
  }
  return false;
}

}  // namespace

std::string Service::shape() const {
  std::string s = key() + "|" + std::to_string(servicePort) + "|" + (mode == Mode::Http ? "http" : "tcp") + "|" +
                  balance + "|" + (sticky ? "sticky" : "") + "|" + (redirectToHttps ? "https" : "") + "|" + path;
  return s;
}

bool inRotation(const TaskInfo &task, const AppInfo &app) {
  if (task.state != "TASK_RUNNING" || task.killing) return false;
  if (app.healthChecked && task.healthy != true) return false;
  return true;
}

Plan plan(const EdgeConfig &config, const std::map<std::string, AppInfo> &apps, const std::vector<TaskInfo> &tasks) {
  Plan out;
  std::map<std::string, std::vector<const TaskInfo *>> byApp;
  for (const auto &t : tasks) byApp[t.appId].push_back(&t);
  std::map<int, std::string> servicePortOwner;
  std::map<std::string, std::string> routeOwner;  // "vhost/path" -> service key
  for (const auto &[id, app] : apps) {
    const int ports = static_cast<int>(app.servicePorts.size());
    auto problem = [&, id = id](const std::string &label, const std::string &what) {
      out.problems.push_back("app " + id + ": label " + label + ": " + what);
    };
    // Per port: label name -> value, after checking the index.
    std::vector<std::map<std::string, std::string>> perPort(static_cast<size_t>(ports));
    std::string appGroup;
    for (const auto &[key, value] : app.labels) {
      if (key == "HAPROXY_GROUP") {
        appGroup = value;
        continue;
      }
      auto pl = portLabel(key);
      if (!pl) continue;
      if (pl->first >= ports) {
        // Said only by the routers that serve the app.
        if (!inGroup(app.labels.count("HAPROXY_GROUP") ? app.labels.at("HAPROXY_GROUP") : "", config.group)) continue;
        problem(key, "the app has " + std::to_string(ports) + (ports == 1 ? " port" : " ports") + ", so there is no port index " +
                         std::to_string(pl->first) + " (ignored)");
        continue;
      }
      perPort[static_cast<size_t>(pl->first)][pl->second] = value;
    }
    for (int n = 0; n < ports; ++n) {
      auto &labels = perPort[static_cast<size_t>(n)];
      const std::string pre = "HAPROXY_" + std::to_string(n) + "_";
      std::string groups = labels.count("GROUP") ? labels["GROUP"] : appGroup;
      if (!inGroup(groups, config.group)) continue;
      Service s;
      s.appId = id;
      s.portIndex = n;
      s.servicePort = app.servicePorts[static_cast<size_t>(n)];
      bool enabled = true;
      for (const auto &[name, value] : labels) {
        const std::string label = pre + name;
        if (name == "GROUP") continue;
        if (name == "ENABLED") {
          auto b = parseBool(value);
          if (!b) problem(label, "expected true or false, got \"" + value + "\" (ignored)");
          else enabled = *b;
        } else if (name == "VHOST") {
          for (auto &v : text::split(value, ',')) {
            auto h = text::asciiLower(text::trim(v));
            if (h.empty()) continue;
            if (!isHostName(h)) {
              problem(label, "\"" + h + "\" is not a host name (ignored)");
              continue;
            }
            if (std::find(s.vhosts.begin(), s.vhosts.end(), h) == s.vhosts.end()) s.vhosts.push_back(h);
          }
        } else if (name == "PATH") {
          auto p = text::trim(value);
          if (!isPath(p)) problem(label, "expected a path starting with /, got \"" + value + "\" (ignored)");
          else s.path = p;
        } else if (name == "MODE") {
          // Read below, once the defaults are known.
        } else if (name == "BALANCE") {
          auto b = text::asciiLower(text::trim(value));
          if (kBalances.count(b) == 0) {
            problem(label, "unknown balance \"" + value + "\" (expected " + text::join({kBalances.begin(), kBalances.end()}, ", ") +
                               "; roundrobin used)");
          } else {
            s.balance = b;
          }
        } else if (name == "REDIRECT_TO_HTTPS") {
          auto b = parseBool(value);
          if (!b) {
            problem(label, "expected true or false, got \"" + value + "\" (ignored)");
            continue;
          }
          s.redirectToHttps = *b;
        } else if (name == "STICKY") {
          auto b = parseBool(value);
          if (!b) {
            problem(label, "expected true or false, got \"" + value + "\" (ignored)");
            continue;
          }
          s.sticky = *b;
        } else {
          problem(label, "not understood by this router (ignored)");
        }
      }
      if (!enabled) continue;
      s.mode = (!s.vhosts.empty() || app.httpHealthCheck) ? Mode::Http : Mode::Tcp;
      if (labels.count("MODE")) {
        auto m = text::asciiLower(text::trim(labels["MODE"]));
        if (m == "http") {
          s.mode = Mode::Http;
        } else if (m == "tcp") {
          s.mode = Mode::Tcp;
        } else {
          problem(pre + "MODE", "unknown mode \"" + labels["MODE"] + "\" (expected http or tcp; " +
                                    (s.mode == Mode::Http ? "http" : "tcp") + " used)");
        }
      }
      if (s.mode == Mode::Tcp) {
        if (!s.vhosts.empty()) problem(pre + "VHOST", "virtual hosts need http mode (ignored in tcp mode)");
        if (!s.path.empty()) problem(pre + "PATH", "paths need http mode (ignored in tcp mode)");
        if (s.sticky) problem(pre + "STICKY", "stickiness is by cookie, in http mode (ignored in tcp mode)");
        if (s.redirectToHttps) problem(pre + "REDIRECT_TO_HTTPS", "needs http mode (ignored in tcp mode)");
        s.vhosts.clear();
        s.path.clear();
        s.sticky = s.redirectToHttps = false;
      }
      if (s.servicePort != 0) {
        if (s.servicePort < 0 || s.servicePort > 65535) {
          out.problems.push_back("app " + id + ": service port " + std::to_string(s.servicePort) +
                                 " is not a port: not bound");
          s.servicePort = 0;
        } else if (kReserved.count(s.servicePort) != 0) {
          out.problems.push_back("app " + id + ": service port " + std::to_string(s.servicePort) +
                                 " is the edge's own: not bound");
          s.servicePort = 0;
        } else if (auto [it, fresh] = servicePortOwner.emplace(s.servicePort, s.key()); !fresh) {
          out.problems.push_back("app " + id + ": service port " + std::to_string(s.servicePort) + " is " + it->second +
                                 "'s already: not bound");
          s.servicePort = 0;
        }
      }
      std::vector<std::string> kept;
      for (const auto &h : s.vhosts) {
        auto [it, fresh] = routeOwner.emplace(h + s.path, s.key());
        if (fresh) {
          kept.push_back(h);
        } else {
          problem(pre + "VHOST", "\"" + h + s.path + "\" is routed to " + it->second + " already (ignored)");
        }
      }
      s.vhosts = kept;
      if (s.servicePort == 0 && s.vhosts.empty()) continue;  // nothing reaches it
      auto tasksOf = byApp.find(id);
      if (tasksOf != byApp.end()) {
        for (const TaskInfo *t : tasksOf->second) {
          if (!inRotation(*t, app) || t->host.empty() || static_cast<int>(t->ports.size()) <= n) continue;
          int port = t->ports[static_cast<size_t>(n)];
          if (port <= 0 || port > 65535) continue;
          s.backends.push_back({t->id, t->host, port});
        }
      }
      std::sort(s.backends.begin(), s.backends.end(), [](const Backend &a, const Backend &b) { return a.taskId < b.taskId; });
      out.services.push_back(std::move(s));
    }
  }
  std::sort(out.services.begin(), out.services.end(), [](const Service &a, const Service &b) { return a.key() < b.key(); });
  return out;
}

Plan adminPlan(const std::map<std::string, AppInfo> &apps, const std::vector<TaskInfo> &tasks) {
  Plan out;
  std::map<std::string, std::vector<const TaskInfo *>> byApp;
  for (const auto &t : tasks) byApp[t.appId].push_back(&t);
  for (const auto &[id, app] : apps) {
    if (app.servicePorts.empty()) continue;  // nothing to reach
    Service s;
    s.appId = id;
    s.mode = Mode::Http;
    s.path = "/service" + id + "/";
    if (id.empty() || id.front() != '/' || !isPath(s.path) || s.path.find("//") != std::string::npos) {
      out.problems.push_back("app " + id + ": its id cannot be a path under /service/ (not routed)");
      continue;
    }
    if (std::count(id.begin(), id.end(), '/') > kMaxServiceDepth) {
      out.problems.push_back("app " + id + ": more than " + std::to_string(kMaxServiceDepth) +
                             " segments, too deep for /service/ (not routed)");
      continue;
    }
    if (auto it = byApp.find(id); it != byApp.end()) {
      for (const TaskInfo *t : it->second) {
        if (!inRotation(*t, app) || t->host.empty() || t->ports.empty() || t->ports[0] <= 0 || t->ports[0] > 65535) continue;
        s.backends.push_back({t->id, t->host, t->ports[0]});
      }
    }
    std::sort(s.backends.begin(), s.backends.end(), [](const Backend &a, const Backend &b) { return a.taskId < b.taskId; });
    out.services.push_back(std::move(s));
  }
  std::sort(out.services.begin(), out.services.end(), [](const Service &a, const Service &b) { return a.key() < b.key(); });
  return out;
}

}  // namespace dcos::router
