// The local cluster: every node in a network namespace of its own on one
// machine, joined by a bridge in a namespace of its own, with a link from the
// host into the cluster's operator network. Nothing is routed or translated
// out of these namespaces.
//
// Addresses come from one IPv4 /24 (--network, default 172.31.254.0/24):
//   .11 ...  masters            (zone admin,   .0/26)
//   .65 ...  private agents     (zone private, .64/26)
//   .129 ... public agents      (zone public,  .128/26)
//   .254     the host's link    (operators,    .192/26)
//
// Names: namespaces dcos-<name>-m1, -a1, -p1 ... and dcos-<name>-net (the
// bridge); the host's end of its link is the interface dcos-<name>. State:
// <state dir>/<name>/ (cluster.json, state.json, one dir per node with its
// config, dcosd's state and dcosd.log).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::cli {

struct LocalNode {
  std::string id;        // m1, a1, p1, ...
  std::string hostname;  // master-1, agent-private-1, ...
  std::string role;      // master, agent-private, agent-public
  std::string address;
  std::string netns;
  pid_t pid = 0;
};

struct LocalCluster {
  std::string name;
  std::string network;  // a.b.c.0/24
  std::vector<std::string> resolvers;  // cluster.json's: the masters' DNS forwards to them
  std::string hostAddress;
  std::string bridgeNetns;
  std::string hostLink;
  std::string dir;  // <state dir>/<name>
  std::vector<LocalNode> nodes;

  int count(const std::string &role) const;
  std::string adminUrl() const;  // http://<first master>
  std::string clusterJson() const;
  std::string nodeJson(const LocalNode &node) const;
  std::string stateJson() const;
  std::string nodeDir(const LocalNode &node) const { return dir + "/" + node.id; }
  std::string summary() const;  // "1 master, 1 private agent, 1 public agent"
};

struct UpOptions {
  std::string name = "local";
  int masters = 1;
  int privateAgents = 1;
  int publicAgents = 1;
  bool sizeGiven = false;  // any of the counts given on the command line
  std::string network = "172.31.254.0/24";
  std::vector<std::string> resolvers;  // --resolvers
  std::string stateDir = "/var/lib/dcos-local";
  std::string dcosd;      // path of the dcosd binary
  std::string pluginDir;  // where its plugins are
  std::chrono::seconds timeout{180};
};

// The cluster that `options` describe; checks the name, the counts and the
// network, touching nothing.
Result<LocalCluster> planCluster(const UpOptions &options);

// Reads <state dir>/<name>/state.json; an error with code ENOENT when there
// is no such cluster.
// A cluster name: 1-10 lowercase letters, digits and dashes, from a letter
// (it goes into paths and namespace names); EINVAL otherwise.
Status checkName(const std::string &name);
Result<LocalCluster> loadCluster(const std::string &stateDir, const std::string &name);

// Creates what is missing and starts every node whose dcosd is not running,
// then waits until every node has registered and is healthy. Progress and
// the result go to stdout; the error names the node that did not come up,
// with the tail of its log.
Status clusterUp(const UpOptions &options);

// Stops every dcosd and anything else in the cluster's namespaces, removes
// the namespaces, the host's link and the state dir.
Status clusterDown(const std::string &stateDir, const std::string &name);

// Whether the node's dcosd runs.
bool nodeRuns(const LocalCluster &cluster, const LocalNode &node);

// Prints each node: its dcosd process and its health as the admin URL's
// /system/health/v1/nodes reports it. 0: all running and healthy; 1: not.
int printClusterStatus(const LocalCluster &cluster, bool json);

// Rows as aligned columns, two spaces apart.
std::string formatTable(const std::vector<std::vector<std::string>> &rows);

}  // namespace dcos::cli
