// The CLI's command line: options and flags of a subcommand, usage errors,
// exit statuses, and which cluster a command talks to.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::cli {

// Exit statuses, as `dcos --help` tells them.
constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kNoCluster = 3;

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::vector<std::string> flags;
  std::string error;  // set when the command line is wrong; the rest is then partial
};

// Parses argv[from..]: --opt VALUE, --opt=VALUE, or a flag; `valued` names
// the options that take a value, `flags` the others; -h is --help. A lone
// "-" and anything not starting with "--" is positional (a negative number
// too, as `app show ID -1` needs).
Args parseArgs(int argc, char **argv, int from, const std::vector<std::string> &valued,
               const std::vector<std::string> &flags);

bool has(const Args &a, const std::string &flag);
std::string option(const Args &a, const std::string &name, const std::string &fallback);
// The option as a whole number in [0, max], `fallback` when absent; nothing
// (and `error` set) when it is not one.
std::optional<int> number(const Args &a, const std::string &name, int fallback, std::string &error,
                          int max = 100000);

// Prints "dcos: <message>" and a pointer to `helpCommand --help` on stderr;
// returns kUsage.
int usage(const std::string &message, const std::string &helpCommand);

// The cluster a command talks to, first found: --url, DCOS_URL, the admin
// URL of the local cluster --name (default "local") in --state-dir (default
// /var/lib/dcos-local). An error (code ENOENT) when there is none.
Result<std::string> clusterUrl(const Args &a);

}  // namespace dcos::cli
