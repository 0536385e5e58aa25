#include "coord/memory_client.h"

#include <algorithm>
#include <cstdio>

namespace dcos::coord {

namespace {

Error err(const std::string &op, const std::string &path, Code c) {
  return makeError(op + " " + path + ": " + std::string(codeName(c)), static_cast<int>(c));
}

}  // namespace

MemoryEnsemble::MemoryEnsemble() { nodes_["/"] = Node{}; }

int64_t MemoryEnsemble::newSession() {
  std::lock_guard lock(mu_);
  return nextSession_++;
}

std::string MemoryEnsemble::parentOf(const std::string &path) {
  auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

void MemoryEnsemble::fire(const std::string &path, WatchType type) {
  std::vector<Watch> hit;
  auto take = [&](std::multimap<std::string, Watch> &m) {
    auto [a, b] = m.equal_range(path);
    for (auto it = a; it != b; ++it) hit.push_back(it->second);
    m.erase(a, b);
  };
  if (type == WatchType::Children) {
    take(childWatches_);
  } else {
    take(dataWatches_);
    if (type == WatchType::Deleted) take(childWatches_);
  }
  for (auto &w : hit) {
    MemoryClient *c = w.client;
    if (w.standing != 0) {
      WatchId id = w.standing;
      c->post([c, id] {
        std::function<void()> cb;
        {
          std::lock_guard lock(c->mu_);
          auto it = c->standing_.find(id);
          if (it == c->standing_.end()) return;
          cb = it->second.callback;
        }
        c->rearmAndFireStanding();  // re-arms every standing watch; cheap for tests
        (void)cb;
      });
    } else {
      WatchEvent e{type, path};
      Watcher f = w.watcher;
      c->post([f, e] { f(e); });
    }
  }
}

void MemoryEnsemble::endSession(int64_t session) {
  std::lock_guard lock(mu_);
  std::vector<std::string> gone;
  for (const auto &[path, node] : nodes_) {
    if (node.stat.ephemeralOwner == session) gone.push_back(path);
  }
  for (const auto &p : gone) {
    nodes_.erase(p);
    fire(p, WatchType::Deleted);
    fire(parentOf(p), WatchType::Children);
  }
}

MemoryClient::MemoryClient(std::shared_ptr<MemoryEnsemble> ensemble) : ensemble_(std::move(ensemble)) {
  session_ = ensemble_->newSession();
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto f = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      f();
      lock.lock();
      ++done_;
      cv_.notify_all();
    }
  });
}

MemoryClient::~MemoryClient() { close(); }

void MemoryClient::post(std::function<void()> f) {
  std::lock_guard lock(mu_);
  if (stop_) return;
  queue_.push_back(std::move(f));
  ++posted_;
  cv_.notify_all();
}

void MemoryClient::drain() {
  std::unique_lock lock(mu_);
  size_t target = posted_;
  cv_.wait(lock, [&] { return done_ >= target || stop_; });
}

void MemoryClient::tell(SessionEvent e) {
  post([this, e] {
    std::vector<std::function<void(SessionEvent)>> ls;
    {
      std::lock_guard lock(mu_);
      for (auto &[id, l] : listeners_) ls.push_back(l);
    }
    for (auto &l : ls) l(e);
  });
}

void MemoryClient::rearmAndFireStanding() {
  std::vector<std::pair<WatchId, Standing>> all;
  {
    std::lock_guard lock(mu_);
    for (auto &[id, s] : standing_) all.emplace_back(id, s);
  }
  {
    std::lock_guard lock(ensemble_->mu_);
    for (auto &[id, s] : all) {
      // Drop earlier registrations of this standing watch, then arm anew.
      for (auto *m : {&ensemble_->dataWatches_, &ensemble_->childWatches_}) {
        for (auto it = m->begin(); it != m->end();) {
          it = it->second.client == this && it->second.standing == id ? m->erase(it) : std::next(it);
        }
      }
      bool exists = ensemble_->nodes_.count(s.path) != 0;
      auto &m = s.children && exists ? ensemble_->childWatches_ : ensemble_->dataWatches_;
      m.emplace(s.path, MemoryEnsemble::Watch{this, {}, id});
    }
  }
  for (auto &[id, s] : all) s.callback();
}

void MemoryClient::disconnect() {
  {
    std::lock_guard lock(mu_);
    connected_ = false;
  }
  tell(SessionEvent::Disconnected);
}

void MemoryClient::reconnect() {
  std::set<std::string> withdrawals;
  {
    std::lock_guard lock(mu_);
    connected_ = true;
    withdrawals.swap(withdrawals_);
  }
  cv_.notify_all();
  for (const auto &path : withdrawals) (void)remove(path);
  tell(SessionEvent::Connected);
}

