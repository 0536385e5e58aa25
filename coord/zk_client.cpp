#include "coord/zk_client.h"

#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>

#include "base/log.h"

namespace dcos::coord {

std::string_view codeName(Code code) {
  switch (code) {
    case Code::Ok: return "ok";
    case Code::NoNode: return "no node";
    case Code::NodeExists: return "node exists";
    case Code::BadVersion: return "bad version";
    case Code::NotEmpty: return "not empty";
    case Code::InvalidArgument: return "invalid argument";
    case Code::ConnectionLoss: return "connection loss";
    case Code::OperationTimeout: return "operation timeout";
    case Code::SessionExpired: return "session expired";
    case Code::Closed: return "client closed";
    case Code::Other: return "error";
  }
  return "error";
}

bool isRetryable(Code code) {
  return code == Code::ConnectionLoss || code == Code::OperationTimeout || code == Code::SessionExpired;
}

namespace {

// How often the client resolves the servers' names again while connected.
constexpr int kResolveEveryMs = 10000;

Code codeFor(int rc) {
  switch (rc) {
    case ZOK: return Code::Ok;
    case ZNONODE: return Code::NoNode;
    case ZNODEEXISTS: return Code::NodeExists;
    case ZBADVERSION: return Code::BadVersion;
    case ZNOTEMPTY: return Code::NotEmpty;
    case ZBADARGUMENTS:
    case ZNOCHILDRENFOREPHEMERALS: return Code::InvalidArgument;
    case ZCONNECTIONLOSS:
    case ZINVALIDSTATE: return Code::ConnectionLoss;
    case ZOPERATIONTIMEOUT: return Code::OperationTimeout;
    case ZSESSIONEXPIRED: return Code::SessionExpired;
    case ZCLOSING: return Code::Closed;
    default: return Code::Other;
  }
}

Error zkError(const std::string &op, const std::string &path, int rc) {
  Code c = codeFor(rc);
  std::string what = c == Code::Other ? zerror(rc) : std::string(codeName(c));
  return makeError(op + " " + path + ": " + what, static_cast<int>(c));
}

Stat toStat(const ::Stat &s) {
  Stat out;
  out.version = s.version;
  out.childrenVersion = s.cversion;
  out.ephemeralOwner = s.ephemeralOwner;
  out.mzxid = s.mzxid;
  out.numChildren = s.numChildren;
  return out;
}

void zkLog(const char *message) { log::write(log::Level::Debug, "zookeeper-client", message); }

// The C client logs through this once set; keep it off stderr.
void quietClientLogs() {
  static std::once_flag once;
  std::call_once(once, [] {
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    FILE *sink = std::fopen("/dev/null", "w");
    if (sink != nullptr) zoo_set_log_stream(sink);
  });
}

}  // namespace

struct ZkClient::Impl {
  std::string hosts;
  int timeoutMs;

  // Guards the handle's lifetime: calls hold it shared, replacing the
  // handle after expiry holds it exclusively.
  std::shared_mutex handleMutex;
  zhandle_t *zh = nullptr;
  struct HandleCtx;
  std::unique_ptr<HandleCtx> zhCtx;  // the context of zh's callbacks: freed once zh is closed

  mutable std::mutex mu;  // everything below
  std::condition_variable cv;
  uint64_t generation = 0;
  bool isConnected = false;
  bool everConnected = false;
  bool rearm = false;  // after a new session: re-create owned nodes and re-arm standing watches
  bool closed = false;
  int64_t sid = 0;
  std::string passwd;
  std::map<std::string, std::string> owned;
  std::set<std::string> withdrawals;  // ephemerals to delete once connected again
  struct Standing {
    std::string path;
    bool children;
    std::function<void()> callback;
    bool armed = false;  // a ZooKeeper watch is set for it
  };
  std::map<WatchId, Standing> standing;
  WatchId nextWatch = 1;
  std::map<uint64_t, std::function<void(SessionEvent)>> listeners;
  uint64_t nextListener = 1;
  std::deque<std::function<void()>> queue;
  bool stopThread = false;
  std::thread thread;

  // Context handed to ZooKeeper's callbacks; freed when they fire.
  struct HandleCtx {
    Impl *impl;
    uint64_t generation;
  };
  struct OneShotCtx {
    Impl *impl;
    Watcher watcher;
  };
  struct StandingCtx {
    Impl *impl;
    WatchId id;
  };

