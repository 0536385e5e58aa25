#include "image/builder.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;

TEST_CASE("a role's image file is never written through a symbolic link", "[image]") {
  fs::path root = fs::temp_directory_path() / ("dcos-image-links-" + std::to_string(::getpid()));
  fs::create_directories(root / "etc");
  fs::create_directories(root / "var");
  fs::create_symlink("/run", root / "var/run");  // as in Debian: absolute
  fs::create_symlink("/etc/passwd", root / "etc/evil");
  CHECK(dcos::image::checkNoLinks(root.string(), "/etc/dcos/x.conf").ok());  // not there yet: made as directories
  auto through = dcos::image::checkNoLinks(root.string(), "/var/run/systemd/system/x.service");
  REQUIRE_FALSE(through.ok());
  CHECK(through.error().message ==
        "image file /var/run/systemd/system/x.service: /var/run is a symbolic link in the image; give the path it "
        "stands for");
  CHECK_FALSE(dcos::image::checkNoLinks(root.string(), "/etc/evil").ok());
  fs::remove_all(root);
}

TEST_CASE("mount paths from /proc/self/mounts are read with their escapes", "[image]") {
  CHECK(dcos::image::unescapeMountPath("/srv/my\\040images/work/rootfs/dev") == "/srv/my images/work/rootfs/dev");
  CHECK(dcos::image::unescapeMountPath("/a\\011b\\134c") == "/a\tb\\c");
  CHECK(dcos::image::unescapeMountPath("/plain/path") == "/plain/path");
  CHECK(dcos::image::unescapeMountPath("/trailing\\04") == "/trailing\\04");
}
