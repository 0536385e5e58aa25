#include "config/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "base/log.h"
#include "base/text.h"
#include "config/json_reader.h"

namespace dcos::config {
namespace {

std::vector<std::string> stringList(Reader &r, const std::string &key, Need need,
                                    const std::function<std::string(const std::string &)> &check) {
  std::vector<std::string> out;
  r.array(key, need, [&](const std::string &path, const Poco::Dynamic::Var &v) {
    if (!v.isString()) {
      r.diagnostics().add(path, "expected a string, found " + describe(v));
      return;
    }
    auto s = v.extract<std::string>();
    if (std::string problem = check(s); !problem.empty()) {
      r.diagnostics().add(path, problem);
      return;
    }
    out.push_back(s);
  });
  return out;
}

// An address in its one written form (inet_ntop's: lowercase, :: for the
// longest zero run), so that FD00::12 and fd00:0:0:0:0:0:0:12 are the same
// master everywhere addresses are compared; anything else as it is.
std::string canonicalIp(const std::string &s) {
  unsigned char buf[sizeof(in6_addr)];
  char out[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6}) {
    if (::inet_pton(family, s.c_str(), buf) == 1 && ::inet_ntop(family, buf, out, sizeof out) != nullptr) return out;
  }
  return s;
}

std::string checkIp(const std::string &s) {
  return isIpAddress(s) ? "" : "not an IP address: " + text::quote(s);
}

std::string checkCidr(const std::string &s) {
  return isCidr(s) ? "" : "not a CIDR (address/prefix): " + text::quote(s);
}

std::vector<PortRange> portList(Reader &r, const std::string &key, Need need) {
  std::vector<PortRange> out;
  r.array(key, need, [&](const std::string &path, const Poco::Dynamic::Var &v) {
    std::string s;
    if (v.isString()) {
      s = v.extract<std::string>();
    } else if (v.isInteger() && !v.isBoolean()) {
      s = v.convert<std::string>();
    } else {
      r.diagnostics().add(path, "expected a port or a range \"first-last\", found " + describe(v));
      return;
    }
    auto range = parsePortRange(s);
    if (!range) {
      r.diagnostics().add(path, range.error().message);
      return;
    }
    out.push_back(*range);
  });
  return out;
}

Zone readZone(Reader &zones, const std::string &name) {
  Zone zone;
  if (auto z = zones.object(name, Need::Optional)) {
    zone.networks = stringList(*z, "networks", Need::Optional, checkCidr);
    z->done();
  }
  return zone;
}

std::string readFile(const std::string &path, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot read: " + std::strerror(errno);
    return {};
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Poco::JSON::Array::Ptr toArray(const std::vector<std::string> &items) {
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const auto &i : items) a->add(i);
  return a;
}

Poco::JSON::Array::Ptr toArray(const std::vector<PortRange> &items) {
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const auto &i : items) a->add(formatPortRange(i));
  return a;
}

