#include "pluginhost/manifest.h"

#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "base/text.h"
#include "config/config.h"
#include "config/json_reader.h"

namespace dcos::pluginhost {

using config::Need;
using config::Reader;

namespace {

// `valid`, when given, says what is wrong with a name, or "" when nothing is.
std::vector<std::string> names(Reader &r, const std::string &key,
                               const std::function<std::string(const std::string &)> &valid = {}) {
  std::vector<std::string> out;
  r.array(key, Need::Optional, [&](const std::string &path, const Poco::Dynamic::Var &v) {
    if (!v.isString() || v.extract<std::string>().empty()) {
      r.diagnostics().add(path, "expected a non-empty string, found " + config::describe(v));
      return;
    }
    std::string name = v.extract<std::string>();
    if (valid) {
      if (std::string why = valid(name); !why.empty()) {
        r.diagnostics().add(path, why + ", found " + text::quote(name));
        return;
      }
    }
    out.push_back(name);
  });
  return out;
}

bool allOf(const std::string &s, const char *allowed) { return s.find_first_not_of(allowed) == std::string::npos; }

// A Debian package name, optionally =version: these reach apt as arguments,
// where anything starting with "-" would be an option (-o... runs commands).
std::string packageProblem(const std::string &p) {
  std::string name = p.substr(0, p.find('='));
  std::string version = p.find('=') == std::string::npos ? "" : p.substr(p.find('=') + 1);
  bool ok = name.size() >= 2 && allOf(name.substr(0, 1), "abcdefghijklmnopqrstuvwxyz0123456789") &&
            allOf(name, "abcdefghijklmnopqrstuvwxyz0123456789+.-") &&
            (p.find('=') == std::string::npos ||
             (!version.empty() && std::isalnum(static_cast<unsigned char>(version[0])) &&
              allOf(version, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.+~:-")));
  return ok ? "" : "expected a Debian package name (lowercase letters, digits, + . -; optionally =version)";
}

// A systemd unit name: these reach systemctl as arguments.
std::string unitProblem(const std::string &u) {
  auto dot = u.rfind('.');
  bool ok = !u.empty() && u[0] != '-' && dot != std::string::npos && dot > 0 &&
            allOf(u, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.@-\\");
  if (ok) {
    std::string type = u.substr(dot + 1);
    ok = type == "service" || type == "socket" || type == "timer" || type == "target" || type == "path" ||
         type == "mount";
  }
  return ok ? "" : "expected a systemd unit name (NAME.service, .socket, .timer, .target, .path or .mount)";
}

}  // namespace

Result<Manifest> parseManifest(const std::string &json, const std::string &source) {
  auto parsed = config::parseJson(json, source);
  if (!parsed) return parsed.error();
  config::Diagnostics diag(source);
  Reader root(diag, "", *parsed);
  Manifest m;
  if (auto zone = root.string("zone", Need::Required)) {
    if (*zone != "admin" && *zone != "private" && *zone != "public") {
      root.fail("zone", "unknown zone " + text::quote(*zone) + " (known: admin, private, public)");
    }
    m.zone = *zone;
  }
  m.resourceRole = root.string("resource_role", Need::Optional).value_or("*");
  if (m.resourceRole.empty()) root.fail("resource_role", "expected a non-empty string");
  if (auto attrs = root.scalarMap("attributes", Need::Optional)) m.attributes = *attrs;
  std::set<std::string> seen;
  root.array("modules", Need::Optional, [&](const std::string &path, const Poco::Dynamic::Var &v) {
    Reader mod(diag, path, v);
    if (!mod.valid()) return;
    ModuleSpec spec;
    if (auto name = mod.string("name", Need::Required)) {
      if (!config::isName(*name)) {
        mod.fail("name", "not a module name (lowercase letters, digits and dashes): " + text::quote(*name));
      } else if (!seen.insert(*name).second) {
        mod.fail("name", "duplicate module " + text::quote(*name));
      }
      spec.name = *name;
    }
    spec.library = mod.string("library", Need::Optional).value_or(spec.name + ".so");
    spec.optional = mod.boolean("optional", Need::Optional).value_or(false);
    spec.awaitHealthy = mod.boolean("await_healthy", Need::Optional).value_or(false);
    spec.requires_ = names(mod, "requires");
    if (auto cfg = mod.raw("config", Need::Optional)) {
      if (cfg->type() != typeid(Poco::JSON::Object::Ptr)) {
        mod.fail("config", "expected an object, found " + config::describe(*cfg));
      } else {
        std::ostringstream s;
        Poco::JSON::Stringifier::stringify(*cfg, s);
        spec.configJson = s.str();
      }
    }
    mod.done();
    m.modules.push_back(std::move(spec));
  });
  if (auto image = root.object("image", Need::Optional)) {
    m.image.packages = names(*image, "packages", packageProblem);
    m.image.units = names(*image, "units", unitProblem);
    if (auto files = image->scalarMap("files", Need::Optional)) {
      for (const auto &[path, content] : *files) {
        bool ok = !path.empty() && path.front() == '/' && path.back() != '/' && path.find("/../") == std::string::npos &&
                  !text::endsWith(path, "/..") && path.find("/./") == std::string::npos;
        if (!ok) {
          image->diagnostics().add(image->keyPath("files") + "/" + config::pointerToken(path),
                                   "expected an absolute file path without . or .. parts");
        } else {
          m.image.files[path] = content;
        }
      }
    }
    for (auto [key, into] : {std::pair{"path_exclude", &m.image.pathExclude}, std::pair{"path_include", &m.image.pathInclude}}) {
      auto globs = names(*image, key);
      for (size_t i = 0; i < globs.size(); ++i) {
        const std::string &g = globs[i];
        bool ok = !g.empty() && g.front() == '/' && g.find("/../") == std::string::npos &&
                  g.find_first_of(" \t\r\n") == std::string::npos;
        if (!ok) {
          image->diagnostics().add(image->keyPath(key) + "/" + std::to_string(i),
                                   "expected an absolute path glob without spaces or .. parts, got " + text::quote(g));
        } else {
          into->push_back(g);
        }
      }
    }
    if (auto commands = image->raw("commands", Need::Optional)) {
      std::string at = image->keyPath("commands");
      Poco::JSON::Array::Ptr list = commands->type() == typeid(Poco::JSON::Array::Ptr)
                                        ? commands->extract<Poco::JSON::Array::Ptr>()
                                        : nullptr;
      if (!list) image->diagnostics().add(at, "expected an array of commands (each an array of strings)");
      for (size_t i = 0; list && i < list->size(); ++i) {
        std::string here = at + "/" + std::to_string(i);
        auto argv = list->getArray(static_cast<unsigned>(i));
        std::vector<std::string> command;
        for (size_t j = 0; argv && j < argv->size(); ++j) {
          const auto &v = argv->get(static_cast<unsigned>(j));
          if (!v.isString()) {
            argv = nullptr;
            break;
          }
          command.push_back(v.toString());
        }
        if (!argv || command.empty()) {
          image->diagnostics().add(here, "expected a non-empty array of strings (a program and its arguments)");
        } else if (command[0].empty() || command[0].front() != '/') {
          image->diagnostics().add(here + "/0", "expected the program's absolute path in the image, got " +
                                                    text::quote(command[0]));
        } else {
          m.image.commands.push_back(std::move(command));
        }
      }
    }
    image->done();
  }
  root.done();
  if (!diag.ok()) return makeError(text::join(diag.errors(), "\n"));
  return m;
}

Result<std::vector<size_t>> startOrder(const std::vector<ModuleSpec> &modules) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < modules.size(); ++i) index[modules[i].name] = i;
  for (const auto &m : modules) {
    for (const auto &dep : m.requires_) {
      if (index.count(dep) == 0) {
        return makeError("module " + text::quote(m.name) + " requires " + text::quote(dep) +
                         ", which the role does not list");
      }
    }
  }
  // Depth-first, visiting in listed order, so independent modules keep their order.
  enum Mark { kNone, kActive, kDone };
  std::vector<Mark> mark(modules.size(), kNone);
  std::vector<size_t> order;
  std::vector<std::string> stack;
  std::string cycle;
  std::function<bool(size_t)> visit = [&](size_t i) {
    if (mark[i] == kDone) return true;
    if (mark[i] == kActive) {
      auto from = std::find(stack.begin(), stack.end(), modules[i].name);
      std::vector<std::string> loop(from, stack.end());
      loop.push_back(modules[i].name);
      cycle = text::join(loop, " -> ");
      return false;
    }
    mark[i] = kActive;
    stack.push_back(modules[i].name);
    for (const auto &dep : modules[i].requires_) {
      if (!visit(index[dep])) return false;
    }
    stack.pop_back();
    mark[i] = kDone;
    order.push_back(i);
    return true;
  };
  for (size_t i = 0; i < modules.size(); ++i) {
    if (!visit(i)) return makeError("modules require each other in a cycle: " + cycle);
  }
  return order;
}

}  // namespace dcos::pluginhost
