#include "image/builder.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "base/text.h"
#include "cli/system.h"
#include "config/config.h"
#include "pluginhost/plugin_host.h"

namespace dcos::image {

namespace fs = std::filesystem;
using cli::readFile;
using cli::run;
using cli::runLogged;
using cli::writeFile;

// A path as /proc/self/mounts writes it: space, tab, newline and backslash
// as octal escapes (\040 ...).
std::string unescapeMountPath(const std::string &s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 2])) && std::isdigit(static_cast<unsigned char>(s[i + 3]))) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kEspMiB = 64;
constexpr const char *kEspType = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
constexpr const char *kRootType = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";  // Linux root (x86-64)

// What every node image has, whatever its role.
const std::vector<std::string> kBasePackages = {
    "systemd", "systemd-sysv", "dbus", "udev", "systemd-boot", "nftables", "iproute2", "procps", "curl",
    // Name resolution that works with no DNS server in reach: the node's own
    // name and localhost from nss-myhostname, the rest through resolved.
    "systemd-resolved", "libnss-myhostname",
};

// One shell word, whatever `s` holds: mmdebstrap's hooks are shell text.
std::string shellQuote(const std::string &s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string uuid() {
  std::string u = readFile("/proc/sys/kernel/random/uuid");
  while (!u.empty() && (u.back() == '\n' || u.back() == ' ')) u.pop_back();
  return u;
}

// The lines of a build log that say what went wrong (a full disk first,
// then apt's and dpkg's errors, or else its last lines), and where a copy of
// the whole log is kept: the work dir and its log go away with the failure.
std::string whyFailed(const std::string &log) {
  std::string content = readFile(log);
  std::istringstream in(content);
  std::vector<std::string> full;
  std::vector<std::string> errors;
  std::vector<std::string> last;
  for (std::string line; std::getline(in, line);) {
    if (line.find("No space left on device") != std::string::npos) {
      if (full.empty()) full.push_back(line);
    } else if (text::startsWith(line, "E: ") || text::startsWith(line, "dpkg: error") ||
               line.find("rror:") != std::string::npos ||
               // apt's resolver names the package and why: " pkg : Depends: x but it is not installable"
               line.find(" : Depends: ") != std::string::npos || line.find(" : PreDepends: ") != std::string::npos ||
               line.find("has no installation candidate") != std::string::npos) {
      if (errors.size() < 8) errors.push_back(line);
    }
    last.push_back(line);
    if (last.size() > 8) last.erase(last.begin());
  }
  std::vector<std::string> lines = full;
  lines.insert(lines.end(), errors.begin(), errors.end());
  if (lines.empty()) lines = last;
  char kept[] = "/tmp/dcos-image-failed-XXXXXX.log";
  int fd = ::mkstemps(kept, 4);
  std::string where = "not kept";
  if (fd >= 0) {
    bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    ::close(fd);
    if (ok) where = kept;
  }
  return "\n  " + text::join(lines, "\n  ") + "\n  (whole log: " + where + ")";
}

uint64_t treeBytes(const fs::path &root) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512 + 4096 * !S_ISREG(st.st_mode);
  }
  return total;
}

std::vector<std::string> mountsUnder(const std::string &dir) {
  std::istringstream mounts(readFile("/proc/self/mounts"));
  std::vector<std::string> under;
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream f(line);
    std::string dev, where;
    f >> dev >> where;
    where = unescapeMountPath(where);
    if (text::startsWith(where, dir + "/")) under.push_back(where);
  }
  return under;
}

