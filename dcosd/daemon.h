// dcosd's life: configuration, plugins, the node API, signals, and systemd.
#pragma once

#include "dcosd/options.h"

namespace dcos::dcosd {

// Runs the node until SIGTERM or SIGINT; returns the process exit status.
// Must be called before any other thread exists: it blocks the signals it
// waits for, and the threads it starts inherit that mask.
int runDaemon(const Options &options);

// --check: validates the configuration and loads every plugin without
// starting any, printing what would run. Returns the exit status.
int runCheck(const Options &options);

}  // namespace dcos::dcosd
