// The master role: the admin zone, where the cluster's control plane runs.
// ZooKeeper first, and the rest only once it has a quorum; the scheduler,
// DNS and router join the manifest as they land.
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
      "modules": [
        {"name": "zookeeper", "await_healthy": true}
      ],
      "image": {
        "packages": ["libzookeeper-java", "default-jre-headless"],
        "units": ["dcosd.service"],
        "files": {"/usr/lib/sysusers.d/dcos-zookeeper.conf": "u zookeeper - \"ZooKeeper server\" /var/lib/dcos/zookeeper\n"}
      }
    })";
  }
};

}  // namespace

DCOS_ROLE(Master, "master", DCOS_PLUGIN_VERSION, "master node: admin zone, control plane")
