#include "coord/recipes.h"

#include <algorithm>
#include <cstdio>

namespace dcos::coord {

LeaderElection::LeaderElection(Client &client, std::string path, std::string candidateData,
                               std::function<void(bool)> onChange)
    : client_(client), path_(std::move(path)), data_(std::move(candidateData)), onChange_(std::move(onChange)) {
  listener_ = client_.onSession([this](SessionEvent e) {
    if (e == SessionEvent::Expired) {
      {
        std::lock_guard lock(mutex_);
        node_.clear();  // went with the session
      }
      setLeader(false);
    } else if (e == SessionEvent::Connected) {
      bool stand, recheck;
      {
        std::lock_guard lock(mutex_);
        stand = running_ && node_.empty();
        recheck = running_ && !node_.empty();
      }
      // A check() that ran while the connection was down could read nothing
      // and set no watch: the predecessor may be gone by now, so look again.
      if (stand) (void)start();
      if (recheck) check();
    }
  });
}

LeaderElection::~LeaderElection() {
  client_.removeSessionListener(listener_);
  stop();
}

Status LeaderElection::start() {
  std::lock_guard serial(startMutex_);
  {
    std::lock_guard lock(mutex_);
    running_ = true;
    if (!node_.empty()) return Status::Ok();
  }
  if (auto s = client_.ensurePath(path_); !s) return s;
  // The candidate's name carries the session: a create whose reply was lost
  // with the connection may still have happened, and a second candidate of
  // ours would then wait behind the first for as long as the session lives.
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "c_%016llx-", static_cast<unsigned long long>(client_.sessionId()));
  auto kids = client_.children(path_);
  if (!kids) return kids.error();
  std::string mine;
  for (const auto &k : *kids) {
    if (k.rfind(prefix, 0) == 0) mine = k;
  }
  if (mine.empty()) {
    auto created = client_.create(path_ + "/" + prefix, data_, CreateMode::EphemeralSequential);
    if (!created) return created.error();
    mine = created->substr(path_.size() + 1);
  }
  {
    std::lock_guard lock(mutex_);
    node_ = mine;
  }
  check();
  return Status::Ok();
}

void LeaderElection::check() {
  std::string mine;
  {
    std::lock_guard lock(mutex_);
    if (!running_ || node_.empty()) return;
    mine = node_;
  }
  auto kids = client_.children(path_);
  if (!kids) return;  // a reconnect or a new session calls again
  std::vector<std::string> candidates;
  for (const auto &k : *kids) {
    if (k.rfind("c_", 0) == 0) candidates.push_back(k);
  }
  // Sequence numbers are the last ten digits.
  std::sort(candidates.begin(), candidates.end(), [](const std::string &a, const std::string &b) {
    return a.substr(a.size() - 10) < b.substr(b.size() - 10);
  });
  auto me = std::find(candidates.begin(), candidates.end(), mine);
  if (me == candidates.end()) {
    // Our node is gone while the session lives (deleted by hand): stand again.
    {
      std::lock_guard lock(mutex_);
      node_.clear();
    }
    setLeader(false);
    (void)start();
    return;
  }
  if (me == candidates.begin()) {
    setLeader(true);
    return;
  }
  setLeader(false);
  std::string predecessor = path_ + "/" + *(me - 1);
  auto there = client_.exists(predecessor, [this](const WatchEvent &e) {
    if (e.type == WatchType::Deleted || e.type == WatchType::SessionLost) check();
  });
  if (there && !there->has_value()) check();  // gone before the watch was set
}

void LeaderElection::setLeader(bool leader) {
  bool changed;
  {
    std::lock_guard lock(mutex_);
    changed = leader_ != leader;
    leader_ = leader;
  }
  if (changed && onChange_) onChange_(leader);
}

void LeaderElection::stop() {
  std::string node;
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    running_ = false;
    node.swap(node_);
  }
  if (!node.empty()) client_.withdraw(path_ + "/" + node);
  setLeader(false);
}

bool LeaderElection::isLeader() const {
  std::lock_guard lock(mutex_);
  return leader_;
}

Result<std::string> LeaderElection::leaderData() {
  auto kids = client_.children(path_);
  if (!kids) return kids.error();
  std::vector<std::string> c;
  for (const auto &k : *kids) {
    if (k.rfind("c_", 0) == 0) c.push_back(k);
  }
  if (c.empty()) return makeError("no leader in " + path_, static_cast<int>(Code::NoNode));
  std::sort(c.begin(), c.end(),
            [](const std::string &a, const std::string &b) { return a.substr(a.size() - 10) < b.substr(b.size() - 10); });
  auto data = client_.get(path_ + "/" + c.front());
  if (!data) return data.error();
  return data->first;
}

Membership::Membership(Client &client, std::string group) : client_(client), group_(std::move(group)) {}

Membership::~Membership() {
  if (watch_ != 0) client_.unwatch(watch_);
}

Status Membership::join(const std::string &id, const std::string &data) {
  if (auto s = client_.ensurePath(group_); !s) return s;
  std::string path = group_ + "/" + id;
  auto created = client_.create(path, data, CreateMode::Ephemeral, Ownership::Owned);
  if (!created && codeOf(created.error()) == Code::NodeExists) {
    // Left by our previous life, whose session has not timed out yet.
    auto stat = client_.exists(path);
    if (stat && stat->has_value() && (*stat)->ephemeralOwner != client_.sessionId()) {
      (void)client_.remove(path);
      created = client_.create(path, data, CreateMode::Ephemeral, Ownership::Owned);
    } else if (stat && stat->has_value()) {
      created = path;
    }
  }
  if (!created) return created.error();
  std::lock_guard lock(mutex_);
  id_ = id;
  return Status::Ok();
}

Status Membership::update(const std::string &data) {
  std::string id;
  {
    std::lock_guard lock(mutex_);
    id = id_;
  }
  if (id.empty()) return makeError("update: not a member of " + group_, static_cast<int>(Code::InvalidArgument));
  auto s = client_.set(group_ + "/" + id, data);
  if (!s) return s.error();
  return Status::Ok();
}

void Membership::leave() {
  std::string id;
  {
    std::lock_guard lock(mutex_);
    id.swap(id_);
  }
  if (!id.empty()) client_.withdraw(group_ + "/" + id);
}

Result<std::map<std::string, std::string>> Membership::members() {
  auto kids = client_.children(group_);
  if (!kids) {
    if (codeOf(kids.error()) == Code::NoNode) return std::map<std::string, std::string>();
    return kids.error();
  }
  std::map<std::string, std::string> out;
  for (const auto &k : *kids) {
    auto d = client_.get(group_ + "/" + k);
    if (d) out[k] = d->first;  // one that left meanwhile is simply not listed
  }
  return out;
}

void Membership::watch(std::function<void(const std::map<std::string, std::string> &)> callback) {
  watch_ = client_.watchChildren(group_, [this, callback] {
    auto m = members();
    if (m) callback(*m);
  });
}

}  // namespace dcos::coord
