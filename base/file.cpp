#include "base/file.h"

#include <sstream>

#include <fstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dcos {

Status writeFileAtomically(const std::string &path, const std::string &text, mode_t mode, Durability durability) {
  auto failed = [&](const std::string &what, int err) {
    return makeError("cannot write " + path + ": " + what + ": " + std::strerror(err), err);
  };
  // A name of its own: two writers never share a temporary file, and an
  // existing file (or a symlink planted there) is never opened.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return failed("creating a temporary file", errno);
  auto abandon = [&](const std::string &what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return failed(what, err);
  };
  if (::fchmod(fd, mode) != 0) return abandon("fchmod");
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return abandon("write");
    done += static_cast<size_t>(n);
  }
  if (durability == Durability::PowerLoss && ::fsync(fd) != 0) return abandon("fsync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return failed("close", err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return failed("rename", err);
  }
  if (durability == Durability::ProcessCrash) return Status::Ok();
  // The rename itself survives a crash once the directory is on disk.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

std::string readFileOrEmpty(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return in ? out.str() : std::string();
}

}  // namespace dcos
