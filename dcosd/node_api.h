// The node API: a small HTTP server (Poco) on api.listen.
//
//   GET /health    overall and per-plugin health; 200 healthy/degraded, 503 otherwise
//   GET /v1/node   role, zone, version, attributes, plugins with versions and states
//   GET /metrics   Prometheus text format
//   GET /v1/cluster/nodes  the cluster's members, from ZooKeeper
//   anything a plugin routed (dcos_host_v1::http_route), e.g. /exhibitor/...
//
// Anything else gets a JSON error: 404 for an unknown path, 405 (with Allow)
// for a method other than GET or HEAD. The snapshot function is called on the
// server's threads and must be thread safe. The server is http::Server: slow
// and idle clients and long-lived streams hold no thread (see http/server.h).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <dcos/plugin.h>

#include "base/result.h"
#include "dcosd/node_state.h"

#include "http/server.h"

namespace dcos::dcosd {

class NodeApi {
 public:
  using SnapshotFn = std::function<NodeSnapshot()>;
  // Serves a path no built-in handler has (a plugin's route); false: 404.
  using RouteFn = std::function<bool(const dcos_http_request &, const dcos_http_response &)>;
  // GET /v1/cluster/nodes: the cluster's members as a JSON array, or an
  // error (503) when the coordination service cannot be read.
  using NodesFn = std::function<Result<std::string>()>;

  explicit NodeApi(SnapshotFn snapshot, RouteFn routes = {}, NodesFn nodes = {}, http::Limits limits = {});
  ~NodeApi();

  // Binds `listen` ("address:port", port 0 picks one) and, when not empty,
  // `adminListen` as well, and starts serving the same API on both.
  Status start(const std::string &listen, const std::string &adminListen = "");
  void stop();
  // The bound address, valid after start().
  std::string address() const { return address_; }

  void count(int status);
  std::map<int, uint64_t> counts() const;
  http::Server::Stats serverStats() const { return server_ ? server_->stats() : http::Server::Stats{}; }

 private:
  http::Response handle(const http::Request &request);
  bool servePlugin(const http::Request &request, http::Response &out);

  SnapshotFn snapshot_;
  RouteFn routes_;
  NodesFn nodes_;
  http::Limits limits_;
  std::unique_ptr<http::Server> server_;
  std::string address_;
  mutable std::mutex mutex_;
  std::map<int, uint64_t> counts_;
};

// Resident set size of this process in bytes, from /proc/self/statm.
long residentBytes();

}  // namespace dcos::dcosd
