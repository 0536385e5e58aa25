#include "dcosd/coordination.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <sstream>

#include "base/log.h"

namespace dcos::dcosd {

using namespace std::chrono_literals;

Coordination::Coordination(std::unique_ptr<coord::Client> client, std::string nodeId,
                           std::function<std::string()> describe,
                           std::function<void(const std::set<std::string> &)> membersChanged)
    : client_(std::move(client)),
      nodeId_(std::move(nodeId)),
      describe_(std::move(describe)),
      membersChanged_(std::move(membersChanged)) {
  membership_ = std::make_unique<coord::Membership>(*client_, kNodesPath);
}

Coordination::~Coordination() { stop(); }

void Coordination::start() {
  membership_->watch([this](const std::map<std::string, std::string> &) { reconcile(); });
  thread_ = std::thread([this] { run(); });
}

void Coordination::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Not under mutex_: a stop calls ZooKeeper and the module's callback,
  // which may call back in (resign).
  std::vector<std::shared_ptr<coord::LeaderElection>> recipes;
  {
    std::lock_guard lock(mutex_);
    for (auto &[name, e] : elections_) {
      if (e.recipe) recipes.push_back(e.recipe);
    }
  }
  for (auto &r : recipes) r->stop();
  membership_->leave();
  client_->close();
}

bool Coordination::tryRegister() {
  if (registered_) return true;
  auto joined = membership_->join(nodeId_, describe_());
  std::lock_guard lock(mutex_);
  if (!joined) {
    message_ = "cannot register in " + std::string(kNodesPath) + ": " + joined.error().message;
    return false;
  }
  registered_ = true;
  message_.clear();
  log::info("registered as " + std::string(kNodesPath) + "/" + nodeId_ + " in " + client_->connectString());
  return true;
}

bool Coordination::tryElections() {
  // Never hold mutex_ across a ZooKeeper call: /health reads state() under it.
  std::vector<std::pair<std::string, std::shared_ptr<coord::LeaderElection>>> pending;
  {
    std::lock_guard lock(mutex_);
    for (auto &[name, e] : elections_) {
      if (e.started) continue;
      if (!e.recipe) {
        auto onChange = e.onChange;
        std::string which = name;
        auto resigned = e.resigned;
        e.recipe = std::make_shared<coord::LeaderElection>(
            *client_, std::string(kElectionsPath) + "/" + name, e.data, [onChange, which, resigned](bool leader) {
              if (*resigned) return;
              log::notice((leader ? "won" : "lost") + std::string(" the election for ") + which);
              if (onChange) onChange(leader);
            });
      }
      pending.emplace_back(name, e.recipe);
    }
  }
  bool all = true;
  for (auto &[name, recipe] : pending) {
    auto s = recipe->start();
    std::unique_lock lock(mutex_);
    auto it = elections_.find(name);
    if (it == elections_.end() || it->second.recipe != recipe) {
      // Resigned while it stood: resign's stop may have come first.
      lock.unlock();
      recipe->stop();
      continue;
    }
    if (s) {
      it->second.started = true;
    } else {
      message_ = "cannot stand for election " + name + ": " + s.error().message;
      all = false;
    }
  }
  return all;
}

void Coordination::run() {
  auto backoff = 1s;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    bool ok = client_->waitConnected(2s) && tryRegister() && tryElections();
    lock.lock();
    if (stopping_) break;
    if (ok) {
      backoff = 1s;
      // Done until something new asks for work (an election) or stop(); on
      // the way, the membership is read every few seconds, so that a watch
      // ZooKeeper failed to deliver cannot keep a member out of the firewall.
      wake_.wait_for(lock, 5s, [&] {
        if (stopping_) return true;
        for (const auto &[name, e] : elections_) {
          if (!e.started) return true;
        }
        return false;
      });
      if (stopping_) break;
      lock.unlock();
      reconcile();
      lock.lock();
      continue;
    }
    if (!client_->connected() && message_.empty()) {
      message_ = "no session with the ensemble at " + client_->connectString();
    }
    wake_.wait_for(lock, backoff, [&] { return stopping_; });
    backoff = std::min<std::chrono::seconds>(backoff * 2, 30s);
  }
}

void Coordination::refresh() {
  {
    std::lock_guard lock(mutex_);
    if (!registered_) return;
  }
  if (auto s = membership_->update(describe_()); !s) log::warning("cannot update the membership record: " + s.error().message);
}

void Coordination::reconcile() {
  auto members = membership_->members();
  if (!members) return;
  std::set<std::string> addresses;
  for (const auto &[id, data] : *members) {
    try {
      auto o = Poco::JSON::Parser().parse(data).extract<Poco::JSON::Object::Ptr>();
      addresses.insert(o->optValue<std::string>("address", id));
    } catch (const std::exception &) {
      addresses.insert(id);
    }
  }
  if (membersChanged_) membersChanged_(addresses);
}

Result<std::string> Coordination::nodesJson() {
  auto members = membership_->members();
  if (!members) return members.error();
  Poco::JSON::Array out;
  for (const auto &[id, data] : *members) {
    try {
      out.add(Poco::JSON::Parser().parse(data));
    } catch (const std::exception &) {
      continue;  // a record we cannot read is not a node we can describe
    }
  }
  std::ostringstream s;
  out.stringify(s);
  return s.str();
}

Status Coordination::standForElection(const std::string &name, const std::string &candidateData,
                                      std::function<void(bool)> onChange) {
  {
    std::lock_guard lock(mutex_);
    if (elections_.count(name) != 0) return makeError("already standing for election " + name);
    elections_[name] = Election{candidateData, std::move(onChange), nullptr, false};
  }
  wake_.notify_all();
  return Status::Ok();
}

void Coordination::resign(const std::string &name) {
  std::shared_ptr<coord::LeaderElection> recipe;
  {
    std::lock_guard lock(mutex_);
    auto it = elections_.find(name);
    if (it == elections_.end()) return;
    recipe = std::move(it->second.recipe);
    *it->second.resigned = true;
    elections_.erase(it);
  }
  if (recipe) recipe->stop();
}

Coordination::State Coordination::state() const {
  std::lock_guard lock(mutex_);
  State s;
  s.connected = client_->connected();
  s.registered = registered_;
  s.message = s.connected ? message_ : "no session with the ensemble at " + client_->connectString();
  s.connectString = client_->connectString();
  return s;
}

}  // namespace dcos::dcosd
