// The private agent role: the private zone, where apps run, reachable only
// from inside the cluster. Its resources carry Mesos's default role "*".
#include <dcos/plugin.hpp>

namespace {

class AgentPrivate : public dcos::sdk::Role {
 public:
  AgentPrivate(dcos::sdk::Host, std::string_view) {}
  std::string manifest() const override {
    return R"({
      "zone": "private",
      "resource_role": "*",
      "attributes": {},
      "modules": [{"name": "agent"}],
      "image": {"packages": [], "units": ["dcosd.service"]}
    })";
  }
};

}  // namespace

DCOS_ROLE(AgentPrivate, "agent-private", DCOS_PLUGIN_VERSION, "private agent: private zone, runs apps")
