// The agent module: makes this node a place where tasks run. It registers
// the agent in ZooKeeper (/dcos/agents/<id>, ephemeral: identity, resources,
// what is in use), serves the agent API under /agent/v1 on the node API, and
// delivers every task status update to the scheduler's leader (found at
// /dcos/scheduler/leader) until the leader acknowledges it.
//
// Config (the role's manifest, overlaid by node.json's modules.agent):
//   "resources": {"cpus": N, "mem": MiB, "disk": MiB, "ports": "[31000-32000]"}
//                 what the agent offers; measured from the machine when absent
//                 (ports: cluster.json's agent_ports)
//   "reserved": {"cpus": 0, "mem": 256, "disk": 1024}  kept for the system
//   "default_user": "nobody"    tasks that name no user run as this one
//   "executor": "auto"          "systemd": each task a transient unit
//                               dcos-task-<id>.service; "process": each task
//                               under a dcos-task-supervisor; "auto": systemd
//                               where systemd is PID 1
//   "simulate": false           benches only: tasks run without processes
//   "supervisor": PATH          dcos-task-supervisor (default: beside agent.so)
// cluster.json's agents.allow_root_tasks says whether a task may run as root.
#include <dlfcn.h>
#include <syslog.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <dcos/plugin.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "base/file.h"
#include "coord/zk_client.h"
#include "plugins/modules/agent/agent.h"
#include "systemd/units.h"

namespace {

namespace fs = std::filesystem;
using Poco::JSON::Object;
using namespace dcos::agent;

Object::Ptr parseObject(const std::string &json, const std::string &what) {
  try {
    auto v = Poco::JSON::Parser().parse(json.empty() ? "{}" : json);
    if (v.type() == typeid(Object::Ptr)) return v.extract<Object::Ptr>();
  } catch (const Poco::Exception &e) {
    throw dcos::sdk::Error(what + ": malformed JSON: " + e.message());
  }
  throw dcos::sdk::Error(what + ": expected a JSON object");
}

// This library's directory, where dcos-task-supervisor sits beside it.
std::string libraryDir() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void *>(&libraryDir), &info) == 0 || info.dli_fname == nullptr) return ".";
  return fs::path(info.dli_fname).parent_path().string();
}

class AgentModule : public dcos::sdk::Module {
 public:
  AgentModule(dcos::sdk::Host host, std::string_view configText) : host_(host) {
    auto config = parseObject(std::string(configText), "agent config");
    auto node = parseObject(host_.nodeJson(), "node identity");
    auto cluster = parseObject(host_.clusterJson(), "cluster config");
    AgentConfig c;
    c.address = node->optValue<std::string>("address", "127.0.0.1");
    c.hostname = node->optValue<std::string>("hostname", c.address);
    c.zone = node->optValue<std::string>("zone", "private");
    c.resourceRole = node->optValue<std::string>("resource_role", "*");
    if (auto attrs = node->getObject("attributes")) {
      for (const auto &k : attrs->getNames()) c.attributes[k] = attrs->get(k).toString();
    }
    apiAddress_ = node->optValue<std::string>("api", "");
    c.stateDir = host_.stateDir();
    c.defaultUser = config->optValue<std::string>("default_user", "nobody");
    c.simulate = config->optValue<bool>("simulate", false);
    std::string executor = config->optValue<std::string>("executor", "auto");
    if (executor == "auto") {
      c.systemd = dcos::systemd::systemdIsInit();
    } else if (executor == "systemd") {
      if (!dcos::systemd::systemdIsInit()) {
        throw dcos::sdk::Error("agent config: /executor is \"systemd\", but systemd is not PID 1 here", EINVAL);
      }
      c.systemd = true;
    } else if (executor != "process") {
      throw dcos::sdk::Error("agent config: /executor: expected \"auto\", \"systemd\" or \"process\", got \"" +
                                 executor + "\"",
                             EINVAL);
    }
    c.supervisor = config->optValue<std::string>("supervisor", libraryDir() + "/dcos-task-supervisor");
    if (auto agents = cluster->getObject("agents")) c.allowRoot = agents->optValue<bool>("allow_root_tasks", false);
    Resources reserved{0, 256, 1024, {}};
    if (auto r = config->getObject("reserved")) {
      reserved.cpus = r->optValue<double>("cpus", reserved.cpus);
      reserved.mem = r->optValue<double>("mem", reserved.mem);
      reserved.disk = r->optValue<double>("disk", reserved.disk);
    }
    c.total = measureResources(c.stateDir, reserved);
    if (auto ranges = cluster->getArray("agent_ports")) {
      std::string text;
      for (size_t i = 0; i < ranges->size(); ++i) text += (i ? "," : "") + ranges->get(static_cast<unsigned>(i)).toString();
      if (auto p = parsePortRanges(text)) c.total.ports = *p;
    }
    if (auto r = config->getObject("resources")) {
      c.total.cpus = r->optValue<double>("cpus", c.total.cpus);
      c.total.mem = r->optValue<double>("mem", c.total.mem);
      c.total.disk = r->optValue<double>("disk", c.total.disk);
      if (r->has("ports")) {
        auto p = parsePortRanges(r->getValue<std::string>("ports"));
        if (!p) throw dcos::sdk::Error("agent config: /resources/ports: " + p.error().message);
        c.total.ports = *p;
      }
    }
    if (c.total.cpus <= 0 || c.total.mem <= 0) throw dcos::sdk::Error("agent config: /resources: no cpus or mem to offer");
    // A stable id: kept in the state dir across restarts.
    std::string idFile = c.stateDir + "/agent-id";
    c.id = dcos::readFileOrEmpty(idFile);
    while (!c.id.empty() && (c.id.back() == '\n' || c.id.back() == ' ')) c.id.pop_back();
    if (c.id.empty()) {
      std::string octet = c.address.substr(c.address.find_last_of(".:") + 1);
      c.id = newUuid() + "-S" + (octet.empty() ? "0" : octet);
      if (auto w = dcos::writeFileAtomically(idFile, c.id + "\n"); !w) throw dcos::sdk::Error(w.error().message, EIO);
    }
    c.log = [host](int level, const std::string &m) { host.log(static_cast<dcos_log_level>(level), m); };
    if (auto zk = cluster->getObject("zookeeper")) {
      int port = zk->optValue<int>("client_port", 2181);
      sessionMs_ = zk->optValue<int>("session_timeout_ms", 10000);
      auto masters = cluster->getArray("masters");
      for (size_t i = 0; masters && i < masters->size(); ++i) {
        std::string m = masters->getElement<std::string>(static_cast<unsigned>(i));
        connect_ += (i ? "," : "") + (m.find(':') != std::string::npos ? "[" + m + "]" : m) + ":" + std::to_string(port);
      }
    }
    config_ = std::move(c);
  }

