#include "dcosd/node_api.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "base/text.h"
#include "dcosd/cluster_health.h"

namespace dcos::dcosd {

namespace {

std::string errorJson(const std::string &message) { return "{\"message\":" + text::quote(message) + "}"; }

http::Response reply(int status, std::string contentType, std::string body) {
  http::Response r;
  r.status = status;
  r.headers = {{"Content-Type", std::move(contentType)}, {"Cache-Control", "no-store"}};
  r.body = std::move(body);
  return r;
}

// A stream as the plugin ABI hands it out: freed by the plugin's close().
struct AbiStream {
  dcos_http_stream abi{};
  std::shared_ptr<http::Stream> stream;
};

int abiStreamWrite(void *ctx, const char *data, size_t len) {
  auto *s = static_cast<AbiStream *>(ctx);
  if (data == nullptr && len != 0) return -EINVAL;
  return s->stream->write(std::string_view(data == nullptr ? "" : data, len)) ? 0 : -EPIPE;
}

void abiStreamClose(void *ctx) {
  auto *s = static_cast<AbiStream *>(ctx);
  s->stream->close();
  delete s;
}

// What a plugin's handler said, gathered from its calls.
struct Answer {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::shared_ptr<http::Stream> stream;
};

}  // namespace

http::Response NodeApi::handle(const http::Request &request) {
  const std::string &path = request.path;
  const bool known = path == "/health" || path == "/v1/node" || path == "/metrics" || path == "/v1/cluster/nodes" ||
                     path == "/system/health/v1/nodes";
  http::Response r;
  if (!known && routes_ && servePlugin(request, r)) {
    count(r.status);
    return r;
  }
  if (!known) {
    r = reply(404, "application/json", errorJson("no such path: " + path));
  } else if (request.method != "GET" && request.method != "HEAD") {
    r = reply(405, "application/json",
              errorJson("method " + request.method + " not allowed on " + path + " (allowed: GET, HEAD)"));
    r.headers.emplace_back("Allow", "GET, HEAD");
  } else {
    NodeSnapshot s = snapshot_();
    if (path == "/health") {
      r = reply(verdict(s).httpStatus, "application/json", healthJson(s));
    } else if (path == "/v1/cluster/nodes" || path == "/system/health/v1/nodes") {
      auto nodes = nodes_ ? nodes_() : Result<std::string>(makeError("this node keeps no membership"));
      if (nodes && path == "/system/health/v1/nodes") {
        r = reply(200, "application/json", clusterHealthJson(*nodes, std::chrono::seconds(2)));
      } else if (nodes) {
        r = reply(200, "application/json", *nodes);
      } else {
        r = reply(503, "application/json", errorJson(nodes.error().message));
      }
    } else if (path == "/v1/node") {
      r = reply(200, "application/json", nodeJson(s));
    } else {
      r = reply(200, "text/plain; version=0.0.4; charset=utf-8", metricsText(s, counts(), residentBytes()));
    }
  }
  count(r.status);
  return r;
}

// A plugin's route: the request as dcos_http_request, the answer gathered
// from the handler's calls. Bodies over the server's limit (1 MiB) never
// get here: the server answers 413 itself.
bool NodeApi::servePlugin(const http::Request &request, http::Response &out) {
  std::vector<const char *> headers;
  headers.reserve(request.headers.size() * 2);
  for (const auto &[name, value] : request.headers) {
    headers.push_back(name.c_str());
    headers.push_back(value.c_str());
  }
  Answer answer;
  dcos_http_request req{};
  req.struct_size = sizeof req;
  req.method = request.method.c_str();
  req.path = request.path.c_str();
  req.query = request.query.c_str();
  req.body = request.body.data();
  req.body_len = request.body.size();
  req.headers = headers.data();
  req.header_count = request.headers.size();
  req.peer = request.peer.c_str();
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
  resp.open_stream = [](void *ctx) -> dcos_http_stream * {
    auto *a = static_cast<Answer *>(ctx);
    if (a->stream) return nullptr;  // one stream per response
    auto *s = new AbiStream;
    s->stream = http::Stream::make();
    s->abi.struct_size = sizeof s->abi;
    s->abi.ctx = s;
    s->abi.write = &abiStreamWrite;
    s->abi.close = &abiStreamClose;
    a->stream = s->stream;
    return &s->abi;
  };
  if (!routes_(req, resp)) return false;
  out.status = answer.status;
  bool typed = false;
  for (auto &[name, value] : answer.headers) {
    if (text::iequals(name, "Content-Type")) typed = true;
    out.headers.emplace_back(std::move(name), std::move(value));
  }
  if (!typed) out.headers.emplace_back("Content-Type", answer.stream ? "text/event-stream" : "application/json");
  out.body = std::move(answer.body);
  out.stream = std::move(answer.stream);
  return true;
}

long residentBytes() {
  long pages = 0;
  long resident = 0;
  if (FILE *f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

NodeApi::NodeApi(SnapshotFn snapshot, RouteFn routes, NodesFn nodes, http::Limits limits)
    : snapshot_(std::move(snapshot)), routes_(std::move(routes)), nodes_(std::move(nodes)), limits_(limits) {}

NodeApi::~NodeApi() { stop(); }

Status NodeApi::start(const std::string &listen, const std::string &adminListen) {
  std::vector<std::string> where{listen};
  if (!adminListen.empty()) where.push_back(adminListen);
  // Four workers: streams hold none. Sixteen were tried (a module's
  // handler may wait on ZooKeeper or on another node): a GET of 10,000 tasks
  // on an idle leader then took 60-110 ms at the median instead of 24-30,
  // and the GETs during a launch were no faster.
  server_ = std::make_unique<http::Server>([this](const http::Request &r) { return handle(r); }, limits_, 4);
  if (auto s = server_->start(where); !s) {
    server_.reset();
    address_.clear();
    return s.error().wrap("node API");
  }
  address_ = server_->addresses().front();
  return Status::Ok();
}

void NodeApi::stop() {
  if (server_) server_->stop();
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