// Removes a work dir, unmounting whatever a failed chroot build left mounted.
// Never removes through a mount that is still there (a bind of the host's
// /dev would lose the host its device nodes).
void removeWorkDir(const std::string &dir) {
  if (dir.empty() || !fs::exists(dir)) return;
  auto under = mountsUnder(dir);
  std::sort(under.rbegin(), under.rend());
  for (const auto &m : under) (void)run({"umount", "-l", m});
  if (!mountsUnder(dir).empty()) {
    std::fprintf(stderr, "dcos-image: %s still has mounts under it; left in place\n", dir.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

Status sha256(const std::string &path, std::string &out) {
  auto r = run({"sha256sum", path});
  if (!r) return r.error();
  out = r->substr(0, r->find(' '));
  return Status::Ok();
}

struct Step {
  const std::function<void(const std::string &)> &progress;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  void operator()(const std::string &what) const {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "[%6.1f s] ", s);
    progress(stamp + what);
  }
};

}  // namespace

std::string baseCommandLine(const std::string &rootPartUuid) {
  return "root=PARTUUID=" + rootPartUuid + " rw console=ttyS0,115200 net.ifnames=0 panic=-1";
}

Status checkNoLinks(const std::string &rootfs, const std::string &path) {
  // Inside the image only: a symlink on the way (Debian's /var/run -> /run
  // is absolute) would take a write to the build machine's own files.
  std::string at = rootfs;
  for (const auto &part : fs::path(path).relative_path()) {
    at += "/" + part.string();
    struct stat st {};
    if (::lstat(at.c_str(), &st) != 0) break;  // the rest is made as directories
    if (S_ISLNK(st.st_mode)) {
      return makeError("image file " + path + ": " + at.substr(rootfs.size()) +
                       " is a symbolic link in the image; give the path it stands for");
    }
  }
  return Status::Ok();
}

Result<BuildResult> build(const BuildOptions &o, const std::function<void(const std::string &)> &progress) {
  Step step{progress};
  BuildResult result;
  if (::geteuid() != 0) {
    return makeError("dcos-image build needs root: mmdebstrap builds the rootfs in a chroot, and the image's files "
                     "must belong to their real owners");
  }
  for (const auto &f : o.formats) {
    if (f != "raw" && f != "qcow2" && f != "raw.zst") {
      return makeError("--format: unknown format " + text::quote(f) + " (known: raw, qcow2, raw.zst)");
    }
  }
  if (o.debs.empty()) return makeError("--deb: give the dcos package to install (build it with: cd build && cpack -G DEB)");
  for (const auto &d : o.debs) {
    if (!fs::is_regular_file(d)) return makeError("--deb: no such file: " + d);
  }

  // 1. The cluster config and the role's manifest.
  std::string clusterText = readFile(o.clusterConfig);
  if (clusterText.empty()) {
    return makeError("--cluster-config: cannot read " + o.clusterConfig + (fs::exists(o.clusterConfig) ? " (empty)" : " (no such file)"));
  }
  auto cluster = config::parseCluster(clusterText, o.clusterConfig);
  if (!cluster) return cluster.error();
  config::Config cfg;
  cfg.dir = fs::path(o.clusterConfig).parent_path().string();
  // The cluster's ip-detect script, when it names one, goes beside the
  // image's cluster.json under one fixed name.
  config::ClusterConfig imageCluster = *cluster;
  std::string ipDetect;
  if (!cluster->ipDetectFilename.empty()) {
    fs::path from = cluster->ipDetectFilename;
    if (from.is_relative()) from = fs::path(cfg.dir.empty() ? "." : cfg.dir) / from;
    ipDetect = readFile(from.string());
    if (ipDetect.rfind("#!", 0) != 0 && ipDetect.rfind("\x7f" "ELF", 0) != 0) {
      return makeError(o.clusterConfig + ": /ip_detect_filename: " + from.string() +
                       (!fs::exists(from) ? " does not exist"
                        : ipDetect.empty() ? " cannot be read or is empty"
                                           : " is not a script (its first line is no #! line) nor a program"));
    }
    imageCluster.ipDetectFilename = "ip-detect";
  }
  cfg.cluster = *cluster;
  cfg.node.role = o.role;
  cfg.node.address = cluster->masters.front();
  cfg.node.hostname = "image";
  pluginhost::PluginHost host({o.pluginDir, "/nonexistent", {}, {}}, cfg);
  if (auto s = host.loadRoleOnly(); !s) {
    std::string m = s.error().message;
    // The role is a command-line option here, not a node.json key.
    if (auto p = m.find("node.json: /role: "); p != std::string::npos) m = "--role: " + m.substr(p + 18);
    return makeError(m);
  }
  const auto &image = host.manifest().image;
  // The project's own packages (dcos-*) come from no mirror: each one the
  // role names must be among the .debs given; one of the optional ones
  // (dcos-jre, dcos-dev, dcos-image) the role does not name is left out, so
  // the same --deb list serves every role: dcos-jre is for masters only.
  // dcos itself and every other package go in as given.
  std::set<std::string> given, named;
  for (const auto &p : image.packages) named.insert(p.substr(0, p.find('=')));
  std::vector<std::string> debs;
  for (const auto &d : o.debs) {
    auto field = run({"dpkg-deb", "--field", d, "Package"});
    if (!field) return makeError("--deb: " + d + " is not a Debian package: " + field.error().message);
    std::string name(text::trim(*field));
    given.insert(name);
    if ((name == "dcos-jre" || name == "dcos-dev" || name == "dcos-image") && named.count(name) == 0) {
      step(d + ": " + name + " is not among the " + o.role + " role's packages; left out");
      continue;
    }
    debs.push_back(d);
  }
  for (const auto &p : image.packages) {
    if (text::startsWith(p, "dcos-") && p.back() != '-' && given.count(p.substr(0, p.find('='))) == 0) {
      return makeError("--deb: the " + o.role + " role's image needs " + p +
                       ", one of this project's own packages: give its .deb too (cpack makes it beside the dcos .deb" +
                       (p == "dcos-jre" ? ", when the build found openjdk-17-jdk-headless's jlink and jmods)" : ")"));
    }
  }
  step("role " + o.role + ": zone " + host.manifest().zone + ", packages: " +
       (image.packages.empty() ? "(none of its own)" : text::join(image.packages, " ")));

  // 2. The work dir, inside the output dir so the final renames are atomic.
  std::error_code ec;
  fs::create_directories(o.outputDir, ec);
  if (ec) return makeError("--output: cannot create " + o.outputDir + ": " + ec.message());
  fs::create_directories(o.cacheDir, ec);
  if (ec) return makeError("--cache: cannot create " + o.cacheDir + ": " + ec.message());
  std::string work = fs::absolute(o.outputDir).string() + "/.dcos-image-" + o.role + "-" + std::to_string(::getpid());
  removeWorkDir(work);
  fs::create_directories(work, ec);
  if (ec) return makeError("cannot create " + work + ": " + ec.message());
  struct Cleanup {
    std::string dir;
    ~Cleanup() { removeWorkDir(dir); }
  } cleanup{work};
  const std::string rootfs = work + "/rootfs";
  const std::string log = work + "/build.log";

  // 3. The rootfs. Every package, the kernel and the dcos .debs too, is
  // installed by mmdebstrap's own apt, which runs outside the chroot and so
  // resolves and downloads the way the build machine does (its resolver, its
  // proxy). Nothing is downloaded from inside the chroot: there, once
  // systemd-resolved is in, /etc/resolv.conf points at a stub nobody serves.
  // Packages come from the cache when they are there; apt leaves what it
  // downloaded in the rootfs, and it goes back to the cache.
  std::vector<std::string> packages = kBasePackages;
  // The kernel without an initramfs (INITRD=No below): it has what it needs
  // to boot built in.
  packages.push_back("linux-image-cloud-amd64");
  packages.insert(packages.end(), image.packages.begin(), image.packages.end());
  std::vector<std::string> mm{"mmdebstrap", "--variant=apt", "--mode=root", "--skip=download/empty",
                              "--skip=cleanup/apt/cache", "--include=" + text::join(packages, ","),
                              "--aptopt=APT::Install-Recommends \"false\"",
                              "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
                              "--dpkgopt=path-include=/usr/share/doc/*/copyright",
                              "--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-exclude=/usr/share/info/*",
                              // Kernel modules for hardware and protocols no node of
                              // this cluster uses: data acquisition cards, SCSI
                              // targets, RDMA (and RDS and SMC over it), TIPC, video
                              // capture, SoundWire audio.
                              "--dpkgopt=path-exclude=/lib/modules/*/kernel/drivers/comedi/*",
                              "--dpkgopt=path-exclude=/lib/modules/*/kernel/drivers/target/*",
                              "--dpkgopt=path-exclude=/lib/modules/*/kernel/drivers/infiniband/*",
                              "--dpkgopt=path-exclude=/lib/modules/*/kernel/drivers/media/*",
                              "--dpkgopt=path-exclude=/lib/modules/*/kernel/drivers/soundwire/*",
                              "--dpkgopt=path-exclude=/lib/modules/*/kernel/net/rds/*",
                              "--dpkgopt=path-exclude=/lib/modules/*/kernel/net/smc/*",
                              "--dpkgopt=path-exclude=/lib/modules/*/kernel/net/tipc/*",
                              "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
                              // The .debs given by path, seen by dpkg inside the chroot at the same path.
                              "--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount",
                              // update-alternatives links man pages even when they are excluded
                              "--setup-hook=mkdir -p \"$1/var/cache/apt/archives\" \"$1/usr/share/man/man1\" "
                              "\"$1/usr/share/man/man5\" \"$1/usr/share/man/man7\" \"$1/usr/share/man/man8\"",
                              // Hard links where the cache and the output share a file system.
                              "--setup-hook=for f in " + shellQuote(fs::absolute(o.cacheDir).string()) +
                                  "/*.deb; do [ -e \"$f\" ] || continue; ln \"$f\" \"$1/var/cache/apt/archives/\" "
                                  "2>/dev/null || cp \"$f\" \"$1/var/cache/apt/archives/\" || exit 1; done"};
  // One --include each: a path is never split at commas or spaces.
  for (const auto &d : debs) mm.push_back("--include=" + fs::absolute(d).string());
  // The role's own path filters, after the builder's: dpkg applies them in order.
  std::vector<std::string> filters;
  for (const auto &g : image.pathExclude) filters.push_back("--dpkgopt=path-exclude=" + g);
  for (const auto &g : image.pathInclude) filters.push_back("--dpkgopt=path-include=" + g);
  mm.insert(std::find_if(mm.begin(), mm.end(), [](const std::string &a) { return a.rfind("--hook-dir=", 0) == 0; }),
            filters.begin(), filters.end());
  mm.push_back("bookworm");
  mm.push_back(rootfs);
  for (const auto &m : o.mirrors) mm.push_back(m);
  step("building the rootfs (mmdebstrap)");
  if (auto s = runLogged(mm, log, {"INITRD=No", "DEBIAN_FRONTEND=noninteractive"}); !s) {
    std::string why = whyFailed(log);
    if (why.find("No space left on device") != std::string::npos) {
      return makeError("building the rootfs failed: the output dir's file system is full (" + o.outputDir + "):" + why);
    }
    return makeError("building the rootfs failed (a package download or a dependency):" + why);
  }
  int cached = 0;
  for (const auto &e : fs::directory_iterator(rootfs + "/var/cache/apt/archives", ec)) {
    if (e.path().extension() != ".deb") continue;
    fs::path to = fs::path(o.cacheDir) / e.path().filename();
    if (!fs::exists(to)) {
      fs::copy_file(e.path(), to, ec);
      ++cached;
    }
  }
  step("rootfs built; " + std::to_string(cached) + " new packages added to the cache " + o.cacheDir);

  // 4. What makes it a node of this cluster and role.
  auto write = [&](const std::string &path, const std::string &content, mode_t mode = 0644) -> Status {
    if (auto s = checkNoLinks(rootfs, path); !s) return s.error();
    fs::create_directories(fs::path(rootfs + path).parent_path(), ec);
    if (auto s = writeFile(rootfs + path, content); !s) return s.error();
    ::chmod((rootfs + path).c_str(), mode);
    return Status::Ok();
  };
  std::string rootUuid = uuid();
  std::string espUuid = uuid();
  // The masters' DNS is the node's first: it answers the cluster's domain
  // (which resolved routes to it, ~domain) and forwards the rest to the
  // cluster's resolvers, which follow as the fallback while no master
  // answers. No multicast name lookups in a datacenter (LLMNR would hold
  // up every lookup of a single-label name that DNS cannot answer).
  std::string resolved = "[Resolve]\nLLMNR=no\nMulticastDNS=no\n";
  std::vector<std::string> servers = cluster->masters;
  servers.insert(servers.end(), cluster->resolvers.begin(), cluster->resolvers.end());
  resolved += "DNS=" + text::join(servers, " ") + "\nDomains=~" + cluster->dnsDomain + "\n";
  std::vector<std::pair<std::string, std::string>> files = {
      {"/etc/dcos/cluster.json", config::clusterToJson(imageCluster) + "\n"},
      {"/etc/dcos/image-role", o.role + "\n"},
      {"/etc/fstab", "PARTUUID=" + rootUuid + " / ext4 rw,relatime,errors=remount-ro 0 1\n"},
      {"/etc/hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"},
      {"/etc/systemd/resolved.conf.d/dcos.conf", resolved},
      {"/etc/machine-id", ""},  // empty: systemd makes one at first boot
      // dcosd's lines reach the serial console: an operator at the console,
      // and the boot tests, see "dcosd ready".
      {"/etc/systemd/journald.conf.d/dcos-console.conf",
       "[Journal]\nForwardToConsole=yes\nTTYPath=/dev/ttyS0\nMaxLevelConsole=info\n"},
  };
  // A static ip= is the whole config of its link: no router advertisements
  // and no DHCPv6 behind it, which network-online would otherwise wait for
  // (about 12 s per boot under TCG). The drop-ins follow the generator's
  // file names, 90-<interface>.network.
  for (int i = 0; i < 4; ++i) {
    files.emplace_back("/etc/systemd/network/90-eth" + std::to_string(i) + ".network.d/dcos.conf",
                       "[Network]\nIPv6AcceptRA=no\n");
  }
  // No ip= on the kernel command line (a disk flashed and booted as it is):
  // every wired link asks DHCP, and a lease's host name becomes the node's
  // (no /etc/hostname: a static name would hide it). Later in order than
  // the generator's 90-*.network, and off whenever ip= is given.
  files.emplace_back("/etc/systemd/network/99-dcos-dhcp.network",
                     "[Match]\nName=en* eth*\nKernelCommandLine=!ip\n\n"
                     "[Network]\nDHCP=ipv4\nIPv6AcceptRA=no\n\n"
                     "[DHCPv4]\nClientIdentifier=mac\nUseHostname=yes\n");
  // The kernel modules the zone firewall's ruleset needs, loaded in one go
  // early in the boot: left to the kernel's on-demand modprobe, one process
  // each while dcosd waits, they held dcosd's start 3 s under emulation.
  files.emplace_back("/etc/modules-load.d/dcos-firewall.conf",
                     "nf_tables\nnft_ct\nnft_fib_inet\nnft_limit\nnft_reject_inet\nnft_socket\n");
  // Online once any link is routable: a second port without a cable must
  // not hold every boot for wait-online's 2 minutes. dcos-node-identity
  // then waits for the node's own address.
  files.emplace_back("/etc/systemd/system/systemd-networkd-wait-online.service.d/dcos.conf",
                     "[Service]\nExecStart=\nExecStart=/lib/systemd/systemd-networkd-wait-online --any "
                     "--operational-state=routable\n");
  for (const auto &[path, content] : image.files) files.emplace_back(path, content);
  for (const auto &[path, content] : files) {
    if (auto s = write(path, content); !s) return s.error();
  }
  if (!ipDetect.empty()) {
    if (auto s = write("/etc/dcos/ip-detect", ipDetect, 0755); !s) return s.error();
  }
  // Not the build machine's host name (mmdebstrap copies it): with no
  // /etc/hostname, the name comes from DHCP or the kernel command line.
  fs::remove(rootfs + "/etc/hostname", ec);
  // Not the build machine's resolv.conf, which mmdebstrap leaves behind.
  fs::remove(rootfs + "/etc/resolv.conf", ec);
  fs::create_symlink("../run/systemd/resolve/stub-resolv.conf", rootfs + "/etc/resolv.conf", ec);
  if (ec) return makeError("linking /etc/resolv.conf to resolved's stub: " + ec.message());
  // ip= on the kernel command line becomes a networkd config (the generator).
  std::vector<std::string> units = {"systemd-networkd.service", "systemd-network-generator.service",
                                    "systemd-resolved.service", "dcos-node-identity.service"};
  units.insert(units.end(), image.units.begin(), image.units.end());
  std::vector<std::string> enable{"systemctl", "--root=" + rootfs, "enable"};
  enable.insert(enable.end(), units.begin(), units.end());
  if (auto r = run(enable); !r) return r.error().wrap("enabling units");
  if (auto r = run({"chroot", rootfs, "systemd-sysusers"}); !r) return r.error().wrap("creating system users");
  // The role's build-time commands, in the finished rootfs: /proc of their
  // own (a private mount namespace, gone with them) and no network.
  for (const auto &command : image.commands) {
    step("running " + text::join(command, " ") + " in the image");
    // Nothing of the build machine's environment (a JAVA_TOOL_OPTIONS
    // there would shape a class-data archive the node cannot use), and a
    // bound on a command that hangs.
    std::vector<std::string> argv{"env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
                                  "timeout", "--kill-after=10", "600",
                                  "unshare", "--mount", "--pid", "--fork", "--net", "--mount-proc=" + rootfs + "/proc",
                                  "chroot", rootfs};
    argv.insert(argv.end(), command.begin(), command.end());
    const std::string commandLog = work + "/command.log";
    fs::remove(commandLog, ec);
    if (auto s = runLogged(argv, commandLog); !s) {
      return makeError("the role's image command " + text::join(command, " ") + " failed:" + whyFailed(commandLog));
    }
    std::istringstream said(readFile(commandLog));
    for (std::string line; std::getline(said, line);) step("  " + line);
  }
  // No login on the image: the node is run through its APIs.
  (void)run({"chroot", rootfs, "passwd", "-l", "root"});
  for (const auto &dir : {"/var/cache/apt/archives", "/var/lib/apt/lists"}) {
    for (const auto &e : fs::directory_iterator(rootfs + dir, ec)) {
      if (e.is_regular_file()) fs::remove(e.path(), ec);
    }
  }
  for (const auto &e : fs::directory_iterator(rootfs + "/var/cache/apt", ec)) {
    if (e.path().extension() == ".bin") fs::remove(e.path(), ec);
  }

  // The package set, for the manifest.
  auto dpkg = run({"dpkg-query", "--admindir=" + rootfs + "/var/lib/dpkg", "-W", "-f=${Package} ${Version}\n"});
  if (!dpkg) return dpkg.error();
  Poco::JSON::Object::Ptr pkgs = new Poco::JSON::Object;
  {
    std::istringstream in(*dpkg);
    std::string name, version;
    while (in >> name >> version) pkgs->set(name, version);
  }
  std::string kernel;
  for (const auto &e : fs::directory_iterator(rootfs + "/boot", ec)) {
    if (text::startsWith(e.path().filename().string(), "vmlinuz-")) kernel = e.path().string();
  }
  if (kernel.empty()) return makeError("the rootfs has no kernel in /boot");
  // The kernel boots from the ESP (and beside the image for direct boot):
  // no second copy of it in the root file system, 14 MB that compress no
  // further.
  {
    std::string moved = work + "/" + fs::path(kernel).filename().string();
    fs::rename(kernel, moved, ec);
    if (ec) return makeError("moving the kernel out of the rootfs: " + ec.message());
    kernel = moved;
  }
  const std::string bootEfi = rootfs + "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";
  if (!fs::exists(bootEfi)) return makeError("the rootfs has no systemd-boot (" + bootEfi + ")");

  // 5. The disk: GPT, ESP, ext4 root; no loop device, no mount.
  uint64_t rootBytes = treeBytes(rootfs) * 5 / 4 + static_cast<uint64_t>(o.extraMb) * kMiB;
  uint64_t rootMiB = (rootBytes + kMiB - 1) / kMiB;
  uint64_t diskMiB = 1 + kEspMiB + rootMiB + 1;
  const std::string raw = work + "/disk.raw";
  step("writing a " + std::to_string(diskMiB) + " MiB disk: ESP " + std::to_string(kEspMiB) + " MiB, root " +
       std::to_string(rootMiB) + " MiB");
  {
    std::ofstream create(raw);
  }
  if (::truncate(raw.c_str(), static_cast<off_t>(diskMiB * kMiB)) != 0) {
    return makeError("cannot size " + raw + ": " + std::strerror(errno), errno);
  }
  std::string table = "label: gpt\n"
                      "start=2048, size=" + std::to_string(kEspMiB * 2048) + ", type=" + kEspType + ", uuid=" + espUuid +
                      ", name=\"ESP\"\n"
                      "start=" + std::to_string((1 + kEspMiB) * 2048) + ", size=" + std::to_string(rootMiB * 2048) +
                      ", type=" + kRootType + ", uuid=" + rootUuid + ", name=\"dcos-root\"\n";
  if (auto s = writeFile(work + "/partitions.sfdisk", table); !s) return s.error();
  if (auto s = runLogged({"sh", "-c", "sfdisk --no-reread --no-tell-kernel -q \"$0\" < \"$1\"", raw,
                          work + "/partitions.sfdisk"},
                         log);
      !s) {
    return makeError("writing the partition table failed:" + whyFailed(log));
  }
  // ESP: FAT32 at 1 MiB, systemd-boot, the kernel and one boot entry.
  std::string cmdline = baseCommandLine(rootUuid);
  if (auto s = runLogged({"mkfs.vfat", "-F", "32", "-s", "1", "-n", "ESP", "--offset", "2048", raw, std::to_string(kEspMiB * 1024)},
                         log);
      !s) {
    return makeError("formatting the ESP failed:" + whyFailed(log));
  }
  if (auto s = writeFile(work + "/loader.conf", "default dcos.conf\ntimeout 0\nconsole-mode keep\n"); !s) return s.error();
  if (auto s = writeFile(work + "/dcos.conf", "title dcos " + o.role + "\nlinux /vmlinuz\noptions " + cmdline + "\n");
      !s) {
    return s.error();
  }
  const std::string esp = raw + "@@1M";
  std::vector<std::string> mtoolsEnv{"MTOOLS_SKIP_CHECK=1"};
  std::vector<std::vector<std::string>> espSteps = {
      {"mmd", "-i", esp, "::/EFI", "::/EFI/BOOT", "::/loader", "::/loader/entries"},
      {"mcopy", "-i", esp, bootEfi, "::/EFI/BOOT/BOOTX64.EFI"},
      {"mcopy", "-i", esp, kernel, "::/vmlinuz"},
      {"mcopy", "-i", esp, work + "/loader.conf", "::/loader/loader.conf"},
      {"mcopy", "-i", esp, work + "/dcos.conf", "::/loader/entries/dcos.conf"},
  };
  for (const auto &argv : espSteps) {
    if (auto s = runLogged(argv, log, mtoolsEnv); !s) return makeError("filling the ESP failed:" + whyFailed(log));
  }
  // Root: ext4 at 1 MiB + ESP, filled from the rootfs.
  if (auto s = runLogged({"mkfs.ext4", "-q", "-F", "-L", "dcos-root", "-E",
                          "offset=" + std::to_string((1 + kEspMiB) * kMiB), "-d", rootfs, raw,
                          std::to_string(rootMiB * 1024) + "k"},
                         log);
      !s) {
    return makeError("writing the root file system failed:" + whyFailed(log));
  }

  // 6. The formats, the kernel for direct boot, and the manifest.
  std::string base = "dcos-" + o.role;
  std::vector<std::pair<std::string, std::string>> outputs;  // work file -> final name
  if (std::find(o.formats.begin(), o.formats.end(), "qcow2") != o.formats.end()) {
    // zstd clusters: ten times faster to write than zlib's, about the same
    // size; qemu reads them since 5.1.
    step("converting to qcow2");
    if (auto s = runLogged({"qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", "-m", "4", "-W", raw,
                            work + "/disk.qcow2"}, log); !s) {
      return makeError("qemu-img convert failed:" + whyFailed(log));
    }
    outputs.emplace_back(work + "/disk.qcow2", base + ".qcow2");
  }
  if (std::find(o.formats.begin(), o.formats.end(), "raw.zst") != o.formats.end()) {
    // -12 with a 128 MiB window: a master image in 15 s on 2 cores, 16 %
    // smaller than -6's 117 MiB (-19 saves 9 % more for two minutes). The
    // window is what zstd -d takes without options (--long=27 at most).
    step("compressing with zstd");
    if (auto s = runLogged({"zstd", "-q", "-T0", "-12", "--long=27", raw, "-o", work + "/disk.raw.zst"}, log); !s) {
      return makeError("zstd failed:" + whyFailed(log));
    }
    outputs.emplace_back(work + "/disk.raw.zst", base + ".raw.zst");
  }
  if (std::find(o.formats.begin(), o.formats.end(), "raw") != o.formats.end()) outputs.emplace_back(raw, base + ".raw");
  fs::copy_file(kernel, work + "/vmlinuz", ec);
  if (ec) return makeError("cannot copy the kernel: " + ec.message());
  outputs.emplace_back(work + "/vmlinuz", base + ".vmlinuz");

  Poco::JSON::Object::Ptr manifest = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  manifest->set("role", o.role);
  manifest->set("cluster_name", cluster->name);
  manifest->set("zone", host.manifest().zone);
  manifest->set("kernel", fs::path(kernel).filename().string());
  manifest->set("kernel_command_line", cmdline);
  manifest->set("root_partuuid", rootUuid);
  manifest->set("esp_partuuid", espUuid);
  Poco::JSON::Array::Ptr unitList = new Poco::JSON::Array;
  for (const auto &u : units) unitList->add(u);
  manifest->set("units", unitList);
  Poco::JSON::Array::Ptr fileList = new Poco::JSON::Array;
  for (const auto &[from, name] : outputs) {
    struct stat st {};
    ::stat(from.c_str(), &st);
    std::string sum;
    if (auto s = sha256(from, sum); !s) return s.error();
    Poco::JSON::Object::Ptr f = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    f->set("name", name);
    f->set("bytes", static_cast<Poco::UInt64>(st.st_size));
    f->set("allocated_bytes", static_cast<Poco::UInt64>(st.st_blocks) * 512);
    f->set("sha256", sum);
    fileList->add(f);
  }
  manifest->set("files", fileList);
  manifest->set("packages", pkgs);
  std::ostringstream text;
  manifest->stringify(text, 2);
  if (auto s = writeFile(work + "/manifest.json", text.str() + "\n"); !s) return s.error();
  outputs.emplace_back(work + "/manifest.json", base + ".json");

  // Into place: the manifest last, so a manifest means a complete image.
  for (const auto &[from, name] : outputs) {
    std::string to = o.outputDir + "/" + name;
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return makeError("cannot move " + name + " into " + o.outputDir + ": " + std::strerror(errno), errno);
    }
    result.files.push_back(to);
  }
  result.manifestPath = o.outputDir + "/" + base + ".json";
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - step.start).count();
  step("done: " + text::join(result.files, ", "));
  return result;
}

}  // namespace dcos::image
