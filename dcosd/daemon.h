// dcosd's life: configuration, plugins, the node API, signals, and systemd.
#pragma once

#include <memory>

#include "dcosd/options.h"
#include "firewall/firewall.h"

namespace dcos::dcosd {

// Runs the node until SIGTERM or SIGINT; returns the process exit status.
// Must be called before any other thread exists: it blocks the signals it
// waits for, and the threads it starts inherit that mask.
int runDaemon(const Options &options);

// --check: validates the configuration and loads every plugin without
// starting any, printing what would run. Returns the exit status.
int runCheck(const Options &options);

// Opens netlink, programs the zone's ruleset and returns the firewall for
// later changes; the error says why not.
// The output chain keeps tasks (firewall/task_cgroups.h) from the control
// plane, this node's API port included.
Result<std::unique_ptr<firewall::ZoneFirewall>> applyZoneFirewall(const config::Config &config,
                                                                   const std::string &zone);
// The port of "host:port"; the node API's default when there is none.
uint16_t listenPort(const std::string &hostPort);

// `dcosd firewall plan|apply|show|remove`. Returns the exit status.
int runFirewallCommand(const Options &options);

}  // namespace dcos::dcosd
