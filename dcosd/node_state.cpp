#include "dcosd/node_state.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <cstdio>
#include <sstream>

namespace dcos::dcosd {

using pluginhost::State;

std::string_view phaseName(Phase phase) {
  switch (phase) {
    case Phase::Starting: return "starting";
    case Phase::Running: return "running";
    case Phase::Stopping: return "stopping";
    case Phase::Failed: return "failed";
  }
  return "unknown";
}

Verdict verdict(const NodeSnapshot &s) {
  if (s.phase == Phase::Starting) return {"starting", 503};
  if (s.phase == Phase::Stopping) return {"stopping", 503};
  if (s.phase == Phase::Failed) return {"unhealthy", 503};
  bool degraded = false;
  for (const auto &p : s.plugins) {
    if (p.state == State::Failed || p.health == DCOS_HEALTH_UNHEALTHY) {
      if (!p.optional) return {"unhealthy", 503};
      degraded = true;
    } else if (p.state != State::Running) {
      if (!p.optional) return {"unhealthy", 503};
      degraded = true;
    } else if (p.health == DCOS_HEALTH_DEGRADED) {
      degraded = true;
    }
  }
  if (s.firewallEnabled && s.firewallState == "failed") return {"unhealthy", 503};
  if (s.coordination && !(s.coordinationConnected && s.coordinationRegistered)) degraded = true;
  return degraded ? Verdict{"degraded", 200} : Verdict{"healthy", 200};
}

namespace {

std::string stringify(const Poco::JSON::Object::Ptr &o) {
  std::ostringstream s;
  Poco::JSON::Stringifier::stringify(o, s);
  return s.str();
}

Poco::JSON::Object::Ptr pluginObject(const pluginhost::PluginStatus &p, bool full) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("name", p.name);
  o->set("kind", p.kind);
  o->set("state", std::string(pluginhost::stateName(p.state)));
  o->set("health", std::string(pluginhost::healthName(p.state == State::Failed ? DCOS_HEALTH_UNHEALTHY : p.health)));
  o->set("optional", p.optional);
  if (!p.message.empty()) o->set("message", p.message);
  if (full) {
    o->set("version", p.version);
    o->set("description", p.description);
    o->set("library", p.library);
  }
  return o;
}

Poco::JSON::Object::Ptr firewallObject(const NodeSnapshot &s) {
  Poco::JSON::Object::Ptr fw = new Poco::JSON::Object;
  fw->set("enabled", s.firewallEnabled);
  fw->set("state", s.firewallState);
  return fw;
}

// Escapes a Prometheus label value.
std::string label(const std::string &v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

Poco::JSON::Object::Ptr coordinationObject(const NodeSnapshot &s) {
  Poco::JSON::Object::Ptr c = new Poco::JSON::Object;
  c->set("enabled", s.coordination);
  c->set("connected", s.coordinationConnected);
  c->set("registered", s.coordinationRegistered);
  if (!s.coordinationMessage.empty()) c->set("message", s.coordinationMessage);
  return c;
}

std::string memberJson(const NodeSnapshot &s) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", s.address);
  o->set("address", s.address);
  o->set("hostname", s.hostname);
  o->set("role", s.role);
  o->set("zone", s.zone);
  o->set("resource_role", s.resourceRole);
  o->set("version", s.version);
  o->set("api", config::reachableAt(s.apiAddress, s.address));
  Poco::JSON::Object::Ptr attrs = new Poco::JSON::Object;
  for (const auto &[k, v] : s.attributes) attrs->set(k, v);
  o->set("attributes", attrs);
  Poco::JSON::Array::Ptr plugins = new Poco::JSON::Array;
  for (const auto &p : s.plugins) {
    Poco::JSON::Object::Ptr po = new Poco::JSON::Object;
    po->set("name", p.name);
    po->set("kind", p.kind);
    po->set("version", p.version);
    plugins->add(po);
  }
  o->set("plugins", plugins);
  return stringify(o);
}

std::string healthJson(const NodeSnapshot &s) {
  Verdict v = verdict(s);
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("status", v.status);
  o->set("phase", std::string(phaseName(s.phase)));
  o->set("role", s.role);
  o->set("firewall", firewallObject(s));
  o->set("coordination", coordinationObject(s));
  Poco::JSON::Array::Ptr plugins = new Poco::JSON::Array;
  for (const auto &p : s.plugins) plugins->add(pluginObject(p, false));
  o->set("plugins", plugins);
  return stringify(o);
}

std::string nodeJson(const NodeSnapshot &s) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("hostname", s.hostname);
  o->set("address", s.address);
  o->set("cluster_name", s.clusterName);
  o->set("role", s.role);
  o->set("zone", s.zone);
  o->set("resource_role", s.resourceRole);
  o->set("version", s.version);
  o->set("abi_major", DCOS_ABI_MAJOR);
  o->set("phase", std::string(phaseName(s.phase)));
  o->set("started_at", s.startedAt);
  Poco::JSON::Object::Ptr attrs = new Poco::JSON::Object;
  for (const auto &[k, v] : s.attributes) attrs->set(k, v);
  o->set("attributes", attrs);
  o->set("firewall", firewallObject(s));
  Poco::JSON::Array::Ptr plugins = new Poco::JSON::Array;
  for (const auto &p : s.plugins) plugins->add(pluginObject(p, true));
  o->set("plugins", plugins);
  return stringify(o);
}

