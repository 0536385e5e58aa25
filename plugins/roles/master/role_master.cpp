// The master role: the admin zone, where the cluster's control plane runs.
// ZooKeeper first, and the rest only once it has a quorum: the scheduler,
// DNS, and the admin router on TCP 80.
#include <dcos/plugin.hpp>

namespace {

class Master : public dcos::sdk::Role {
 public:
  Master(dcos::sdk::Host, std::string_view) {}
  // The image: ZooKeeper's server loads only the jars named by the Class-Path
  // of zookeeper.jar (and log4j's); the rest of what libzookeeper-java pulls
  // in (eclipse-jdt, tomcat9, spring, junit, maven-repo links: about 30 MB)
  // is left unpacked. Its Java runtime is dcos-jre, made for this server
  // alone; it also meets junit4's need of a runtime, so Debian's full one
  // is kept out. The server's class-data archive is built from the image's
  // own jars at build time (dcos-zookeeper-cds). The router module runs its
  // own HAProxy: Debian's haproxy.service is masked (an empty unit file).
  std::string manifest() const override {
    return R"({
      "zone": "admin",
      "resource_role": "*",
      "attributes": {},
      "modules": [
        {"name": "zookeeper", "await_healthy": true},
        {"name": "scheduler"},
        {"name": "dns"},
        {"name": "router", "config": {"mode": "admin"}}
      ],
      "image": {
        "packages": ["libzookeeper-java", "dcos-jre", "default-jre-headless-", "openjdk-17-jre-headless-", "haproxy"],
        "units": ["dcosd.service"],
        "files": {"/usr/lib/sysusers.d/dcos-zookeeper.conf": "u zookeeper - \"ZooKeeper server\" /var/lib/dcos/zookeeper\n",
                  "/etc/systemd/system/haproxy.service": ""},
        "commands": [["/usr/lib/dcos/dcos-zookeeper-cds"]],
        "path_exclude": ["/usr/share/java/*", "/usr/share/maven-repo/*"],
        "path_include": [
          "/usr/share/java/zookeeper.jar", "/usr/share/java/zookeeper-jute.jar", "/usr/share/java/commons-cli.jar",
          "/usr/share/java/commons-io.jar", "/usr/share/java/findbugs-annotations*.jar",
          "/usr/share/java/jackson-annotations.jar", "/usr/share/java/jackson-core.jar",
          "/usr/share/java/jackson-databind.jar", "/usr/share/java/jetty9-client.jar", "/usr/share/java/jetty9-http.jar",
          "/usr/share/java/jetty9-io.jar", "/usr/share/java/jetty9-security.jar", "/usr/share/java/jetty9-server.jar",
          "/usr/share/java/jetty9-servlet.jar", "/usr/share/java/jetty9-util.jar", "/usr/share/java/jline*.jar",
          "/usr/share/java/metrics-core.jar", "/usr/share/java/netty-buffer.jar", "/usr/share/java/netty-common.jar",
          "/usr/share/java/netty-handler.jar", "/usr/share/java/netty-transport.jar",
          "/usr/share/java/netty-transport-native-epoll.jar", "/usr/share/java/slf4j-api.jar",
          "/usr/share/java/snappy-java.jar", "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2*.jar"]
      }
    })";
  }
};

}  // namespace

DCOS_ROLE(Master, "master", DCOS_PLUGIN_VERSION, "master node: admin zone, control plane")
