// Coordination through ZooKeeper: the interface every part of dcos uses.
//
// Two implementations: ZkClient (zk_client.h), the only code in dcos that
// calls zoo_* (libzookeeper-mt), and MemoryClient (memory_client.h), an
// in-memory tree with the same semantics for unit tests of code above it.
//
// Errors are values: Result<T>/Status whose Error::code is a Code below.
// isRetryable() splits them into "try again" (connection loss, timeouts: the
// operation may or may not have happened) and "the caller's problem" (no
// node, node exists, bad version, not empty, bad arguments).
//
// Threading: every method is safe from any thread. Watch callbacks and
// session callbacks run on the client's one event thread, one at a time, in
// order; they may call the client (the event thread is not ZooKeeper's own
// completion thread, so blocking calls from a callback do not deadlock), but
// should return quickly.
//
// Sessions: the client connects in the background and reconnects after
// connection loss by itself. When the session expires, it opens a new
// session, re-creates the ephemeral nodes created through it with
// Ownership::Owned (same path, same data), re-arms every standing watch, and
// then tells the session listeners SessionEvent::Expired followed by
// SessionEvent::Connected, so owners of anything else (sequential ephemerals,
// one-shot watches) re-establish it themselves.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::coord {

enum class Code : int {
  Ok = 0,
  NoNode = 1,
  NodeExists = 2,
  BadVersion = 3,
  NotEmpty = 4,
  InvalidArgument = 5,
  ConnectionLoss = 10,    // retry
  OperationTimeout = 11,  // retry
  SessionExpired = 12,    // retry: a new session is on its way
  Closed = 20,            // the client was closed
  Other = 30,
};

std::string_view codeName(Code code);
inline Code codeOf(const Error &e) { return static_cast<Code>(e.code); }
bool isRetryable(Code code);
inline bool isRetryable(const Error &e) { return isRetryable(codeOf(e)); }

enum class CreateMode { Persistent, Ephemeral, PersistentSequential, EphemeralSequential };
// Owned: an ephemeral the client re-creates after session expiry.
enum class Ownership { Plain, Owned };

struct Stat {
  int32_t version = 0;
  int32_t childrenVersion = 0;
  int64_t ephemeralOwner = 0;  // session id, 0 for persistent nodes
  int64_t mzxid = 0;
  int32_t numChildren = 0;
};

enum class SessionEvent { Connected, Disconnected, Expired };
enum class WatchType { Created, Deleted, Changed, Children, SessionLost };

struct WatchEvent {
  WatchType type;
  std::string path;
};
using Watcher = std::function<void(const WatchEvent &)>;
using WatchId = uint64_t;

// One write of a batch (Client::writeAll).
struct Write {
  enum class Kind { Create, Set, Upsert, Remove };  // Upsert: set, or create when missing
  Kind kind;
  std::string path;
  std::string data;  // unused by Remove
};

class Client {
 public:
  virtual ~Client() = default;

  // The ensemble's connection string ("host:port,host:port").
  virtual std::string connectString() const = 0;
  // True while the client has a live session with a server.
  virtual bool connected() const = 0;
  // Blocks until connected or `timeout` passes.
  virtual bool waitConnected(std::chrono::milliseconds timeout) = 0;
  virtual int64_t sessionId() const = 0;

  // Returns the created path (with the sequence suffix for sequential modes).
  virtual Result<std::string> create(const std::string &path, const std::string &data, CreateMode mode,
                                     Ownership ownership = Ownership::Plain) = 0;
  // Creates `path` and its missing parents as persistent nodes with empty
  // data; succeeds if it exists.
  virtual Status ensurePath(const std::string &path) = 0;
  // A one-shot watch, if given, fires on the next change (or SessionLost).
  virtual Result<std::pair<std::string, Stat>> get(const std::string &path, Watcher watch = {}) = 0;
  virtual Result<std::optional<Stat>> exists(const std::string &path, Watcher watch = {}) = 0;
  virtual Result<std::vector<std::string>> children(const std::string &path, Watcher watch = {}) = 0;
  // version -1: any version.
  virtual Result<Stat> set(const std::string &path, const std::string &data, int32_t version = -1) = 0;
  virtual Status remove(const std::string &path, int32_t version = -1) = 0;
  // Deletes an ephemeral node of this session: now, or, if the connection is
  // down, as soon as the same session is back. After an expiry there is
  // nothing left to do: the node went with the old session. Without this, a
  // failed delete would leave the node for as long as the session lives.
  virtual void withdraw(const std::string &path) = 0;

  // Standing watches: `callback` runs once now (on the event thread, soon
  // after the call), after every change of the node's data (or existence) /
  // of the node's children, and after every (re)connect, across session
  // expiry too, until unwatch(). The callback reads the current state itself.
  virtual WatchId watchData(const std::string &path, std::function<void()> callback) = 0;
  virtual WatchId watchChildren(const std::string &path, std::function<void()> callback) = 0;
  virtual void unwatch(WatchId id) = 0;

  // Session listeners, called on the event thread.
  virtual uint64_t onSession(std::function<void(SessionEvent)> listener) = 0;
  virtual void removeSessionListener(uint64_t id) = 0;

  // Ends the session (ephemeral nodes go at once) and stops the event thread.
  virtual void close() = 0;

  // Many writes at once, each with its own result (in the same order); not
  // atomic. A path may appear once per batch. Nodes made are persistent.
  // ZooKeeper applies one session's requests in order and commits what
  // arrives together in one disk sync, so a batch costs about one round
  // trip where one write after another costs one each. Two exceptions to
  // the order: an Upsert that finds no node creates it after the rest of
  // the batch, and after a lost connection the writes that failed need not
  // be a tail of the batch (later ones may have gone through). A Remove of
  // a node that is not there fails with NoNode. This default makes them
  // one after another.
  virtual std::vector<Status> writeAll(const std::vector<Write> &writes);
  // Many reads at once: each node's data, or why not (in the same order).
  // As with writeAll, ZooKeeper's client sends them all before waiting; the
  // default reads them one by one.
  virtual std::vector<Result<std::string>> readAll(const std::vector<std::string> &paths);
};

}  // namespace dcos::coord
