// libFuzzer target: parseApp alone. The input is a request body, read as a
// new app (POST) and as a change of a full app (PUT/PATCH). Whatever it
// is, parseApp answers 400 (not JSON, no problems listed) or 422 (at least
// one problem, each at a Marathon path) or an app; an app written back with
// appJson parses again into the same appJson (what the scheduler stores
// is what it loads).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "plugins/modules/scheduler/app.h"

using dcos::scheduler::App;
using dcos::scheduler::Problem;

namespace {

[[noreturn]] void fail(const std::string &what, const std::string &detail) {
  std::fprintf(stderr, "app_fuzz: %s\n%s\n", what.c_str(), detail.c_str());
  std::abort();
}

// Whether `s` is UTF-8 (no overlong forms, no surrogates, at most
// U+10FFFF): messages end up in JSON answers.
bool validUtf8(const std::string &s) {
  static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xe0) == 0xc0) {
      n = 1;
      cp = b & 0x1f;
    } else if ((b & 0xf0) == 0xe0) {
      n = 2;
      cp = b & 0x0f;
    } else if ((b & 0xf8) == 0xf0) {
      n = 3;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// A base with every field set, for the partial parse of PUT and PATCH.
const App &fullBase() {
  static const App base = [] {
    std::vector<Problem> problems;
    auto app = dcos::scheduler::parseApp(
        R"({"id": "/g/web", "cmd": "sleep 100", "user": "nobody", "env": {"A": "1"}, "instances": 3,
            "cpus": 0.25, "mem": 64, "disk": 10, "requirePorts": true, "labels": {"L": "v"},
            "acceptedResourceRoles": ["slave_public"], "dependencies": ["/db"],
            "portDefinitions": [{"port": 10001, "protocol": "udp,tcp", "name": "http", "labels": {"x": "y"}}],
            "healthChecks": [{"protocol": "HTTP", "path": "/h", "portIndex": 0},
                             {"protocol": "COMMAND", "command": {"value": "true"}}],
            "constraints": [["hostname", "UNIQUE"], ["rack", "MAX_PER", "2"]],
            "backoffSeconds": 2, "backoffFactor": 2, "maxLaunchDelaySeconds": 60,
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.2},
            "unreachableStrategy": {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 20},
            "killSelection": "OLDEST_FIRST", "taskKillGracePeriodSeconds": 5})",
        problems);
    if (!app) fail("the base app does not parse", problems.empty() ? app.error().message : problems[0].message);
    return *app;
  }();
  return base;
}

void check(const std::string &input, const App *base) {
  std::vector<Problem> problems;
  auto app = dcos::scheduler::parseApp(input, problems, base);
  if (!app) {
    const int code = app.error().code;
    if (!validUtf8(app.error().message)) fail("an error message that is not UTF-8: " + app.error().message, input);
    for (const auto &p : problems) {
      if (!validUtf8(p.path) || !validUtf8(p.message)) fail("a problem that is not UTF-8: " + p.path + ": " + p.message, input);
    }
    if (code == 400) {
      if (!problems.empty()) fail("400 with problems listed", input);
    } else if (code == 422) {
      if (problems.empty()) fail("422 without a problem", input);
      for (const auto &p : problems) {
        if (p.path.empty() || p.path[0] != '/' || p.message.empty()) {
          fail("a problem without a path or a message: " + p.path + ": " + p.message, input);
        }
      }
    } else {
      fail("parseApp's error has code " + std::to_string(code) + ": " + app.error().message, input);
    }
    return;
  }
  if (!problems.empty()) fail("an app, and problems too: " + problems[0].path + ": " + problems[0].message, input);
  if (app->id.empty() || app->id[0] != '/') fail("an app without an absolute id: " + app->id, input);
  const std::string once = dcos::scheduler::appJson(*app);
  if (!validUtf8(once)) fail("appJson's output is not UTF-8", once);
  std::vector<Problem> again;
  auto reparsed = dcos::scheduler::parseApp(once, again);
  if (!reparsed) {
    fail("appJson's output does not parse: " + (again.empty() ? reparsed.error().message
                                                                : again[0].path + ": " + again[0].message),
         "input: " + input + "\nappJson: " + once);
  }
  const std::string twice = dcos::scheduler::appJson(*reparsed);
  if (twice != once) fail("appJson(parseApp(appJson(app))) differs", "input: " + input + "\nonce:  " + once + "\ntwice: " + twice);
  // A change that names nothing keeps the app as it is.
  std::vector<Problem> none;
  auto same = dcos::scheduler::parseApp("{}", none, &*reparsed);
  if (!same || dcos::scheduler::appJson(*same) != once) fail("an empty change of the app changes it", once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string input(reinterpret_cast<const char *>(data), size);
  check(input, nullptr);
  check(input, &fullBase());
  return 0;
}
