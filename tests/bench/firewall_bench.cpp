// Applying a whole ruleset through dcos's netlink path and through `nft -f`
// of the same ruleset, side by side; and one incremental set-element change.
//
// Usage: firewall_bench [--runs N]   (root; runs in a network namespace of its own)
//
// For each N in 100, 1,000, 10,000 the ruleset has the zone rules plus N
// rules (ip saddr <a>/32 tcp dport <p> accept) and N elements in the
// cluster_nodes set. Each run replaces the table atomically; the figure is
// the median wall time of the runs.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "firewall/firewall.h"
#include "firewall/nft_text.h"
#include "firewall/policy.h"
#include "firewall/translate.h"

using namespace dcos;
using namespace dcos::firewall;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Interval address(size_t i) {
  auto iv = parseInterval("10." + std::to_string(100 + i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                          std::to_string(i % 256));
  if (!iv) std::abort();
  return *iv;
}

Ruleset synthetic(size_t n) {
  config::ClusterConfig c;
  c.name = "bench";
  c.masters = {"10.0.0.11"};
  c.admin.networks = {"10.0.0.0/24"};
  auto rs = zoneRuleset(c, Zone::Public);
  if (!rs) std::abort();
  for (auto &s : rs->addressSets) {
    if (s.name == kClusterNodes) {
      for (size_t i = 0; i < n; ++i) s.elements.push_back(address(i));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    Rule r;
    r.sourceKind = Rule::SourceKind::Literal;
    r.source = address(i);
    r.proto = Proto::Tcp;
    r.ports = PortRange{static_cast<uint16_t>(1024 + i % 60000), static_cast<uint16_t>(1024 + i % 60000)};
    rs->rules.push_back(r);
  }
  return *rs;
}

double nftApply(const std::string &script) {
  auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    execlp("nft", "nft", "-f", script.c_str(), static_cast<char *>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  double t = ms(Clock::now() - t0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "nft -f %s failed\n", script.c_str());
    std::exit(1);
  }
  return t;
}

}  // namespace

int main(int argc, char **argv) {
  int runs = 7;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::max(1, std::atoi(argv[i + 1]));
  }
  if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "firewall_bench: needs root to make a network namespace of its own\n");
    return 1;
  }
  auto fw = Firewall::open();
  if (!fw) {
    std::fprintf(stderr, "firewall_bench: %s\n", fw.error().message.c_str());
    return 1;
  }
  std::printf("Whole-ruleset apply (atomic replace of table inet dcos), median of %d runs\n", runs);
  std::printf("%8s %8s %10s %14s %14s %8s\n", "N", "rules", "elements", "dcos netlink", "nft -f", "ratio");
  char scratch[] = "/tmp/dcos-fw-bench-XXXXXX";
  int fd = mkstemp(scratch);
  close(fd);
  for (size_t n : {100u, 1000u, 10000u}) {
    Ruleset rs = synthetic(n);
    std::ofstream(scratch) << nftReplaceScript(rs);
    std::vector<double> ours;
    std::vector<double> theirs;
    for (int r = 0; r < runs; ++r) {
      auto t0 = Clock::now();
      if (auto s = (*fw)->apply(rs); !s) {
        std::fprintf(stderr, "apply failed: %s\n", s.error().message.c_str());
        return 1;
      }
      ours.push_back(ms(Clock::now() - t0));
      theirs.push_back(nftApply(scratch));
    }
    double a = median(ours);
    double b = median(theirs);
    std::printf("%8zu %8zu %10zu %11.2f ms %11.2f ms %7.1fx\n", n, chainRuleCount(rs), n, a, b, b / a);
  }
  unlink(scratch);

  // One element in and out of cluster_nodes at N = 10,000 (the ruleset of the last row).
  Ruleset big = synthetic(10000);
  if (auto s = (*fw)->apply(big); !s) return 1;
  std::vector<double> adds;
  std::vector<double> dels;
  auto extra = parseInterval("10.250.0.1");
  for (int i = 0; i < 1000; ++i) {
    auto t0 = Clock::now();
    if (!(*fw)->addAddresses(kClusterNodes, {*extra})) return 1;
    auto t1 = Clock::now();
    if (!(*fw)->removeAddresses(kClusterNodes, {*extra})) return 1;
    auto t2 = Clock::now();
    adds.push_back(ms(t1 - t0));
    dels.push_back(ms(t2 - t1));
  }
  std::printf("\nIncremental change at N = 10,000 (one element, cluster_nodes4), median of 1000:\n");
  std::printf("  add %.3f ms, delete %.3f ms (goal: under 1 ms)\n", median(adds), median(dels));
  return 0;
}
