// A module for lifecycle tests. Its config says where to record what happens
// to it and how to misbehave:
//   {"log": "/path", "fail_start": true, "stop_delay_ms": 100, "health": "degraded"}
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
        health_(field(config, "health")) {
    record("create");
    if (field(config, "fail_create") == "true") throw dcos::sdk::Error("told to fail create");
  }
  ~Recorder() override { record("destroy"); }

  void start() override {
    record("start");
    if (failStart_) throw dcos::sdk::Error("told to fail start", EIO);
    if (health_ == "degraded") host_.reportHealth(DCOS_HEALTH_DEGRADED, "told to be degraded");
    host_.info("started; node " + host_.nodeJson());
  }
  void stop() override {
    record("stop");
    std::this_thread::sleep_for(std::chrono::milliseconds(stopDelayMs_));
  }

 private:
  void record(const std::string &event) {
    if (log_.empty()) return;
    std::ofstream(log_, std::ios::app) << event << " " << PLUGIN_NAME << "\n";
  }

  dcos::sdk::Host host_;
  std::string log_;
  bool failStart_;
  int stopDelayMs_;
  std::string health_;
};

}  // namespace

DCOS_MODULE(Recorder, PLUGIN_NAME, "0.0.1", "records its lifecycle for tests")
