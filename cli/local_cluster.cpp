#include "cli/local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "base/text.h"
#include "cli/http.h"
#include "cli/system.h"

namespace dcos::cli {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string stringify(const Poco::JSON::Object::Ptr &o) {
  std::ostringstream s;
  o->stringify(s, 2);
  return s.str() + "\n";
}

Poco::JSON::Array::Ptr array(const std::vector<std::string> &items) {
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const auto &i : items) a->add(i);
  return a;
}

Poco::JSON::Object::Ptr networks(const std::string &cidr) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("networks", array({cidr}));
  return o;
}

std::string plural(int n, const std::string &what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

// a.b.c.0/24 -> "a.b.c." (with the trailing dot), or an error.
Result<std::string> prefixOf(const std::string &network) {
  auto slash = network.find('/');
  in_addr addr{};
  if (slash == std::string::npos || network.substr(slash + 1) != "24" ||
      ::inet_pton(AF_INET, network.substr(0, slash).c_str(), &addr) != 1 || (ntohl(addr.s_addr) & 0xff) != 0) {
    return makeError("--network: expected an IPv4 /24 such as 172.31.254.0/24, found " + text::quote(network));
  }
  uint32_t a = ntohl(addr.s_addr);
  bool isPrivate = (a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) || (a >> 16) == (192u << 8 | 168);
  if (!isPrivate) {
    return makeError("--network: " + network + " is not a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)");
  }
  return network.substr(0, network.rfind('.', slash) + 1);
}

// The namespaces of cluster `name` and of no other: dcos-<name>-net and
// dcos-<name>-<m|a|p><n> (names may have dashes: "dev" is not "dev-2").
std::vector<std::string> clusterNetns(const std::string &name) {
  const std::string prefix = "dcos-" + name + "-";
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto &e : fs::directory_iterator("/run/netns", ec)) {
    std::string n = e.path().filename();
    if (!text::startsWith(n, prefix)) continue;
    std::string rest = n.substr(prefix.size());
    bool node = rest.size() >= 2 && (rest[0] == 'm' || rest[0] == 'a' || rest[0] == 'p') &&
                rest.find_first_not_of("0123456789", 1) == std::string::npos;
    if (rest == "net" || node) out.push_back(n);
  }
  return out;
}

// Held for the whole of an up or a down: two at once on one cluster would
// start two dcosd per node, or take down what the other brings up.
Status lockCluster(const std::string &stateDir, const std::string &name) {
  std::error_code ec;
  fs::create_directories(stateDir, ec);
  std::string path = stateDir + "/." + name + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return makeError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return makeError("another `dcos cluster up` or `down` is at work on cluster " + text::quote(name) +
                     "; wait for it to finish");
  }
  return Status::Ok();  // the lock goes with the process
}

// A route of this host (from /proc/net/route) that overlaps `network`, if any.
std::string overlappingRoute(const std::string &network, const std::string &ownLink) {
  auto slash = network.find('/');
  in_addr addr{};
  ::inet_pton(AF_INET, network.substr(0, slash).c_str(), &addr);
  uint32_t ours = ntohl(addr.s_addr);
  const uint32_t ourMask = 0xffffff00u;
  std::istringstream in(readFile("/proc/net/route"));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string dev, dest, gw, flags, refcnt, use, metric, mask;
    if (!(f >> dev >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    if (dev == ownLink) continue;
    uint32_t d = ntohl(static_cast<uint32_t>(std::stoul(dest, nullptr, 16)));
    uint32_t m = ntohl(static_cast<uint32_t>(std::stoul(mask, nullptr, 16)));
    if (m == 0) continue;  // the default route overlaps everything and is not a conflict
    uint32_t common = m & ourMask;
    if ((d & common) == (ours & common)) {
      in_addr da{htonl(d)};
      char text[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &da, text, sizeof text);
      return std::string(text) + "/" + std::to_string(__builtin_popcount(m)) + " on " + dev;
    }
  }
  return {};
}

Status ip(const std::vector<std::string> &args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv);
  if (!r) return r.error();
  return Status::Ok();
}

