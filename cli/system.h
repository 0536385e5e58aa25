// What the dcos CLI asks of the machine: running a program (ip) and reading
// its output, starting a detached daemon inside a network namespace, and
// looking at processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::cli {

// Runs argv (argv[0] found on PATH) and returns its stdout; an error carries
// the command and its stderr.
Result<std::string> run(const std::vector<std::string> &argv);

// Runs argv with stdout and stderr appended to `logFile`; an error when it
// exits non-zero (the caller reads the log to say why).
Status runLogged(const std::vector<std::string> &argv, const std::string &logFile,
                 const std::vector<std::string> &env = {});

// Starts argv detached (own session, stdin /dev/null, stdout and stderr
// appended to `logFile`) inside the network namespace /run/netns/<netns>.
// With `resolvConf`, in a mount namespace of its own where that file is
// /etc/resolv.conf (as `ip netns exec` does with /etc/netns/<name>/), so
// the daemon and everything it starts resolve through the servers it names.
// Returns the daemon's pid.
Result<pid_t> spawnInNetns(const std::string &netns, const std::vector<std::string> &argv,
                           const std::string &logFile, const std::string &resolvConf = "");

// True when `pid` runs and its command line contains `needle`.
bool processRuns(pid_t pid, const std::string &needle);

// Sends SIGTERM to every pid, waits up to `grace` for all to end, then
// SIGKILLs what is left. Returns the pids that needed SIGKILL.
std::vector<pid_t> stopProcesses(const std::vector<pid_t> &pids, std::chrono::milliseconds grace);

// The last `lines` lines of a file, for error messages.
std::string tail(const std::string &path, int lines);

std::string readFile(const std::string &path);
Status writeFile(const std::string &path, const std::string &text);

}  // namespace dcos::cli