  void post(std::function<void()> f) {
    {
      std::lock_guard lock(mu);
      if (stopThread) return;
      queue.push_back(std::move(f));
    }
    cv.notify_all();
  }

  void runEvents() {
    std::unique_lock lock(mu);
    while (true) {
      cv.wait(lock, [&] { return stopThread || !queue.empty(); });
      if (queue.empty() && stopThread) return;
      auto f = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      f();
      lock.lock();
    }
  }

  void open() {
    // Called with handleMutex held exclusively (or before any call).
    uint64_t gen;
    {
      std::lock_guard lock(mu);
      gen = ++generation;
    }
    zhCtx = std::make_unique<HandleCtx>(HandleCtx{this, gen});
    zh = zookeeper_init2(hosts.c_str(), &Impl::onHandleEvent, timeoutMs, nullptr, zhCtx.get(), 0, &zkLog);
    if (zh == nullptr) {
      log::error("zookeeper client: cannot create a handle for " + hosts);
      return;
    }
    // The client resolves the server names each time it polls its socket
    // unless told otherwise: a getaddrinfo (and its netlink query of the
    // interfaces) per request, 15% of a leading scheduler's CPU under load.
    // Once every 10 s still follows a change of names; a lost connection
    // resolves them again at once.
    (void)zoo_set_servers_resolution_delay(zh, kResolveEveryMs);
  }

  static void onHandleEvent(zhandle_t *, int type, int state, const char *, void *ctx) {
    auto *h = static_cast<HandleCtx *>(ctx);
    if (type != ZOO_SESSION_EVENT) return;
    Impl *impl = h->impl;
    uint64_t gen = h->generation;
    impl->post([impl, gen, state] { impl->sessionState(gen, state); });
  }

  void tell(SessionEvent e) {
    std::vector<std::function<void(SessionEvent)>> ls;
    {
      std::lock_guard lock(mu);
      for (auto &[id, l] : listeners) ls.push_back(l);
    }
    for (auto &l : ls) l(e);
  }

  // On the event thread.
  void sessionState(uint64_t gen, int state) {
    {
      std::lock_guard lock(mu);
      if (gen != generation || closed) return;
    }
    if (state == ZOO_CONNECTED_STATE) {
      bool again;
      {
        std::shared_lock handle(handleMutex);
        const clientid_t *id = zh != nullptr ? zoo_client_id(zh) : nullptr;
        std::lock_guard lock(mu);
        isConnected = true;
        if (id != nullptr) {
          sid = id->client_id;
          passwd.assign(id->passwd, sizeof id->passwd);
        }
        again = rearm;
        rearm = false;
        everConnected = true;
      }
      cv.notify_all();
      finishWithdrawals();
      if (again) {
        restoreSession();
      } else {
        armPending();  // watches asked for before there was a session
      }
      tell(SessionEvent::Connected);
    } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
      {
        std::lock_guard lock(mu);
        isConnected = false;
        rearm = true;
        withdrawals.clear();  // they went with the session
      }
      log::warning("zookeeper session 0x" + hex(sid) + " expired; opening a new one to " + hosts);
      tell(SessionEvent::Expired);
      std::unique_lock handle(handleMutex);
      if (zh != nullptr) zookeeper_close(zh);  // no callback after it returns
      zhCtx.reset();
      zh = nullptr;
      bool isClosed;
      {
        std::lock_guard lock(mu);
        isClosed = closed;
      }
      if (!isClosed) open();
    } else {
      bool was;
      {
        std::lock_guard lock(mu);
        was = isConnected;
        isConnected = false;
      }
      if (was) tell(SessionEvent::Disconnected);
    }
  }

  static std::string hex(int64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
    return buf;
  }

  // Back on the same session: delete what was withdrawn while disconnected.
  void finishWithdrawals() {
    std::set<std::string> paths;
    {
      std::lock_guard lock(mu);
      paths = withdrawals;
    }
    for (const auto &path : paths) {
      int rc;
      {
        std::shared_lock handle(handleMutex);
        if (zh == nullptr) return;
        rc = zoo_delete(zh, path.c_str(), -1);
      }
      if (rc == ZOK || rc == ZNONODE) {
        std::lock_guard lock(mu);
        withdrawals.erase(path);
      } else {
        log::warning("zookeeper: withdrawing " + path + ": " + zerror(rc) + "; again on the next reconnect");
      }
    }
  }

