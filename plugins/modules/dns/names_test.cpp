// Expected values come from mesos-dns's own tests (records/labels/labels_test.go,
// records/generator_test.go with factories/fake.json) where they exist, and
// otherwise from the rules in docs/dns-names.md worked out by hand.
#include "plugins/modules/dns/names.h"

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

using namespace dcos::dns;

namespace {

bool validLabel(const std::string &s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> split(const std::string &name) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', start)) {
    out.push_back(name.substr(start, dot - start));
    start = dot + 1;
  }
  out.push_back(name.substr(start));
  return out;
}

// Every name the zone builds from one task's labels (zone.h), and the
// longest one we budget for (named ports under slave).
std::vector<std::string> namesOf(const TaskLabels &t, const std::string &port, const std::string &f,
                                 const std::string &d) {
  const std::string &l = t.label, &c = t.canonical;
  return {l + "." + f + "." + d,
          c + "." + f + "." + d,
          l + "." + f + ".slave." + d,
          c + "." + f + ".slave." + d,
          "_" + l + "._tcp." + f + "." + d,
          "_" + l + "._udp." + f + ".slave." + d,
          "_" + port + "._" + l + "._tcp." + f + "." + d,
          "_" + port + "._" + l + "._udp." + f + ".slave." + d};
}

}  // namespace

TEST_CASE("label: Mesos-DNS's RFC 1123 cases") {
  // labels_test.go: TestRFC1123 with testFunc's common cases.
  const std::map<std::string, std::string> cases = {
      {"", ""},
      {"a", "a"},
      {"-", ""},
      {"a---", "a"},
      {"---a---", "a"},
      {"---a---b", "a---b"},
      {"a.b.c.d.e", "a-b-c-d-e"},
      {"a.c.d_de.", "a-c-d-de"},
      {"abc123", "abc123"},
      {"-abc123", "abc123"},
      {"abc123-", "abc123"},
      {"abc-123", "abc-123"},
      {"abc--123", "abc--123"},
      {"r29f.dev.angrypigs", "r29f-dev-angrypigs"},
      {"4abc123", "4abc123"},
      {"-4abc123", "4abc123"},
      {"89fdgsf---gs7-fgs--d7fddg-123", "89fdgsf---gs7-fgs--d7fddg-123"},
      {"89fdgsf---gs7-fgs--d7fddg---123", "89fdgsf---gs7-fgs--d7fddg---123"},
      {"89fdgsf---gs7-fgs--d7fddg-", "89fdgsf---gs7-fgs--d7fddg"},
      {"fd%gsf---gs7-f$gs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg-123"},
      {"fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123",
       "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"},
      {"$$fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-123",
       "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"},
      {"%%fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789---123",
       "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"},
      {"##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-",
       "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789"},
      // 62 bytes: kept whole.
      {"hello--------------------------------------------------------f",
       "hello--------------------------------------------------------f"},
      // 64 bytes: the cut at 63 ends in '-'; they go, and the 'f' after them fills in.
      {"hello----------------------------------------------------------f", "hellof"},
      // DomainFrag's parts, labelled whole here.
      {"space space", "spacespace"},
      {"not$1234", "not1234"},
      {"(@ host ", "host"},
      {"MiXeDcase", "mixedcase"},
      {"pod_123$abc", "pod-123abc"},
  };
  for (const auto &[in, want] : cases) {
    INFO("label(\"" << in << "\")");
    CHECK(label(in) == want);
  }
}

