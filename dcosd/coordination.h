// dcosd's part in the cluster's coordination: this node's membership under
// /dcos/nodes, the members' addresses in the zone firewall, and leader
// elections that modules stand for through the host.
//
// Everything runs in the background and survives the ensemble going away:
// registration retries with backoff (1 s doubling to 30 s) until it
// succeeds; after a session expiry the client re-creates the membership
// node itself (coord::Ownership::Owned). Thread safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "coord/client.h"
#include "coord/recipes.h"

namespace dcos::dcosd {

inline constexpr const char *kNodesPath = "/dcos/nodes";
inline constexpr const char *kElectionsPath = "/dcos/elections";

class Coordination {
 public:
  // `describe` gives this node's membership record (JSON), read at each
  // (re-)registration; `membersChanged` gets every member's address on each
  // change of the membership (the zone firewall lets them in).
  Coordination(std::unique_ptr<coord::Client> client, std::string nodeId, std::function<std::string()> describe,
               std::function<void(const std::set<std::string> &)> membersChanged);
  ~Coordination();

  void start();
  // Leaves the membership and every election, closes the session.
  void stop();

  // Rewrites this node's membership record from `describe` (e.g. once every
  // module runs); a no-op until registered.
  void refresh();

  // The members' records as a JSON array, read from ZooKeeper.
  Result<std::string> nodesJson();

  // Stands for election `name` (a module name); `onChange(isLeader)` runs on
  // the coordination thread on every change. Retries in the background
  // until the ensemble answers.
  Status standForElection(const std::string &name, const std::string &candidateData,
                          std::function<void(bool)> onChange);
  void resign(const std::string &name);

  struct State {
    bool connected = false;
    bool registered = false;
    std::string message;  // what is wrong, when something is
    std::string connectString;
  };
  State state() const;

 private:
  void run();
  bool tryRegister();
  bool tryElections();
  // Reads the membership and hands the addresses to membersChanged.
  void reconcile();

  std::unique_ptr<coord::Client> client_;
  std::string nodeId_;
  std::function<std::string()> describe_;
  std::function<void(const std::set<std::string> &)> membersChanged_;
  std::unique_ptr<coord::Membership> membership_;

  struct Election {
    std::string data;
    std::function<void(bool)> onChange;
    std::shared_ptr<coord::LeaderElection> recipe;
    bool started = false;
    // Set by resign: a recipe that stands after resign's stop (a start under
    // way) calls back no more.
    std::shared_ptr<std::atomic<bool>> resigned = std::make_shared<std::atomic<bool>>(false);
  };
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, Election> elections_;
  bool stopping_ = false;
  bool registered_ = false;
  std::string message_;
  std::thread thread_;
};

}  // namespace dcos::dcosd
