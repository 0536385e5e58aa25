// GET /system/health/v1/nodes: every member's /health, asked over the
// cluster network, in the shape DC/OS's diagnostics gave operators
// ({"nodes": [{"host_ip", "hostname", "role", "health": 0 healthy / 1 not,
// "status", "message"}]}). Any node can answer it; operators reach masters.
#pragma once

#include <chrono>
#include <string>

namespace dcos::dcosd {

// `membersJson` is /v1/cluster/nodes' array; each member's "api" is asked
// for /health, all at once, each within `timeout`.
std::string clusterHealthJson(const std::string &membersJson, std::chrono::milliseconds timeout);

}  // namespace dcos::dcosd