void MemoryClient::expireSession() {
  int64_t old;
  {
    std::lock_guard lock(mu_);
    old = session_;
  }
  {
    // One-shot watches of the old session end with it.
    std::lock_guard lock(ensemble_->mu_);
    for (auto *m : {&ensemble_->dataWatches_, &ensemble_->childWatches_}) {
      for (auto it = m->begin(); it != m->end();) {
        if (it->second.client == this && it->second.standing == 0) {
          Watcher f = it->second.watcher;
          WatchEvent e{WatchType::SessionLost, it->first};
          post([f, e] { f(e); });
          it = m->erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  ensemble_->endSession(old);
  std::map<std::string, std::string> owned;
  {
    std::lock_guard lock(mu_);
    session_ = ensemble_->newSession();
    connected_ = true;
    owned = owned_;
    withdrawals_.clear();  // they went with the session
  }
  tell(SessionEvent::Expired);
  for (const auto &[path, data] : owned) (void)create(path, data, CreateMode::Ephemeral);
  post([this] { rearmAndFireStanding(); });
  tell(SessionEvent::Connected);
}

void MemoryClient::withdraw(const std::string &path) {
  {
    std::lock_guard lock(mu_);
    if (!connected_) {
      withdrawals_.insert(path);
      return;
    }
  }
  (void)remove(path);
}

bool MemoryClient::connected() const {
  std::lock_guard lock(mu_);
  return connected_ && !closed_;
}

bool MemoryClient::waitConnected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return connected_ || closed_; }) && connected_ && !closed_;
}

int64_t MemoryClient::sessionId() const {
  std::lock_guard lock(mu_);
  return session_;
}

Result<std::string> MemoryClient::create(const std::string &path, const std::string &data, CreateMode mode,
                                         Ownership ownership) {
  if (!connected()) return err("create", path, Code::ConnectionLoss);
  if (path.empty() || path[0] != '/' || (path.size() > 1 && path.back() == '/')) {
    return err("create", path, Code::InvalidArgument);
  }
  std::string made;
  {
    std::lock_guard lock(ensemble_->mu_);
    auto &nodes = ensemble_->nodes_;
    std::string parent = MemoryEnsemble::parentOf(path);
    auto p = nodes.find(parent);
    if (p == nodes.end()) return err("create", path, Code::NoNode);
    if (p->second.stat.ephemeralOwner != 0) return err("create", path, Code::InvalidArgument);
    made = path;
    if (mode == CreateMode::PersistentSequential || mode == CreateMode::EphemeralSequential) {
      char seq[16];
      std::snprintf(seq, sizeof seq, "%010d", p->second.nextSequence++);
      made += seq;
    }
    if (nodes.count(made) != 0) return err("create", path, Code::NodeExists);
    MemoryEnsemble::Node n;
    n.data = data;
    n.stat.mzxid = ensemble_->zxid_++;
    if (mode == CreateMode::Ephemeral || mode == CreateMode::EphemeralSequential) n.stat.ephemeralOwner = sessionId();
    nodes[made] = n;
    p->second.stat.numChildren++;
    p->second.stat.childrenVersion++;
    ensemble_->fire(made, WatchType::Created);
    ensemble_->fire(parent, WatchType::Children);
  }
  if (ownership == Ownership::Owned) {
    std::lock_guard lock(mu_);
    owned_[path] = data;
  }
  return made;
}

Status MemoryClient::ensurePath(const std::string &path) {
  for (size_t at = 1; at <= path.size(); ++at) {
    if (at != path.size() && path[at] != '/') continue;
    auto r = create(path.substr(0, at), "", CreateMode::Persistent);
    if (!r && codeOf(r.error()) != Code::NodeExists) return r.error();
  }
  return Status::Ok();
}

Result<std::pair<std::string, Stat>> MemoryClient::get(const std::string &path, Watcher watch) {
  if (!connected()) return err("get", path, Code::ConnectionLoss);
  std::lock_guard lock(ensemble_->mu_);
  auto it = ensemble_->nodes_.find(path);
  if (it == ensemble_->nodes_.end()) return err("get", path, Code::NoNode);
  if (watch) ensemble_->dataWatches_.emplace(path, MemoryEnsemble::Watch{this, watch, 0});
  return std::make_pair(it->second.data, it->second.stat);
}

Result<std::optional<Stat>> MemoryClient::exists(const std::string &path, Watcher watch) {
  if (!connected()) return err("exists", path, Code::ConnectionLoss);
  std::lock_guard lock(ensemble_->mu_);
  if (watch) ensemble_->dataWatches_.emplace(path, MemoryEnsemble::Watch{this, watch, 0});
  auto it = ensemble_->nodes_.find(path);
  if (it == ensemble_->nodes_.end()) return std::optional<Stat>();
  return std::optional<Stat>(it->second.stat);
}

Result<std::vector<std::string>> MemoryClient::children(const std::string &path, Watcher watch) {
  if (!connected()) return err("children of", path, Code::ConnectionLoss);
  std::lock_guard lock(ensemble_->mu_);
  if (ensemble_->nodes_.count(path) == 0) return err("children of", path, Code::NoNode);
  if (watch) ensemble_->childWatches_.emplace(path, MemoryEnsemble::Watch{this, watch, 0});
  std::vector<std::string> out;
  std::string prefix = path == "/" ? "/" : path + "/";
  for (auto it = ensemble_->nodes_.lower_bound(prefix); it != ensemble_->nodes_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    std::string rest = it->first.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos) out.push_back(rest);
  }
  return out;
}

