#include "coord/recipes.h"

#include <algorithm>
#include <cstdio>

namespace dcos::coord {

namespace {

// Sequence numbers are the last ten digits of a candidate's name.
std::vector<std::string> candidatesInOrder(const std::vector<std::string> &kids) {
  std::vector<std::string> c;
  for (const auto &k : kids) {
    if (k.rfind("c_", 0) == 0 && k.size() > 10) c.push_back(k);
  }
  std::sort(c.begin(), c.end(),
            [](const std::string &a, const std::string &b) { return a.substr(a.size() - 10) < b.substr(b.size() - 10); });
  return c;
}

}  // namespace

struct LeaderElection::Core : std::enable_shared_from_this<Core> {
  Client &client;
  std::string path;
  std::string data;
  std::function<void(bool)> onChange;
  bool dataIsIdentity = false;
  // Held by every step that reads or changes the candidacy, and around
  // onChange: stop() waits for a step under way, and none runs after it.
  // Recursive, since onChange may call stop().
  std::recursive_mutex serial;
  mutable std::mutex mutex;  // the fields below, for isLeader() from any thread
  std::string node;          // our candidate's name under path, "" when none
  bool leader = false;
  bool running = false;

  Core(Client &c, std::string p, std::string d, std::function<void(bool)> f)
      : client(c), path(std::move(p)), data(std::move(d)), onChange(std::move(f)) {}

  // Stands: finds its own node (a create whose reply was lost may still have
  // happened) or creates one, then checks who leads. Only while running.
  Status stand() {
    std::lock_guard step(serial);
    {
      std::lock_guard lock(mutex);
      if (!running || !node.empty()) return Status::Ok();
    }
    if (auto s = client.ensurePath(path); !s) return s;
    // The candidate's name carries the session, so that it can be found.
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "c_%016llx-", static_cast<unsigned long long>(client.sessionId()));
    auto kids = client.children(path);
    if (!kids) return kids.error();
    std::string mine;
    for (const auto &k : *kids) {
      if (k.rfind(prefix, 0) == 0) mine = k;
    }
    if (mine.empty() && dataIsIdentity) {
      // Ours from an earlier session (this candidate restarted within the
      // session timeout): gone now, so that it neither leads nor stands
      // ahead of us while nobody acts for it.
      for (const auto &k : *kids) {
        if (k.rfind("c_", 0) != 0) continue;
        auto held = client.get(path + "/" + k);
        if (held && held->first == data) (void)client.remove(path + "/" + k);
      }
    }
    if (mine.empty()) {
      auto created = client.create(path + "/" + prefix, data, CreateMode::EphemeralSequential);
      if (!created) return created.error();
      mine = created->substr(path.size() + 1);
    }
    {
      std::lock_guard lock(mutex);
      node = mine;
    }
    check();
    return Status::Ok();
  }

  void check() {
    std::lock_guard step(serial);
    std::string mine;
    {
      std::lock_guard lock(mutex);
      if (!running || node.empty()) return;
      mine = node;
    }
    auto kids = client.children(path);
    if (!kids) return;  // the next Connected looks again
    auto candidates = candidatesInOrder(*kids);
    auto me = std::find(candidates.begin(), candidates.end(), mine);
    if (me == candidates.end()) {
      // Our node is gone while the session lives (deleted by hand): stand again.
      {
        std::lock_guard lock(mutex);
        node.clear();
      }
      setLeader(false);
      (void)stand();
      return;
    }
    if (me == candidates.begin()) {
      setLeader(true);
      // Our own node watched too: one removed by another candidate (its data
      // taken for ours) or by hand ends this leadership at once.
      std::weak_ptr<Core> weak = shared_from_this();
      auto there = client.exists(path + "/" + mine, [weak](const WatchEvent &e) {
        if (e.type != WatchType::Deleted) return;
        if (auto core = weak.lock()) core->check();
      });
      if (there && !there->has_value()) check();
      return;
    }
    setLeader(false);
    std::weak_ptr<Core> weak = shared_from_this();
    auto there = client.exists(path + "/" + *(me - 1), [weak](const WatchEvent &e) {
      if (e.type != WatchType::Deleted && e.type != WatchType::SessionLost) return;
      if (auto core = weak.lock()) core->check();
    });
    if (there && !there->has_value()) check();  // gone before the watch was set
  }

