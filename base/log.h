// Process-wide logging for dcosd and the host side of plugins.
//
// One sink at a time (stderr by default; journald under systemd, set by
// dcosd at start). Thread safe: records from any thread are written whole.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace dcos::log {

// The syslog priorities, as in dcos_log_level.
enum class Level { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

struct Record {
  Level level;
  std::string_view plugin;  // "" for dcosd itself
  std::string_view message;
};

using Sink = std::function<void(const Record &)>;

std::optional<Level> parseLevel(std::string_view name);
std::string_view levelName(Level level);

// Records above `level` (less severe) are dropped before reaching the sink.
void setLevel(Level level);
Level level();
bool enabled(Level level);

// The node's role, attached to every record (journald field ROLE=).
void setRole(std::string role);
const std::string &role();

// Replaces the sink; nullptr restores the stderr sink.
void setSink(Sink sink);

// The stderr sink: "dcosd: <level>: [<plugin>: ]<message>".
void writeStderr(const Record &record);

void write(Level level, std::string_view plugin, std::string_view message);
inline void error(std::string_view m) { write(Level::Error, {}, m); }
inline void warning(std::string_view m) { write(Level::Warning, {}, m); }
inline void notice(std::string_view m) { write(Level::Notice, {}, m); }
inline void info(std::string_view m) { write(Level::Info, {}, m); }
inline void debug(std::string_view m) { write(Level::Debug, {}, m); }

}  // namespace dcos::log
