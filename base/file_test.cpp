#include "base/file.h"

#include <catch2/catch.hpp>

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("a file is replaced whole, with its mode, and leaves no temporary file", "[file]") {
  fs::path dir = fs::temp_directory_path() / ("dcos-file-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "zoo.cfg").string();
  REQUIRE(dcos::writeFileAtomically(path, "old\n").ok());
  std::string big(100000, 'x');
  REQUIRE(dcos::writeFileAtomically(path, big, 0600).ok());
  CHECK(slurp(path) == big);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);

  // A symlink where a temporary name could be is never followed: the
  // temporary name is new each time.
  fs::create_symlink("/nonexistent-target", dir / "zoo.cfg.tmp");
  REQUIRE(dcos::writeFileAtomically(path, "new\n").ok());
  CHECK(slurp(path) == "new\n");
  CHECK(fs::is_symlink(dir / "zoo.cfg.tmp"));

  auto missing = dcos::writeFileAtomically((dir / "no-such-dir/x").string(), "x");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::StartsWith("cannot write " + (dir / "no-such-dir/x").string() +
                                                        ": creating a temporary file: No such file or directory"));
  fs::remove_all(dir);
}

TEST_CASE("a full disk leaves the old file as it was", "[file]") {
  // On a 64 KiB tmpfs in a mount namespace of a child's own (root only):
  // the mount goes with the child, whatever happens.
  if (::geteuid() != 0) return;
  fs::path dir = fs::temp_directory_path() / ("dcos-file-full-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipefd[0]);
    auto report = [&](const std::string &line) {
      (void)!::write(pipefd[1], line.data(), line.size());
      ::_exit(0);
    };
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k") != 0) {
      report("skip");
    }
    std::string path = (dir / "myid").string();
    if (!dcos::writeFileAtomically(path, "1\n").ok()) report("first write failed");
    auto full = dcos::writeFileAtomically(path, std::string(1 << 20, 'x'));
    std::string left = std::to_string(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
    report((full.ok() ? std::string("ok") : full.error().message) + "|" + slurp(path) + "|" + left);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  fs::remove_all(dir);
  if (out == "skip") return;  // no mount namespaces here
  INFO(out);
  CHECK_THAT(out, Catch::Contains("No space left on device"));
  CHECK_THAT(out, Catch::EndsWith("|1\n|1"));  // the old content, and no temporary file left
}