void MemoryClient::failSets(const std::string &prefix, int n) {
  std::lock_guard lock(mu_);
  failPrefix_ = prefix;
  failSets_ = n;
}

Result<Stat> MemoryClient::set(const std::string &path, const std::string &data, int32_t version) {
  if (!connected()) return err("set", path, Code::ConnectionLoss);
  {
    std::lock_guard lock(mu_);
    if (failSets_ > 0 && path.rfind(failPrefix_, 0) == 0) {
      --failSets_;
      return err("set", path, Code::ConnectionLoss);
    }
  }
  std::lock_guard lock(ensemble_->mu_);
  auto it = ensemble_->nodes_.find(path);
  if (it == ensemble_->nodes_.end()) return err("set", path, Code::NoNode);
  if (version != -1 && version != it->second.stat.version) return err("set", path, Code::BadVersion);
  it->second.data = data;
  it->second.stat.version++;
  it->second.stat.mzxid = ensemble_->zxid_++;
  Stat s = it->second.stat;
  ensemble_->fire(path, WatchType::Changed);
  return s;
}

Status MemoryClient::remove(const std::string &path, int32_t version) {
  {
    std::lock_guard lock(mu_);
    owned_.erase(path);
  }
  if (!connected()) return err("delete", path, Code::ConnectionLoss);
  std::lock_guard lock(ensemble_->mu_);
  auto it = ensemble_->nodes_.find(path);
  if (it == ensemble_->nodes_.end()) return err("delete", path, Code::NoNode);
  if (version != -1 && version != it->second.stat.version) return err("delete", path, Code::BadVersion);
  if (it->second.stat.numChildren > 0) return err("delete", path, Code::NotEmpty);
  ensemble_->nodes_.erase(it);
  std::string parent = MemoryEnsemble::parentOf(path);
  auto p = ensemble_->nodes_.find(parent);
  if (p != ensemble_->nodes_.end()) {
    p->second.stat.numChildren--;
    p->second.stat.childrenVersion++;
  }
  ensemble_->fire(path, WatchType::Deleted);
  ensemble_->fire(parent, WatchType::Children);
  return Status::Ok();
}

WatchId MemoryClient::watchData(const std::string &path, std::function<void()> callback) {
  WatchId id;
  {
    std::lock_guard lock(mu_);
    id = nextWatch_++;
    standing_[id] = Standing{path, false, std::move(callback)};
  }
  post([this] { rearmAndFireStanding(); });
  return id;
}

WatchId MemoryClient::watchChildren(const std::string &path, std::function<void()> callback) {
  WatchId id;
  {
    std::lock_guard lock(mu_);
    id = nextWatch_++;
    standing_[id] = Standing{path, true, std::move(callback)};
  }
  post([this] { rearmAndFireStanding(); });
  return id;
}

void MemoryClient::unwatch(WatchId id) {
  std::lock_guard lock(mu_);
  standing_.erase(id);
}

uint64_t MemoryClient::onSession(std::function<void(SessionEvent)> listener) {
  std::lock_guard lock(mu_);
  uint64_t id = nextListener_++;
  listeners_[id] = std::move(listener);
  return id;
}

void MemoryClient::removeSessionListener(uint64_t id) {
  std::lock_guard lock(mu_);
  listeners_.erase(id);
}

void MemoryClient::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  {
    std::lock_guard lock(ensemble_->mu_);
    for (auto *m : {&ensemble_->dataWatches_, &ensemble_->childWatches_}) {
      for (auto it = m->begin(); it != m->end();) it = it->second.client == this ? m->erase(it) : std::next(it);
    }
  }
  ensemble_->endSession(sessionId());
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace dcos::coord