// The bridge namespace with br0, one veth per node and the host's link.
Status createNetwork(const LocalCluster &c) {
  auto step = [](Status s) { return s; };
  if (auto s = step(ip({"netns", "add", c.bridgeNetns})); !s) return s;
  if (auto s = ip({"-n", c.bridgeNetns, "link", "set", "lo", "up"}); !s) return s;
  if (auto s = ip({"-n", c.bridgeNetns, "link", "add", "br0", "type", "bridge"}); !s) return s;
  if (auto s = ip({"-n", c.bridgeNetns, "link", "set", "br0", "up"}); !s) return s;
  for (const auto &n : c.nodes) {
    if (auto s = ip({"netns", "add", n.netns}); !s) return s;
    if (auto s = ip({"-n", n.netns, "link", "set", "lo", "up"}); !s) return s;
    if (auto s = ip({"link", "add", n.id, "netns", c.bridgeNetns, "type", "veth", "peer", "name", "eth0", "netns",
                     n.netns});
        !s) {
      return s;
    }
    if (auto s = ip({"-n", c.bridgeNetns, "link", "set", n.id, "master", "br0", "up"}); !s) return s;
    if (auto s = ip({"-n", n.netns, "addr", "add", n.address + "/24", "dev", "eth0"}); !s) return s;
    if (auto s = ip({"-n", n.netns, "link", "set", "eth0", "up"}); !s) return s;
  }
  if (auto s = ip({"link", "add", c.hostLink, "type", "veth", "peer", "name", "host", "netns", c.bridgeNetns}); !s) {
    return s;
  }
  if (auto s = ip({"-n", c.bridgeNetns, "link", "set", "host", "master", "br0", "up"}); !s) return s;
  if (auto s = ip({"addr", "add", c.hostAddress + "/24", "dev", c.hostLink}); !s) return s;
  if (auto s = ip({"link", "set", c.hostLink, "up"}); !s) return s;
  return Status::Ok();
}

Status writeConfigs(const LocalCluster &c) {
  std::error_code ec;
  fs::create_directories(c.dir, ec);
  if (ec) return makeError("cannot create " + c.dir + ": " + ec.message());
  if (auto s = writeFile(c.dir + "/cluster.json", c.clusterJson()); !s) return s;
  for (const auto &n : c.nodes) {
    fs::create_directories(c.nodeDir(n) + "/etc", ec);
    fs::create_directories(c.nodeDir(n) + "/state", ec);
    if (ec) return makeError("cannot create " + c.nodeDir(n) + ": " + ec.message());
    if (auto s = writeFile(c.nodeDir(n) + "/etc/cluster.json", c.clusterJson()); !s) return s;
    if (auto s = writeFile(c.nodeDir(n) + "/etc/node.json", c.nodeJson(n)); !s) return s;
  }
  return Status::Ok();
}

Status startNode(LocalCluster &c, LocalNode &n, const UpOptions &o) {
  std::string dir = c.nodeDir(n);
  // The node and its tasks resolve through the masters' DNS, as a node of
  // an image does (resolved, its DNS the masters).
  std::string resolv = "# written by dcos cluster up: the masters' DNS\n";
  int listed = 0;
  for (const auto &m : c.nodes) {
    if (m.role == "master" && listed++ < 3) resolv += "nameserver " + m.address + "\n";
  }
  resolv += "options timeout:2 attempts:2\n";
  if (auto s = writeFile(dir + "/etc/resolv.conf", resolv); !s) return s.error().wrap(n.hostname);
  auto pid = spawnInNetns(n.netns,
                          {o.dcosd, "--config-dir", dir + "/etc", "--state-dir", dir + "/state", "--plugin-dir",
                           o.pluginDir},
                          dir + "/dcosd.log", dir + "/etc/resolv.conf");
  if (!pid) return pid.error().wrap(n.hostname);
  n.pid = *pid;
  return writeFile(c.dir + "/state.json", c.stateJson());
}

std::string nodeFailure(const LocalCluster &c, const LocalNode &n, const std::string &what) {
  return n.hostname + " (" + n.address + ", namespace " + n.netns + ") " + what + "; the end of " + c.nodeDir(n) +
         "/dcosd.log:\n" + tail(c.nodeDir(n) + "/dcosd.log", 15);
}

// Every node's dcosd still runs; otherwise the error names the first that died.
Status allAlive(const LocalCluster &c, const std::vector<const LocalNode *> &nodes) {
  for (const auto *n : nodes) {
    if (!nodeRuns(c, *n)) return makeError(nodeFailure(c, *n, "stopped: its dcosd exited"));
  }
  return Status::Ok();
}

