// libFuzzer target: Marathon's API for apps and groups, Scheduler::handle
// over an in-memory ZooKeeper, fed with bodies.
//
// An input is up to kMaxRequests requests separated by kSeparator, run in
// order against a scheduler of its own on an empty ZooKeeper tree, so that
// every finding reproduces from its input alone. A request is
//
//   <op><path id>\n<body>
//
// where <op> is one byte: A POST /v2/apps, P PUT /v2/apps/<id>, M PATCH
// /v2/apps/<id>, G POST /v2/groups, U PUT /v2/groups/<id>, D DELETE
// /v2/apps/<id>, X DELETE /v2/groups/<id>; lowercase adds ?force=true, any
// other byte picks one of them. <path id> is the rest of the first line
// (ignored by A and G).
//
// After each request: the status is 2xx or 4xx (a 5xx, which says
// ZooKeeper failed, cannot happen over the memory client), a 4xx body is a
// JSON object with a "message" (a 422's also "details", each with a "path"
// and "errors"), a 4xx leaves the tree under /dcos/scheduler as it was,
// byte for byte, and after a 2xx every app listed reads back through GET
// and parses again as an app (a client sends back what it read). At the
// end of the input a second scheduler loads the tree, as a new leader
// would, and sees the same apps, groups and deployments.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "coord/memory_client.h"
#include "plugins/modules/scheduler/app.h"
#include "plugins/modules/scheduler/scheduler.h"

using namespace dcos;
using namespace dcos::scheduler;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

constexpr const char *kSeparator = "\n====\n";
constexpr size_t kMaxRequests = 6;
// ZooKeeper refuses a request over jute.maxbuffer (1 MiB less one byte by
// default) by dropping the connection; the memory client stores anything.
constexpr size_t kMaxZnodeData = 0xfffff - 1024;

std::string trace;  // the requests of this input so far, for failure reports

[[noreturn]] void fail(const std::string &what, const std::string &detail = "") {
  std::fprintf(stderr, "scheduler_fuzz: %s\n%s\nrequests of this input:\n%s\n", what.c_str(), detail.c_str(),
               trace.c_str());
  std::abort();
}

// The memory client with ZooKeeper's limit on a znode's data: a write over
// it fails as it would on a real ensemble (connection loss), so that what
// the scheduler does then is seen.
class LimitedClient : public coord::Client {
 public:
  explicit LimitedClient(coord::Client &inner) : inner_(inner) {}
  std::string connectString() const override { return inner_.connectString(); }
  bool connected() const override { return inner_.connected(); }
  bool waitConnected(std::chrono::milliseconds timeout) override { return inner_.waitConnected(timeout); }
  int64_t sessionId() const override { return inner_.sessionId(); }
  Result<std::string> create(const std::string &path, const std::string &data, coord::CreateMode mode,
                             coord::Ownership ownership) override {
    if (data.size() > kMaxZnodeData) return tooBig("create", path, data);
    return inner_.create(path, data, mode, ownership);
  }
  Status ensurePath(const std::string &path) override { return inner_.ensurePath(path); }
  Result<std::pair<std::string, coord::Stat>> get(const std::string &path, coord::Watcher watch) override {
    return inner_.get(path, std::move(watch));
  }
  Result<std::optional<coord::Stat>> exists(const std::string &path, coord::Watcher watch) override {
    return inner_.exists(path, std::move(watch));
  }
  Result<std::vector<std::string>> children(const std::string &path, coord::Watcher watch) override {
    return inner_.children(path, std::move(watch));
  }
  Result<coord::Stat> set(const std::string &path, const std::string &data, int32_t version) override {
    if (data.size() > kMaxZnodeData) return tooBig("set", path, data);
    return inner_.set(path, data, version);
  }
  Status remove(const std::string &path, int32_t version) override { return inner_.remove(path, version); }
  void withdraw(const std::string &path) override { inner_.withdraw(path); }
  coord::WatchId watchData(const std::string &path, std::function<void()> callback) override {
    return inner_.watchData(path, std::move(callback));
  }
  coord::WatchId watchChildren(const std::string &path, std::function<void()> callback) override {
    return inner_.watchChildren(path, std::move(callback));
  }
  void unwatch(coord::WatchId id) override { inner_.unwatch(id); }
  uint64_t onSession(std::function<void(coord::SessionEvent)> listener) override {
    return inner_.onSession(std::move(listener));
  }
  void removeSessionListener(uint64_t id) override { inner_.removeSessionListener(id); }
  void close() override { inner_.close(); }

