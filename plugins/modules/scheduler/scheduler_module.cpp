// The scheduler module: Marathon's API on every master, one of them the
// leader (elected in ZooKeeper) that acts; the others forward each call to
// it and say who it is in X-Marathon-Leader. Routes on the node API:
//   /v2/..., /ping           Marathon's paths, as clients use them
//   /marathon/v2/..., ...    the same under /marathon, where the admin router
//                            will publish them
//   /v2/events               Marathon's event stream (server-sent events);
//                            a follower relays the leader's
//   /mesos/master/state, /mesos/master/slaves
//                            Mesos's view of the agents and tasks
//   /agent/<agent id>/...    GETs relayed to that agent's node API (its
//                            tasks' sandboxes, for `dcos task log`)
//   /scheduler/v1/updates    the agents' status updates (the leader's only)
// Config: "enabled" (default true).
// Agents are reached through their own API (/agent/v1), as their records in
// /dcos/agents say.
#include <syslog.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <dcos/plugin.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "base/text.h"

#include "coord/zk_client.h"
#include "plugins/modules/scheduler/scheduler.h"

namespace {

using namespace dcos::scheduler;
using Poco::JSON::Object;

Object::Ptr parseObject(const std::string &json, const std::string &what) {
  try {
    auto v = Poco::JSON::Parser().parse(json.empty() ? "{}" : json);
    if (v.type() == typeid(Object::Ptr)) return v.extract<Object::Ptr>();
  } catch (const Poco::Exception &e) {
    throw dcos::sdk::Error(what + ": malformed JSON: " + e.message());
  }
  throw dcos::sdk::Error(what + ": expected a JSON object");
}

struct HttpAnswer {
  int status = 0;
  std::string body;
  std::string contentType;
  bool retried = false;  // sent again on a new connection after a kept one failed
};

// Kept connections, a few per address: the leader calls every agent many
// times a second while it launches, and a connection each time cost a
// resolve, a connect and a close per call.
class SessionPool {
 public:
  std::unique_ptr<Poco::Net::HTTPClientSession> take(const std::string &address) {
    std::lock_guard lock(mutex_);
    auto &idle = idle_[address];
    if (idle.empty()) return nullptr;
    auto s = std::move(idle.back());
    idle.pop_back();
    return s;
  }
  void give(const std::string &address, std::unique_ptr<Poco::Net::HTTPClientSession> s) {
    std::lock_guard lock(mutex_);
    auto &idle = idle_[address];
    if (idle.size() < 4) idle.push_back(std::move(s));
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>>> idle_;
};

// One request to host:port; an error when it could not be made. With a
// pool, over a kept connection when there is one (and once more over a new
// one if that fails: it may have been closed meanwhile).
dcos::Result<HttpAnswer> call(const std::string &address, const std::string &method, const std::string &target,
                              const std::string &body, int timeoutSeconds, const std::string &contentType = "",
                              bool forwarding = false, SessionPool *pool = nullptr) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return dcos::makeError("no port in " + address);
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Poco::Net::HTTPClientSession> session = pool != nullptr && attempt == 0 ? pool->take(address) : nullptr;
    const bool reused = session != nullptr;
    try {
      if (!session) {
        session = std::make_unique<Poco::Net::HTTPClientSession>(
            host, static_cast<Poco::UInt16>(std::stoi(address.substr(colon + 1))));
        session->setKeepAlive(pool != nullptr);
      }
      session->setTimeout(Poco::Timespan(timeoutSeconds, 0));
      Poco::Net::HTTPRequest req(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
      req.setKeepAlive(pool != nullptr);
      if (forwarding) req.set("X-Dcos-Forwarded", "1");
      if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        req.setContentType(contentType.empty() ? "application/json" : contentType);
        req.setContentLength(static_cast<std::streamsize>(body.size()));
      }
      session->sendRequest(req) << body;
      Poco::Net::HTTPResponse res;
      std::istream &in = session->receiveResponse(res);
      HttpAnswer a;
      Poco::StreamCopier::copyToString(in, a.body);
      a.status = static_cast<int>(res.getStatus());
      a.contentType = res.getContentType();
      a.retried = attempt > 0;
      if (pool != nullptr && res.getKeepAlive()) pool->give(address, std::move(session));
      return a;
    } catch (const Poco::Exception &e) {
      if (!reused) return dcos::makeError(address + ": " + e.displayText());
    } catch (const std::exception &e) {
      if (!reused) return dcos::makeError(address + ": " + e.what());
    }
  }
}