TEST_CASE("label: odd inputs") {
  SECTION("uppercase, underscores, dots") {
    CHECK(label("My_App.Prod") == "my-app-prod");
    CHECK(label("ChronosTask:Core Open Source Weekly Report") == "chronostaskcoreopensourceweeklyreport");
    CHECK(label("chronos with a space AND MIXED CASE-2.0.1") == "chronoswithaspaceandmixedcase-2-0-1");
  }
  SECTION("leading separators of every kind go") {
    CHECK(label("._-web") == "web");
    CHECK(label("...") == "");
    CHECK(label("$%^&") == "");
  }
  SECTION("multi-byte UTF-8 characters go whole, as do stray high bytes") {
    CHECK(label("caf\xc3\xa9") == "caf");
    CHECK(label("na\xc3\xafve-app") == "nave-app");
    CHECK(label("\xe6\x97\xa5\xe6\x9c\xac") == "");
    CHECK(label("\xff\xfe" "a\x80" "b") == "ab");
    CHECK(label("\xe2\x80\x94web") == "web");
  }
  SECTION("63 and more") {
    const std::string a63(63, 'a');
    CHECK(label(a63) == a63);
    CHECK(label(a63 + "b") == a63);
    CHECK(label(std::string(100, 'X')) == std::string(63, 'x'));
    CHECK(label(std::string(62, 'a') + "-b") == std::string(62, 'a') + "b");
  }
  SECTION("a fill that ends in '-' is trimmed (Mesos-DNS keeps it: an invalid label)") {
    // Mesos-DNS: 61 'a' + "x-"; the cut ends in "--", the fill is "x-".
    CHECK(label(std::string(61, 'a') + "--x-y") == std::string(61, 'a') + "x");
  }
  SECTION("max") {
    CHECK(label("abcdef", 3) == "abc");
    CHECK(label("ab-def", 3) == "abd");
    CHECK(label("ab---", 3) == "ab");
    CHECK(label("abcdef", 0) == "");
    CHECK(label(std::string(80, 'a'), 100) == std::string(63, 'a'));
  }
}

TEST_CASE("label: properties over generated names") {
  // Bytes weighted towards the ones the rules treat specially.
  const std::string alphabet = "aZ09-._-- $\xc3\xa9\xff";
  std::mt19937 rng(34553613);
  std::uniform_int_distribution<size_t> len(0, 90), pick(0, alphabet.size() - 1), max(0, 70);
  for (int i = 0; i < 20000; ++i) {
    std::string in;
    for (size_t n = len(rng); n > 0; --n) {
      in.push_back(alphabet[pick(rng)]);
    }
    const size_t m = max(rng);
    const std::string out = label(in, m);
    INFO("label(\"" << in << "\", " << m << ") = \"" << out << "\"");
    REQUIRE(out.size() <= std::min<size_t>(m, 63));
    REQUIRE((out.empty() || validLabel(out)));
    REQUIRE(label(out, m) == out);  // a label is its own label
  }
}

TEST_CASE("taskName: Marathon's app id read backwards") {
  CHECK(taskName("/prod/web/frontend") == "frontend.web.prod");
  CHECK(taskName("/web") == "web");
  CHECK(taskName("prod/web") == "web.prod");
  CHECK(taskName("//prod//web/") == "web.prod");
  CHECK(taskName("/a.b/c") == "c.a.b");
  CHECK(taskName("") == "");
  CHECK(taskName("/") == "");
  SECTION("Mesos-DNS labels the whole task name") {
    CHECK(label(taskName("/prod/web/frontend")) == "frontend-web-prod");
    CHECK(label(taskName("/store/liquor")) == "liquor-store");
  }
}

TEST_CASE("taskHash: zbase32 of sha1, 5 characters") {
  // generator_test.go: TestHashString.
  CHECK(taskHash("test") == "iffe9");
  // generator_test.go's SRV targets for factories/fake.json's task ids.
  CHECK(taskHash("liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5") == "4dfjd");
  CHECK(taskHash("liquor-store.b71166c1-562f-11e4-a088-c20493233aa5") == "zasmd");
  CHECK(taskHash("car-store.43758382-562f-11e4-a088-c20493233aa5") == "zinaz");
  // sha1("") = da39a3ee...: 11011 01000 11100 11010 00111 -> 5 e h 4 8.
  CHECK(taskHash("") == "5eh48");
  for (const char *id : {"a", "web.1", "prod_web_frontend.0b1c4f5e-1a2b-11ee-9c5e-0242ac110002"}) {
    const std::string h = taskHash(id);
    CHECK(h.size() == 5);
    CHECK(h.find_first_not_of("ybndrfg8ejkmcpqxot1uwisza345h769") == std::string::npos);
  }
}

