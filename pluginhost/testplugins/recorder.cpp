// A module for lifecycle tests. Its config says where to record what happens
// to it and how to misbehave:
//   {"log": "/path", "fail_start": true, "stop_delay_ms": 100, "health": "degraded",
//    "stand": "election", "route": "/prefix"}
// (stand and route happen at start, before a told failure)
// Every line it appends is "<event> <name>".
#include <dcos/plugin.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace {

std::string field(std::string_view json, const std::string &key) {
  auto at = json.find("\"" + key + "\"");
  if (at == std::string_view::npos) return {};
  at = json.find(':', at);
  if (at == std::string_view::npos) return {};
  ++at;
  while (at < json.size() && json[at] == ' ') ++at;
  if (at < json.size() && json[at] == '"') {
    auto end = json.find('"', at + 1);
    return std::string(json.substr(at + 1, end - at - 1));
  }
  auto end = json.find_first_of(",}", at);
  return std::string(json.substr(at, end - at));
}

class Recorder : public dcos::sdk::Module {
 public:
  Recorder(dcos::sdk::Host host, std::string_view config)
      : host_(host),
        log_(field(config, "log")),
        failStart_(field(config, "fail_start") == "true"),
        stopDelayMs_(field(config, "stop_delay_ms").empty() ? 0 : std::stoi(field(config, "stop_delay_ms"))),
        health_(field(config, "health")),
        stand_(field(config, "stand")),
        route_(field(config, "route")) {
    record("create");
    if (field(config, "fail_create") == "true") throw dcos::sdk::Error("told to fail create");
  }
  ~Recorder() override { record("destroy"); }

  void start() override {
    record("start");
    if (!stand_.empty()) host_.standForElection(stand_, &Recorder::changed, this);
    if (!route_.empty()) host_.httpRoute(route_, &Recorder::serve, this);
    if (failStart_) throw dcos::sdk::Error("told to fail start", EIO);
    if (health_ == "degraded") host_.reportHealth(DCOS_HEALTH_DEGRADED, "told to be degraded");
    host_.info("started; node " + host_.nodeJson());
  }
  void stop() override {
    record("stop");
    std::this_thread::sleep_for(std::chrono::milliseconds(stopDelayMs_));
  }

 private:
  static void changed(void *self, int leader) { static_cast<Recorder *>(self)->record(leader ? "leader" : "follower"); }
  static void serve(void *self, const dcos_http_request *, const dcos_http_response *) {
    static_cast<Recorder *>(self)->record("served");
  }
  void record(const std::string &event) {
    if (log_.empty()) return;
    std::ofstream(log_, std::ios::app) << event << " " << PLUGIN_NAME << "\n";
  }

  dcos::sdk::Host host_;
  std::string log_;
  bool failStart_;
  int stopDelayMs_;
  std::string health_;
  std::string stand_;
  std::string route_;
};

}  // namespace

DCOS_MODULE(Recorder, PLUGIN_NAME, "0.0.1", "records its lifecycle for tests")
