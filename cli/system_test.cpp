#include "cli/system.h"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// A child running `script` under sh; its pid.
pid_t spawnShell(const char *script) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", script, static_cast<char *>(nullptr));
    ::_exit(127);
  }
  return pid;
}

}  // namespace

TEST_CASE("stopProcesses: SIGTERM, then SIGKILL for what outlives the grace; the gone are left alone", "[cli]") {
  pid_t polite = spawnShell("exec sleep 60");
  // Ignores SIGTERM, and says so once the trap is set.
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t stubborn = ::fork();
  if (stubborn == 0) {
    ::signal(SIGTERM, SIG_IGN);
    (void)!::write(ready[1], "x", 1);
    ::pause();
    ::_exit(0);
  }
  char c;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  ::close(ready[0]);
  ::close(ready[1]);
  pid_t gone = spawnShell("exit 0");
  int status = 0;
  REQUIRE(::waitpid(gone, &status, 0) == gone);  // reaped: its pid may be anyone's now

  auto killed = dcos::cli::stopProcesses({polite, stubborn, gone, -1}, std::chrono::milliseconds(500));
  CHECK(killed == std::vector<pid_t>{stubborn});
  REQUIRE(::waitpid(polite, &status, WNOHANG) <= 0);  // reaped by stopProcesses already
  REQUIRE(::waitpid(stubborn, &status, 0) == stubborn);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
}