TEST_CASE("agentTail: after the last '-', lower-cased") {
  CHECK(agentTail("20140803-125133-3041283216-5050-2410-0") == "0");
  CHECK(agentTail("20140827-000744-3041283216-5050-2116-1") == "1");
  CHECK(agentTail("3f9c1e2a-0b4d-4f6e-8a7b-9c0d1e2f3a4b-S21") == "s21");
  CHECK(agentTail("nodash") == "nodash");
  CHECK(agentTail("ends-") == "");
  CHECK(agentTail("") == "");
  CHECK(agentTail("x-Agent_1.B") == "agent_1.b");  // not sanitized: taskLabels labels it
}

TEST_CASE("portLabel: a label as Mesos-DNS makes it, cut at 63") {
  CHECK(portLabel("http") == "http");
  CHECK(portLabel("HTTP_Admin") == "http-admin");
  CHECK(portLabel("prometheus-metrics") == "prometheus-metrics");
  CHECK(portLabel(std::string(70, 'p')) == std::string(63, 'p'));
  CHECK(portLabel("metrics--------x") == "metrics--------x");  // dashes inside a label stay
  CHECK(portLabel("") == "");
  CHECK(portLabel("--") == "");
}

TEST_CASE("taskLabels: Mesos-DNS's names when nothing needs cutting") {
  SECTION("generator_test.go's canonical names for fake.json") {
    const auto liquor0 = taskLabels("/store/liquor", "liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5",
                                    "20140803-125133-3041283216-5050-2410-0", "marathon", "mesos");
    CHECK(liquor0.label == "liquor-store");
    CHECK(liquor0.canonical == "liquor-store-4dfjd-0");
    const auto liquor1 = taskLabels("/store/liquor", "liquor-store.b71166c1-562f-11e4-a088-c20493233aa5",
                                    "20140827-000744-3041283216-5050-2116-1", "marathon", "mesos");
    CHECK(liquor1.label == "liquor-store");
    CHECK(liquor1.canonical == "liquor-store-zasmd-1");
    const auto car = taskLabels("/store/car", "car-store.43758382-562f-11e4-a088-c20493233aa5",
                                "20140803-125133-3041283216-5050-2410-0", "marathon", "mesos");
    CHECK(car.canonical == "car-store-zinaz-0");
    const auto dog = taskLabels("/dog/big", "liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5",
                                "20140803-125133-3041283216-5050-2410-0", "marathon", "mesos");
    CHECK(dog.label == "big-dog");
    CHECK(dog.canonical == "big-dog-4dfjd-0");
  }
  SECTION("a 62-byte label is kept whole: \"_\" + L is 63") {
    const auto t = taskLabels("/prod/team-platform/ingest/very-long-service-name-for-the-thing", "ingest.1",
                              "3f9c-S21", "marathon", "mesos");
    CHECK(t.label == "very-long-service-name-for-the-thing-ingest-team-platform-prod");
    CHECK(t.label.size() == 62);
    // The canonical label's head is cut: 53 + "-9q5zy-s21".
    CHECK(t.canonical == "very-long-service-name-for-the-thing-ingest-team-plat-9q5zy-s21");
    CHECK(t.canonical.size() == 63);
  }
  SECTION("nothing to name") {
    const auto t = taskLabels("/---/___", "t", "a-S1", "marathon", "mesos");
    CHECK(t.label.empty());
    CHECK(t.canonical.empty());
    CHECK(taskLabels("", "t", "a-S1", "marathon", "mesos").label.empty());
  }
}