class HttpAgents : public AgentPort {
 public:
  dcos::Result<int> launch(const AgentInfo &agent, const std::string &taskJson) override {
    auto r = call(agent.api, "POST", "/agent/v1/tasks", taskJson, 15, "", false, &pool_);
    if (!r) return r.error();
    // Sent again after a kept connection failed: the first one may have
    // reached the agent, whose answer now is that the task (its id is new
    // to the cluster) exists there: launched.
    if (r->retried && r->status == 409 && r->body.find("exists on this agent") != std::string::npos) return 201;
    return r->status;
  }
  // POST /agent/v1/launch, up to kBatch tasks or kBatchBytes a call: one
  // request, one round of status updates and one record change on the
  // agent for them all, where one call per task cost both sides a request
  // each.
  std::vector<dcos::Result<int>> launchAll(const AgentInfo &agent, const std::vector<std::string> &taskJsons) override {
    std::vector<dcos::Result<int>> out;
    out.reserve(taskJsons.size());
    for (size_t from = 0, n = 0; from < taskJsons.size(); from += n) {
      std::string body = "{\"tasks\":[";
      for (n = 0; from + n < taskJsons.size() && n < kBatch; ++n) {
        const std::string &one = taskJsons[from + n];
        if (n > 0 && body.size() + one.size() + 2 > kBatchBytes) break;
        body += (n ? "," : "") + one;
      }
      body += "]}";
      // A launch's own time (15 s) and a little more for each task.
      auto r = call(agent.api, "POST", "/agent/v1/launch", body, 15 + static_cast<int>(n / 20), "", false, &pool_);
      if (r && r->status == 413) {
        // Over the agent's limit all the same (one huge task): one by one.
        std::vector<std::string> part(taskJsons.begin() + static_cast<long>(from),
                                      taskJsons.begin() + static_cast<long>(from + n));
        for (auto &one : AgentPort::launchAll(agent, part)) out.push_back(std::move(one));
        continue;
      }
      if (r && r->status == 404) {
        // An agent from before batches (a cluster being upgraded): one by one.
        std::vector<std::string> rest(taskJsons.begin() + static_cast<long>(from), taskJsons.end());
        for (auto &one : AgentPort::launchAll(agent, rest)) out.push_back(std::move(one));
        return out;
      }
      auto answers = batchAnswers(agent, r, n, "launch");
      for (const BatchAnswer &a : answers) {
        if (!a.error.empty()) {
          out.emplace_back(dcos::makeError(a.error));
          continue;
        }
        // Sent again after a kept connection failed: the first one may have
        // reached the agent, whose answer now is that the task (its id is
        // new to the cluster) exists there: launched.
        const bool again = r->retried && a.status == 409 && a.message.find("exists on this agent") != std::string::npos;
        out.emplace_back(again ? 201 : a.status);
      }
    }
    return out;
  }
  std::vector<dcos::Status> killAll(const AgentInfo &agent, const std::vector<std::string> &taskIds) override {
    std::vector<dcos::Status> out;
    out.reserve(taskIds.size());
    for (size_t from = 0; from < taskIds.size(); from += kBatch) {
      const size_t n = std::min(kBatch, taskIds.size() - from);  // ids are short: 500 stay far below the body limit
      std::string body = "{\"ids\":[";
      for (size_t i = 0; i < n; ++i) body += (i ? "," : "") + dcos::text::quote(taskIds[from + i]);
      body += "]}";
      auto r = call(agent.api, "POST", "/agent/v1/kill", body, 10 + static_cast<int>(n / 20), "", false, &pool_);
      if (r && r->status == 404) {
        std::vector<std::string> rest(taskIds.begin() + static_cast<long>(from), taskIds.end());
        for (auto &one : AgentPort::killAll(agent, rest)) out.push_back(std::move(one));
        return out;
      }
      auto answers = batchAnswers(agent, r, n, "kill");
      for (const BatchAnswer &a : answers) {
        if (!a.error.empty()) {
          out.push_back(dcos::makeError(a.error));
        } else if (a.status != 202 && a.status != 200 && a.status != 404) {
          out.push_back(dcos::makeError(agent.id + " answered " + std::to_string(a.status) + ": " + a.message));
        } else {
          out.push_back(dcos::Status::Ok());
        }
      }
    }
    return out;
  }
  dcos::Result<std::map<std::string, std::string>> reconcile(const AgentInfo &agent) override {
    auto r = call(agent.api, "POST", "/agent/v1/reconcile", "", 10, "", false, &pool_);
    if (!r) return r.error();
    if (r->status != 200) return dcos::makeError(agent.id + " answered " + std::to_string(r->status));
    std::map<std::string, std::string> out;
    try {
      auto tasks = parseObject(r->body, "reconcile")->getArray("tasks");
      for (size_t i = 0; tasks && i < tasks->size(); ++i) {
        auto t = tasks->getObject(static_cast<unsigned>(i));
        if (t) out[t->optValue<std::string>("id", "")] = t->optValue<std::string>("state", "");
      }
    } catch (const std::exception &e) {
      return dcos::makeError(agent.id + ": " + e.what());
    }
    return out;
  }
  dcos::Status kill(const AgentInfo &agent, const std::string &taskId) override {
    auto r = call(agent.api, "POST", "/agent/v1/tasks/" + taskId + "/kill", "", 10, "", false, &pool_);
    if (!r) return r.error();
    if (r->status != 202 && r->status != 200 && r->status != 404) {
      return dcos::makeError(agent.id + " answered " + std::to_string(r->status) + ": " + r->body);
    }
    return dcos::Status::Ok();
  }

