// ZooKeeper recipes on top of Client: leader election and group membership.
// Thread safe; callbacks run on the client's event thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "coord/client.h"

namespace dcos::coord {

// Candidates are ephemeral sequential nodes <path>/c_<session>-<seq>; the
// lowest sequence leads. The session id in the name lets a candidate find
// its own node after a create whose reply was lost.
// Each other candidate watches only its predecessor, so a leader's exit
// wakes exactly one candidate (no herd). A lost session loses the candidacy;
// the election stands again once a new session is there.
class LeaderElection {
 public:
  // With `dataIsIdentity`, candidateData names this candidate alone (a
  // node's address): a candidate node of another session holding the same
  // data is this candidate's from before a restart, and is removed when it
  // stands, rather than left to lead (or to stand first) until that
  // session expires.
  LeaderElection(Client &client, std::string path, std::string candidateData, std::function<void(bool)> onChange,
                 bool dataIsIdentity = false);
  // Stops; once it returns, onChange is not called again.
  ~LeaderElection();

  // Creates this candidate and checks who leads; fails (retryable) while
  // there is no session.
  Status start();
  // Withdraws: the node goes at once, so the next candidate leads at once.
  // Once it returns, onChange is not called again (until start()). It may
  // be called from onChange.
  void stop();
  bool isLeader() const;
  // The data of the current leader's node.
  Result<std::string> leaderData();

 private:
  // Watches and session listeners outlive calls into ZooKeeper: they hold
  // the state weakly, so that one firing after the election is gone finds
  // nothing, rather than freed memory.
  struct Core;
  std::shared_ptr<Core> core_;
  uint64_t listener_ = 0;
};

// Members are ephemeral nodes <group>/<id>, owned by the client so they come
// back after a session expiry.
class Membership {
 public:
  Membership(Client &client, std::string group);
  ~Membership();

  // Joins as `id` with `data`. A node of the same id left by an earlier
  // session (a restart within the session timeout) is replaced.
  Status join(const std::string &id, const std::string &data);
  Status update(const std::string &data);
  void leave();
  Result<std::map<std::string, std::string>> members();
  // `callback` gets the whole membership now and on every join and leave.
  void watch(std::function<void(const std::map<std::string, std::string> &)> callback);

 private:
  Client &client_;
  std::string group_;
  std::mutex mutex_;
  std::string id_;
  WatchId watch_ = 0;
};

}  // namespace dcos::coord