std::string metricsText(const NodeSnapshot &s, const std::map<int, uint64_t> &requests, long rssBytes) {
  std::ostringstream m;
  Verdict v = verdict(s);
  m << "# HELP dcosd_build_info Version of dcosd and of the plugin ABI it speaks.\n"
    << "# TYPE dcosd_build_info gauge\n"
    << "dcosd_build_info{version=\"" << label(s.version) << "\",abi_major=\"" << DCOS_ABI_MAJOR << "\",role=\""
    << label(s.role) << "\"} 1\n";
  m << "# HELP dcosd_healthy Whether the node reports healthy (1) or degraded (0.5), else 0.\n"
    << "# TYPE dcosd_healthy gauge\n"
    << "dcosd_healthy " << (v.status == "healthy" ? "1" : v.status == "degraded" ? "0.5" : "0") << "\n";
  char started[64];
  std::snprintf(started, sizeof started, "%.3f", s.startedAt);
  m << "# HELP dcosd_start_time_seconds When dcosd started, in unix seconds.\n"
    << "# TYPE dcosd_start_time_seconds gauge\n"
    << "dcosd_start_time_seconds " << started << "\n";
  m << "# HELP dcosd_resident_memory_bytes Resident set size of dcosd.\n"
    << "# TYPE dcosd_resident_memory_bytes gauge\n"
    << "dcosd_resident_memory_bytes " << rssBytes << "\n";
  m << "# HELP dcosd_plugin_up Whether a plugin is running (1) or not (0).\n"
    << "# TYPE dcosd_plugin_up gauge\n";
  for (const auto &p : s.plugins) {
    m << "dcosd_plugin_up{plugin=\"" << label(p.name) << "\",kind=\"" << p.kind << "\",version=\"" << label(p.version)
      << "\"} " << (p.state == State::Running ? 1 : 0) << "\n";
  }
  m << "# HELP dcosd_plugin_health Health a plugin reports: 0 healthy, 1 degraded, 2 unhealthy.\n"
    << "# TYPE dcosd_plugin_health gauge\n";
  for (const auto &p : s.plugins) {
    m << "dcosd_plugin_health{plugin=\"" << label(p.name) << "\"} "
      << static_cast<int>(p.state == State::Failed ? DCOS_HEALTH_UNHEALTHY : p.health) << "\n";
  }
  m << "# HELP dcosd_firewall_enabled Whether this node programs its zone firewall.\n"
    << "# TYPE dcosd_firewall_enabled gauge\n"
    << "dcosd_firewall_enabled " << (s.firewallEnabled ? 1 : 0) << "\n";
  m << "# HELP dcosd_coordination_connected Whether this node has a ZooKeeper session (1) or not (0).\n"
    << "# TYPE dcosd_coordination_connected gauge\n"
    << "dcosd_coordination_connected " << (s.coordinationConnected ? 1 : 0) << "\n";
  m << "# HELP dcosd_coordination_registered Whether this node is in the cluster membership.\n"
    << "# TYPE dcosd_coordination_registered gauge\n"
    << "dcosd_coordination_registered " << (s.coordinationRegistered ? 1 : 0) << "\n";
  m << "# HELP dcosd_api_responses_total Node API responses by status code.\n"
    << "# TYPE dcosd_api_responses_total counter\n";
  for (const auto &[code, count] : requests) {
    m << "dcosd_api_responses_total{code=\"" << code << "\"} " << count << "\n";
  }
  return m.str();
}

}  // namespace dcos::dcosd