TEST_CASE("taskLabels: shortened to fit") {
  const std::string a = "/prod/team-platform/ingest/very-long-service-name-for-the-things";  // 63 bytes
  const std::string b = "/prod/team-platform/ingest/very-long-service-name-for-the-thingz";
  SECTION("63 bytes: cut to 56, '-' and the hash of the full label") {
    const auto t = taskLabels(a, "ingest.1", "3f9c-S21", "marathon", "mesos");
    CHECK(t.label == "very-long-service-name-for-the-things-ingest-team-platfo-7pzdq");
    CHECK(t.label.size() == 62);
    CHECK(t.label.substr(57) == taskHash(label(taskName(a))));
    CHECK(t.canonical == "very-long-service-name-for-the-things-ingest-team-pla-9q5zy-s21");
  }
  SECTION("deterministic, and the same for every task of an app") {
    const auto t1 = taskLabels(a, "ingest.1", "3f9c-S21", "marathon", "mesos");
    const auto t2 = taskLabels(a, "ingest.1", "3f9c-S21", "marathon", "mesos");
    const auto t3 = taskLabels(a, "ingest.2", "77aa-S1234567", "marathon", "mesos");
    CHECK(t1.label == t2.label);
    CHECK(t1.canonical == t2.canonical);
    CHECK(t1.label == t3.label);
    CHECK(t1.canonical != t3.canonical);
  }
  SECTION("apps whose labels differ only past the cut stay apart") {
    const auto ta = taskLabels(a, "ingest.1", "3f9c-S21", "marathon", "mesos");
    const auto tb = taskLabels(b, "ingest.1", "3f9c-S21", "marathon", "mesos");
    CHECK(tb.label == "very-long-service-name-for-the-thingz-ingest-team-platfo-urr8q");
    CHECK(ta.label != tb.label);
  }
  SECTION("an agent tail too long to leave room for the head is cut") {
    const auto t = taskLabels("/web", "web.1", "agent-" + std::string(70, 'Q'), "marathon", "mesos");
    CHECK(t.label == "web");
    CHECK(t.canonical == "w-e844k-" + std::string(55, 'q'));
  }
  SECTION("an empty agent tail is left out with its '-'") {
    CHECK(taskLabels("/web", "web.1", "agent-", "marathon", "mesos").canonical == "web-e844k");
  }
  SECTION("an agent tail that is not a label is made one") {
    CHECK(taskLabels("/web", "web.1", "Agent_1.X", "marathon", "mesos").canonical == "web-e844k-agent-1-x");
  }
  SECTION("a long domain shortens the label for the whole names") {
    const std::string d = std::string(50, 'd') + "." + std::string(50, 'd') + "." + std::string(50, 'd') + "." +
                          std::string(50, 'd');  // 203 bytes
    const auto t = taskLabels(a, "ingest.1", "3f9c-S21", "marathon", d);
    CHECK(t.label == "very-7pzdq");
    CHECK(t.canonical == "very-long-service-name-f-9q5zy-s21");
  }
}

TEST_CASE("taskLabels: every name fits, over lengths of app ids, agent tails and domains") {
  const std::string port = portLabel("a-port-name-longer-than-fifteen").substr(0, 15);  // the budget's port name
  REQUIRE(port.size() == 15);
  std::vector<std::string> domains = {"mesos", "dcos.example.com"};
  for (size_t n : {100, 150, 200, 211}) {
    std::string d;
    while (d.size() < n) {
      d += (d.empty() ? "" : ".") + std::string(std::min<size_t>(40, n - d.size() - (d.empty() ? 0 : 1)), 'z');
    }
    domains.push_back(d);
  }
  size_t checked = 0;
  for (const std::string &domain : domains) {
    REQUIRE(domain.size() + 8 <= 220);
    for (size_t appLength = 1; appLength <= 130; ++appLength) {
      for (const std::string &agent : {std::string("x-S1"), std::string("x-S21-") + std::string(30, '9'),
                                       std::string("agent-") + std::string(64, 'k'), std::string("y-")}) {
        // Segments of up to 20 bytes, so the reversed name has dots in it.
        std::string app;
        while (app.size() < appLength) {
          std::string seg(std::min<size_t>(20, appLength - app.size()), static_cast<char>('a' + app.size() % 26));
          app += "/" + seg;
        }
        const auto t = taskLabels(app, "task." + std::to_string(appLength), agent, "marathon", domain);
        INFO("app " << app << ", agent " << agent << ", domain " << domain);
        REQUIRE(validLabel(t.label));
        REQUIRE(validLabel(t.canonical));
        REQUIRE(t.label.size() <= 62);
        const auto again = taskLabels(app, "task." + std::to_string(appLength), agent, "marathon", domain);
        REQUIRE(again.label == t.label);
        REQUIRE(again.canonical == t.canonical);
        for (const std::string &name : namesOf(t, port, "marathon", domain)) {
          INFO(name);
          REQUIRE(name.size() <= 253);
          for (const std::string &l : split(name)) {
            REQUIRE(!l.empty());
            REQUIRE(l.size() <= 63);
          }
          ++checked;
        }
      }
    }
  }
  CHECK(checked == 6 * 130 * 4 * 8);
}