  void start() override {
    auto agent = Agent::open(config_);
    if (!agent) throw dcos::sdk::Error("agent: " + agent.error().message, EIO);
    agent_ = std::move(*agent);
    agent_->onChange([this] {
      std::lock_guard lock(mutex_);
      changed_ = true;
      wake_.notify_all();
    });
    if (!connect_.empty()) {
      zk_ = dcos::coord::ZkClient::connect(connect_, std::chrono::milliseconds(sessionMs_));
    }
    sender_ = std::thread([this] { deliver(); });
    host_.httpRoute("/agent", &AgentModule::serve, this);
    host_.info("agent " + config_.id + " offers cpus " + std::to_string(config_.total.cpus) + ", mem " +
               std::to_string(static_cast<long>(config_.total.mem)) + " MiB, disk " +
               std::to_string(static_cast<long>(config_.total.disk)) + " MiB, ports " +
               portRangesText(config_.total.ports) + (config_.simulate ? " (simulated)" : ""));
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (sender_.joinable()) sender_.join();
    if (agent_) agent_->stop();
    if (zk_ && leaderWatch_ != 0) zk_->unwatch(leaderWatch_);
    if (zk_) zk_->close();
  }

 private:
  static void serve(void *self, const dcos_http_request *req, const dcos_http_response *resp) {
    auto *me = static_cast<AgentModule *>(self);
    auto reply = me->agent_->handle(req->method, req->path, req->query, std::string(req->body, req->body_len));
    resp->set_status(resp->ctx, reply.status);
    resp->write(resp->ctx, reply.body.data(), reply.body.size());
  }