 private:
  static Error tooBig(const char *op, const std::string &path, const std::string &data) {
    return makeError(std::string(op) + " " + path + ": " + std::to_string(data.size()) +
                         " bytes, over ZooKeeper's jute.maxbuffer",
                     static_cast<int>(coord::Code::ConnectionLoss));
  }
  coord::Client &inner_;
};

// No agents answer: nothing is placed; the API alone is under test.
struct NoAgents : AgentPort {
  Result<int> launch(const AgentInfo &, const std::string &) override { return 201; }
  Status kill(const AgentInfo &, const std::string &) override { return Status::Ok(); }
  Result<std::map<std::string, std::string>> reconcile(const AgentInfo &) override {
    return makeError("no agents in the fuzzer");
  }
};

// A scheduler, leading, over a session of the one in-memory ensemble.
// Sessions are kept from input to input (each has a thread); schedulers
// are made anew for each input, on an empty tree.
struct World {
  explicit World(coord::Client &zk) {
    SchedulerConfig config;
    config.zk = &zk;
    config.agents = &agents;
    config.address = "10.0.0.11:61001";
    config.hostname = "m1";
    scheduler = std::make_unique<Scheduler>(config);
    scheduler->reconcileOnce();  // leads: no election here
    if (!scheduler->isLeader()) fail("the scheduler does not lead over the memory client");
  }
  NoAgents agents;
  std::unique_ptr<Scheduler> scheduler;
};

struct Sessions {
  std::shared_ptr<coord::MemoryEnsemble> ensemble = std::make_shared<coord::MemoryEnsemble>();
  coord::MemoryClient first{ensemble}, second{ensemble};
  LimitedClient zk{first}, zk2{second};
};

Sessions &sessions() {
  static Sessions *s = new Sessions;  // never destroyed: its threads outlive the last input
  return *s;
}

void removeTree(coord::Client &zk, const std::string &path) {
  auto names = zk.children(path);
  if (!names) {
    if (coord::codeOf(names.error()) == coord::Code::NoNode) return;
    fail("listing " + path + ": " + names.error().message);
  }
  for (const auto &n : *names) removeTree(zk, path + "/" + n);
  if (auto r = zk.remove(path); !r) fail("removing " + path + ": " + r.error().message);
}

// Every znode under `path`, with its data.
void walk(coord::Client &zk, const std::string &path, std::map<std::string, std::string> &out) {
  auto data = zk.get(path);
  if (!data) {
    if (coord::codeOf(data.error()) == coord::Code::NoNode) return;
    fail("reading " + path + ": " + data.error().message);
  }
  out[path] = data->first;
  auto names = zk.children(path);
  if (!names) fail("listing " + path + ": " + names.error().message);
  for (const auto &n : *names) walk(zk, path + "/" + n, out);
}

std::map<std::string, std::string> snapshot(coord::Client &zk) {
  std::map<std::string, std::string> out;
  walk(zk, "/dcos/scheduler", out);
  return out;
}

std::string describeChange(const std::map<std::string, std::string> &before,
                           const std::map<std::string, std::string> &after) {
  std::string out;
  for (const auto &[path, data] : after) {
    auto it = before.find(path);
    if (it == before.end()) {
      out += "  created " + path + "\n";
    } else if (it->second != data) {
      out += "  changed " + path + "\n";
    }
  }
  for (const auto &[path, data] : before) {
    if (after.count(path) == 0) out += "  removed " + path + "\n";
  }
  return out;
}

Poco::Dynamic::Var parseJson(const std::string &json, const std::string &what) {
  try {
    return Poco::JSON::Parser().parse(json);
  } catch (const Poco::Exception &e) {
    fail(what + " is not JSON: " + e.displayText(), json);
  }
}

Object::Ptr parseObject(const std::string &json, const std::string &what) {
  auto v = parseJson(json, what);
  if (v.type() != typeid(Object::Ptr)) fail(what + " is not a JSON object", json);
  return v.extract<Object::Ptr>();
}