Poco::JSON::Object::Ptr clusterObject(const ClusterConfig &c) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("cluster_name", c.name);
  o->set("masters", toArray(c.masters));
  Poco::JSON::Object::Ptr zones = new Poco::JSON::Object;
  auto zone = [](const Zone &z) {
    Poco::JSON::Object::Ptr zo = new Poco::JSON::Object;
    zo->set("networks", toArray(z.networks));
    return zo;
  };
  zones->set("admin", zone(c.admin));
  zones->set("private", zone(c.privateZone));
  zones->set("public", zone(c.publicZone));
  o->set("zones", zones);
  Poco::JSON::Object::Ptr ops = new Poco::JSON::Object;
  ops->set("networks", toArray(c.operatorNetworks));
  ops->set("ssh", c.operatorSsh);
  o->set("operators", ops);
  Poco::JSON::Object::Ptr pub = new Poco::JSON::Object;
  pub->set("tcp", toArray(c.publicTcpPorts));
  pub->set("udp", toArray(c.publicUdpPorts));
  o->set("public_ports", pub);
  o->set("agent_ports", toArray(c.agentPorts));
  Poco::JSON::Object::Ptr agents = new Poco::JSON::Object;
  agents->set("allow_root_tasks", c.allowRootTasks);
  o->set("agents", agents);
  o->set("resolvers", toArray(c.resolvers));
  Poco::JSON::Object::Ptr dns = new Poco::JSON::Object;
  dns->set("domain", c.dnsDomain);
  dns->set("ttl", c.dnsTtl);
  o->set("dns", dns);
  if (!c.tlsCert.empty() || !c.tlsEdgeCert.empty()) {
    Poco::JSON::Object::Ptr tls = new Poco::JSON::Object;
    if (!c.tlsCert.empty()) {
      tls->set("cert", c.tlsCert);
      tls->set("key", c.tlsKey);
    }
    if (!c.tlsEdgeCert.empty()) {
      tls->set("edge_cert", c.tlsEdgeCert);
      tls->set("edge_key", c.tlsEdgeKey);
    }
    o->set("tls", tls);
  }
  if (!c.ipDetectFilename.empty()) o->set("ip_detect_filename", c.ipDetectFilename);
  Poco::JSON::Object::Ptr zk = new Poco::JSON::Object;
  zk->set("client_port", c.zookeeper.clientPort);
  zk->set("peer_port", c.zookeeper.peerPort);
  zk->set("election_port", c.zookeeper.electionPort);
  zk->set("session_timeout_ms", c.zookeeper.sessionTimeoutMs);
  zk->set("heap_mb", c.zookeeper.heapMb);
  o->set("zookeeper", zk);
  return o;
}

Poco::JSON::Object::Ptr nodeObject(const NodeConfig &n) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("role", n.role);
  o->set("address", n.address);
  o->set("hostname", n.hostname);
  Poco::JSON::Object::Ptr attrs = new Poco::JSON::Object;
  for (const auto &[k, v] : n.attributes) attrs->set(k, v);
  o->set("attributes", attrs);
  Poco::JSON::Object::Ptr api = new Poco::JSON::Object;
  api->set("listen", n.apiListen);
  if (!n.adminListen.empty()) api->set("admin_listen", n.adminListen);
  api->set("header_timeout_ms", n.apiHeaderTimeoutMs);
  api->set("max_connections_per_client", n.apiMaxConnectionsPerClient);
  o->set("api", api);
  if (!n.moduleConfig.empty()) {
    Poco::JSON::Object::Ptr modules = new Poco::JSON::Object;
    for (const auto &[name, json] : n.moduleConfig) modules->set(name, Poco::JSON::Parser().parse(json));
    o->set("modules", modules);
  }
  o->set("log_level", n.logLevel);
  Poco::JSON::Object::Ptr fw = new Poco::JSON::Object;
  fw->set("enabled", n.firewall);
  o->set("firewall", fw);
  return o;
}

std::string stringify(const Poco::JSON::Object::Ptr &o) {
  std::ostringstream s;
  Poco::JSON::Stringifier::stringify(o, s);
  return s.str();
}

std::string systemHostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) {
    return "localhost";
  }
  return buf;
}

}  // namespace

std::string reachableAt(const std::string &listen, const std::string &address) {
  for (const char *any : {"0.0.0.0:", "[::]:"}) {
    if (listen.rfind(any, 0) == 0) {
      return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + listen.substr(listen.rfind(':'));
    }
  }
  return listen;
}

std::string ClusterConfig::zookeeperConnectString() const {
  std::string out;
  for (const auto &m : masters) {
    if (!out.empty()) out += ",";
    out += (m.find(':') != std::string::npos ? "[" + m + "]" : m) + ":" + std::to_string(zookeeper.clientPort);
  }
  return out;
}

