// A role for tests: its manifest is the file named by the node attribute
// "test_manifest", so each test composes the node it needs.
#include <dcos/plugin.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace {

class TestRole : public dcos::sdk::Role {
 public:
  TestRole(dcos::sdk::Host, std::string_view config) {
    const std::string key = "\"test_manifest\":\"";
    auto at = config.find(key);
    if (at == std::string_view::npos) throw dcos::sdk::Error("node attribute test_manifest is not set");
    at += key.size();
    std::string path(config.substr(at, config.find('"', at) - at));
    std::ifstream in(path);
    if (!in) throw dcos::sdk::Error("cannot read " + path, ENOENT);
    std::ostringstream s;
    s << in.rdbuf();
    manifest_ = s.str();
  }
  std::string manifest() const override { return manifest_; }

 private:
  std::string manifest_;
};

}  // namespace

DCOS_ROLE(TestRole, "test", "0.0.1", "a role whose manifest the test provides")