  // A new session: owned ephemerals come back, standing watches re-arm.
  void restoreSession() {
    std::map<std::string, std::string> nodes;
    std::vector<WatchId> watches;
    {
      std::lock_guard lock(mu);
      nodes = owned;
      for (auto &[id, s] : standing) watches.push_back(id);
    }
    bool incomplete = false;
    for (const auto &[path, data] : nodes) {
      std::shared_lock handle(handleMutex);
      if (zh == nullptr) break;
      int rc = zoo_create(zh, path.c_str(), data.data(), static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE,
                          ZOO_EPHEMERAL, nullptr, 0);
      if (rc != ZOK && rc != ZNODEEXISTS) {
        log::warning("zookeeper: re-creating " + path + ": " + zerror(rc) + "; again on the next reconnect");
        incomplete = true;
      }
    }
    if (incomplete) {
      std::lock_guard lock(mu);
      rearm = true;  // the next Connected restores again
    }
    for (WatchId id : watches) {
      arm(id);
      fire(id);
    }
  }

  // The C client also hands connection-state changes to node watchers; the
  // watch stays registered through them (and fires again later), so the
  // context is freed only by a real event or by the session's end.
  // On a (re)connect: arm what is not armed, then run every standing
  // callback, since a callback that ran while the session was still being
  // set up could not read anything and would otherwise wait for a change.
  void armPending() {
    std::vector<WatchId> pending;
    std::vector<WatchId> all;
    {
      std::lock_guard lock(mu);
      for (auto &[id, s] : standing) {
        all.push_back(id);
        if (!s.armed) pending.push_back(id);
      }
    }
    for (WatchId id : pending) arm(id);
    for (WatchId id : all) fire(id);
  }

  static void onOneShot(zhandle_t *, int type, int state, const char *path, void *ctx) {
    if (type == ZOO_SESSION_EVENT && state != ZOO_EXPIRED_SESSION_STATE && state != ZOO_AUTH_FAILED_STATE) return;
    auto *c = static_cast<OneShotCtx *>(ctx);
    Impl *impl = c->impl;
    Watcher w = std::move(c->watcher);
    delete c;
    WatchEvent e{WatchType::Changed, path != nullptr ? path : ""};
    if (type == ZOO_CREATED_EVENT) e.type = WatchType::Created;
    else if (type == ZOO_DELETED_EVENT) e.type = WatchType::Deleted;
    else if (type == ZOO_CHILD_EVENT) e.type = WatchType::Children;
    else if (type == ZOO_SESSION_EVENT) e.type = WatchType::SessionLost;
    if (w) impl->post([w, e] { w(e); });
  }

  static void onStanding(zhandle_t *, int type, int state, const char *, void *ctx) {
    if (type == ZOO_SESSION_EVENT && state != ZOO_EXPIRED_SESSION_STATE && state != ZOO_AUTH_FAILED_STATE) return;
    auto *c = static_cast<StandingCtx *>(ctx);
    Impl *impl = c->impl;
    WatchId id = c->id;
    delete c;
    if (type == ZOO_SESSION_EVENT) {
      std::lock_guard lock(impl->mu);
      auto it = impl->standing.find(id);
      if (it != impl->standing.end()) it->second.armed = false;
      return;  // restoreSession() re-arms after the new session
    }
    impl->post([impl, id] {
      impl->arm(id);
      impl->fire(id);
    });
  }

  void arm(WatchId id) {
    Standing s;
    {
      std::lock_guard lock(mu);
      auto it = standing.find(id);
      if (it == standing.end()) return;
      // Before a session exists, a watch set by a request queued behind the
      // handshake was seen not to fire: arm on connect instead (armPending).
      if (!isConnected) {
        it->second.armed = false;
        return;
      }
      s = it->second;
    }
    int rc = ZINVALIDSTATE;
    {
      std::shared_lock handle(handleMutex);
      if (zh != nullptr) {
        ::Stat st{};
        // Children of a node not there yet: learn when it appears. If it
        // appears between the two calls, a data watch alone would miss its
        // children: ask for them again.
        for (int attempt = 0; attempt < 3; ++attempt) {
          if (s.children) {
            String_vector names{};
            auto *ctx = new StandingCtx{this, id};
            rc = zoo_wget_children2(zh, s.path.c_str(), &Impl::onStanding, ctx, &names, &st);
            if (rc == ZOK) deallocate_String_vector(&names);
            // On failure the context is left, not freed: whether the C client keeps
            // a watcher for a call that failed is not ours to guess.
            if (rc != ZNONODE) break;
          }
          auto *ctx = new StandingCtx{this, id};
          rc = zoo_wexists(zh, s.path.c_str(), &Impl::onStanding, ctx, &st);
          if (!s.children || rc != ZOK) break;
        }
      }
    }
    std::lock_guard lock(mu);
    auto it = standing.find(id);
    if (it != standing.end()) it->second.armed = rc == ZOK || rc == ZNONODE;
  }

