// dcos-image: builds a bootable node image for one role of a cluster.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/text.h"
#include "image/builder.h"

namespace {

namespace fs = std::filesystem;

const char *kHelp = R"(Usage: dcos-image build --role ROLE --cluster-config FILE --output DIR --deb FILE [OPTION]...

Builds a bootable x86_64 disk image for one role of a cluster: Debian 12 with
systemd and the cloud kernel, the packages the role plugin asks for, the dcos
package, the cluster config baked in. GPT with an ESP (systemd-boot) and an
ext4 root, written without loop devices or mounts. Needs root.

One image serves every node of its role, flashed and booted with no edits:
its network comes up by DHCP, and the node's address is detected at boot
(cluster.json's ip_detect_filename script, else an address among the
masters, else one in the role's zone networks, else the route towards the
first master, else the default route); a master image needs one of
cluster.json's masters' addresses. The kernel command line, after the
image's own parameters, overrides:
  dcos.address=IP          the node's address
  dcos.hostname=NAME       systemd.hostname=NAME sets the host name too
                           (default: the DHCP lease's, else the kernel's
                           unless a placeholder, else the address)
  dcos.api=ADDR:PORT       the node API's listener (default <address>:61001)
  ip=IP::GW:MASK::eth0:off a static network instead of DHCP
                           (systemd-network-generator)
Boot from the ESP (its entry has the image's parameters), or directly with
the kernel written beside the image and the manifest's kernel_command_line.

Options:
      --role ROLE            a role plugin: role-ROLE.so in --plugin-dir
      --cluster-config FILE  the cluster.json baked into the image
      --output DIR           where dcos-ROLE.{raw,qcow2,raw.zst,vmlinuz,json} go
      --deb FILE             a package to install (the dcos .deb; for a master
                             also dcos-jre's, which other roles leave out);
                             repeatable
      --format LIST          comma-separated: raw, qcow2, raw.zst (default raw,qcow2)
      --plugin-dir DIR       where role plugins are (default: beside this
                             binary in a build tree, else /usr/lib/dcos/plugins)
      --cache DIR            downloaded packages, reused by later builds
                             (default /var/cache/dcos-image)
      --mirror LINE          an apt sources line, e.g. "deb http://deb.debian.org/debian
                             bookworm main"; repeatable; replaces the defaults
                             (Debian bookworm, bookworm-updates, security)
      --extra-mb N           free space on the root file system (default 512)
  -h, --help                 show this help and exit
      --version              show the version and exit

Exit status: 0 built; 1 the build failed (the output dir holds no partial
image); 2 a usage error.
)";

int usage(const std::string &message) {
  std::fprintf(stderr, "dcos-image: %s\nTry `dcos-image --help`.\n", message.c_str());
  return 2;
}

std::string defaultPluginDir() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::exists(self.parent_path().parent_path() / "plugins/role-master.so")) {
    return (self.parent_path().parent_path() / "plugins").string();
  }
  return "/usr/lib/dcos/plugins";
}

}  // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage("missing command (build)");
  if (args[0] == "--help" || args[0] == "-h") return std::printf("%s", kHelp), 0;
  if (args[0] == "--version") return std::printf("dcos-image %s\n", DCOS_VERSION), 0;
  if (args[0] != "build") return usage("unknown command " + dcos::text::quote(args[0]) + " (known: build)");
  // The plugin host's own progress lines are not news here.
  dcos::log::setLevel(dcos::log::Level::Warning);
  dcos::image::BuildOptions o;
  o.pluginDir = defaultPluginDir();
  bool mirrorsGiven = false;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--help" || a == "-h") return std::printf("%s", kHelp), 0;
    std::string value;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[i + 1];
      if (a.rfind("--", 0) == 0) ++i;
    } else {
      return usage(a + " needs a value");
    }
    if (a == "--role") {
      o.role = value;
    } else if (a == "--cluster-config") {
      o.clusterConfig = value;
    } else if (a == "--output") {
      o.outputDir = value;
    } else if (a == "--deb") {
      o.debs.push_back(value);
    } else if (a == "--format") {
      o.formats.clear();
      std::string f;
      for (char ch : value + ",") {
        if (ch == ',') {
          if (!f.empty()) o.formats.push_back(f);
          f.clear();
        } else {
          f += ch;
        }
      }
    } else if (a == "--plugin-dir") {
      o.pluginDir = value;
    } else if (a == "--cache") {
      o.cacheDir = value;
    } else if (a == "--mirror") {
      if (!mirrorsGiven) o.mirrors.clear();
      mirrorsGiven = true;
      o.mirrors.push_back(value);
    } else if (a == "--extra-mb") {
      char *end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 0 || n > 1000000) return usage("--extra-mb: expected a number of MiB");
      o.extraMb = static_cast<int>(n);
    } else {
      return usage("unknown option " + a);
    }
  }
  if (o.role.empty()) return usage("--role is required");
  if (o.clusterConfig.empty()) return usage("--cluster-config is required");
  if (o.outputDir.empty()) return usage("--output is required");
  auto r = dcos::image::build(o, [](const std::string &line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  if (!r) {
    std::fprintf(stderr, "dcos-image: %s\n", r.error().message.c_str());
    return 1;
  }
  std::printf("built in %.1f s; manifest: %s\n", r->seconds, r->manifestPath.c_str());
  return 0;
}
