// The CLI's HTTP client: one request against a cluster's admin URL.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"

namespace dcos::cli {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// The CA certificate (a PEM file) that https:// URLs are verified against;
// "" (the default): the system's CAs. Set once, before any request.
void setCaCert(const std::string &path);

// <method> <base><path>, with `body` as application/json when it is not
// empty; `base` is "http[s]://host[:port][/prefix]" and `path` may carry a
// query. An https server must present a certificate for the URL's host
// that chains to the CA (setCaCert), else no answer comes.
// An error only when no answer came (refused, timed out, not HTTP): every
// HTTP status, 4xx and 5xx too, is an answer.
Result<HttpAnswer> httpRequest(const std::string &method, const std::string &base, const std::string &path,
                               const std::string &body, std::chrono::milliseconds timeout);

// GET <base><path>.
Result<HttpAnswer> httpGet(const std::string &base, const std::string &path, std::chrono::milliseconds timeout);

}  // namespace dcos::cli
