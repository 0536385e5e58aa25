// An example custom role: a private agent for GPU machines. Its resources
// carry their own resource role, "gpu", so only apps that accept that role
// are placed here, and it advertises the attribute gpu:true for constraints.
// Built out of tree against the installed SDK; see README.md beside it.
#include <dcos/plugin.hpp>

#include <string>

namespace {

class AgentGpu : public dcos::sdk::Role {
 public:
  AgentGpu(dcos::sdk::Host host, std::string_view) : host_(host) {}

  std::string manifest() const override {
    host_.info("GPU agent role for " + host_.nodeJson());
    return R"({
      "zone": "private",
      "resource_role": "gpu",
      "attributes": {"gpu": "true"},
      "modules": [],
      "image": {"packages": [], "units": ["dcosd.service"]}
    })";
  }

 private:
  dcos::sdk::Host host_;
};

}  // namespace

DCOS_ROLE(AgentGpu, "agent-gpu", "1.0.0", "private agent for GPU machines (example)")
