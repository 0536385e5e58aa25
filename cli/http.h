// The CLI's HTTP client: a GET against a cluster's admin URL.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"

namespace dcos::cli {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// GET <base><path>; `base` is "http://host[:port]". An error only when no
// answer came (refused, timed out, not HTTP).
Result<HttpAnswer> httpGet(const std::string &base, const std::string &path, std::chrono::milliseconds timeout);

}  // namespace dcos::cli
