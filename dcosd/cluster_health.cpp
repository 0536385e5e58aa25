#include "dcosd/cluster_health.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>

#include <future>
#include <sstream>
#include <vector>

namespace dcos::dcosd {

namespace {

struct Answer {
  std::string status = "unreachable";
  std::string message;
};

Answer askHealth(const std::string &api, std::chrono::milliseconds timeout) {
  Answer a;
  try {
    Poco::Net::SocketAddress address(api);
    Poco::Net::HTTPClientSession session(address);
    Poco::Timespan span(static_cast<long>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1000);
    session.setTimeout(span, span, span);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/health", Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
    auto o = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
    a.status = o->optValue<std::string>("status", "unknown");
    // The first plugin that is not healthy says why.
    if (auto plugins = o->getArray("plugins")) {
      for (size_t i = 0; i < plugins->size(); ++i) {
        auto p = plugins->getObject(static_cast<unsigned>(i));
        if (p && p->optValue<std::string>("health", "") != "healthy") {
          a.message = p->optValue<std::string>("name", "?") + ": " + p->optValue<std::string>("message", "");
          break;
        }
      }
    }
    if (a.message.empty() && o->has("coordination")) {
      auto c = o->getObject("coordination");
      if (c && !c->optValue<bool>("registered", true)) a.message = "not registered in ZooKeeper";
    }
  } catch (const std::exception &e) {
    a.message = "cannot ask " + api + ": " + e.what();
  }
  return a;
}

}  // namespace

std::string clusterHealthJson(const std::string &membersJson, std::chrono::milliseconds timeout) {
  Poco::JSON::Array::Ptr members;
  try {
    members = Poco::JSON::Parser().parse(membersJson).extract<Poco::JSON::Array::Ptr>();
  } catch (const std::exception &) {
    members = new Poco::JSON::Array;
  }
  std::vector<Poco::JSON::Object::Ptr> records;
  std::vector<std::future<Answer>> answers;
  for (size_t i = 0; i < members->size(); ++i) {
    auto m = members->getObject(static_cast<unsigned>(i));
    if (!m) continue;
    records.push_back(m);
    std::string api = m->optValue<std::string>("api", "");
    answers.push_back(std::async(std::launch::async, askHealth, api, timeout));
  }
  Poco::JSON::Array::Ptr nodes = new Poco::JSON::Array;
  int healthy = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    Answer a = answers[i].get();
    Poco::JSON::Object::Ptr n = new Poco::JSON::Object;
    n->set("host_ip", records[i]->optValue<std::string>("address", ""));
    n->set("hostname", records[i]->optValue<std::string>("hostname", ""));
    n->set("role", records[i]->optValue<std::string>("role", ""));
    n->set("health", a.status == "healthy" ? 0 : 1);
    n->set("status", a.status);
    if (!a.message.empty()) n->set("message", a.message);
    nodes->add(n);
    if (a.status == "healthy") ++healthy;
  }
  Poco::JSON::Object out;
  out.set("nodes", nodes);
  out.set("healthy", healthy);
  out.set("total", static_cast<int>(records.size()));
  std::ostringstream s;
  out.stringify(s);
  return s.str();
}

}  // namespace dcos::dcosd