  void fire(WatchId id) {
    std::function<void()> cb;
    {
      std::lock_guard lock(mu);
      auto it = standing.find(id);
      if (it == standing.end()) return;
      cb = it->second.callback;
    }
    cb();
  }

  // Runs a call on the handle, failing fast while there is no session.
  template <class F>
  auto call(F &&f) -> decltype(f(static_cast<zhandle_t *>(nullptr))) {
    {
      std::lock_guard lock(mu);
      if (closed) return makeError("zookeeper client closed", static_cast<int>(Code::Closed));
      if (!isConnected) {
        return makeError("no session with " + hosts, static_cast<int>(Code::ConnectionLoss));
      }
    }
    std::shared_lock handle(handleMutex);
    if (zh == nullptr) return makeError("no session with " + hosts, static_cast<int>(Code::ConnectionLoss));
    return f(zh);
  }
};

std::unique_ptr<ZkClient> ZkClient::connect(std::string connectString, std::chrono::milliseconds sessionTimeout) {
  quietClientLogs();
  auto impl = std::make_unique<Impl>();
  impl->hosts = std::move(connectString);
  impl->timeoutMs = static_cast<int>(sessionTimeout.count());
  Impl *raw = impl.get();
  impl->thread = std::thread([raw] { raw->runEvents(); });
  {
    std::unique_lock handle(impl->handleMutex);
    impl->open();
  }
  return std::unique_ptr<ZkClient>(new ZkClient(std::move(impl)));
}

ZkClient::ZkClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ZkClient::~ZkClient() { close(); }

void ZkClient::close() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->closed) return;
    impl_->closed = true;
    impl_->isConnected = false;
  }
  {
    std::unique_lock handle(impl_->handleMutex);
    if (impl_->zh != nullptr) zookeeper_close(impl_->zh);
    impl_->zhCtx.reset();
    impl_->zh = nullptr;
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopThread = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) {
    if (impl_->thread.get_id() == std::this_thread::get_id()) {
      impl_->thread.detach();
    } else {
      impl_->thread.join();
    }
  }
}

std::string ZkClient::connectString() const { return impl_->hosts; }

bool ZkClient::connected() const {
  std::lock_guard lock(impl_->mu);
  return impl_->isConnected;
}

bool ZkClient::waitConnected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->isConnected || impl_->closed; }) && impl_->isConnected;
}

int64_t ZkClient::sessionId() const {
  std::lock_guard lock(impl_->mu);
  return impl_->sid;
}

std::string ZkClient::sessionPassword() const {
  std::lock_guard lock(impl_->mu);
  return impl_->passwd;
}

Result<std::string> ZkClient::create(const std::string &path, const std::string &data, CreateMode mode,
                                     Ownership ownership) {
  int flags = 0;
  switch (mode) {
    case CreateMode::Persistent: flags = 0; break;
    case CreateMode::Ephemeral: flags = ZOO_EPHEMERAL; break;
    case CreateMode::PersistentSequential: flags = ZOO_SEQUENCE; break;
    case CreateMode::EphemeralSequential: flags = ZOO_EPHEMERAL | ZOO_SEQUENCE; break;
  }
  if (ownership == Ownership::Owned && mode != CreateMode::Ephemeral) {
    return makeError("create " + path + ": only plain ephemerals can be owned", static_cast<int>(Code::InvalidArgument));
  }
  // Owned before the call: a create whose reply is lost may have happened,
  // and the node must come back after an expiry all the same.
  if (ownership == Ownership::Owned) {
    std::lock_guard lock(impl_->mu);
    impl_->owned[path] = data;
  }
  auto r = impl_->call([&](zhandle_t *zh) -> Result<std::string> {
    std::vector<char> out(path.size() + 32);
    int rc = zoo_create(zh, path.c_str(), data.data(), static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE, flags,
                        out.data(), static_cast<int>(out.size()));
    if (rc != ZOK) return zkError("create", path, rc);
    return std::string(out.data());
  });
  if (!r && ownership == Ownership::Owned && !isRetryable(r.error())) {
    // Ours only if this session made it (an earlier, lost reply).
    bool ours = false;
    if (codeOf(r.error()) == Code::NodeExists) {
      auto there = exists(path);
      ours = there && there->has_value() && (*there)->ephemeralOwner == sessionId();
    }
    if (!ours) {
      std::lock_guard lock(impl_->mu);
      impl_->owned.erase(path);
    }
  }
  return r;
}

