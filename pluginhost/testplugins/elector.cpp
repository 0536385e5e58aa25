// A module for election tests: stands for the election named in its config
// and appends "leader" or "follower" to its log on every change.
// Config: {"election": "test", "log": "/path"}
#include <dcos/plugin.hpp>

#include <fstream>
#include <mutex>
#include <string>

namespace {

std::string field(std::string_view json, const std::string &key) {
  auto at = json.find("\"" + key + "\"");
  if (at == std::string_view::npos) return {};
  at = json.find('"', json.find(':', at) + 1) + 1;
  return std::string(json.substr(at, json.find('"', at) - at));
}

class Elector : public dcos::sdk::Module {
 public:
  Elector(dcos::sdk::Host host, std::string_view config)
      : host_(host), election_(field(config, "election")), log_(field(config, "log")) {}
  void start() override { host_.standForElection(election_, &Elector::changed, this); }
  void stop() override {}

 private:
  static void changed(void *user, int leader) {
    auto *self = static_cast<Elector *>(user);
    std::lock_guard lock(self->mutex_);
    std::ofstream(self->log_, std::ios::app) << (leader ? "leader" : "follower") << "\n";
  }
  dcos::sdk::Host host_;
  std::string election_;
  std::string log_;
  std::mutex mutex_;
};

}  // namespace

DCOS_MODULE(Elector, "elector", "0.0.1", "stands for an election and logs the outcome (tests)")
