// The scheduler module: Marathon's API on every master, one of them the
// leader (elected in ZooKeeper) that acts; the others forward each call to
// it and say who it is in X-Marathon-Leader. Routes on the node API:
//   /v2/..., /ping           Marathon's paths, as clients use them
//   /marathon/v2/..., ...    the same under /marathon, where the admin router
//                            will publish them
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

#include <sstream>
#include <thread>

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
};

// One request to host:port; an error when it could not be made.
dcos::Result<HttpAnswer> call(const std::string &address, const std::string &method, const std::string &target,
                              const std::string &body, int timeoutSeconds, const std::string &contentType = "",
                              bool forwarding = false) {
  try {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) return dcos::makeError("no port in " + address);
    std::string host = address.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    Poco::Net::HTTPClientSession session(host, static_cast<Poco::UInt16>(std::stoi(address.substr(colon + 1))));
    session.setTimeout(Poco::Timespan(timeoutSeconds, 0));
    Poco::Net::HTTPRequest req(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    if (forwarding) req.set("X-Dcos-Forwarded", "1");
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.setContentType(contentType.empty() ? "application/json" : contentType);
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(req) << body;
    Poco::Net::HTTPResponse res;
    std::istream &in = session.receiveResponse(res);
    HttpAnswer a;
    Poco::StreamCopier::copyToString(in, a.body);
    a.status = static_cast<int>(res.getStatus());
    a.contentType = res.getContentType();
    return a;
  } catch (const Poco::Exception &e) {
    return dcos::makeError(address + ": " + e.displayText());
  } catch (const std::exception &e) {
    return dcos::makeError(address + ": " + e.what());
  }
}

class HttpAgents : public AgentPort {
 public:
  dcos::Result<int> launch(const AgentInfo &agent, const std::string &taskJson) override {
    auto r = call(agent.api, "POST", "/agent/v1/tasks", taskJson, 15);
    if (!r) return r.error();
    return r->status;
  }
  dcos::Result<std::map<std::string, std::string>> reconcile(const AgentInfo &agent) override {
    auto r = call(agent.api, "POST", "/agent/v1/reconcile", "", 10);
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
    auto r = call(agent.api, "POST", "/agent/v1/tasks/" + taskId + "/kill", "", 10);
    if (!r) return r.error();
    if (r->status != 202 && r->status != 200 && r->status != 404) {
      return dcos::makeError(agent.id + " answered " + std::to_string(r->status) + ": " + r->body);
    }
    return dcos::Status::Ok();
  }
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
    for (const char *prefix : {"/v2", "/ping", "/marathon", "/scheduler"}) {
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
    if (scheduler_) scheduler_->stop();
    if (zk_) zk_->close();
  }

 private:
  static void serve(void *self, const dcos_http_request *req, const dcos_http_response *resp) {
    auto *me = static_cast<SchedulerModule *>(self);
    std::string path = req->path;
    if (path == "/marathon" || path.rfind("/marathon/", 0) == 0) path = path.size() > 9 ? path.substr(9) : "/";
    std::string query = req->query != nullptr ? req->query : "";
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
      reply = me->scheduler_->handle(method, path, query, body);
    } else if (!leader.empty() && leader != me->address_ && !forwarded) {
      // A follower: the leader answers (once: a forwarded call is never
      // forwarded again, whatever this master thinks of who leads).
      auto r = call(leader, method, path + (query.empty() ? "" : "?" + query), body, 30, contentType, true);
      if (r) {
        reply.status = r->status;
        reply.body = r->body;
        if (!r->contentType.empty()) reply.headers.push_back({"Content-Type", r->contentType});
      } else {
        reply = {503, "{\"message\":\"the scheduler leader " + leader + " cannot be reached\"}", {}};
      }
    } else {
      reply = {503, "{\"message\":\"no scheduler leader yet\"}", {}};
    }
    if (!leader.empty()) reply.headers.push_back({"X-Marathon-Leader", "http://" + leader});
    resp->set_status(resp->ctx, reply.status);
    for (const auto &[k, v] : reply.headers) resp->set_header(resp->ctx, k.c_str(), v.c_str());
    resp->write(resp->ctx, reply.body.data(), reply.body.size());
  }

  void watchHealth() {
    std::string last;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
        if (stopping_) return;
      }
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
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace

DCOS_MODULE(SchedulerModule, "scheduler", DCOS_PLUGIN_VERSION, "Marathon's API: runs the cluster's apps on its agents")
