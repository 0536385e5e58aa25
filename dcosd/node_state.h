// What the node API reports: a snapshot of dcosd's state, and the rules that
// turn it into one health verdict.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pluginhost/plugin_host.h"

namespace dcos::dcosd {

enum class Phase { Starting, Running, Stopping, Failed };
std::string_view phaseName(Phase phase);

struct NodeSnapshot {
  Phase phase = Phase::Starting;
  std::string version;
  std::string role;
  std::string zone;
  std::string resourceRole;
  std::string address;
  std::string hostname;
  std::string clusterName;
  std::map<std::string, std::string> attributes;
  std::vector<pluginhost::PluginStatus> plugins;
  bool firewallEnabled = true;
  std::string firewallState;  // "disabled", "applied", "failed", ...
  double startedAt = 0;       // unix seconds
  bool coordination = false;  // whether this node takes part (false for --check, tests)
  bool coordinationConnected = false;
  bool coordinationRegistered = false;
  std::string coordinationMessage;
  std::string apiAddress;
};

struct Verdict {
  std::string status;  // healthy, degraded, unhealthy, starting, stopping
  int httpStatus;      // 200 for healthy and degraded, 503 otherwise
};

// healthy: every plugin runs healthy. degraded: all required plugins run, but
// an optional one failed or a plugin reports degraded. unhealthy: a required
// plugin failed or reports unhealthy.
Verdict verdict(const NodeSnapshot &snapshot);

std::string healthJson(const NodeSnapshot &snapshot);
// This node's record in the cluster membership (/dcos/nodes/<address>).
std::string memberJson(const NodeSnapshot &snapshot);
std::string nodeJson(const NodeSnapshot &snapshot);
// Prometheus text exposition format 0.0.4. `requests` counts API responses by
// status code.
std::string metricsText(const NodeSnapshot &snapshot, const std::map<int, uint64_t> &requests, long rssBytes);

}  // namespace dcos::dcosd
