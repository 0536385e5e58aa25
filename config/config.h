// The node's configuration: /etc/dcos/cluster.json (the same on every node)
// and /etc/dcos/node.json (this node). Both are read and validated in full
// before dcosd does anything else; see docs/configuration.md for every key.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::config {

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  bool operator==(const PortRange &) const = default;
};

struct Zone {
  std::vector<std::string> networks;  // CIDRs of the cluster nodes in this zone
};

struct ZooKeeperConfig {
  uint16_t clientPort = 2181;
  uint16_t peerPort = 2888;
  uint16_t electionPort = 3888;
  int sessionTimeoutMs = 5000;  // clients' sessions; a crashed leader's lease ends within it
  int heapMb = 64;              // of each server's JVM
};

struct ClusterConfig {
  std::string name;
  std::vector<std::string> masters;  // master addresses; order gives ZooKeeper ids 1..n
  Zone admin;
  Zone privateZone;
  Zone publicZone;
  std::vector<std::string> operatorNetworks;  // may reach masters on TCP 80/443
  bool operatorSsh = false;                   // and on TCP 22
  std::vector<PortRange> publicTcpPorts{{80, 80}, {443, 443}};
  std::vector<PortRange> publicUdpPorts;
  std::vector<PortRange> agentPorts{{31000, 32000}};  // port resources offered by agents
  std::vector<std::string> resolvers;                 // upstream DNS servers
  std::string dnsDomain = "mesos";                    // dns.domain: the zone the masters answer for
  int dnsTtl = 60;                                    // dns.ttl: of every record in it, seconds
  bool allowRootTasks = false;  // agents.allow_root_tasks: may a task run as root
  // tls.cert, tls.key: the operator's certificate and key for the admin
  // router's port 443 (paths on every master); empty: the cluster's own CA.
  std::string tlsCert, tlsKey;
  // tls.edge_cert, tls.edge_key: the same for the public agents' port 443;
  // empty: each public agent's own self-signed certificate.
  std::string tlsEdgeCert, tlsEdgeKey;
  // ip_detect_filename: an executable that prints the node's address, as
  // DC/OS's ip-detect did; relative to cluster.json's directory. Run by
  // dcos-node-identity when the kernel command line names no address.
  // Empty: the address is detected from the routes (docs/images.md).
  std::string ipDetectFilename;
  ZooKeeperConfig zookeeper;
  // "m1:2181,m2:2181,...": where every node finds the ensemble.
  std::string zookeeperConnectString() const;
};

// Where a listener at `listen` ("host:port") is reached by other nodes: a
// wildcard host ("0.0.0.0", "[::]") stands for the node's `address`.
std::string reachableAt(const std::string &listen, const std::string &address);

struct NodeConfig {
  std::string role;
  std::string address;
  std::string hostname;
  std::map<std::string, std::string> attributes;
  std::string apiListen;  // host:port of the node API
  // A second listener of the node API on the operators' admin port (masters,
  // until the admin router takes TCP 80 over); empty: none.
  std::string adminListen;
  // Limits of both listeners (http::Limits): the time a request's head may
  // take, and the connections one client address may hold.
  int apiHeaderTimeoutMs = 10'000;
  int apiMaxConnectionsPerClient = 512;
  // Per-module config from node.json's "modules": module name -> JSON
  // object, laid over the config the role gives that module.
  std::map<std::string, std::string> moduleConfig;
  std::string logLevel = "info";
  bool firewall = true;
};

struct Config {
  std::string dir;
  ClusterConfig cluster;
  NodeConfig node;
};

// Validation of JSON already parsed and of files. Each error is one line:
// "<file>: <JSON pointer>: <what was expected>"; all problems are reported.
Result<ClusterConfig> parseCluster(const std::string &text, const std::string &file = "cluster.json");
Result<NodeConfig> parseNode(const std::string &text, const std::string &file = "node.json");

// Reads <dir>/cluster.json and <dir>/node.json. The error lists every problem
// found in both, one per line.
Result<Config> load(const std::string &dir);

// The normalized configuration as JSON ({"cluster": {...}, "node": {...}}),
// defaults filled in; this is what a role plugin's create() receives.
std::string toJson(const Config &config);
std::string clusterToJson(const ClusterConfig &cluster);
std::string nodeToJson(const NodeConfig &node);

// Helpers shared with other validators.
bool isIpAddress(const std::string &s);
bool isCidr(const std::string &s);
bool isName(const std::string &s);  // [a-z0-9]([a-z0-9-]*[a-z0-9])?, at most 63
Result<PortRange> parsePortRange(const std::string &s);  // "80" or "10000-10100"
std::string formatPortRange(const PortRange &range);

}  // namespace dcos::config
