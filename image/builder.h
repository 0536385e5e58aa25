// dcos-image: a bootable x86_64 disk image for one role of a cluster.
//
//   1. the role plugin's manifest says what the role's image needs
//      (packages, units, files);
//   2. mmdebstrap builds a Debian 12 rootfs with systemd, the cloud kernel
//      (no initramfs: it boots straight from NVMe or virtio), those packages
//      and the dcos .deb; downloaded packages are kept in a cache dir and
//      reused by the next build;
//   3. the cluster config is baked in (/etc/dcos/cluster.json, with its
//      ip-detect script beside it); the node's identity comes at boot from
//      DHCP and the detected address, or from the kernel command line
//      (dcos.address=, dcos.hostname=, ip=), so one image serves every node
//      of the role;
//   4. a GPT disk is written without loop devices or mounts: an ESP with
//      systemd-boot and the kernel (mkfs.vfat --offset, mtools), an ext4
//      root filled from the rootfs (mkfs.ext4 -E offset= -d);
//   5. raw, qcow2 and raw.zst, the kernel for direct boot, and a JSON
//      manifest (packages and versions, sizes, sha256) land in the output
//      dir. Work happens in a hidden dir there, removed on any failure, so no
//      half-written image is ever left.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::image {

struct BuildOptions {
  std::string role;
  std::string clusterConfig;  // path of cluster.json
  std::string outputDir;
  std::vector<std::string> formats{"raw", "qcow2"};  // raw, qcow2, raw.zst
  std::vector<std::string> debs;                     // the dcos package(s) to install
  std::string pluginDir;                             // where role-<role>.so is
  std::string cacheDir = "/var/cache/dcos-image";
  std::vector<std::string> mirrors{"deb http://deb.debian.org/debian bookworm main",
                                   "deb http://deb.debian.org/debian bookworm-updates main",
                                   "deb http://deb.debian.org/debian-security bookworm-security main"};
  int extraMb = 512;  // free space on the root file system beyond what the rootfs holds
};

struct BuildResult {
  std::vector<std::string> files;  // what landed in the output dir
  std::string manifestPath;
  double seconds = 0;
};

// Progress lines go to `progress`.
Result<BuildResult> build(const BuildOptions &options, const std::function<void(const std::string &)> &progress);

// Fails when a part of `path` (absolute, as in the image) is a symbolic link
// under `rootfs`: a role's file must not be written through one.
Status checkNoLinks(const std::string &rootfs, const std::string &path);

// A path as /proc/self/mounts writes it (\040 for a space, ...), as it is.
std::string unescapeMountPath(const std::string &s);

// The kernel command line an image boots with, before the node's own
// parameters: root by PARTUUID, serial console, classic interface names.
std::string baseCommandLine(const std::string &rootPartUuid);

}  // namespace dcos::image
