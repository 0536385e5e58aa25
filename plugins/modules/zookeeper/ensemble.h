// The ZooKeeper ensemble as the zookeeper module sees it: who serves, from
// the cluster config, and what each server says about itself.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace dcos::zookeeper {

struct Server {
  int id = 0;  // 1-based place in cluster.json's masters
  std::string address;
};

struct Ensemble {
  std::vector<Server> servers;
  int clientPort = 2181;
  int peerPort = 2888;
  int electionPort = 3888;
  int sessionTimeoutMs = 5000;
  int heapMb = 64;
};

// From the cluster JSON the host hands the module; throws std::runtime_error
// naming what is missing.
Ensemble parseEnsemble(const std::string &clusterJson);

// This node's server id, or an error naming the address and the list.
int serverId(const Ensemble &ensemble, const std::string &address, std::string &error);

// zoo.cfg for server `id` with data under `dataDir`.
std::string zooCfg(const Ensemble &ensemble, int id, const std::string &dataDir);

// The first line of `mode` in a `srvr` answer: "leader", "follower",
// "standalone", or nothing when the server is not serving.
std::optional<std::string> serverMode(const std::string &srvr);

// Sends a four-letter word to address:port and returns the answer; empty
// when the server cannot be reached within `timeout`.
std::string fourLetterWord(const std::string &address, int port, const std::string &word,
                           std::chrono::milliseconds timeout);

// Exhibitor's /exhibitor/v1/cluster/status for the ensemble, asking every
// server with `srvr`.
std::string exhibitorStatus(const Ensemble &ensemble, std::chrono::milliseconds timeout);

}  // namespace dcos::zookeeper