std::string stringify(const Object::Ptr &o) {
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

// A 4xx's body: {"message": "...", ...}; a 422's with details as Marathon
// gives them.
void checkErrorBody(const Scheduler::Reply &r) {
  auto o = parseObject(r.body, "the body of a " + std::to_string(r.status));
  if (!o->has("message") || !o->get("message").isString() || o->getValue<std::string>("message").empty()) {
    fail("a " + std::to_string(r.status) + " without a message", r.body);
  }
  if (r.status != 422) return;
  auto details = o->getArray("details");
  if (!details || details->size() == 0) fail("a 422 without details", r.body);
  for (size_t i = 0; i < details->size(); ++i) {
    auto d = details->getObject(static_cast<unsigned>(i));
    if (!d || !d->has("path") || !d->get("path").isString() || !d->getArray("errors") ||
        d->getArray("errors")->size() == 0) {
      fail("a 422 detail without a path or errors", r.body);
    }
    auto errors = d->getArray("errors");
    for (size_t k = 0; k < errors->size(); ++k) {
      if (!errors->get(static_cast<unsigned>(k)).isString()) fail("a 422 error that is not a string", r.body);
    }
  }
}

// The ids of every app, from GET /v2/apps.
std::vector<std::string> appIds(Scheduler &s) {
  auto list = s.handle("GET", "/v2/apps", "", "");
  if (list.status != 200) fail("GET /v2/apps answers " + std::to_string(list.status), list.body);
  auto apps = parseObject(list.body, "GET /v2/apps")->getArray("apps");
  if (!apps) fail("GET /v2/apps without apps", list.body);
  std::vector<std::string> ids;
  for (size_t i = 0; i < apps->size(); ++i) {
    auto a = apps->getObject(static_cast<unsigned>(i));
    if (!a || !a->has("id")) fail("GET /v2/apps lists an app without an id", list.body);
    ids.push_back(a->getValue<std::string>("id"));
  }
  return ids;
}

// GET /v2/apps/<id>: answered, and what it gives parses as an app again
// (the definition alone, as appJson writes it, is returned).
std::string readBack(Scheduler &s, const std::string &id) {
  auto r = s.handle("GET", "/v2/apps" + id, "", "");
  if (r.status != 200) fail("GET /v2/apps" + id + " answers " + std::to_string(r.status), r.body);
  auto app = parseObject(r.body, "GET /v2/apps" + id)->getObject("app");
  if (!app) fail("GET /v2/apps" + id + " without an app", r.body);
  if (!app->has("id") || app->getValue<std::string>("id") != id) fail("GET /v2/apps" + id + " gives another id", r.body);
  std::vector<Problem> problems;
  auto parsed = parseApp(stringify(app), problems);
  if (!parsed) {
    fail("the app GET /v2/apps" + id + " gives is refused when sent back",
         (problems.empty() ? parsed.error().message : problems[0].path + ": " + problems[0].message) + "\n" + r.body);
  }
  return appJson(*parsed);
}

struct Request {
  std::string method;
  std::string path;
  std::string query;
  std::string body;
  char op = 'A';
};

Request decode(const std::string &chunk) {
  Request r;
  if (chunk.empty()) {
    r.method = "POST";
    r.path = "/v2/apps";
    return r;
  }
  static const std::string kOps = "APMGUDX";
  unsigned char first = static_cast<unsigned char>(chunk[0]);
  bool force = first >= 'a' && first <= 'z';
  char op = static_cast<char>(force ? first - 'a' + 'A' : first);
  if (kOps.find(op) == std::string::npos) {
    op = kOps[first % kOps.size()];
    force = (first / kOps.size()) % 2 == 1;
  }
  size_t eol = chunk.find('\n', 1);
  std::string id = chunk.substr(1, eol == std::string::npos ? std::string::npos : eol - 1);
  r.body = eol == std::string::npos ? "" : chunk.substr(eol + 1);
  r.op = op;
  r.query = force ? "force=true" : "";
  switch (op) {
    case 'A': r.method = "POST"; r.path = "/v2/apps"; break;
    case 'P': r.method = "PUT"; r.path = "/v2/apps/" + id; break;
    case 'M': r.method = "PATCH"; r.path = "/v2/apps/" + id; break;
    case 'G': r.method = "POST"; r.path = "/v2/groups"; break;
    case 'U': r.method = "PUT"; r.path = "/v2/groups/" + id; break;
    case 'D': r.method = "DELETE"; r.path = "/v2/apps/" + id; r.body.clear(); break;
    default: r.method = "DELETE"; r.path = "/v2/groups/" + id; r.body.clear(); break;
  }
  return r;
}

void run(World &w, coord::Client &zk, const Request &req) {
  Scheduler &s = *w.scheduler;
  trace += req.method + " " + req.path + (req.query.empty() ? "" : "?" + req.query) + " (" +
           std::to_string(req.body.size()) + " bytes)\n";
  auto before = snapshot(zk);
  auto r = s.handle(req.method, req.path, req.query, req.body, "10.0.0.1");
  trace += "  -> " + std::to_string(r.status) + "\n";
  if (r.status >= 500) fail("a " + std::to_string(r.status) + " for " + req.method + " " + req.path, r.body);
  if (r.status < 200 || (r.status >= 300 && r.status < 400) || r.status >= 600) {
    fail("status " + std::to_string(r.status), r.body);
  }
  if (r.status >= 400) {
    checkErrorBody(r);
    auto after = snapshot(zk);
    if (after != before) {
      fail("a " + std::to_string(r.status) + " for " + req.method + " " + req.path + " changed ZooKeeper",
           describeChange(before, after) + r.body);
    }
    return;
  }
  auto answer = parseObject(r.body, "the body of a " + std::to_string(r.status));
  if (req.op == 'A') {
    if (!answer->has("id")) fail("POST /v2/apps answers without the app's id", r.body);
    readBack(s, answer->getValue<std::string>("id"));
  }
  if (req.op == 'P' || req.op == 'M') {
    auto got = s.handle("GET", req.path, "", "");
    if (got.status != 200) fail(req.method + " " + req.path + " succeeded, then GET answers " + std::to_string(got.status), got.body);
  }
  if (req.op == 'D') {
    auto got = s.handle("GET", req.path, "", "");
    if (got.status != 404) fail("DELETE " + req.path + " succeeded, then GET answers " + std::to_string(got.status), got.body);
  }
  for (const auto &id : appIds(s)) readBack(s, id);
}

// A group's view without the groups' versions (an empty group's is the
// time of the GET).
std::string groupsView(Scheduler &s) {
  auto r = s.handle("GET", "/v2/groups", "", "");
  if (r.status != 200) fail("GET /v2/groups answers " + std::to_string(r.status), r.body);
  std::function<void(Object::Ptr)> strip = [&](Object::Ptr g) {
    g->remove("version");
    auto groups = g->getArray("groups");
    for (size_t i = 0; groups && i < groups->size(); ++i) {
      if (auto sub = groups->getObject(static_cast<unsigned>(i))) strip(sub);
    }
  };
  auto root = parseObject(r.body, "GET /v2/groups");
  strip(root);
  return stringify(root);
}

// The ids of the deployments under way, from GET /v2/deployments.
std::string deploymentIds(Scheduler &s) {
  auto r = s.handle("GET", "/v2/deployments", "", "");
  if (r.status != 200) fail("GET /v2/deployments answers " + std::to_string(r.status), r.body);
  auto v = parseJson(r.body, "GET /v2/deployments");
  if (v.type() != typeid(Array::Ptr)) fail("GET /v2/deployments is not an array", r.body);
  auto list = v.extract<Array::Ptr>();
  std::set<std::string> ids;
  for (size_t i = 0; i < list->size(); ++i) {
    auto d = list->getObject(static_cast<unsigned>(i));
    if (!d || !d->has("id")) fail("GET /v2/deployments lists one without an id", r.body);
    ids.insert(d->getValue<std::string>("id"));
  }
  std::string out;
  for (const auto &id : ids) out += id + " ";
  return out;
}

// What a new leader loads is what the old one had.
void checkReload(World &w, coord::Client &otherSession) {
  World next(otherSession);
  auto ids = appIds(*w.scheduler);
  auto loaded = appIds(*next.scheduler);
  if (ids != loaded) {
    std::string a, b;
    for (const auto &id : ids) a += " " + id;
    for (const auto &id : loaded) b += " " + id;
    fail("a new leader loads other apps", "had:" + a + "\nloads:" + b);
  }
  for (const auto &id : ids) {
    if (readBack(*w.scheduler, id) != readBack(*next.scheduler, id)) fail("a new leader loads another " + id);
  }
  auto deployments = deploymentIds(*w.scheduler);
  auto deploymentsLoaded = deploymentIds(*next.scheduler);
  if (deployments != deploymentsLoaded) fail("a new leader loads other deployments", deployments + "\n" + deploymentsLoaded);
  auto groups = groupsView(*w.scheduler);
  auto groupsLoaded = groupsView(*next.scheduler);
  if (groups != groupsLoaded) fail("a new leader loads other groups", groups + "\n" + groupsLoaded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string input(reinterpret_cast<const char *>(data), size);
  trace.clear();
  Sessions &z = sessions();
  removeTree(z.zk, "/dcos");
  World w(z.zk);
  size_t at = 0;
  for (size_t n = 0; n < kMaxRequests && at <= input.size(); ++n) {
    size_t end = input.find(kSeparator, at);
    run(w, z.zk, decode(input.substr(at, end == std::string::npos ? std::string::npos : end - at)));
    if (end == std::string::npos) break;
    at = end + std::strlen(kSeparator);
  }
  checkReload(w, z.zk2);
  return 0;
}
