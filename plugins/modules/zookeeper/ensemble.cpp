#include "plugins/modules/zookeeper/ensemble.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace dcos::zookeeper {

Ensemble parseEnsemble(const std::string &clusterJson) {
  auto root = Poco::JSON::Parser().parse(clusterJson).extract<Poco::JSON::Object::Ptr>();
  Ensemble e;
  auto masters = root->getArray("masters");
  if (masters.isNull() || masters->size() == 0) throw std::runtime_error("cluster config has no masters");
  for (unsigned i = 0; i < masters->size(); ++i) {
    e.servers.push_back(Server{static_cast<int>(i) + 1, masters->getElement<std::string>(i)});
  }
  if (auto zk = root->getObject("zookeeper"); !zk.isNull()) {
    e.clientPort = zk->optValue("client_port", e.clientPort);
    e.peerPort = zk->optValue("peer_port", e.peerPort);
    e.electionPort = zk->optValue("election_port", e.electionPort);
    e.sessionTimeoutMs = zk->optValue("session_timeout_ms", e.sessionTimeoutMs);
    e.heapMb = zk->optValue("heap_mb", e.heapMb);
  }
  return e;
}

int serverId(const Ensemble &e, const std::string &address, std::string &error) {
  for (const auto &s : e.servers) {
    if (s.address == address) return s.id;
  }
  std::string list;
  for (const auto &s : e.servers) list += (list.empty() ? "" : ", ") + s.address;
  error = "this master's address " + address + " is not in cluster.json /masters [" + list +
          "]: a ZooKeeper server's id is its place in that list";
  return 0;
}

std::string zooCfg(const Ensemble &e, int id, const std::string &dataDir) {
  // Ticks of a tenth of the session timeout: ZooKeeper grants sessions of
  // 2 to 20 ticks, and followers that lag 5 ticks are dropped.
  int tick = std::clamp(e.sessionTimeoutMs / 10, 100, 2000);
  std::ostringstream c;
  c << "# Written by dcosd's zookeeper module from cluster.json; changes are overwritten.\n";
  c << "tickTime=" << tick << "\n";
  c << "initLimit=20\nsyncLimit=5\n";
  c << "dataDir=" << dataDir << "\n";
  c << "clientPort=" << e.clientPort << "\n";
  const std::string &self = e.servers.at(static_cast<size_t>(id - 1)).address;
  c << "clientPortAddress=" << self << "\n";
  c << "maxSessionTimeout=" << 20 * tick << "\n";
  c << "4lw.commands.whitelist=ruok,srvr,mntr,stat,conf\n";
  c << "admin.enableServer=false\n";
  c << "autopurge.snapRetainCount=3\nautopurge.purgeInterval=1\n";
  if (e.servers.size() > 1) {
    for (const auto &s : e.servers) {
      c << "server." << s.id << "=" << s.address << ":" << e.peerPort << ":" << e.electionPort << "\n";
    }
  }
  return c.str();
}

std::optional<std::string> serverMode(const std::string &srvr) {
  auto at = srvr.find("Mode: ");
  if (at == std::string::npos) return std::nullopt;
  auto end = srvr.find('\n', at);
  return srvr.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
}

std::string fourLetterWord(const std::string &address, int port, const std::string &word,
                           std::chrono::milliseconds timeout) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto *v4 = reinterpret_cast<sockaddr_in *>(&ss);
  auto *v6 = reinterpret_cast<sockaddr_in6 *>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *v6;
  } else {
    return "";
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  std::string answer;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count()));
  };
  if (::connect(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return "";
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t errLen = sizeof err;
  if (::poll(&p, 1, left()) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errLen) != 0 || err != 0 ||
      ::send(fd, word.data(), word.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(word.size())) {
    ::close(fd);
    return "";
  }
  char buf[4096];
  for (;;) {
    p = {fd, POLLIN, 0};
    if (::poll(&p, 1, left()) != 1) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

std::string exhibitorStatus(const Ensemble &e, std::chrono::milliseconds timeout) {
  Poco::JSON::Array out;
  for (const auto &s : e.servers) {
    auto mode = serverMode(fourLetterWord(s.address, e.clientPort, "srvr", timeout));
    Poco::JSON::Object o;
    o.set("hostname", s.address);
    // Exhibitor's codes: 0 latent, 1 down, 2 not serving, 3 serving.
    int code = mode ? 3 : 1;
    o.set("code", code);
    o.set("description", mode ? "serving" : "down");
    o.set("isLeader", mode && (*mode == "leader" || *mode == "standalone"));
    o.set("serverId", s.id);
    if (mode) o.set("mode", *mode);
    out.add(o);
  }
  std::ostringstream text;
  out.stringify(text);
  return text.str();
}

}  // namespace dcos::zookeeper
