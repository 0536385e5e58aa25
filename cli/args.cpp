#include "cli/args.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "base/text.h"
#include "cli/http.h"
#include "cli/local_cluster.h"

namespace dcos::cli {

Args parseArgs(int argc, char **argv, int from, const std::vector<std::string> &valued,
               const std::vector<std::string> &flags) {
  Args a;
  for (int i = from; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h") arg = "--help";
    if (arg.rfind("--", 0) != 0) {
      a.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (std::find(valued.begin(), valued.end(), name) != valued.end()) {
      if (!value) {
        if (i + 1 >= argc) {
          a.error = "--" + name + " needs a value";
          return a;
        }
        value = argv[++i];
      }
      a.options[name] = *value;
    } else if (std::find(flags.begin(), flags.end(), name) != flags.end() && !value) {
      a.flags.push_back(name);
    } else {
      std::vector<std::string> known;
      for (const auto &v : valued) known.push_back("--" + v);
      for (const auto &f : flags) known.push_back("--" + f);
      std::string near = text::nearest("--" + name, known);
      a.error = "unknown option --" + name + (near.empty() ? "" : " (did you mean " + near + "?)");
      return a;
    }
  }
  return a;
}

bool has(const Args &a, const std::string &flag) {
  return std::find(a.flags.begin(), a.flags.end(), flag) != a.flags.end();
}

std::string option(const Args &a, const std::string &name, const std::string &fallback) {
  auto it = a.options.find(name);
  return it == a.options.end() ? fallback : it->second;
}

std::optional<int> number(const Args &a, const std::string &name, int fallback, std::string &error, int max) {
  auto it = a.options.find(name);
  if (it == a.options.end()) return fallback;
  char *end = nullptr;
  errno = 0;
  long v = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno != 0 || v < 0 || v > max) {
    error = "--" + name + ": expected a number from 0 to " + std::to_string(max) + ", found " + text::quote(it->second);
    return std::nullopt;
  }
  return static_cast<int>(v);
}

int usage(const std::string &message, const std::string &helpCommand) {
  std::fprintf(stderr, "dcos: %s\nTry `%s --help`.\n", message.c_str(), helpCommand.c_str());
  return kUsage;
}

Result<std::string> clusterUrl(const Args &a) {
  // https: the CA to verify the masters' certificates by.
  std::string ca, from;
  if (auto it = a.options.find("ca-cert"); it != a.options.end()) {
    ca = it->second, from = "--ca-cert";
  } else if (const char *env = std::getenv("DCOS_CA_CERT"); env != nullptr && *env != '\0') {
    ca = env, from = "DCOS_CA_CERT";
  }
  if (!ca.empty()) {
    if (::access(ca.c_str(), R_OK) != 0) return makeError(from + ": cannot read " + ca + " (" + std::strerror(errno) + ")", EINVAL);
    std::ifstream in(ca);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return makeError(from + ": " + ca + " holds no PEM certificate", EINVAL);
    }
    setCaCert(ca);
  }
  if (auto it = a.options.find("url"); it != a.options.end()) return it->second;
  if (const char *env = std::getenv("DCOS_URL"); env != nullptr && *env != '\0') return std::string(env);
  std::string name = option(a, "name", "local");
  auto c = loadCluster(option(a, "state-dir", "/var/lib/dcos-local"), name);
  if (c) return c->adminUrl();
  return makeError("no cluster to talk to: give --url URL, set DCOS_URL, or bring up a local one with `dcos cluster up`",
                   ENOENT);
}

}  // namespace dcos::cli