Status ZkClient::ensurePath(const std::string &path) {
  if (path.empty() || path[0] != '/') {
    return makeError("ensure " + path + ": not an absolute path", static_cast<int>(Code::InvalidArgument));
  }
  for (size_t at = 1; at <= path.size(); ++at) {
    if (at != path.size() && path[at] != '/') continue;
    std::string prefix = path.substr(0, at);
    auto r = create(prefix, "", CreateMode::Persistent);
    if (!r && codeOf(r.error()) != Code::NodeExists) return r.error();
  }
  return Status::Ok();
}

Result<std::pair<std::string, Stat>> ZkClient::get(const std::string &path, Watcher watch) {
  return impl_->call([&](zhandle_t *zh) -> Result<std::pair<std::string, Stat>> {
    std::vector<char> buf(1 << 20);
    int len = static_cast<int>(buf.size());
    ::Stat st{};
    int rc = watch ? zoo_wget(zh, path.c_str(), &Impl::onOneShot, new Impl::OneShotCtx{impl_.get(), watch}, buf.data(),
                              &len, &st)
                   : zoo_get(zh, path.c_str(), 0, buf.data(), &len, &st);
    if (rc != ZOK) return zkError("get", path, rc);
    return std::make_pair(std::string(buf.data(), static_cast<size_t>(std::max(len, 0))), toStat(st));
  });
}

Result<std::optional<Stat>> ZkClient::exists(const std::string &path, Watcher watch) {
  return impl_->call([&](zhandle_t *zh) -> Result<std::optional<Stat>> {
    ::Stat st{};
    int rc = watch ? zoo_wexists(zh, path.c_str(), &Impl::onOneShot, new Impl::OneShotCtx{impl_.get(), watch}, &st)
                   : zoo_exists(zh, path.c_str(), 0, &st);
    if (rc == ZNONODE) return std::optional<Stat>();
    if (rc != ZOK) return zkError("exists", path, rc);
    return std::optional<Stat>(toStat(st));
  });
}

Result<std::vector<std::string>> ZkClient::children(const std::string &path, Watcher watch) {
  return impl_->call([&](zhandle_t *zh) -> Result<std::vector<std::string>> {
    String_vector names{};
    ::Stat st{};
    int rc = watch ? zoo_wget_children2(zh, path.c_str(), &Impl::onOneShot, new Impl::OneShotCtx{impl_.get(), watch},
                                        &names, &st)
                   : zoo_get_children2(zh, path.c_str(), 0, &names, &st);
    if (rc != ZOK) return zkError("children of", path, rc);
    std::vector<std::string> out;
    for (int i = 0; i < names.count; ++i) out.emplace_back(names.data[i]);
    deallocate_String_vector(&names);
    std::sort(out.begin(), out.end());
    return out;
  });
}

Result<Stat> ZkClient::set(const std::string &path, const std::string &data, int32_t version) {
  return impl_->call([&](zhandle_t *zh) -> Result<Stat> {
    ::Stat st{};
    int rc = zoo_set2(zh, path.c_str(), data.data(), static_cast<int>(data.size()), version, &st);
    if (rc != ZOK) return zkError("set", path, rc);
    {
      std::lock_guard lock(impl_->mu);
      auto it = impl_->owned.find(path);
      if (it != impl_->owned.end()) it->second = data;
    }
    return toStat(st);
  });
}

Status ZkClient::remove(const std::string &path, int32_t version) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->owned.erase(path);
  }
  auto r = impl_->call([&](zhandle_t *zh) -> Result<bool> {
    int rc = zoo_delete(zh, path.c_str(), version);
    if (rc != ZOK) return zkError("delete", path, rc);
    return true;
  });
  if (!r) return r.error();
  return Status::Ok();
}