 private:
  static constexpr size_t kBatch = 500;
  // Well below the node API's request body limit (1 MiB, answered 413).
  static constexpr size_t kBatchBytes = 512 * 1024;

  // A batch call's answer, per entry: its status and message, or the
  // error (the call's own, or a malformed entry's).
  struct BatchAnswer {
    int status = 0;
    std::string message;
    std::string error;
  };
  static std::vector<BatchAnswer> batchAnswers(const AgentInfo &agent, const dcos::Result<HttpAnswer> &r, size_t n,
                                               const char *what) {
    std::vector<BatchAnswer> out(n);
    auto all = [&](const std::string &error) {
      for (auto &a : out) a.error = error;
      return out;
    };
    if (!r) return all(r.error().message);
    if (r->status != 200) {
      return all(agent.id + " answered " + std::to_string(r->status) + " to a " + what + ": " + r->body);
    }
    try {
      auto results = parseObject(r->body, what)->getArray("results");
      if (!results || results->size() != n) {
        return all(agent.id + " answered a " + what + " of " + std::to_string(n) + " with " +
                   std::to_string(results ? results->size() : 0) + " results");
      }
      for (size_t i = 0; i < n; ++i) {
        auto e = results->getObject(static_cast<unsigned>(i));
        if (!e) {
          out[i].error = agent.id + ": result " + std::to_string(i) + " is not an object";
          continue;
        }
        out[i].status = e->optValue<int>("status", 0);
        out[i].message = e->optValue<std::string>("message", "");
      }
    } catch (const std::exception &e) {
      return all(agent.id + ": " + e.what());
    }
    return out;
  }

  SessionPool pool_;
};

