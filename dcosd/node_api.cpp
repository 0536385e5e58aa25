#include "dcosd/node_api.h"

#include <unistd.h>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/ThreadPool.h>

#include <cstdio>
#include <sstream>
#include <vector>

#include "base/text.h"
#include "dcosd/cluster_health.h"

namespace dcos::dcosd {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

namespace {

void send(NodeApi &api, HTTPServerRequest &request, HTTPServerResponse &response, int status,
          const std::string &contentType, const std::string &body) {
  response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(status));
  response.setContentType(contentType);
  response.set("Cache-Control", "no-store");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  auto &out = response.send();
  if (request.getMethod() != HTTPRequest::HTTP_HEAD) {
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
  }
  api.count(status);
}

std::string errorJson(const std::string &message) { return "{\"message\":" + text::quote(message) + "}"; }

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(NodeApi &api) : api_(api) {}

  void handleRequest(HTTPServerRequest &request, HTTPServerResponse &response) override {
    std::string path = request.getURI();
    std::string query;
    if (auto q = path.find('?'); q != std::string::npos) {
      query = path.substr(q + 1);
      path = path.substr(0, q);
    }
    const bool known = path == "/health" || path == "/v1/node" || path == "/metrics" || path == "/v1/cluster/nodes" ||
                       path == "/system/health/v1/nodes";
    if (!known && api_.routes() && servePlugin(request, response, path, query)) return;
    if (!known) {
      send(api_, request, response, 404, "application/json", errorJson("no such path: " + path));
      return;
    }
    const std::string &method = request.getMethod();
    if (method != HTTPRequest::HTTP_GET && method != HTTPRequest::HTTP_HEAD) {
      response.set("Allow", "GET, HEAD");
      send(api_, request, response, 405, "application/json",
           errorJson("method " + method + " not allowed on " + path + " (allowed: GET, HEAD)"));
      return;
    }
    NodeSnapshot s = api_.snapshot();
    if (path == "/health") {
      send(api_, request, response, verdict(s).httpStatus, "application/json", healthJson(s));
    } else if (path == "/v1/cluster/nodes" || path == "/system/health/v1/nodes") {
      auto nodes = api_.nodes() ? api_.nodes()() : Result<std::string>(makeError("this node keeps no membership"));
      if (nodes && path == "/system/health/v1/nodes") {
        send(api_, request, response, 200, "application/json", clusterHealthJson(*nodes, std::chrono::seconds(2)));
      } else if (nodes) {
        send(api_, request, response, 200, "application/json", *nodes);
      } else {
        send(api_, request, response, 503, "application/json", errorJson(nodes.error().message));
      }
    } else if (path == "/v1/node") {
      send(api_, request, response, 200, "application/json", nodeJson(s));
    } else {
      send(api_, request, response, 200, "text/plain; version=0.0.4; charset=utf-8",
           metricsText(s, api_.counts(), residentBytes()));
    }
  }

 private:
  // A plugin's route: the request as dcos_http_request, the answer gathered
  // from the handler's calls and sent when it returns.
  bool servePlugin(HTTPServerRequest &request, HTTPServerResponse &response, const std::string &path,
                   const std::string &query) {
    std::string body;
    if (request.getContentLength() != 0) {
      // Bodies for the node API are small; 1 MiB is plenty and bounds memory.
      // A bigger one is refused, not cut: the plugin would take a part for the whole.
      constexpr size_t kMaxBody = 1u << 20;
      bool tooBig = request.hasContentLength() && request.getContentLength64() > static_cast<Poco::Int64>(kMaxBody);
      char buf[8192];
      auto &in = request.stream();
      while (!tooBig && in.read(buf, sizeof buf).gcount() > 0) {
        body.append(buf, static_cast<size_t>(in.gcount()));
        tooBig = body.size() > kMaxBody;  // chunked: no length to go by
      }
      if (tooBig) {
        response.setKeepAlive(false);
        send(api_, request, response, 413, "application/json", errorJson("request body over 1 MiB"));
        return true;
      }
    }
    struct Answer {
      int status = 200;
      std::vector<std::pair<std::string, std::string>> headers;
      std::string body;
    } answer;
    dcos_http_request req{sizeof(dcos_http_request), request.getMethod().c_str(), path.c_str(), query.c_str(),
                          body.data(), body.size()};
    dcos_http_response resp{};
    resp.struct_size = sizeof resp;
    resp.ctx = &answer;
    resp.set_status = [](void *ctx, int status) { static_cast<Answer *>(ctx)->status = status; };
    resp.set_header = [](void *ctx, const char *name, const char *value) {
      if (name != nullptr && value != nullptr) static_cast<Answer *>(ctx)->headers.emplace_back(name, value);
    };
    resp.write = [](void *ctx, const char *data, size_t len) {
      if (data != nullptr) static_cast<Answer *>(ctx)->body.append(data, len);
    };
    if (!api_.routes()(req, resp)) return false;
    std::string type = "application/json";
    for (const auto &[name, value] : answer.headers) {
      if (Poco::icompare(name, "Content-Type") == 0) {
        type = value;
      } else {
        response.set(name, value);
      }
    }
    send(api_, request, response, answer.status, type, answer.body);
    return true;
  }

  NodeApi &api_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(NodeApi &api) : api_(api) {}
  Poco::Net::HTTPRequestHandler *createRequestHandler(const HTTPServerRequest &) override { return new Handler(api_); }

 private:
  NodeApi &api_;
};

}  // namespace

long residentBytes() {
  long pages = 0;
  long resident = 0;
  if (FILE *f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

NodeApi::NodeApi(SnapshotFn snapshot, RouteFn routes, NodesFn nodes)
    : snapshot_(std::move(snapshot)), routes_(std::move(routes)), nodes_(std::move(nodes)) {}

NodeApi::~NodeApi() { stop(); }

Status NodeApi::start(const std::string &listen, const std::string &adminListen) {
  std::string current = listen;
  try {
    // A small pool with small stacks: the API is light, and dcosd stays small.
    pool_ = std::make_unique<Poco::ThreadPool>(1, 4, 60, 256 * 1024);
    for (const std::string &where : {listen, adminListen}) {
      if (where.empty()) continue;
      current = where;
      Poco::Net::SocketAddress address(where);
      Poco::Net::ServerSocket socket;
      socket.bind(address, true, false);
      socket.listen(64);
      auto *params = new Poco::Net::HTTPServerParams;
      params->setMaxThreads(4);
      params->setMaxQueued(64);
      params->setKeepAlive(true);
      params->setTimeout(Poco::Timespan(10, 0));
      servers_.push_back(std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), *pool_, socket, params));
      servers_.back()->start();
      if (address_.empty()) address_ = socket.address().toString();
    }
  } catch (const Poco::Exception &e) {
    stop();
    address_.clear();
    return makeError("node API: cannot listen on " + current + ": " + e.displayText());
  }
  return Status::Ok();
}

void NodeApi::stop() {
  for (auto &server : servers_) server->stopAll(true);
  servers_.clear();
  if (pool_) {
    pool_->joinAll();
    pool_.reset();
  }
}

void NodeApi::count(int status) {
  std::lock_guard lock(mutex_);
  ++counts_[status];
}

std::map<int, uint64_t> NodeApi::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

}  // namespace dcos::dcosd