namespace {

// A batch in flight: completions (on the client's completion thread) count
// down; the caller waits for all of them.
struct Batch {
  std::mutex mu;
  std::condition_variable done;
  size_t pending = 0;
  std::vector<int> rc;
};

struct Slot {
  Batch *batch;
  size_t index;
};

void finish(const Slot *slot, int rc) {
  Batch *b = slot->batch;
  std::lock_guard lock(b->mu);
  b->rc[slot->index] = rc;
  if (--b->pending == 0) b->done.notify_all();
}

}  // namespace

namespace {

// Multis of at most this many writes and bytes (the server refuses a
// request over jute.maxbuffer, 1 MB by default).
constexpr size_t kMultiOps = 500;
constexpr size_t kMultiBytes = 256 * 1024;

struct MultiBatch {
  std::mutex mu;
  std::condition_variable done;
  size_t pending = 0;
  std::vector<int> rc;  // per multi
};

struct MultiSlot {
  MultiBatch *batch;
  size_t index;
};

}  // namespace

std::vector<size_t> ZkClient::writeInMultis(void *handle, const std::vector<Write> &writes, std::vector<Status> &out) {
  auto *zh = static_cast<zhandle_t *>(handle);
  std::vector<std::vector<size_t>> groups(1);
  size_t bytes = 0;
  for (size_t i = 0; i < writes.size(); ++i) {
    const size_t size = writes[i].path.size() + writes[i].data.size() + 64;
    if (!groups.back().empty() && (groups.back().size() == kMultiOps || bytes + size > kMultiBytes)) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(i);
    bytes += size;
  }
  std::vector<size_t> left;
  if (writes.size() < 2) {
    for (size_t i = 0; i < writes.size(); ++i) left.push_back(i);
    return left;
  }
  MultiBatch b;
  b.rc.assign(groups.size(), ZOK);
  std::vector<MultiSlot> slots(groups.size());
  std::vector<std::vector<zoo_op_t>> ops(groups.size());
  std::vector<std::vector<zoo_op_result_t>> results(groups.size());
  std::vector<std::vector<::Stat>> stats(groups.size());
  {
    std::lock_guard lock(b.mu);
    b.pending = groups.size();
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto &group = groups[g];
    ops[g].resize(group.size());
    results[g].resize(group.size());
    stats[g].resize(group.size());
    for (size_t k = 0; k < group.size(); ++k) {
      const Write &w = writes[group[k]];
      if (w.kind == Write::Kind::Create) {
        zoo_create_op_init(&ops[g][k], w.path.c_str(), w.data.data(), static_cast<int>(w.data.size()),
                           &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
      } else if (w.kind == Write::Kind::Remove) {
        zoo_delete_op_init(&ops[g][k], w.path.c_str(), -1);
      } else {
        zoo_set_op_init(&ops[g][k], w.path.c_str(), w.data.data(), static_cast<int>(w.data.size()), -1, &stats[g][k]);
      }
    }
    slots[g] = MultiSlot{&b, g};
    int rc = zoo_amulti(
        zh, static_cast<int>(group.size()), ops[g].data(), results[g].data(),
        [](int code, const void *data) {
          const auto *slot = static_cast<const MultiSlot *>(data);
          std::lock_guard lock(slot->batch->mu);
          slot->batch->rc[slot->index] = code;
          if (--slot->batch->pending == 0) slot->batch->done.notify_all();
        },
        &slots[g]);
    if (rc != ZOK) {
      std::lock_guard lock(b.mu);
      b.rc[g] = rc;
      --b.pending;
    }
  }
  {
    std::unique_lock lock(b.mu);
    b.done.wait(lock, [&] { return b.pending == 0; });
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    const int rc = b.rc[g];
    if (rc == ZNONODE || rc == ZNODEEXISTS || rc == ZNOTEMPTY || rc == ZBADVERSION) {
      // One of its writes would fail: none was made; one by one, each
      // gets its own answer.
      left.insert(left.end(), groups[g].begin(), groups[g].end());
      continue;
    }
    if (rc != ZOK) {
      // The connection, not a write: the multi may or may not have been
      // made, and sending its writes again could answer a made create
      // with NodeExists. Each says so; the caller tries again.
      for (size_t i : groups[g]) {
        const Write &w = writes[i];
        out[i] = zkError(w.kind == Write::Kind::Remove ? "delete" : w.kind == Write::Kind::Create ? "create" : "set", w.path,
                         rc);
      }
      continue;
    }
    for (size_t i : groups[g]) {
      out[i] = Status::Ok();
      if (writes[i].kind == Write::Kind::Remove) continue;
      std::lock_guard lock(impl_->mu);
      auto it = impl_->owned.find(writes[i].path);
      if (it != impl_->owned.end()) it->second = writes[i].data;
    }
  }
  std::sort(left.begin(), left.end());
  return left;
}

std::vector<Status> ZkClient::writeAll(const std::vector<Write> &writes) {
  std::vector<Status> out(writes.size());
  if (writes.empty()) return out;
  auto r = impl_->call([&](zhandle_t *zh) -> Result<bool> {
    // First the writes in multis: each one request and one transaction on
    // the server for hundreds of writes, where a write alone costs it a
    // request, a transaction and a log append each (ZooKeeper's cpu was
    // the scheduler's limit, launching 10,000 tasks). A multi fails as a
    // whole if one of its writes would (an Upsert of a missing node, a
    // removal of one gone): its writes then go one by one below.
    std::vector<size_t> todo = writeInMultis(zh, writes, out);
    std::vector<bool> creating(writes.size(), false);
    for (int round = 0; round < 2 && !todo.empty(); ++round) {
      Batch b;
      b.rc.assign(writes.size(), ZOK);
      std::vector<Slot> slots(writes.size());
      {
        std::lock_guard lock(b.mu);
        b.pending = todo.size();
      }
      for (size_t i : todo) {
        const Write &w = writes[i];
        slots[i] = Slot{&b, i};
        int rc;
        bool create = w.kind == Write::Kind::Create || creating[i];
        if (create) {
          rc = zoo_acreate(
              zh, w.path.c_str(), w.data.data(), static_cast<int>(w.data.size()), &ZOO_OPEN_ACL_UNSAFE, 0,
              [](int code, const char *, const void *data) { finish(static_cast<const Slot *>(data), code); },
              &slots[i]);
        } else if (w.kind == Write::Kind::Remove) {
          rc = zoo_adelete(
              zh, w.path.c_str(), -1, [](int code, const void *data) { finish(static_cast<const Slot *>(data), code); },
              &slots[i]);
        } else {
          rc = zoo_aset(
              zh, w.path.c_str(), w.data.data(), static_cast<int>(w.data.size()), -1,
              [](int code, const ::Stat *, const void *data) { finish(static_cast<const Slot *>(data), code); },
              &slots[i]);
        }
        if (rc != ZOK) {
          // Not sent: no completion will come for it.
          std::lock_guard lock(b.mu);
          b.rc[i] = rc;
          --b.pending;
        }
      }
      {
        std::unique_lock lock(b.mu);
        b.done.wait(lock, [&] { return b.pending == 0; });
      }
      std::vector<size_t> next;
      for (size_t i : todo) {
        const Write &w = writes[i];
        int rc = b.rc[i];
        if (round == 0 && w.kind == Write::Kind::Upsert && rc == ZNONODE) {
          creating[i] = true;
          next.push_back(i);
          continue;
        }
        if (rc != ZOK) {
          const char *op = w.kind == Write::Kind::Remove ? "delete" : (w.kind == Write::Kind::Create || creating[i]) ? "create" : "set";
          out[i] = zkError(op, w.path, rc);
        } else if (w.kind != Write::Kind::Remove) {
          std::lock_guard lock(impl_->mu);
          auto it = impl_->owned.find(w.path);
          if (it != impl_->owned.end()) it->second = w.data;
        }
      }
      todo.swap(next);
    }
    return true;
  });
  if (!r) {
    for (auto &s : out) s = r.error();
  }
  return out;
}

namespace {

struct ReadBatch {
  std::mutex mu;
  std::condition_variable done;
  size_t pending = 0;
  std::vector<int> rc;
  std::vector<std::string> data;
};

struct ReadSlot {
  ReadBatch *batch;
  size_t index;
};

}  // namespace

std::vector<Result<std::string>> ZkClient::readAll(const std::vector<std::string> &paths) {
  std::vector<Result<std::string>> out;
  out.reserve(paths.size());
  constexpr size_t kInFlight = 2000;  // bounds what waits in the client's queues at once
  for (size_t start = 0; start < paths.size(); start += kInFlight) {
    const size_t n = std::min(kInFlight, paths.size() - start);
    ReadBatch b;
    b.rc.assign(n, ZOK);
    b.data.resize(n);
    std::vector<ReadSlot> slots(n);
    auto r = impl_->call([&](zhandle_t *zh) -> Result<bool> {
      {
        std::lock_guard lock(b.mu);
        b.pending = n;
      }
      for (size_t i = 0; i < n; ++i) {
        slots[i] = ReadSlot{&b, i};
        int rc = zoo_aget(
            zh, paths[start + i].c_str(), 0,
            [](int code, const char *value, int len, const ::Stat *, const void *data) {
              const auto *slot = static_cast<const ReadSlot *>(data);
              ReadBatch *rb = slot->batch;
              std::lock_guard lock(rb->mu);
              rb->rc[slot->index] = code;
              if (code == ZOK && value != nullptr && len > 0) rb->data[slot->index].assign(value, static_cast<size_t>(len));
              if (--rb->pending == 0) rb->done.notify_all();
            },
            &slots[i]);
        if (rc != ZOK) {
          std::lock_guard lock(b.mu);
          b.rc[i] = rc;
          --b.pending;
        }
      }
      std::unique_lock lock(b.mu);
      b.done.wait(lock, [&] { return b.pending == 0; });
      return true;
    });
    for (size_t i = 0; i < n; ++i) {
      if (!r) {
        out.emplace_back(r.error());
      } else if (b.rc[i] != ZOK) {
        out.emplace_back(zkError("get", paths[start + i], b.rc[i]));
      } else {
        out.emplace_back(std::move(b.data[i]));
      }
    }
  }
  return out;
}

void ZkClient::withdraw(const std::string &path) {
  // Listed before the attempt, so that a reconnect between a failed attempt
  // and the listing cannot miss it.
  {
    std::lock_guard lock(impl_->mu);
    impl_->withdrawals.insert(path);
  }
  auto s = remove(path);
  if (s || !isRetryable(codeOf(s.error()))) {  // done, or nothing a retry would change
    std::lock_guard lock(impl_->mu);
    impl_->withdrawals.erase(path);
  }
}

WatchId ZkClient::watchData(const std::string &path, std::function<void()> callback) {
  WatchId id;
  {
    std::lock_guard lock(impl_->mu);
    id = impl_->nextWatch++;
    impl_->standing[id] = Impl::Standing{path, false, std::move(callback)};
  }
  Impl *impl = impl_.get();
  impl->post([impl, id] {
    impl->arm(id);
    impl->fire(id);
  });
  return id;
}

WatchId ZkClient::watchChildren(const std::string &path, std::function<void()> callback) {
  WatchId id;
  {
    std::lock_guard lock(impl_->mu);
    id = impl_->nextWatch++;
    impl_->standing[id] = Impl::Standing{path, true, std::move(callback)};
  }
  Impl *impl = impl_.get();
  impl->post([impl, id] {
    impl->arm(id);
    impl->fire(id);
  });
  return id;
}

void ZkClient::unwatch(WatchId id) {
  std::lock_guard lock(impl_->mu);
  impl_->standing.erase(id);
}

uint64_t ZkClient::onSession(std::function<void(SessionEvent)> listener) {
  std::lock_guard lock(impl_->mu);
  uint64_t id = impl_->nextListener++;
  impl_->listeners[id] = std::move(listener);
  return id;
}

void ZkClient::removeSessionListener(uint64_t id) {
  std::lock_guard lock(impl_->mu);
  impl_->listeners.erase(id);
}

Status expireSession(const std::string &connectString, int64_t sessionId, const std::string &password) {
  quietClientLogs();
  clientid_t id{};
  id.client_id = sessionId;
  std::memcpy(id.passwd, password.data(), std::min(password.size(), sizeof id.passwd));
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    bool connected = false;
  } waiter;
  zhandle_t *zh = zookeeper_init2(
      connectString.c_str(),
      [](zhandle_t *, int type, int state, const char *, void *ctx) {
        auto *w = static_cast<Waiter *>(ctx);
        if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) {
          std::lock_guard lock(w->mu);
          w->connected = true;
          w->cv.notify_all();
        }
      },
      10000, &id, &waiter, 0, &zkLog);
  if (zh == nullptr) return makeError("expire session: cannot connect to " + connectString);
  bool ok;
  {
    std::unique_lock lock(waiter.mu);
    ok = waiter.cv.wait_for(lock, std::chrono::seconds(10), [&] { return waiter.connected; });
  }
  zookeeper_close(zh);
  if (!ok) return makeError("expire session: no session with " + connectString);
  return Status::Ok();
}

}  // namespace dcos::coord