struct HealthView {
  int total = 0;
  int healthy = 0;
  std::map<std::string, std::pair<std::string, std::string>> byAddress;  // address -> status, message
};

Result<HealthView> clusterHealth(const LocalCluster &c) {
  auto answer = httpGet(c.adminUrl(), "/system/health/v1/nodes", 3s);
  if (!answer) return answer.error();
  if (answer->status != 200) return makeError("HTTP " + std::to_string(answer->status) + ": " + answer->body);
  HealthView v;
  try {
    auto o = Poco::JSON::Parser().parse(answer->body).extract<Poco::JSON::Object::Ptr>();
    v.total = o->getValue<int>("total");
    v.healthy = o->getValue<int>("healthy");
    auto nodes = o->getArray("nodes");
    for (size_t i = 0; nodes && i < nodes->size(); ++i) {
      auto n = nodes->getObject(static_cast<unsigned>(i));
      v.byAddress[n->getValue<std::string>("host_ip")] = {n->optValue<std::string>("status", ""),
                                                           n->optValue<std::string>("message", "")};
    }
  } catch (const std::exception &e) {
    return makeError(std::string("unreadable /system/health/v1/nodes: ") + e.what());
  }
  return v;
}

// Waits until `ready` holds, checking that the nodes' dcosd still run.
Status waitFor(const LocalCluster &c, const std::vector<const LocalNode *> &watched,
               std::chrono::steady_clock::time_point deadline, const std::function<bool(std::string &)> &ready,
               const std::function<std::string(const std::string &)> &onTimeout) {
  std::string last;
  while (true) {
    if (auto s = allAlive(c, watched); !s) return s;
    if (ready(last)) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) return makeError(onTimeout(last));
    std::this_thread::sleep_for(200ms);
  }
}

}  // namespace

// A cluster's name: it goes into paths, namespace and link names.
Status checkName(const std::string &name) {
  bool ok = !name.empty() && name.size() <= 10 && name.front() >= 'a' && name.front() <= 'z' && name.back() != '-';
  for (char ch : name) ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-');
  if (ok) return Status::Ok();
  return makeError("--name: expected 1-10 lowercase letters, digits and dashes, starting with a letter, found " +
                   text::quote(name), EINVAL);
}

