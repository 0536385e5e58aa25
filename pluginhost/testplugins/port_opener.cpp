// A module for firewall tests: while the file named by "trigger" exists, it
// keeps "port" of "proto" ("tcp" or "udp") open in the zones of "zones" (a
// DCOS_ZONE_* mask). Config: {"trigger": "/path", "proto": "tcp", "port": 8080, "zones": 7,
// "open_in_create": true (opens at once, during create: refused)}
#include <dcos/plugin.hpp>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace {

std::string field(std::string_view json, const std::string &key) {
  auto at = json.find("\"" + key + "\"");
  if (at == std::string_view::npos) return {};
  at = json.find(':', at) + 1;
  while (at < json.size() && json[at] == ' ') ++at;
  if (json[at] == '"') return std::string(json.substr(at + 1, json.find('"', at + 1) - at - 1));
  return std::string(json.substr(at, json.find_first_of(",}", at) - at));
}

class PortOpener : public dcos::sdk::Module {
 public:
  PortOpener(dcos::sdk::Host host, std::string_view config)
      : host_(host),
        trigger_(field(config, "trigger")),
        proto_(field(config, "proto") == "udp" ? DCOS_PROTO_UDP : DCOS_PROTO_TCP),
        port_(static_cast<uint16_t>(std::stoi(field(config, "port")))),
        zones_(static_cast<uint32_t>(std::stoul(field(config, "zones").empty() ? "7" : field(config, "zones")))) {
    // Too early on purpose (tests): the firewall is not applied during create().
    if (field(config, "open_in_create") == "true") host_.openPort(zones_, proto_, port_);
  }

  void start() override {
    thread_ = std::thread([this] {
      bool open = false;
      while (!stop_) {
        struct stat st {};
        bool want = ::stat(trigger_.c_str(), &st) == 0;
        try {
          if (want && !open) host_.openPort(zones_, proto_, port_);
          if (!want && open) host_.closePort(zones_, proto_, port_);
          open = want;
        } catch (const dcos::sdk::Error &e) {
          host_.error(e.what());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a file, not synchronizing
      }
    });
  }
  void stop() override {
    stop_ = true;
    thread_.join();
  }

 private:
  dcos::sdk::Host host_;
  std::string trigger_;
  dcos_proto proto_;
  uint16_t port_;
  uint32_t zones_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

DCOS_MODULE(PortOpener, "port-opener", "0.0.1", "opens a port while a trigger file exists (tests)")
