#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace dcos::log {
namespace {

std::atomic<int> gLevel{static_cast<int>(Level::Info)};
std::mutex gMutex;  // guards gSink, gRole and the write itself
Sink gSink;
std::string gRole;

}  // namespace

std::optional<Level> parseLevel(std::string_view name) {
  if (name == "error") return Level::Error;
  if (name == "warning" || name == "warn") return Level::Warning;
  if (name == "notice") return Level::Notice;
  if (name == "info") return Level::Info;
  if (name == "debug") return Level::Debug;
  return std::nullopt;
}

std::string_view levelName(Level level) {
  switch (level) {
    case Level::Error: return "error";
    case Level::Warning: return "warning";
    case Level::Notice: return "notice";
    case Level::Info: return "info";
    case Level::Debug: return "debug";
  }
  return "info";
}

void setLevel(Level level) { gLevel.store(static_cast<int>(level)); }
Level level() { return static_cast<Level>(gLevel.load()); }
bool enabled(Level level) { return static_cast<int>(level) <= gLevel.load(); }

void setRole(std::string role) {
  std::lock_guard lock(gMutex);
  gRole = std::move(role);
}

const std::string &role() { return gRole; }

void setSink(Sink sink) {
  std::lock_guard lock(gMutex);
  gSink = std::move(sink);
}

void writeStderr(const Record &record) {
  std::string line = "dcosd: ";
  line += levelName(record.level);
  line += ": ";
  if (!record.plugin.empty()) {
    line += record.plugin;
    line += ": ";
  }
  line += record.message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void write(Level level, std::string_view plugin, std::string_view message) {
  if (!enabled(level)) {
    return;
  }
  Record record{level, plugin, message};
  std::lock_guard lock(gMutex);
  if (gSink) {
    gSink(record);
  } else {
    writeStderr(record);
  }
}

}  // namespace dcos::log