class SchedulerModule : public dcos::sdk::Module {
 public:
  SchedulerModule(dcos::sdk::Host host, std::string_view configText) : host_(host) {
    auto config = parseObject(std::string(configText), "scheduler config");
    // "enabled": false leaves this master out of the scheduler (tests that
    // play the scheduler's part themselves, against real agents).
    enabled_ = config->optValue<bool>("enabled", true);
    auto node = parseObject(host_.nodeJson(), "node identity");
    auto cluster = parseObject(host_.clusterJson(), "cluster config");
    address_ = node->optValue<std::string>("api", "");
    hostname_ = node->optValue<std::string>("hostname", node->optValue<std::string>("address", ""));
    if (address_.empty()) throw dcos::sdk::Error("scheduler: this dcosd does not say where its node API listens");
    if (auto zk = cluster->getObject("zookeeper")) {
      int port = zk->optValue<int>("client_port", 2181);
      sessionMs_ = zk->optValue<int>("session_timeout_ms", 10000);
      auto masters = cluster->getArray("masters");
      for (size_t i = 0; masters && i < masters->size(); ++i) {
        std::string m = masters->getElement<std::string>(static_cast<unsigned>(i));
        connect_ += (i ? "," : "") + (m.find(':') != std::string::npos ? "[" + m + "]" : m) + ":" + std::to_string(port);
      }
    }
    if (connect_.empty()) throw dcos::sdk::Error("scheduler: cluster.json names no masters");
  }

  void start() override {
    if (!enabled_) {
      host_.warning("scheduler disabled by its config (enabled: false): this master schedules nothing");
      return;
    }
    zk_ = dcos::coord::ZkClient::connect(connect_, std::chrono::milliseconds(sessionMs_));
    SchedulerConfig c;
    c.zk = zk_.get();
    c.agents = &agents_;
    c.address = address_;
    c.hostname = hostname_;
    c.log = [h = host_](int level, const std::string &m) { h.log(static_cast<dcos_log_level>(level), m); };
    scheduler_ = std::make_unique<Scheduler>(c);
    scheduler_->start();
    for (const char *prefix : {"/v2", "/ping", "/marathon", "/scheduler", "/mesos", "/agent"}) {
      host_.httpRoute(prefix, &SchedulerModule::serve, this);
    }
    health_ = std::thread([this] { watchHealth(); });
    host_.info("scheduler on " + address_ + ", ZooKeeper " + connect_);
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (health_.joinable()) health_.join();
    // Event streams: subscriptions ended, relays cut, every stream closed.
    std::vector<std::shared_ptr<Stream>> streams;
    std::vector<Relay> relays;
    {
      std::lock_guard lock(mutex_);
      streams.swap(streams_);
      relays.swap(relays_);
    }
    for (auto &st : streams) {
      if (st->subscription != 0 && scheduler_) scheduler_->events().unsubscribe(st->subscription);
      st->cut();
      st->close();
    }
    for (auto &r : relays) r.thread.join();
    if (scheduler_) scheduler_->stop();
    if (zk_) zk_->close();
  }

 private:
  static void serve(void *self, const dcos_http_request *req, const dcos_http_response *resp) {
    // Nothing escapes to the host: whatever throws is a 500 that says what.
    try {
      static_cast<SchedulerModule *>(self)->serveRequest(req, resp);
    } catch (const std::exception &e) {
      std::string body = "{\"message\":" + dcos::text::quote(std::string("scheduler: ") + e.what()) + "}";
      resp->set_status(resp->ctx, 500);
      resp->write(resp->ctx, body.data(), body.size());
    }
  }

