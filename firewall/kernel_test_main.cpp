// Main of the firewall's kernel tests: they program nftables, so before any
// runs, the process moves into a network namespace of its own, and the
// host's rules are never touched. Without root there is nothing to test:
// exit 77, which ctest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main(int argc, char **argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "skipped: the firewall kernel tests need root (CAP_NET_ADMIN in a new network namespace)\n");
    return 77;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "skipped: cannot create a network namespace: %s\n", std::strerror(errno));
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
