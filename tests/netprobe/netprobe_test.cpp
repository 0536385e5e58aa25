// netprobe itself: usage errors (no network needed), and serve and probe in
// network namespaces: dual-stack listeners, the ready file, SIGTERM, a port
// that cannot be bound, and every verdict in input order as text or JSON.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <filesystem>

#include "tests/support/netns.h"

using namespace dcos::test;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

struct UsageCase {
  std::vector<std::string> args;
  std::string message;
};

CommandResult netprobe(std::vector<std::string> args) {
  args.insert(args.begin(), netprobePath());
  return runCommand(args);
}

}  // namespace

TEST_CASE("netprobe: a usage error exits 2 and names what is wrong", "[netprobe]") {
  // Every target is checked before anything is sent, so none of these sends.
  auto usage = GENERATE(values<UsageCase>({
      {{}, "no command"},
      {{"frob"}, "unknown command \"frob\""},
      {{"probe"}, "no targets"},
      {{"probe", "tcp:172.31.254.2"}, "bad target \"tcp:172.31.254.2\": no port"},
      {{"probe", "tcp:172.31.254.2:80", "icmp:172.31.254.2:1"}, "bad target \"icmp:172.31.254.2:1\""},
      {{"probe", "tcp:fd00:dc05::2:80"}, "bad target \"tcp:fd00:dc05::2:80\": an IPv6 address goes in brackets"},
      {{"probe", "udp:[fd00:dc05::2]"}, "bad target \"udp:[fd00:dc05::2]\""},
      {{"probe", "udp:[172.31.254.2]:53"}, "not an IPv6 address: \"172.31.254.2\""},
      {{"probe", "tcp:172.31.254:80"}, "not an IPv4 address: \"172.31.254\""},
      {{"probe", "tcp:172.31.254.2:65536"}, "port out of range 1-65535: 65536"},
      {{"probe", "tcp:172.31.254.2:http"}, "not a port: \"http\""},
      {{"probe", "--timeout-ms", "0", "tcp:172.31.254.2:80"}, "--timeout-ms out of range"},
      {{"probe", "--timeout-ms"}, "--timeout-ms needs a value"},
      {{"probe", "--udp", "tcp:172.31.254.2:80"}, "unknown option \"--udp\""},
      {{"serve"}, "no ports"},
      {{"serve", "--tcp", "80,x"}, "not a tcp port: \"x\""},
      {{"serve", "--tcp", "80,"}, "not a tcp port: \"\""},
      {{"serve", "--udp=53,53"}, "duplicate udp port 53"},
      {{"serve", "--tcp", "0"}, "tcp port out of range"},
      {{"serve", "--tcp", "80", "--bogus"}, "unknown argument \"--bogus\""},
  }));
  CAPTURE(usage.args);
  CommandResult r = netprobe(usage.args);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, StartsWith("netprobe: ") && Contains(usage.message));
  CHECK(r.out.empty());
}

TEST_CASE("netprobe: --help prints the usage and exits 0", "[netprobe]") {
  auto args = GENERATE(as<std::vector<std::string>>{}, std::vector<std::string>{"--help"},
                       std::vector<std::string>{"serve", "--help"}, std::vector<std::string>{"probe", "--help"});
  CAPTURE(args);
  CommandResult r = netprobe(args);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Contains("usage: netprobe serve") && Contains("netprobe probe") && Contains("filtered"));
}