  // Under `serial`.
  void setLeader(bool now) {
    bool changed;
    {
      std::lock_guard lock(mutex);
      if (!running && now) return;
      changed = leader != now;
      leader = now;
    }
    if (changed && onChange) onChange(now);
  }

  void session(SessionEvent e) {
    std::lock_guard step(serial);
    if (e == SessionEvent::Expired) {
      {
        std::lock_guard lock(mutex);
        node.clear();  // went with the session
      }
      setLeader(false);
    } else if (e == SessionEvent::Connected) {
      bool stood;
      {
        std::lock_guard lock(mutex);
        stood = !node.empty();
      }
      // A check() that ran while the connection was down could read nothing
      // and set no watch: the predecessor may be gone by now, so look again.
      if (stood) {
        check();
      } else {
        (void)stand();
      }
    }
  }

  void stop() {
    std::lock_guard step(serial);
    std::string was;
    bool wasLeader;
    {
      std::lock_guard lock(mutex);
      if (!running) return;
      running = false;
      was.swap(node);
      wasLeader = leader;
      leader = false;
    }
    if (!was.empty()) client.withdraw(path + "/" + was);
    if (wasLeader && onChange) onChange(false);
  }
};

LeaderElection::LeaderElection(Client &client, std::string path, std::string candidateData,
                               std::function<void(bool)> onChange, bool dataIsIdentity)
    : core_(std::make_shared<Core>(client, std::move(path), std::move(candidateData), std::move(onChange))) {
  core_->dataIsIdentity = dataIsIdentity;
  std::weak_ptr<Core> weak = core_;
  listener_ = core_->client.onSession([weak](SessionEvent e) {
    if (auto core = weak.lock()) core->session(e);
  });
}

LeaderElection::~LeaderElection() {
  core_->client.removeSessionListener(listener_);
  core_->stop();
}

Status LeaderElection::start() {
  {
    std::lock_guard step(core_->serial);
    std::lock_guard lock(core_->mutex);
    core_->running = true;
  }
  return core_->stand();
}

void LeaderElection::stop() { core_->stop(); }

bool LeaderElection::isLeader() const {
  std::lock_guard lock(core_->mutex);
  return core_->leader;
}

Result<std::string> LeaderElection::leaderData() {
  auto kids = core_->client.children(core_->path);
  if (!kids) return kids.error();
  auto c = candidatesInOrder(*kids);
  if (c.empty()) return makeError("no leader in " + core_->path, static_cast<int>(Code::NoNode));
  auto data = core_->client.get(core_->path + "/" + c.front());
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

namespace dcos::coord {

std::vector<Status> Client::writeAll(const std::vector<Write> &writes) {
  std::vector<Status> out;
  out.reserve(writes.size());
  for (const auto &w : writes) {
    switch (w.kind) {
      case Write::Kind::Create: {
        auto r = create(w.path, w.data, CreateMode::Persistent);
        out.push_back(r ? Status::Ok() : Status(r.error()));
        break;
      }
      case Write::Kind::Set: {
        auto r = set(w.path, w.data);
        out.push_back(r ? Status::Ok() : Status(r.error()));
        break;
      }
      case Write::Kind::Upsert: {
        auto r = set(w.path, w.data);
        if (!r && codeOf(r.error()) == Code::NoNode) {
          auto c = create(w.path, w.data, CreateMode::Persistent);
          out.push_back(c ? Status::Ok() : Status(c.error()));
        } else {
          out.push_back(r ? Status::Ok() : Status(r.error()));
        }
        break;
      }
      case Write::Kind::Remove: out.push_back(remove(w.path)); break;
    }
  }
  return out;
}

std::vector<Result<std::string>> Client::readAll(const std::vector<std::string> &paths) {
  std::vector<Result<std::string>> out;
  out.reserve(paths.size());
  for (const auto &p : paths) {
    auto r = get(p);
    if (r) {
      out.emplace_back(std::move(r->first));
    } else {
      out.emplace_back(r.error());
    }
  }
  return out;
}

}  // namespace dcos::coord