bool isIpAddress(const std::string &s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool isCidr(const std::string &s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return false;
  std::string addr = s.substr(0, slash);
  std::string len = s.substr(slash + 1);
  unsigned char buf[16];
  int max = 0;
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
    max = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
    max = 128;
  } else {
    return false;
  }
  int n = -1;
  auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  return ec == std::errc() && p == len.data() + len.size() && !len.empty() && n >= 0 && n <= max;
}

bool isName(const std::string &s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// Labels of 1 to 63 letters, digits and dashes (not at either end), at most
// 200 bytes in all: room for the names built under it.
bool isDnsDomain(const std::string &s) {
  if (s.empty() || s.size() > 200) return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    std::string l = text::asciiLower(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (!isName(l)) return false;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

Result<PortRange> parsePortRange(const std::string &s) {
  auto number = [](std::string_view part, unsigned &out) {
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && p == part.data() + part.size() && !part.empty() && out >= 1 && out <= 65535;
  };
  std::string_view v(s);
  auto dash = v.find('-');
  unsigned first = 0;
  unsigned last = 0;
  if (dash == std::string_view::npos) {
    if (!number(v, first)) return makeError("not a port (1-65535): " + text::quote(s));
    last = first;
  } else {
    if (!number(v.substr(0, dash), first) || !number(v.substr(dash + 1), last)) {
      return makeError("not a port range \"first-last\" (1-65535): " + text::quote(s));
    }
    if (first > last) return makeError("port range runs backwards: " + text::quote(s));
  }
  return PortRange{static_cast<uint16_t>(first), static_cast<uint16_t>(last)};
}

std::string formatPortRange(const PortRange &r) {
  return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + "-" + std::to_string(r.last);
}

Result<ClusterConfig> parseCluster(const std::string &text, const std::string &file) {
  auto json = parseJson(text, file);
  if (!json) return json.error();
  Diagnostics diag(file);
  Reader root(diag, "", *json);
  ClusterConfig c;
  if (auto name = root.string("cluster_name", Need::Required)) {
    if (name->empty() || name->size() > 128) {
      root.fail("cluster_name", "expected 1 to 128 characters");
    }
    c.name = *name;
  }
  size_t errorsBefore = diag.errors().size();
  c.masters = stringList(root, "masters", Need::Required, checkIp);
  for (auto &m : c.masters) m = canonicalIp(m);
  if (root.has("masters") && diag.errors().size() == errorsBefore) {
    size_t n = c.masters.size();
    if (n == 0 || n % 2 == 0 || n > 7) {
      root.fail("masters", "expected 1, 3, 5 or 7 masters (a ZooKeeper ensemble needs an odd count), found " +
                               std::to_string(n));
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < n; ++i) {
      if (!seen.insert(c.masters[i]).second) {
        diag.add("/masters/" + std::to_string(i), "duplicate master " + text::quote(c.masters[i]));
      }
    }
  }
  if (auto zones = root.object("zones", Need::Optional)) {
    c.admin = readZone(*zones, "admin");
    c.privateZone = readZone(*zones, "private");
    c.publicZone = readZone(*zones, "public");
    zones->done();
  }
  if (auto ops = root.object("operators", Need::Optional)) {
    c.operatorNetworks = stringList(*ops, "networks", Need::Optional, checkCidr);
    c.operatorSsh = ops->boolean("ssh", Need::Optional).value_or(false);
    ops->done();
  }
  if (auto pub = root.object("public_ports", Need::Optional)) {
    if (pub->has("tcp")) c.publicTcpPorts = portList(*pub, "tcp", Need::Optional);
    if (pub->has("udp")) c.publicUdpPorts = portList(*pub, "udp", Need::Optional);
    pub->done();
  }
  if (root.has("agent_ports")) c.agentPorts = portList(root, "agent_ports", Need::Optional);
  if (auto agents = root.object("agents", Need::Optional)) {
    c.allowRootTasks = agents->boolean("allow_root_tasks", Need::Optional).value_or(false);
    agents->done();
  }
  c.resolvers = stringList(root, "resolvers", Need::Optional, checkIp);
  for (auto &r : c.resolvers) r = canonicalIp(r);
  if (auto dns = root.object("dns", Need::Optional)) {
    if (auto domain = dns->string("domain", Need::Optional)) {
      if (!isDnsDomain(*domain)) {
        dns->fail("domain", "not a DNS domain (labels of letters, digits and dashes, dot-separated): " +
                                text::quote(*domain));
      }
      c.dnsDomain = text::asciiLower(*domain);
    }
    c.dnsTtl = static_cast<int>(dns->integer("ttl", Need::Optional, 0, 86400).value_or(60));
    dns->done();
  }
  if (auto tls = root.object("tls", Need::Optional)) {
    // Pairs: a certificate and its key, both or neither.
    auto pair = [&](const char *certKey, const char *keyKey, std::string &cert, std::string &key) {
      bool either = tls->has(certKey) || tls->has(keyKey);
      auto path = [&](const char *k) {
        auto v = tls->string(k, either ? Need::Required : Need::Optional);
        if (v && (v->empty() || v->front() != '/')) tls->fail(k, "expected an absolute path, found " + text::quote(*v));
        return v.value_or("");
      };
      cert = path(certKey);
      key = path(keyKey);
    };
    pair("cert", "key", c.tlsCert, c.tlsKey);
    pair("edge_cert", "edge_key", c.tlsEdgeCert, c.tlsEdgeKey);
    tls->done();
  }
  if (auto detect = root.string("ip_detect_filename", Need::Optional)) {
    // Read by a shell script on the node: plain path characters only.
    bool plain = !detect->empty() && detect->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                               "0123456789._/-") == std::string::npos;
    if (!plain) {
      root.fail("ip_detect_filename",
                "expected a path of letters, digits and . _ / - (the node's ip-detect script), found " +
                    text::quote(*detect));
    }
    c.ipDetectFilename = *detect;
  }
  if (auto zk = root.object("zookeeper", Need::Optional)) {
    auto port = [&](const char *key, uint16_t fallback) {
      return static_cast<uint16_t>(zk->integer(key, Need::Optional, 1, 65535).value_or(fallback));
    };
    c.zookeeper.clientPort = port("client_port", 2181);
    c.zookeeper.peerPort = port("peer_port", 2888);
    c.zookeeper.electionPort = port("election_port", 3888);
    c.zookeeper.sessionTimeoutMs =
        static_cast<int>(zk->integer("session_timeout_ms", Need::Optional, 1000, 60000).value_or(5000));
    c.zookeeper.heapMb = static_cast<int>(zk->integer("heap_mb", Need::Optional, 32, 4096).value_or(64));
    const auto &z = c.zookeeper;
    if (z.clientPort == z.peerPort || z.clientPort == z.electionPort || z.peerPort == z.electionPort) {
      zk->fail("peer_port", "client_port, peer_port and election_port must differ");
    }
    zk->done();
  }
  root.done();
  if (!diag.ok()) return makeError(text::join(diag.errors(), "\n"));
  return c;
}

Result<NodeConfig> parseNode(const std::string &text, const std::string &file) {
  auto json = parseJson(text, file);
  if (!json) return json.error();
  Diagnostics diag(file);
  Reader root(diag, "", *json);
  NodeConfig n;
  if (auto role = root.string("role", Need::Required)) {
    if (!isName(*role)) {
      root.fail("role", "not a role name (lowercase letters, digits and dashes): " + text::quote(*role));
    }
    n.role = *role;
  }
  if (auto address = root.string("address", Need::Required)) {
    if (!isIpAddress(*address)) root.fail("address", checkIp(*address));
    n.address = canonicalIp(*address);
  }
  n.hostname = root.string("hostname", Need::Optional).value_or(systemHostname());
  if (auto attrs = root.scalarMap("attributes", Need::Optional)) n.attributes = *attrs;
  n.apiListen = (n.address.find(':') != std::string::npos ? "[" + n.address + "]" : n.address) + ":61001";
  if (auto api = root.object("api", Need::Optional)) {
    auto listenAt = [&](const std::string &key, std::string &out) {
      auto listen = api->string(key, Need::Optional);
      if (!listen) return;
      auto colon = listen->rfind(':');
      std::string host = colon == std::string::npos ? "" : listen->substr(0, colon);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      bool portOk = colon != std::string::npos && (listen->substr(colon + 1) == "0" ||
                                                   parsePortRange(listen->substr(colon + 1)).ok()) &&
                    listen->find('-', colon) == std::string::npos;
      if (!portOk || !isIpAddress(host)) {
        api->fail(key, "expected address:port (e.g. \"127.0.0.1:61001\" or \"[::1]:61001\"), found " +
                           text::quote(*listen));
      }
      out = *listen;
    };
    listenAt("listen", n.apiListen);
    listenAt("admin_listen", n.adminListen);
    if (auto ms = api->integer("header_timeout_ms", Need::Optional, 100, 600'000)) n.apiHeaderTimeoutMs = static_cast<int>(*ms);
    if (auto cap = api->integer("max_connections_per_client", Need::Optional, 1, 65'536)) {
      n.apiMaxConnectionsPerClient = static_cast<int>(*cap);
    }
    api->done();
  }
  if (auto modules = root.raw("modules", Need::Optional)) {
    if (modules->type() != typeid(Poco::JSON::Object::Ptr)) {
      root.fail("modules", "expected an object of module name to config object, found " + describe(*modules));
    } else {
      for (const auto &[name, value] : *modules->extract<Poco::JSON::Object::Ptr>()) {
        if (!isName(name)) {
          diag.add("/modules/" + pointerToken(name), "not a module name");
        } else if (value.type() != typeid(Poco::JSON::Object::Ptr)) {
          diag.add("/modules/" + pointerToken(name), "expected a config object, found " + describe(value));
        } else {
          std::ostringstream out;
          Poco::JSON::Stringifier::stringify(value, out);
          n.moduleConfig[name] = out.str();
        }
      }
    }
  }
  if (auto level = root.string("log_level", Need::Optional)) {
    if (!log::parseLevel(*level)) {
      root.fail("log_level", "unknown level " + text::quote(*level) + " (known: error, warning, notice, info, debug)");
    }
    n.logLevel = *level;
  }
  if (auto fw = root.object("firewall", Need::Optional)) {
    n.firewall = fw->boolean("enabled", Need::Optional).value_or(true);
    fw->done();
  }
  root.done();
  if (!diag.ok()) return makeError(text::join(diag.errors(), "\n"));
  return n;
}

Result<Config> load(const std::string &dir) {
  Config config;
  config.dir = dir;
  std::vector<std::string> errors;
  std::string readError;
  std::string clusterText = readFile(dir + "/cluster.json", readError);
  if (!readError.empty()) {
    errors.push_back(readError);
  } else if (auto c = parseCluster(clusterText, dir + "/cluster.json")) {
    config.cluster = *c;
  } else {
    errors.push_back(c.error().message);
  }
  readError.clear();
  std::string nodeText = readFile(dir + "/node.json", readError);
  if (!readError.empty()) {
    errors.push_back(readError);
  } else if (auto n = parseNode(nodeText, dir + "/node.json")) {
    config.node = *n;
  } else {
    errors.push_back(n.error().message);
  }
  if (!errors.empty()) return makeError(text::join(errors, "\n"));
  return config;
}

std::string clusterToJson(const ClusterConfig &cluster) { return stringify(clusterObject(cluster)); }
std::string nodeToJson(const NodeConfig &node) { return stringify(nodeObject(node)); }

std::string toJson(const Config &config) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("cluster", clusterObject(config.cluster));
  o->set("node", nodeObject(config.node));
  return stringify(o);
}

}  // namespace dcos::config