  void serveRequest(const dcos_http_request *req, const dcos_http_response *resp) {
    auto *me = this;
    std::string path = req->path;
    if (path == "/marathon" || path.rfind("/marathon/", 0) == 0) path = path.size() > 9 ? path.substr(9) : "/";
    std::string query = req->query != nullptr ? req->query : "";
    std::string peer = req->struct_size >= offsetof(dcos_http_request, peer) + sizeof req->peer && req->peer != nullptr
                           ? req->peer
                           : "";
    if (path == "/v2/events" || path == "/v2/events/") return me->events(req, resp, query, peer);
    if (path.rfind("/agent/", 0) == 0) return me->agentRelay(req, resp, path, query);
    std::string body(req->body, req->body_len);
    std::string method = req->method;
    std::string leader = me->scheduler_->leaderAddress();
    bool forwarded = false;
    std::string contentType = "application/json";
    for (size_t i = 0; i < req->header_count; ++i) {
      std::string name = req->headers[2 * i];
      for (auto &ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (name == "x-dcos-forwarded") forwarded = true;
      if (name == "content-type") contentType = req->headers[2 * i + 1];
    }
    Scheduler::Reply reply;
    bool mine = me->scheduler_->isLeader() || path == "/ping" || path == "/v2/info" ||
                (path == "/v2/leader" && method == "GET");
    if (mine) {
      reply = me->scheduler_->handle(method, path, query, body, peer);
    } else if (!leader.empty() && leader != me->address_ && !forwarded) {
      // A follower: the leader answers (once: a forwarded call is never
      // forwarded again, whatever this master thinks of who leads).
      // The path as asked (/marathon/metrics is not the node API's /metrics).
      auto r = call(leader, method, std::string(req->path) + (query.empty() ? "" : "?" + query), body, 30, contentType,
                    true);
      if (r) {
        reply.status = r->status;
        reply.body = r->body;
        if (!r->contentType.empty()) reply.headers.push_back({"Content-Type", r->contentType});
      } else {
        reply = {503, "{\"message\":\"the scheduler leader " + leader + " cannot be reached\"}", {}};
      }
    } else if (!me->zk_->connected()) {
      reply = {503, "{\"message\":\"no ZooKeeper quorum: the scheduler changes nothing until ZooKeeper is back\"}", {}};
    } else {
      reply = {503, "{\"message\":\"no scheduler leader yet\"}", {}};
    }
    if (!leader.empty()) reply.headers.push_back({"X-Marathon-Leader", "http://" + leader});
    resp->set_status(resp->ctx, reply.status);
    for (const auto &[k, v] : reply.headers) resp->set_header(resp->ctx, k.c_str(), v.c_str());
    resp->write(resp->ctx, reply.body.data(), reply.body.size());
  }

  // One /v2/events client: its stream, closed exactly once; and, on a
  // follower, the connection to the leader's stream it relays.
  struct Stream {
    std::mutex mutex;
    dcos_http_stream *stream = nullptr;
    int subscription = 0;  // on the leader's bus
    std::string leader;    // a relay's: whose stream it relays
    bool cutOff = false;
    std::unique_ptr<Poco::Net::HTTPClientSession> upstream;
    bool write(const std::string &data) {
      std::lock_guard lock(mutex);
      if (stream == nullptr || cutOff) return false;
      if (stream->write(stream->ctx, data.data(), data.size()) == 0) return true;
      stream->close(stream->ctx);
      stream = nullptr;
      return false;
    }
    void close() {
      std::lock_guard lock(mutex);
      if (stream != nullptr) stream->close(stream->ctx);
      stream = nullptr;
    }
    bool closed() {
      std::lock_guard lock(mutex);
      return stream == nullptr;
    }
    // Ends a relay: no session is made after this, and one that reads is
    // shut down (its read returns at once; one not yet connected ends at
    // its next keepalive or its connect's timeout).
    void cut() {
      std::lock_guard lock(mutex);
      cutOff = true;
      if (!upstream) return;
      try {
        upstream->abort();
      } catch (const Poco::Exception &) {
        // not connected yet
      }
    }
  };
  struct Relay {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  // Every few seconds: a keepalive comment on each stream this leader feeds
  // (a client gone is noticed and dropped; a relay's read returns), the
  // streams ended pruned, relays finished joined. Streams end when this
  // master stops leading, and relays of a leader that is no longer one:
  // their clients connect again, to the leader there is now.
  void tendStreams(bool keepalive) {
    const bool leading = scheduler_->isLeader();
    const std::string leader = scheduler_->leaderAddress();
    std::vector<std::shared_ptr<Stream>> ended;
    std::vector<Relay> finished;
    {
      std::lock_guard lock(mutex_);
      for (auto it = streams_.begin(); it != streams_.end();) {
        auto &st = *it;
        bool subscribed = st->subscription != 0;
        if (subscribed && !leading) st->close();
        if (!subscribed && st->leader != leader) st->cut();
        if (subscribed && keepalive) (void)st->write(":\n");
        if (st->closed()) {
          ended.push_back(st);
          it = streams_.erase(it);
        } else {
          ++it;
        }
      }
      for (auto it = relays_.begin(); it != relays_.end();) {
        if (it->done->load()) {
          finished.push_back(std::move(*it));
          it = relays_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto &st : ended) {
      if (st->subscription != 0) scheduler_->events().unsubscribe(st->subscription);
    }
    for (auto &r : finished) r.thread.join();
  }

  // GET /v2/events: the leader's bus, or (on a follower) the leader's
  // stream relayed; event_type= filters, as Marathon's.
  void events(const dcos_http_request *req, const dcos_http_response *resp, const std::string &query,
              const std::string &peer) {
    auto fail = [&](int status, const std::string &message) {
      resp->set_status(resp->ctx, status);
      std::string body = "{\"message\":" + dcos::text::quote(message) + "}";
      resp->write(resp->ctx, body.data(), body.size());
    };
    if (std::string(req->method) != "GET") return fail(405, "method " + std::string(req->method) + " not allowed on /v2/events");
    if (resp->struct_size < offsetof(dcos_http_response, open_stream) + sizeof resp->open_stream ||
        resp->open_stream == nullptr) {
      return fail(501, "this dcosd cannot stream");
    }
    std::set<std::string> types;
    auto q = dcos::text::parseQuery(query);
    for (const auto &t : q["event_type"]) types.insert(t);
    std::string leader = scheduler_->leaderAddress();
    const bool leading = scheduler_->isLeader();
    bool forwarded = false;
    for (size_t i = 0; req->struct_size >= offsetof(dcos_http_request, header_count) + sizeof req->header_count &&
                       i < req->header_count;
         ++i) {
      forwarded |= dcos::text::iequals(req->headers[2 * i], "X-Dcos-Forwarded");
    }
    // A relayed request is never relayed again (two masters that briefly
    // disagree on the leader would relay to each other).
    if (!leading && (leader.empty() || leader == address_ || forwarded)) return fail(503, "no scheduler leader yet");
    std::string relayTarget;
    if (!leading) {
      relayTarget = "/v2/events" + (query.empty() ? "" : "?" + query);
      resp->set_header(resp->ctx, "X-Marathon-Leader", ("http://" + leader).c_str());
    }
    resp->set_header(resp->ctx, "Content-Type", "text/event-stream");
    resp->set_header(resp->ctx, "Cache-Control", "no-cache");
    auto st = std::make_shared<Stream>();
    st->stream = resp->open_stream(resp->ctx);
    if (st->stream == nullptr) return;
    std::lock_guard lock(mutex_);
    if (stopping_) {
      st->close();
      return;
    }
    streams_.push_back(st);
    if (leading) {
      Poco::JSON::Object::Ptr attached = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      attached->set("remoteAddress", peer);
      st->subscription = scheduler_->events().subscribe(
          types, [st](const std::string &frame) { return st->write(frame); }, "event_stream_attached", attached);
      return;
    }
    st->leader = leader;
    auto done = std::make_shared<std::atomic<bool>>(false);
    relays_.push_back(Relay{std::thread([this, st, leader, relayTarget, done] {
                              relay(st, leader, relayTarget);
                              done->store(true);
                            }),
                            done});
  }

  void relay(const std::shared_ptr<Stream> &st, const std::string &leader, const std::string &target) {
    try {
      size_t colon = leader.rfind(':');
      std::string host = leader.substr(0, colon);
      if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
      {
        std::lock_guard lock(st->mutex);
        if (st->cutOff) {
          st->stream != nullptr ? st->stream->close(st->stream->ctx) : void();
          st->stream = nullptr;
          return;
        }
        st->upstream = std::make_unique<Poco::Net::HTTPClientSession>(
            host, static_cast<Poco::UInt16>(std::stoi(leader.substr(colon + 1))));
        // The leader's keepalives come every few seconds: a read that
        // waits longer means it is gone.
        st->upstream->setTimeout(Poco::Timespan(5, 0), Poco::Timespan(5, 0), Poco::Timespan(30, 0));
      }
      Poco::Net::HTTPRequest req("GET", target, Poco::Net::HTTPMessage::HTTP_1_1);
      req.set("Accept", "text/event-stream");
      req.set("X-Dcos-Forwarded", "1");
      st->upstream->sendRequest(req);
      Poco::Net::HTTPResponse res;
      std::istream &in = st->upstream->receiveResponse(res);
      if (res.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
        st->close();  // the leader is not one yet, or went: the client's stream ends, and it asks again
        return;
      }
      // Whatever has arrived goes on at once: one byte waited for, then
      // what the stream holds already (a read of a whole buffer would wait
      // for events to fill it).
      char buf[4096];
      for (;;) {
        int c = in.get();
        if (c == std::char_traits<char>::eof()) break;
        std::string data(1, static_cast<char>(c));
        while (in.rdbuf()->in_avail() > 0) {
          std::streamsize n = in.readsome(buf, sizeof buf);
          if (n <= 0) break;
          data.append(buf, static_cast<size_t>(n));
        }
        if (!st->write(data)) break;
      }
    } catch (const std::exception &) {
      // The leader went, or the module stops: the client's stream ends.
    }
    st->close();
  }

  // GET /agent/<agent id>/<path>: relayed to that agent's node API.
  void agentRelay(const dcos_http_request *req, const dcos_http_response *resp, const std::string &path,
                  const std::string &query) {
    auto answer = [&](int status, const std::string &body, const std::string &type = "application/json") {
      resp->set_status(resp->ctx, status);
      if (!type.empty()) resp->set_header(resp->ctx, "Content-Type", type.c_str());
      resp->write(resp->ctx, body.data(), body.size());
    };
    if (std::string(req->method) != "GET") return answer(405, "{\"message\":\"only GET is relayed to agents\"}");
    size_t slash = path.find('/', 7);
    std::string agentId = path.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
    std::string rest = slash == std::string::npos ? "/" : path.substr(slash);
    if (agentId.empty() || agentId.find("..") != std::string::npos) {
      return answer(404, "{\"message\":\"no agent id in " + path + "\"}");
    }
    auto data = zk_->get("/dcos/agents/" + agentId);
    std::optional<AgentInfo> agent;
    if (data) agent = parseAgent(data->first);
    if (!agent) return answer(404, "{\"message\":" + dcos::text::quote("Agent '" + agentId + "' is not registered") + "}");
    auto r = call(agent->api, "GET", rest + (query.empty() ? "" : "?" + query), "", 30);
    if (!r) return answer(502, "{\"message\":" + dcos::text::quote(r.error().message) + "}");
    answer(r->status, r->body, r->contentType);
  }

  void watchHealth() {
    std::string last;
    for (int tick = 1;; ++tick) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
        if (stopping_) return;
      }
      tendStreams(tick % 5 == 0);
      std::string now;
      dcos_health h = DCOS_HEALTH_HEALTHY;
      if (!zk_->connected()) {
        h = DCOS_HEALTH_DEGRADED;
        now = "no ZooKeeper session: changing nothing";
      } else if (scheduler_->isLeader()) {
        now = "leading";
      } else {
        std::string leader = scheduler_->leaderAddress();
        now = leader.empty() ? "no leader yet" : "following " + leader;
        if (leader.empty()) h = DCOS_HEALTH_DEGRADED;
      }
      if (now != last) host_.reportHealth(h, now);
      last = now;
    }
  }

  dcos::sdk::Host host_;
  bool enabled_ = true;
  std::string address_;
  std::string hostname_;
  std::string connect_;
  int sessionMs_ = 10000;
  std::unique_ptr<dcos::coord::ZkClient> zk_;
  HttpAgents agents_;
  std::unique_ptr<Scheduler> scheduler_;
  std::thread health_;
  std::vector<std::shared_ptr<Stream>> streams_;
  std::vector<Relay> relays_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace

DCOS_MODULE(SchedulerModule, "scheduler", DCOS_PLUGIN_VERSION, "Marathon's API: runs the cluster's apps on its agents")
