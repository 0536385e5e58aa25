#include "plugins/modules/router/haproxy.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

#include "base/text.h"

namespace dcos::router {

using Poco::JSON::Array;
using Poco::JSON::Object;

Result<std::string> runtimeCommand(const std::string &socketPath, const std::string &command,
                                   std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(std::string("socket: ") + std::strerror(errno), errno);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof a.sun_path) {
    ::close(fd);
    return makeError("socket path too long: " + socketPath);
  }
  std::memcpy(a.sun_path, socketPath.c_str(), socketPath.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    int e = errno;
    ::close(fd);
    return makeError("connecting to " + socketPath + ": " + std::strerror(e), e);
  }
  std::string line = command + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return makeError("writing to " + socketPath + ": " + std::strerror(e), e);
    }
    sent += static_cast<size_t>(n);
  }
  // Non-interactive mode: HAProxy closes after its reply.
  std::string reply;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  for (;;) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) {
      ::close(fd);
      return makeError("no reply from " + socketPath + " to \"" + command.substr(0, 60) + "\" in time");
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

namespace {

const char *modeName(Mode m) { return m == Mode::Http ? "http" : "tcp"; }

// Replies of HAProxy's runtime commands that mean it did not do it.
bool refused(const std::string &reply) {
  std::string r = text::asciiLower(reply);
  for (const char *bad : {"unknown", "error", "no such", "not found", "invalid", "require", "failed", "can't", "cannot"}) {
    if (r.find(bad) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::string Layout::toJson() const {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  Array::Ptr bs = new Array;
  for (const auto &b : backends) {
    Object::Ptr x = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    x->set("name", b.name);
    x->set("key", b.key);
    x->set("mode", modeName(b.mode));
    x->set("balance", b.balance);
    x->set("sticky", b.sticky);
    x->set("redirectToHttps", b.redirectToHttps);
    x->set("capacity", b.capacity);
    bs->add(x);
  }
  Array::Ptr ls = new Array;
  for (const auto &l : listeners) {
    Object::Ptr x = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    x->set("port", l.port);
    x->set("mode", modeName(l.mode));
    x->set("backend", l.backend);
    x->set("path", l.path);
    ls->add(x);
  }
  o->set("backends", bs);
  o->set("listeners", ls);
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

std::optional<Layout> Layout::fromJson(const std::string &json) {
  try {
    auto v = Poco::JSON::Parser().parse(json);
    auto o = v.extract<Object::Ptr>();
    Layout l;
    auto bs = o->getArray("backends");
    for (size_t i = 0; bs && i < bs->size(); ++i) {
      auto x = bs->getObject(static_cast<unsigned>(i));
      BackendDef b;
      b.name = x->getValue<std::string>("name");
      if (b.name.size() < 4 || b.name.substr(0, 3) != "be_" ||
          b.name.find_first_not_of("0123456789", 3) != std::string::npos || b.name.size() > 9) {
        return std::nullopt;
      }
      b.key = x->optValue<std::string>("key", "");
      b.mode = x->optValue<std::string>("mode", "http") == "tcp" ? Mode::Tcp : Mode::Http;
      b.balance = x->optValue<std::string>("balance", "roundrobin");
      b.sticky = x->optValue<bool>("sticky", false);
      b.redirectToHttps = x->optValue<bool>("redirectToHttps", false);
      b.capacity = std::clamp(x->optValue<int>("capacity", 16), 1, 4096);
      l.backends.push_back(b);
    }
    auto ls = o->getArray("listeners");
    for (size_t i = 0; ls && i < ls->size(); ++i) {
      auto x = ls->getObject(static_cast<unsigned>(i));
      Listener li;
      li.port = x->getValue<int>("port");
      li.mode = x->optValue<std::string>("mode", "tcp") == "http" ? Mode::Http : Mode::Tcp;
      li.backend = x->getValue<std::string>("backend");
      li.path = x->optValue<std::string>("path", "");
      l.listeners.push_back(li);
    }
    return l;
  } catch (const std::exception &) {
    return std::nullopt;
  }
}

namespace {

// The admin router's front: limits first, then /service/<app>/ by the
// prefixes of paths.map ("<prefix> be_<n>:<depth>", depth the app id's
// segments), the prefix taken off; the rest to the node API.
void renderAdminFront(std::ostringstream &c, const Files &files, const EdgeSettings &settings, const std::string &bind) {
  const std::string map = files.pathsMap();
  c << "frontend http\n"
    << "  mode http\n"
    << "  bind " << bind << ":" << settings.httpPort << "\n";
  if (!settings.tlsPem.empty()) c << "  bind " << bind << ":" << settings.httpsPort << " ssl crt " << settings.tlsPem << " alpn http/1.1\n";
  c
    // Connections at once per client address; a header that takes longer
    // than timeout http-request is cut (408); a body over the limit is
    // refused before it is read, and the rest waited for (as long as a
    // header) before a backend sees the request.
    << "  stick-table type ipv6 size 64k expire 60s store conn_cur\n"
    << "  tcp-request connection track-sc0 src\n"
    << "  http-request return status 429 content-type application/json string \"{\\\"message\\\":\\\"over "
    << settings.maxClientConnections << " connections from this address\\\"}\" if { sc0_conn_cur gt "
    << settings.maxClientConnections << " }\n"
    << "  http-request return status 413 content-type application/json string \"{\\\"message\\\":\\\"request body over "
    << settings.maxBodyBytes << " bytes\\\"}\" if { req.hdr_val(content-length) gt " << settings.maxBodyBytes << " }\n"
    << "  http-request wait-for-body time 10s at-least 16k\n"
    // Said by this router, never by the client.
    << "  http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]\n"
    << (settings.caCert.empty() ? std::string()
                                : "  http-request return status 200 content-type application/x-x509-ca-cert file " + settings.caCert +
                                      " if { path /ca/dcos-ca.crt }\n")
    // /service/<app> alone: to its directory, as a browser expects.
    << "  http-request redirect code 307 location %[path]/?%[query] if { path,concat(,,/),map(" << map << ") -m found } { query -m found }\n"
    << "  http-request redirect code 307 location %[path]/ if { path,concat(,,/),map(" << map << ") -m found }\n"
    << "  http-request set-var(txn.service) path,map_beg(" << map << ")\n";
  for (int depth = 1; depth <= kMaxServiceDepth; ++depth) {
    c << "  http-request replace-path ^/service(/[^/]+){" << depth << "}(/.*)$ \\2 if { var(txn.service),field(2,:) -m str "
      << depth << " }\n";
  }
  c << "  use_backend %[var(txn.service),field(1,:)] if { var(txn.service) -m found }\n"
    << "  default_backend node_api\n"
    << "\n"
    << "backend node_api\n"
    << "  mode http\n"
    // Each write forwarded at once (an event stream's frames are small;
    // coalesced, they waited on the client's delayed ACKs).
    << "  option http-no-delay\n"
    << "  option forwardfor\n"
    << "  retry-on conn-failure empty-response\n"
    << "  http-request disable-l7-retry if !METH_GET !METH_OPTIONS\n"
    // The event stream: open for as long as its client stays.
    << "  http-request set-timeout server 24h if { path_beg /v2/events /marathon/v2/events }\n"
    // A /service/ path whose backend the running HAProxy does not have yet
    // (its reload is coming): never the node API with the path stripped.
    << "  http-request return status 503 content-type application/json string \"{\\\"message\\\":\\\"this app's route is being "
       "made; try again\\\"}\" if { var(txn.service) -m found }\n";
  // This master's node API; the others' when it does not answer (its dcosd
  // restarting), so that port 80 of any master keeps serving.
  for (size_t i = 0; i < settings.nodeApis.size(); ++i) {
    c << "  server " << (i == 0 ? "self" : "master" + std::to_string(i)) << " " << settings.nodeApis[i]
      << " check inter 1s fall 1 rise 1" << (i == 0 ? "" : " backup") << "\n";
  }
}

}  // namespace

std::string renderConfig(const Files &files, const EdgeSettings &settings, const Layout &layout) {
  std::ostringstream c;
  const std::string bind = settings.bind.empty() ? "" : (settings.bind.find(':') != std::string::npos ? "[" + settings.bind + "]" : settings.bind);
  c << "# Written by dcosd's router module; changed at run time through " << files.admin() << ".\n"
    << "# Edits are lost at its next write.\n"
    << "global\n"
    << "  stats socket " << files.admin() << " mode 600 level admin expose-fd listeners\n"
    << "  server-state-file " << files.serverState() << "\n"
    << "  hard-stop-after 60s\n";
  if (settings.maxConnections > 0) c << "  maxconn " << settings.maxConnections << "\n";
  if (settings.threads > 0) c << "  nbthread " << settings.threads << "\n";
  c << "  log stderr format short local0 notice\n"
    << "\n"
    << "defaults\n"
    << "  log global\n"
    << "  load-server-state-from-file global\n"
    << "  timeout connect 5s\n"
    << "  timeout client " << settings.clientTimeout.count() << "s\n"
    << "  timeout server " << settings.serverTimeout.count() << "s\n"
    << "  timeout http-request 10s\n"
    << "  timeout http-keep-alive 10s\n"
    << "  timeout queue 5s\n"
    // A connection refused by a task that is going (or gone a moment
    // before the router heard) is tried again on another server.
    << "  retries 3\n"
    << "  option redispatch 1\n"
    << "\n";
  if (settings.admin) {
    renderAdminFront(c, files, settings, bind);
  } else {
    c << "frontend http\n"
      << "  mode http\n"
      << "  bind " << bind << ":" << settings.httpPort << "\n";
    if (!settings.tlsPem.empty()) c << "  bind " << bind << ":" << settings.httpsPort << " ssl crt " << settings.tlsPem << " alpn http/1.1\n";
    c << "  option http-buffer-request\n"
      << "  http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]\n"
      << "  http-request set-var(txn.host) req.hdr(host),lower,word(1,:)\n"
      << "  http-request set-var(txn.path_in) path\n"
      << "  http-request set-var(txn.hostpath) var(txn.host),concat(,txn.path_in,)\n"
      << "  use_backend %[var(txn.hostpath),map_beg(" << files.pathsMap() << ")] if { var(txn.hostpath),map_beg("
      << files.pathsMap() << ") -m found }\n"
      << "  use_backend %[var(txn.host),map(" << files.hostsMap() << ")] if { var(txn.host),map(" << files.hostsMap()
      << ") -m found }\n"
      << "  default_backend no_such_app\n"
      << "\n"
      << "backend no_such_app\n"
      << "  mode http\n"
      << "  http-request return status 503 content-type text/plain string \"no app for this host\\n\"\n";
  }
  for (const auto &b : layout.backends) {
    c << "\n"
      << "backend " << b.name << "\n"
      << "  mode " << modeName(b.mode) << "\n"
      << "  balance " << b.balance << "\n";
    if (b.mode == Mode::Http) {
      // A request a task refused at connect or dropped unanswered (it was
      // going) is sent again, to another server; not one that may have
      // changed something.
      c << "  option forwardfor\n"
        << "  retry-on conn-failure empty-response\n"
        << "  http-request disable-l7-retry if !METH_GET !METH_OPTIONS\n";
      // On port 80 only, as marathon-lb does: a service port serves plain http.
      // Only when 443 is served (its certificate could be had).
      if (b.redirectToHttps && !settings.tlsPem.empty()) {
        if (settings.httpsPort == 443) {
          c << "  http-request redirect scheme https code 301 if !{ ssl_fc } { fe_name http }\n";
        } else {
          c << "  http-request redirect location https://%[req.hdr(host),field(1,:)]:" << settings.httpsPort
            << "%[capture.req.uri] code 301 if !{ ssl_fc } { fe_name http }\n";
        }
      }
      // Slots have no cookie of their own: a dynamic one, from each server's
      // address and port, follows `set server addr`.
      if (b.sticky) c << "  cookie mesosphere_server_id insert indirect nocache dynamic\n  dynamic-cookie-key " << b.name << "\n";
    }
    // A name, not an address, parks the slots: only then does a reload
    // take each slot's address from the server-state file (init-addr last).
    c << "  server-template s 1-" << b.capacity << " localhost:1 disabled init-addr last,libc,none\n";
  }
  for (const auto &l : layout.listeners) {
    c << "\n"
      << "frontend port_" << l.port << "\n"
      << "  mode " << modeName(l.mode) << "\n"
      << "  bind " << bind << ":" << l.port << "\n";
    if (l.mode == Mode::Http) c << "  http-request set-header X-Forwarded-Proto http\n";
    if (l.mode == Mode::Http && !l.path.empty()) {
      c << "  use_backend " << l.backend << " if { path_beg " << l.path << " }\n"
        << "  default_backend no_such_app\n";
    } else {
      c << "  default_backend " << l.backend << "\n";
    }
  }
  return c.str();
}

Edge::Edge(Files files, EdgeSettings settings, Layout layout)
    : files_(std::move(files)), settings_(std::move(settings)), layout_(std::move(layout)) {}

Layout::BackendDef *Edge::backendFor(const std::string &key) {
  for (auto &b : layout_.backends) {
    if (b.key == key) return &b;
  }
  return nullptr;
}

bool Edge::plan(const Plan &plan) {
  plan_ = plan;
  why_.clear();
  bool reload = false;
  std::set<std::string> wanted;
  for (const auto &s : plan.services) wanted.insert(s.key());
  // Services gone: their backends become spares (parked by apply()).
  for (auto &b : layout_.backends) {
    if (!b.key.empty() && wanted.count(b.key) == 0) b.key.clear();
  }
  int next = 0;
  for (const auto &b : layout_.backends) next = std::max(next, std::stoi(b.name.substr(3)) + 1);
  std::vector<Layout::Listener> listeners;
  for (const auto &s : plan.services) {
    auto *b = backendFor(s.key());
    auto fits = [&](const Layout::BackendDef &d) {
      return d.mode == s.mode && d.balance == s.balance && d.sticky == s.sticky && d.redirectToHttps == s.redirectToHttps;
    };
    if (b == nullptr) {
      // A spare with the same settings serves at once; else any spare,
      // changed by a reload; else a new backend.
      for (auto &d : layout_.backends) {
        if (d.key.empty() && fits(d) && applied_[d.name].empty()) {
          b = &d;
          break;
        }
      }
      if (b == nullptr) {
        for (auto &d : layout_.backends) {
          if (d.key.empty()) {
            b = &d;
            break;
          }
        }
      }
      if (b == nullptr) {
        layout_.backends.push_back({"be_" + std::to_string(next++), "", s.mode, s.balance, s.sticky, s.redirectToHttps,
                                    settings_.minCapacity});
        b = &layout_.backends.back();
        reload = true;
        why_.push_back("a new backend for " + s.key());
      }
      b->key = s.key();
    }
    if (!fits(*b)) {
      b->mode = s.mode;
      b->balance = s.balance;
      b->sticky = s.sticky;
      b->redirectToHttps = s.redirectToHttps;
      reload = true;
      why_.push_back("new settings for " + s.key());
    }
    if (static_cast<int>(s.backends.size()) > b->capacity) {
      int c = b->capacity;
      while (c < static_cast<int>(s.backends.size())) c *= 2;
      b->capacity = c;
      reload = true;
      why_.push_back("more slots for " + s.key());
    }
    if (s.servicePort != 0) listeners.push_back({s.servicePort, s.mode, b->name, s.mode == Mode::Http ? s.path : ""});
  }
  // Enough spares for the next apps: made at the next reload (their want
  // alone does not cause one).
  int spares = 0;
  for (const auto &b : layout_.backends) spares += b.key.empty() ? 1 : 0;
  std::sort(listeners.begin(), listeners.end(), [](const auto &a, const auto &b) { return a.port < b.port; });
  if (listeners != layout_.listeners) {
    layout_.listeners = listeners;
    reload = true;
    why_.push_back("service ports changed");
  }
  if (reload || layout_.backends.empty()) {
    for (; spares < settings_.spares; ++spares) {
      layout_.backends.push_back({"be_" + std::to_string(next++), "", Mode::Http, "roundrobin", false, false, settings_.minCapacity});
    }
    if (!reload) why_.push_back("the first configuration");
    reload = true;
  }
  return reload;
}

std::string Edge::hostsMap() const {
  std::string out;
  for (const auto &s : plan_.services) {
    if (!s.path.empty()) continue;
    for (const auto &b : layout_.backends) {
      if (b.key != s.key()) continue;
      for (const auto &h : s.vhosts) out += h + " " + b.name + "\n";
    }
  }
  return out;
}

std::string Edge::pathsMap() const {
  // Longest prefix first: map_beg takes the first that matches.
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto &s : plan_.services) {
    if (s.path.empty()) continue;
    for (const auto &b : layout_.backends) {
      if (b.key != s.key()) continue;
      if (settings_.admin) {
        // "/service/<app id>/": the app id's segments, for the prefix's removal.
        rows.emplace_back(s.path, b.name + ":" + std::to_string(std::count(s.appId.begin(), s.appId.end(), '/')));
      }
      for (const auto &h : s.vhosts) rows.emplace_back(h + s.path, b.name);
    }
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) { return a.first.size() > b.first.size(); });
  std::string out;
  for (const auto &[k, v] : rows) out += k + " " + v + "\n";
  return out;
}

Status Edge::readBack() {
  auto reply = runtimeCommand(files_.admin(), "show servers state");
  if (!reply) return reply.error();
  applied_.clear();
  // "1" (the format), a "# be_id be_name srv_id srv_name srv_addr
  // srv_op_state srv_admin_state ... srv_port ..." header, then a line per
  // server.
  std::istringstream in(*reply);
  std::string line;
  std::vector<std::string> columns;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream h(line.substr(1));
      columns.clear();
      for (std::string w; h >> w;) columns.push_back(w);
      continue;
    }
    std::istringstream l(line);
    std::vector<std::string> f;
    for (std::string w; l >> w;) f.push_back(w);
    if (columns.empty() || f.size() < columns.size()) continue;
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < columns.size(); ++i) row[columns[i]] = f[i];
    const std::string &be = row["be_name"];
    if (!text::startsWith(be, "be_") || !text::startsWith(row["srv_name"], "s")) continue;
    int slot = 0;
    try {
      slot = std::stoi(row["srv_name"].substr(1));
    } catch (...) {
      continue;
    }
    // srv_admin_state bit 0x01: forced maintenance (parked).
    int admin = 0;
    try {
      admin = std::stoi(row["srv_admin_state"]);
    } catch (...) {
    }
    applied_[be][slot] = (admin & 0x1) != 0 ? std::string() : row["srv_addr"] + ":" + row["srv_port"];
  }
  mapsKnown_ = false;
  return Status::Ok();
}

Result<int> Edge::apply() {
  int sent = 0;
  std::vector<std::string> problems;
  auto run = [&](const std::string &cmd) {
    ++sent;
    auto r = runtimeCommand(files_.admin(), cmd);
    if (!r) {
      problems.push_back(cmd + ": " + r.error().message);
      return false;
    }
    if (refused(*r)) {
      problems.push_back(cmd + ": " + text::trim(*r));
      return false;
    }
    return true;
  };
  std::map<std::string, const Service *> byKey;
  for (const auto &s : plan_.services) byKey[s.key()] = &s;
  // Make before break: new servers in rotation first, then the maps that
  // send requests to them, then the servers that go parked. A request never
  // finds a backend without the servers it should have.
  std::vector<std::string> parks;
  for (const auto &b : layout_.backends) {
    auto &slots = applied_[b.name];
    std::set<std::string> want;
    const Service *s = b.key.empty() ? nullptr : byKey[b.key];
    if (s != nullptr) {
      for (const auto &x : s->backends) want.insert(x.address + ":" + std::to_string(x.port));
    }
    std::set<std::string> have;
    std::set<int> leaving;
    for (int i = 1; i <= b.capacity; ++i) {
      auto it = slots.find(i);
      if (it == slots.end() || it->second.empty()) continue;
      if (want.count(it->second) == 0 || have.count(it->second) != 0) {
        leaving.insert(i);
        continue;
      }
      have.insert(it->second);
    }
    int slot = 1;
    for (const auto &addr : want) {
      if (have.count(addr) != 0) continue;
      while (slot <= b.capacity && ((slots.count(slot) != 0 && !slots[slot].empty()) )) ++slot;
      if (slot > b.capacity) break;  // more after the reload that grows it
      size_t colon = addr.rfind(':');
      std::string server = b.name + "/s" + std::to_string(slot);
      if (run("set server " + server + " addr " + addr.substr(0, colon) + " port " + addr.substr(colon + 1)) &&
          run("set server " + server + " state ready")) {
        slots[slot] = addr;
      }
      ++slot;
    }
    for (int i : leaving) parks.push_back(b.name + "/s" + std::to_string(i));
  }
  // Maps: the files first (a reload reads them), then the running process,
  // each map swapped whole (prepare, fill, commit: no request sees half).
  auto swapMap = [&](const std::string &path, const std::string &content, std::string &applied) {
    if (mapsKnown_ && content == applied) return;
    std::string tmp = path + ".tmp";
    if (FILE *f = std::fopen(tmp.c_str(), "w")) {
      std::fwrite(content.data(), 1, content.size(), f);
      std::fclose(f);
      std::rename(tmp.c_str(), path.c_str());
    }
    ++sent;
    auto prepared = runtimeCommand(files_.admin(), "prepare map " + path);
    if (!prepared) {
      problems.push_back("prepare map " + path + ": " + prepared.error().message);
      return;
    }
    // "New version created: <n>"
    size_t colon = prepared->rfind(':');
    std::string version = colon == std::string::npos ? "" : text::trim(prepared->substr(colon + 1));
    if (version.empty() || !std::all_of(version.begin(), version.end(), ::isdigit)) {
      problems.push_back("prepare map " + path + ": " + text::trim(*prepared));
      return;
    }
    bool ok = true;
    std::istringstream in(content);
    for (std::string line; std::getline(in, line);) {
      size_t sp = line.find(' ');
      if (sp == std::string::npos) continue;
      ok = run("add map @" + version + " " + path + " " + line.substr(0, sp) + " " + line.substr(sp + 1)) && ok;
    }
    if (ok && run("commit map @" + version + " " + path)) applied = content;
  };
  std::string hosts = hostsMap(), paths = pathsMap();
  bool known = mapsKnown_;
  swapMap(files_.pathsMap(), paths, appliedPaths_);
  // The admin front routes by path alone: HAProxy has no hosts map loaded.
  if (!settings_.admin) swapMap(files_.hostsMap(), hosts, appliedHosts_);
  mapsKnown_ = (known || problems.empty()) && appliedHosts_ == hosts && appliedPaths_ == paths;
  for (const auto &server : parks) {
    size_t slash = server.find('/');
    if (run("set server " + server + " state maint")) applied_[server.substr(0, slash)][std::stoi(server.substr(slash + 2))].clear();
  }
  if (!problems.empty()) return makeError(text::join(problems, "; "));
  return sent;
}

}  // namespace dcos::router