TEST_CASE("netprobe serve: dual-stack ports, a ready file, exit 0 on SIGTERM, and exit 1 for a port it cannot bind",
          "[netns]") {
  skipUnlessRoot();
  Topology net("np");
  net.addHost("solo", "172.31.254.1/24", "fd00:dc05::1/64");
  TempDir dir{"netprobe-test"};
  std::string ready = dir / "ready";
  auto server = net.spawn("solo",
                          {netprobePath(), "serve", "--tcp", "22,80,443,8080", "--udp", "53,5000", "--ready-file",
                           ready},
                          {}, dir / "serve.log");
  REQUIRE(waitForFile(ready, 5s));
  CHECK(readFile(ready) == "tcp 22,80,443,8080\nudp 53,5000\npid " + std::to_string(server->pid()) + "\n");

  SECTION("every port answers over IPv4 and IPv6, loopback and eth0") {
    std::vector<std::string> targets{"tcp:127.0.0.1:22",     "tcp:[::1]:80",          "tcp:172.31.254.1:443",
                                     "tcp:[fd00:dc05::1]:8080", "udp:127.0.0.1:53",   "udp:[::1]:5000",
                                     "udp:172.31.254.1:5000", "udp:[fd00:dc05::1]:53"};
    auto verdicts = net.probe("solo", targets);
    for (const auto &t : targets) {
      CHECK(verdicts[t] == "open");
    }
  }

  SECTION("a second server on a bound port fails with one line naming it, and is not ready") {
    std::string second = netprobePath() + " serve --ready-file " + (dir / "second");
    CommandResult tcp = net.run("solo", second + " --tcp 9000,8080");
    CHECK(tcp.status == 1);
    CHECK(tcp.err == "netprobe: serve: cannot bind tcp port 8080: Address already in use\n");
    CommandResult udp = net.run("solo", second + " --tcp 9000 --udp 5000");
    CHECK(udp.status == 1);
    CHECK(udp.err == "netprobe: serve: cannot bind udp port 5000: Address already in use\n");
    CHECK_FALSE(std::filesystem::exists(dir / "second"));
  }

  SECTION("SIGTERM: exit 0 and the ready file removed") {
    server->signal(SIGTERM);
    CHECK(server->wait(5s) == 0);
    CHECK_FALSE(std::filesystem::exists(ready));
  }
}

TEST_CASE("netprobe probe: every target at once, one verdict each in input order, as text or JSON", "[netns]") {
  skipUnlessRoot();
  Topology net("np");
  net.addHost("a", "172.31.254.1/24", "fd00:dc05::1/64");
  net.addHost("b", "172.31.254.2/24", "fd00:dc05::2/64");
  TempDir dir{"netprobe-test"};
  std::string ready = dir / "ready";
  auto server = net.spawn("b", {netprobePath(), "serve", "--tcp", "80", "--udp", "53", "--ready-file", ready}, {},
                          dir / "serve.log");
  REQUIRE(waitForFile(ready, 5s));
  // 172.31.254.99 is on the segment but nobody has it: no answer at all.
  std::string targets =
      "tcp:172.31.254.2:80 udp:[fd00:dc05::2]:53 tcp:172.31.254.99:80 tcp:[fd00:dc05::2]:81 udp:172.31.254.2:54 "
      "tcp:172.31.254.2:80";

  SECTION("text") {
    CHECK(net.exec("a", netprobePath() + " probe --timeout-ms 300 " + targets) ==
          "tcp:172.31.254.2:80 open\n"
          "udp:[fd00:dc05::2]:53 open\n"
          "tcp:172.31.254.99:80 filtered\n"
          "tcp:[fd00:dc05::2]:81 closed\n"
          "udp:172.31.254.2:54 closed\n"
          "tcp:172.31.254.2:80 open\n");
  }
  SECTION("JSON") {
    CHECK(net.exec("a", netprobePath() + " probe --json --timeout-ms=300 " + targets) ==
          R"({"tcp:172.31.254.2:80": "open", "udp:[fd00:dc05::2]:53": "open", "tcp:172.31.254.99:80": "filtered", )"
          R"("tcp:[fd00:dc05::2]:81": "closed", "udp:172.31.254.2:54": "closed", "tcp:172.31.254.2:80": "open"})"
          "\n");
  }
  SECTION("two hundred closed ports at once are all closed: no ICMP rate limit in a topology") {
    std::string many;
    for (int port = 2000; port < 2100; ++port) {
      many += " udp:172.31.254.2:" + std::to_string(port) + " udp:[fd00:dc05::2]:" + std::to_string(port);
    }
    std::string out = net.exec("a", netprobePath() + " probe" + many);
    CHECK(std::count(out.begin(), out.end(), '\n') == 200);
    CHECK_THAT(out, !Contains("filtered") && !Contains("open"));
  }
  SECTION("a target without a route is an error, exit 1, the others still get their verdict") {
    // 172.31.253.0/24 is not connected to a, and a has no other route.
    CommandResult r = net.run("a", netprobePath() + " probe tcp:172.31.253.1:80 tcp:172.31.254.2:80");
    CHECK(r.status == 1);
    CHECK(r.out == "tcp:172.31.253.1:80 error\ntcp:172.31.254.2:80 open\n");
    CHECK(r.err == "netprobe: probe: tcp:172.31.253.1:80: connect: Network is unreachable\n");
  }
}
