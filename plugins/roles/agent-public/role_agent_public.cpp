// The public agent role: the public zone, the edge. Its resources carry the
// role "slave_public", so only apps that accept it land here, and it has the
// attribute public_ip:true that DC/OS users place edge apps by.
#include <dcos/plugin.hpp>

namespace {

class AgentPublic : public dcos::sdk::Role {
 public:
  AgentPublic(dcos::sdk::Host, std::string_view) {}
  // The image: the router module runs its own HAProxy; Debian's
  // haproxy.service (enabled by the package, serving nothing) is masked by
  // an empty unit file.
  std::string manifest() const override {
    return R"({
      "zone": "public",
      "resource_role": "slave_public",
      "attributes": {"public_ip": "true"},
      "modules": [{"name": "agent"}, {"name": "router", "config": {"mode": "edge"}}],
      "image": {"packages": ["haproxy"], "units": ["dcosd.service"],
        "files": {"/etc/systemd/system/haproxy.service": ""}}
    })";
  }
};

}  // namespace

DCOS_ROLE(AgentPublic, "agent-public", DCOS_PLUGIN_VERSION, "public agent: public zone, the edge")
