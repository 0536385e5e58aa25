// The master role: the admin zone, where the cluster's control plane runs.
// Modules join the manifest as they land (zookeeper, scheduler, dns, router).
#include <dcos/plugin.hpp>

namespace {

class Master : public dcos::sdk::Role {
 public:
  Master(dcos::sdk::Host, std::string_view) {}
  std::string manifest() const override {
    return R"({
      "zone": "admin",
      "resource_role": "*",
      "attributes": {},
      "modules": [],
      "image": {"packages": [], "units": ["dcosd.service"]}
    })";
  }
};

}  // namespace

DCOS_ROLE(Master, "master", DCOS_PLUGIN_VERSION, "master node: admin zone, control plane")