  // The sender: keeps the ZooKeeper record current and hands the pending
  // updates to the leader, oldest first, until it acknowledges them.
  // What is in use changes the record at most once a second: a burst of
  // launches is one write (and one read by each of its watchers), not one
  // per task. Updates go out at once.
  void deliver() {
    using Clock = std::chrono::steady_clock;
    constexpr auto kRecordEvery = std::chrono::seconds(1);
    bool registered = false;
    bool dirty = false;  // the record is behind what is in use
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        auto wait = std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(registered ? 1000 : 200));
        if (registered && dirty) wait = std::max(Clock::duration::zero(), kRecordEvery - (Clock::now() - published_));
        wake_.wait_for(lock, wait, [&] { return stopping_ || changed_; });
        if (stopping_) return;
        dirty = dirty || changed_;
        changed_ = false;
      }
      // Also every 10 s: after a session expiry the node comes back with
      // the data it was made with, and this brings it up to date.
      const auto now = Clock::now();
      const bool refresh = !registered || now - published_ > std::chrono::seconds(10) ||
                           (dirty && now - published_ >= kRecordEvery);
      if (zk_ && refresh) {
        registered = publish();
        if (registered) {
          published_ = now;
          dirty = false;
        }
      }
      if (agent_->updates().pendingCount() > 0) sendUpdates();
    }
  }

  bool publish() {
    auto info = parseObject(agent_->infoJson(), "info");
    info->set("api", apiAddress_);
    std::ostringstream s;
    info->stringify(s);
    const std::string path = "/dcos/agents/" + config_.id;
    if (!created_) {
      if (!zk_->ensurePath("/dcos/agents")) return false;
      auto made = zk_->create(path, s.str(), dcos::coord::CreateMode::Ephemeral, dcos::coord::Ownership::Owned);
      if (!made && dcos::coord::codeOf(made.error()) == dcos::coord::Code::NodeExists) {
        // The node of a previous dcosd's session, which has not expired yet:
        // it would go with that session, so ours replaces it.
        auto old = zk_->exists(path);
        if (old && *old && (*old)->ephemeralOwner != zk_->sessionId()) (void)zk_->remove(path);
        return false;  // created on the next round
      }
      if (!made) return false;
      created_ = true;
      return true;
    }
    auto set = zk_->set(path, s.str());
    if (!set && dcos::coord::codeOf(set.error()) == dcos::coord::Code::NoNode) created_ = false;
    return set.ok();
  }

  // The leader's address: read again only after its record changed (a
  // standing watch), not once per delivery.
  std::string leaderAddress() {
    if (leaderWatch_ == 0) {
      leaderWatch_ = zk_->watchData("/dcos/scheduler/leader", [stale = leaderStale_] { *stale = true; });
    }
    if (!leaderStale_->exchange(false)) return leader_;
    leader_.clear();
    auto leader = zk_->get("/dcos/scheduler/leader");
    if (!leader) {
      if (dcos::coord::codeOf(leader.error()) != dcos::coord::Code::NoNode) *leaderStale_ = true;
      return "";
    }
    try {
      leader_ = parseObject(leader->first, "leader")->optValue<std::string>("address", "");
    } catch (const std::exception &) {
      *leaderStale_ = true;
    }
    return leader_;
  }

  void sendUpdates() {
    if (!zk_ || !zk_->connected()) return;
    const std::string address = leaderAddress();
    if (address.empty()) return;
    auto batch = agent_->updates().pending(500);
    std::string body = "{\"agent_id\":\"" + config_.id + "\",\"updates\":[";
    for (size_t i = 0; i < batch.size(); ++i) body += (i ? "," : "") + statusJson(batch[i]);
    body += "]}";
    // One connection to the leader, kept open between deliveries (a new
    // one each time cost a resolve, a connect and a close per batch); a
    // kept one that fails is replaced and the batch sent again at once (an
    // update sent twice is acknowledged twice, stored once).
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = session_ != nullptr && sessionAddress_ == address;
      try {
        if (!reused) {
          size_t colon = address.rfind(':');
          std::string hostPart = address.substr(0, colon);
          if (hostPart.size() > 2 && hostPart.front() == '[') hostPart = hostPart.substr(1, hostPart.size() - 2);
          session_ = std::make_unique<Poco::Net::HTTPClientSession>(
              hostPart, static_cast<Poco::UInt16>(std::stoi(address.substr(colon + 1))));
          session_->setTimeout(Poco::Timespan(5, 0));
          session_->setKeepAlive(true);
          sessionAddress_ = address;
        }
        if (deliverBatch(*session_, body)) return;
        session_.reset();  // the leader said no: a new connection next time
        return;
      } catch (const std::exception &) {
        session_.reset();
        // The leader is away or changing: the updates stay pending and go
        // out again on the next round (at once, if a kept connection had
        // merely been closed).
        if (!reused) return;
      }
    }
  }

  // Sends one batch and takes its acknowledgements; false when the leader
  // did not answer 200. Throws when the connection fails.
  bool deliverBatch(Poco::Net::HTTPClientSession &session, const std::string &body) {
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST, "/scheduler/v1/updates",
                               Poco::Net::HTTPMessage::HTTP_1_1);
    req.setContentType("application/json");
    req.setContentLength(static_cast<std::streamsize>(body.size()));
    req.setKeepAlive(true);
    session.sendRequest(req) << body;
    Poco::Net::HTTPResponse res;
    std::istream &in = session.receiveResponse(res);
    std::string answer;
    Poco::StreamCopier::copyToString(in, answer);
    if (res.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) return false;
    auto acked = parseObject(answer, "acknowledgement")->getArray("acknowledged");
    std::vector<std::string> uuids;
    for (size_t i = 0; acked && i < acked->size(); ++i) uuids.push_back(acked->getElement<std::string>(static_cast<unsigned>(i)));
    agent_->updates().acknowledge(uuids);
    return true;
  }

  dcos::sdk::Host host_;
  AgentConfig config_;
  std::string apiAddress_;
  std::string connect_;
  int sessionMs_ = 10000;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<dcos::coord::ZkClient> zk_;
  bool created_ = false;
  std::chrono::steady_clock::time_point published_{};
  std::thread sender_;
  // The sender's own: its connection to the leader, and the leader's
  // address as last read (leaderStale_ set by a watch of its record).
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  std::string sessionAddress_;
  dcos::coord::WatchId leaderWatch_ = 0;
  std::shared_ptr<std::atomic<bool>> leaderStale_ = std::make_shared<std::atomic<bool>>(true);
  std::string leader_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool changed_ = false;
  bool stopping_ = false;
};

}  // namespace

DCOS_MODULE(AgentModule, "agent", DCOS_PLUGIN_VERSION, "runs tasks on this node and reports them")