std::string formatTable(const std::vector<std::vector<std::string>> &rows) {
  std::vector<size_t> widths;
  for (const auto &r : rows) {
    if (widths.size() < r.size()) widths.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
  }
  std::string out;
  for (const auto &r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(widths[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

int LocalCluster::count(const std::string &role) const {
  int n = 0;
  for (const auto &node : nodes) n += node.role == role ? 1 : 0;
  return n;
}

std::string LocalCluster::adminUrl() const {
  for (const auto &n : nodes) {
    if (n.role == "master") return "http://" + n.address;
  }
  return {};
}

std::string LocalCluster::summary() const {
  return plural(count("master"), "master") + ", " + plural(count("agent-private"), "private agent") + ", " +
         plural(count("agent-public"), "public agent");
}

std::string LocalCluster::clusterJson() const {
  std::string base = network.substr(0, network.rfind('.') + 1);
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("cluster_name", name);
  std::vector<std::string> masters;
  for (const auto &n : nodes) {
    if (n.role == "master") masters.push_back(n.address);
  }
  o->set("masters", array(masters));
  Poco::JSON::Object::Ptr zones = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  zones->set("admin", networks(base + "0/26"));
  zones->set("private", networks(base + "64/26"));
  zones->set("public", networks(base + "128/26"));
  o->set("zones", zones);
  o->set("operators", networks(base + "192/26"));
  o->set("resolvers", array(resolvers));
  return stringify(o);
}

std::string LocalCluster::nodeJson(const LocalNode &n) const {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("role", n.role);
  o->set("address", n.address);
  o->set("hostname", n.hostname);
  Poco::JSON::Object::Ptr api = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  api->set("listen", n.address + ":61001");
  if (n.role == "master") {
    // Operators reach masters on TCP 80 only: the admin router's (the
    // master role's router module), in front of the node API.
    // The local cluster's nodes are processes of this host, never units of
    // its systemd (which would run them outside the node's namespace).
    Poco::JSON::Object::Ptr modules = new Poco::JSON::Object;
    Poco::JSON::Object::Ptr zk = new Poco::JSON::Object;
    zk->set("executor", "process");
    modules->set("zookeeper", zk);
    o->set("api", api);
    o->set("modules", modules);
  } else {
    // Tasks too: children of the agent's dcosd in the node's namespace.
    Poco::JSON::Object::Ptr modules = new Poco::JSON::Object;
    Poco::JSON::Object::Ptr agent = new Poco::JSON::Object;
    agent->set("executor", "process");
    modules->set("agent", agent);
    o->set("api", api);
    o->set("modules", modules);
  }
  return stringify(o);
}

std::string LocalCluster::stateJson() const {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("name", name);
  o->set("network", network);
  o->set("resolvers", array(resolvers));
  o->set("host_address", hostAddress);
  o->set("bridge_netns", bridgeNetns);
  o->set("host_link", hostLink);
  o->set("admin_url", adminUrl());
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const auto &n : nodes) {
    Poco::JSON::Object::Ptr no = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    no->set("id", n.id);
    no->set("hostname", n.hostname);
    no->set("role", n.role);
    no->set("address", n.address);
    no->set("netns", n.netns);
    no->set("pid", static_cast<int>(n.pid));
    a->add(no);
  }
  o->set("nodes", a);
  return stringify(o);
}

Result<LocalCluster> planCluster(const UpOptions &o) {
  const auto &name = o.name;
  if (auto s = checkName(name); !s) return s.error();
  if (o.masters != 1 && o.masters != 3 && o.masters != 5 && o.masters != 7) {
    return makeError("--masters: expected 1, 3, 5 or 7 (a ZooKeeper ensemble needs an odd size), found " +
                     std::to_string(o.masters));
  }
  if (o.privateAgents < 0 || o.privateAgents > 50) {
    return makeError("--private-agents: expected 0 to 50, found " + std::to_string(o.privateAgents));
  }
  if (o.publicAgents < 0 || o.publicAgents > 50) {
    return makeError("--public-agents: expected 0 to 50, found " + std::to_string(o.publicAgents));
  }
  auto base = prefixOf(o.network);
  if (!base) return base.error();
  LocalCluster c;
  c.name = name;
  c.network = o.network;
  for (const auto &r : o.resolvers) {
    unsigned char buf[16];
    if (::inet_pton(AF_INET, r.c_str(), buf) != 1 && ::inet_pton(AF_INET6, r.c_str(), buf) != 1) {
      return makeError("--resolvers: not an IP address: " + text::quote(r));
    }
  }
  c.resolvers = o.resolvers;
  c.hostAddress = *base + "254";
  c.bridgeNetns = "dcos-" + name + "-net";
  c.hostLink = "dcos-" + name;
  c.dir = o.stateDir + "/" + name;
  auto add = [&](const std::string &role, const std::string &prefix, const std::string &hostPrefix, int first,
                 int count) {
    for (int i = 1; i <= count; ++i) {
      LocalNode n;
      n.id = prefix + std::to_string(i);
      n.hostname = hostPrefix + std::to_string(i);
      n.role = role;
      n.address = *base + std::to_string(first + i);
      n.netns = "dcos-" + name + "-" + n.id;
      c.nodes.push_back(n);
    }
  };
  add("master", "m", "master-", 10, o.masters);
  add("agent-private", "a", "agent-private-", 64, o.privateAgents);
  add("agent-public", "p", "agent-public-", 128, o.publicAgents);
  return c;
}

Result<LocalCluster> loadCluster(const std::string &stateDir, const std::string &name) {
  if (auto s = checkName(name); !s) return s.error();
  std::string path = stateDir + "/" + name + "/state.json";
  if (!fs::exists(path)) return makeError("no local cluster " + text::quote(name) + " (no " + path + ")", ENOENT);
  try {
    auto o = Poco::JSON::Parser().parse(readFile(path)).extract<Poco::JSON::Object::Ptr>();
    LocalCluster c;
    c.name = o->getValue<std::string>("name");
    c.network = o->getValue<std::string>("network");
    if (auto rs = o->getArray("resolvers")) {
      for (size_t i = 0; i < rs->size(); ++i) c.resolvers.push_back(rs->getElement<std::string>(static_cast<unsigned>(i)));
    }
    c.hostAddress = o->getValue<std::string>("host_address");
    c.bridgeNetns = o->getValue<std::string>("bridge_netns");
    c.hostLink = o->getValue<std::string>("host_link");
    c.dir = stateDir + "/" + name;
    auto nodes = o->getArray("nodes");
    for (size_t i = 0; nodes && i < nodes->size(); ++i) {
      auto no = nodes->getObject(static_cast<unsigned>(i));
      LocalNode n;
      n.id = no->getValue<std::string>("id");
      n.hostname = no->getValue<std::string>("hostname");
      n.role = no->getValue<std::string>("role");
      n.address = no->getValue<std::string>("address");
      n.netns = no->getValue<std::string>("netns");
      n.pid = no->getValue<int>("pid");
      c.nodes.push_back(n);
    }
    return c;
  } catch (const std::exception &e) {
    return makeError(path + ": unreadable (" + e.what() + "); `dcos cluster down --name " + name +
                     "` removes what is left of it");
  }
}

bool nodeRuns(const LocalCluster &c, const LocalNode &n) { return processRuns(n.pid, c.nodeDir(n) + "/etc"); }

Status clusterUp(const UpOptions &o) {
  if (::geteuid() != 0) {
    return makeError("cluster up needs root: it creates network namespaces and runs dcosd in them (try sudo)");
  }
  auto started = std::chrono::steady_clock::now();
  LocalCluster c;
  if (auto s = checkName(o.name); !s) return s.error();
  if (auto s = lockCluster(o.stateDir, o.name); !s) return s.error();
  auto existing = loadCluster(o.stateDir, o.name);
  if (existing) {
    c = *existing;
    if (o.sizeGiven && (c.count("master") != o.masters || c.count("agent-private") != o.privateAgents ||
                        c.count("agent-public") != o.publicAgents)) {
      return makeError("cluster " + text::quote(o.name) + " exists with " + c.summary() + "; take it down first (dcos cluster down --name " +
                       o.name + ") or give another --name");
    }
    // After a reboot the state is there but /run/netns is not: the network
    // is made again, and the nodes start on their kept data.
    bool whole = fs::exists("/run/netns/" + c.bridgeNetns) && fs::exists("/sys/class/net/" + c.hostLink);
    for (const auto &n : c.nodes) whole = whole && fs::exists("/run/netns/" + n.netns);
    if (!whole) {
      for (const auto &n : c.nodes) {
        if (nodeRuns(c, n)) {
          return makeError("cluster " + text::quote(c.name) + "'s network is partly gone while " + n.hostname +
                           "'s dcosd runs; take it down first (dcos cluster down --name " + c.name + ")");
        }
      }
      std::printf("cluster \"%s\": its network is gone (a reboot?); making it again\n", c.name.c_str());
      std::fflush(stdout);
      for (const auto &ns : clusterNetns(c.name)) (void)ip({"netns", "del", ns});
      if (fs::exists("/sys/class/net/" + c.hostLink)) (void)ip({"link", "del", c.hostLink});
      if (auto s = createNetwork(c); !s) {
        return s.error().wrap("cannot make the cluster's network again (dcos cluster down --name " + c.name +
                              " removes what was made)");
      }
    }
  } else if (existing.error().code != ENOENT) {
    return existing.error();
  } else {
    auto planned = planCluster(o);
    if (!planned) return planned.error();
    c = *planned;
    auto leftovers = clusterNetns(o.name);
    if (!leftovers.empty() || fs::exists("/sys/class/net/" + c.hostLink)) {
      return makeError("namespaces or links of a cluster " + text::quote(o.name) + " exist without its state (" +
                       (leftovers.empty() ? c.hostLink : text::join(leftovers, ", ")) +
                       "); remove them with: dcos cluster down --name " + o.name);
    }
    if (auto route = overlappingRoute(c.network, c.hostLink); !route.empty()) {
      return makeError("--network " + c.network + " overlaps this host's route to " + route +
                       "; choose a free private /24 with --network");
    }
    for (const auto *path : {&o.dcosd, &o.pluginDir}) {
      if (!fs::exists(*path)) {
        return makeError("no " + *path + " (give --dcosd and --plugin-dir, or build first: ./scripts/build.sh)");
      }
    }
    std::printf("creating cluster \"%s\": %s on %s\n", c.name.c_str(), c.summary().c_str(), c.network.c_str());
    std::fflush(stdout);
    if (auto s = createNetwork(c); !s) {
      return s.error().wrap("cannot create the cluster's network (dcos cluster down --name " + c.name +
                            " removes what was made)");
    }
    if (auto s = writeConfigs(c); !s) return s;
    if (auto s = writeFile(c.dir + "/state.json", c.stateJson()); !s) return s;
  }

  std::vector<const LocalNode *> masters;
  std::vector<const LocalNode *> all;
  for (const auto &n : c.nodes) {
    all.push_back(&n);
    if (n.role == "master") masters.push_back(&n);
  }
  int restarted = 0;
  auto startRole = [&](bool wantMasters) -> Status {
    for (auto &n : c.nodes) {
      if ((n.role == "master") != wantMasters || nodeRuns(c, n)) continue;
      if (existing) std::printf("starting %s: its dcosd was not running\n", n.hostname.c_str());
      if (auto s = startNode(c, n, o); !s) return s;
      ++restarted;
    }
    return Status::Ok();
  };
  if (existing && std::all_of(c.nodes.begin(), c.nodes.end(), [&](const LocalNode &n) { return nodeRuns(c, n); })) {
    std::printf("cluster \"%s\" is running: %s\n", c.name.c_str(), c.summary().c_str());
  }
  auto deadline = started + o.timeout;
  auto timeoutText = std::to_string(o.timeout.count()) + " s";

  // Masters first: agents find the ensemble at once instead of backing off.
  if (auto s = startRole(true); !s) return s;
  Status mastersUp = waitFor(
      c, masters, deadline,
      [&](std::string &last) {
        for (const auto *m : masters) {
          auto h = httpGet("http://" + m->address, "/health", 2s);
          if (!h || h->status != 200) {
            last = m->hostname + (h ? " answers HTTP " + std::to_string(h->status) + ": " + h->body : ": " + h.error().message);
            return false;
          }
        }
        return true;
      },
      [&](const std::string &last) {
        for (const auto *m : masters) {
          if (last.rfind(m->hostname, 0) == 0) return nodeFailure(c, *m, "did not become healthy within " + timeoutText + " (" + last + ")");
        }
        return "the masters did not become healthy within " + timeoutText + ": " + last;
      });
  if (!mastersUp) return mastersUp;
  if (auto s = startRole(false); !s) return s;

  HealthView view;
  Status healthy = waitFor(
      c, all, deadline,
      [&](std::string &last) {
        auto v = clusterHealth(c);
        if (!v) {
          last = v.error().message;
          return false;
        }
        view = *v;
        return v->total == static_cast<int>(c.nodes.size()) && v->healthy == v->total;
      },
      [&](const std::string &last) {
        for (const auto &n : c.nodes) {
          auto it = view.byAddress.find(n.address);
          if (it == view.byAddress.end()) return nodeFailure(c, n, "did not register within " + timeoutText);
          if (it->second.first != "healthy") {
            return nodeFailure(c, n, "is " + it->second.first + " after " + timeoutText + ": " + it->second.second);
          }
        }
        return "the cluster did not become healthy within " + timeoutText + ": " + last;
      });
  if (!healthy) return healthy;

  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!existing || restarted > 0) {
    std::printf("cluster \"%s\" is up: %s, healthy in %.1f s\n", c.name.c_str(), c.summary().c_str(), seconds);
  }
  std::printf("\nadmin URL: %s/  (from this host, the operators' network %s)\n\n", c.adminUrl().c_str(),
              c.hostAddress.c_str());
  std::printf("try:\n  dcos node list\n  dcos cluster status\n  curl %s/system/health/v1/nodes\n  dcos cluster down\n",
              c.adminUrl().c_str());
  return Status::Ok();
}

int printClusterStatus(const LocalCluster &c, bool json) {
  auto health = clusterHealth(c);
  bool allGood = health.ok();
  Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
  std::vector<std::vector<std::string>> rows{{"NODE", "HOSTNAME", "ROLE", "ADDRESS", "DCOSD", "HEALTH"}};
  for (const auto &n : c.nodes) {
    bool runs = nodeRuns(c, n);
    std::string status = "unknown";
    std::string message;
    if (health) {
      auto it = health->byAddress.find(n.address);
      status = it == health->byAddress.end() ? "not registered" : it->second.first;
      message = it == health->byAddress.end() ? "" : it->second.second;
    }
    allGood = allGood && runs && status == "healthy";
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("id", n.id);
    o->set("hostname", n.hostname);
    o->set("role", n.role);
    o->set("address", n.address);
    o->set("netns", n.netns);
    o->set("dcosd", runs ? "running" : "stopped");
    if (runs) o->set("pid", static_cast<int>(n.pid));
    o->set("health", status);
    if (!message.empty()) o->set("message", message);
    out->add(o);
    rows.push_back({n.id, n.hostname, n.role, n.address, runs ? "running (pid " + std::to_string(n.pid) + ")" : "stopped",
                    status + (message.empty() ? "" : ": " + message)});
  }
  if (json) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("name", c.name);
    o->set("admin_url", c.adminUrl());
    o->set("network", c.network);
    o->set("healthy", allGood);
    o->set("nodes", out);
    std::printf("%s", stringify(o).c_str());
  } else {
    std::printf("cluster \"%s\": %s on %s, admin URL %s/\n\n", c.name.c_str(), c.summary().c_str(), c.network.c_str(),
                c.adminUrl().c_str());
    std::printf("%s", formatTable(rows).c_str());
    if (!health) std::printf("\nhealth unknown: %s\n", health.error().message.c_str());
  }
  return allGood ? 0 : 1;
}

Status clusterDown(const std::string &stateDir, const std::string &name) {
  if (::geteuid() != 0) return makeError("cluster down needs root: it removes network namespaces (try sudo)");
  if (auto s = checkName(name); !s) return s.error();
  if (auto s = lockCluster(stateDir, name); !s) return s.error();
  auto c = loadCluster(stateDir, name);
  std::vector<std::string> namespaces = clusterNetns(name);
  std::string link = "dcos-" + name;
  bool hasLink = fs::exists("/sys/class/net/" + link);
  bool hasDir = fs::exists(stateDir + "/" + name);
  if (!c && namespaces.empty() && !hasLink && !hasDir) {
    std::printf("no cluster \"%s\": nothing to take down\n", name.c_str());
    return Status::Ok();
  }
  int stopped = 0;
  if (c) {
    std::vector<pid_t> pids;
    for (const auto &n : c->nodes) {
      if (nodeRuns(*c, n)) pids.push_back(n.pid);
    }
    // dcosd's own stop timeout is 20 s; it stops its ZooKeeper server too.
    auto killed = stopProcesses(pids, 25s);
    stopped = static_cast<int>(pids.size());
    if (!killed.empty()) std::printf("%zu dcosd did not stop within 25 s and were killed\n", killed.size());
  }
  // Whatever else still runs in the namespaces (a server a killed dcosd
  // left, tasks and their supervisors), looked at again until none is left:
  // a supervisor may start a process while the first ones stop.
  for (int pass = 0; pass < 3; ++pass) {
    std::vector<pid_t> left;
    for (const auto &ns : namespaces) {
      auto pids = run({"ip", "netns", "pids", ns});
      if (!pids) continue;
      std::istringstream in(*pids);
      pid_t p;
      while (in >> p) left.push_back(p);
    }
    if (left.empty()) break;
    stopProcesses(left, 5s);
  }
  std::vector<std::string> problems;
  for (const auto &ns : namespaces) {
    if (auto s = ip({"netns", "del", ns}); !s) problems.push_back(s.error().message);
  }
  // Its peer lived in the bridge namespace, so the link is normally gone
  // (or going: the kernel ends a deleted namespace's links a moment later,
  // so a failed delete of a link no longer there is no problem).
  if (fs::exists("/sys/class/net/" + link)) {
    if (auto s = ip({"link", "del", link}); !s && fs::exists("/sys/class/net/" + link)) {
      problems.push_back(s.error().message);
    }
  }
  std::error_code ec;
  fs::remove_all(stateDir + "/" + name, ec);
  if (ec) {
    // A file made while the walk went (a last log line): once more.
    ec.clear();
    fs::remove_all(stateDir + "/" + name, ec);
  }
  if (ec) problems.push_back("cannot remove " + stateDir + "/" + name + ": " + ec.message());
  if (!problems.empty()) return makeError("cluster " + text::quote(name) + " is partly down:\n  " + text::join(problems, "\n  "));
  std::printf("cluster \"%s\" is down: %d dcosd stopped, %zu namespaces and the host link %s removed\n", name.c_str(),
              stopped, namespaces.size(), link.c_str());
  return Status::Ok();
}

}  // namespace dcos::cli
