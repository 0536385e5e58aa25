#include "plugins/modules/agent/status_updates.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include "base/file.h"
#include "base/uuid.h"

namespace dcos::agent {

namespace fs = std::filesystem;

// The agent's checkpoints outlive dcosd, not the machine: a crash of the
// machine ends its tasks as well, and the scheduler learns that by
// reconciling. No fsync on the launch path, then (it cost 30 ms a launch).
constexpr Durability kTaskState = Durability::ProcessCrash;

std::string newUuid() { return dcos::newUuid(); }

std::string statusJson(const TaskStatus &s) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("uuid", s.uuid);
  o->set("task_id", s.taskId);
  o->set("state", std::string(stateName(s.state)));
  o->set("message", s.message);
  if (s.exitCode) o->set("exit_code", *s.exitCode);
  if (s.signal) o->set("signal", *s.signal);
  if (s.healthy) o->set("healthy", *s.healthy);
  o->set("timestamp", isoTime(s.timestampMs));
  o->set("timestamp_ms", static_cast<Poco::Int64>(s.timestampMs));
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

Result<TaskStatus> parseStatus(const std::string &json) {
  try {
    auto o = Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
    TaskStatus s;
    s.uuid = o->optValue<std::string>("uuid", "");
    s.taskId = o->getValue<std::string>("task_id");
    auto state = stateFromName(o->getValue<std::string>("state"));
    if (!state) return makeError("unknown state " + o->getValue<std::string>("state"));
    s.state = *state;
    s.message = o->optValue<std::string>("message", "");
    if (o->has("exit_code")) s.exitCode = o->getValue<int>("exit_code");
    if (o->has("signal")) s.signal = o->getValue<int>("signal");
    if (o->has("healthy")) s.healthy = o->getValue<bool>("healthy");
    s.timestampMs = o->optValue<Poco::Int64>("timestamp_ms", 0);
    return s;
  } catch (const Poco::Exception &e) {
    return makeError("not a status update: " + e.displayText());
  }
}

Result<std::unique_ptr<StatusUpdates>> StatusUpdates::open(const std::string &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return makeError("cannot make " + dir + ": " + ec.message());
  std::unique_ptr<StatusUpdates> u(new StatusUpdates(dir));
  // An older agent's updates, a file each, in the order of their numbers:
  // they came before anything in the log.
  std::vector<std::pair<uint64_t, fs::path>> legacy;
  for (const auto &e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json") continue;  // the log, or a temporary of a write cut short
    const std::string name = e.path().filename().string();
    try {
      legacy.emplace_back(std::stoull(name.substr(0, name.find('-'))), e.path());
    } catch (...) {
      continue;
    }
  }
  if (ec) return makeError("cannot read " + dir + ": " + ec.message());
  std::sort(legacy.begin(), legacy.end());
  std::set<std::string> known;
  auto add = [&](TaskStatus s) {
    if (known.insert(s.uuid).second) u->entries_.push_back(std::move(s));
  };
  for (const auto &[seq, path] : legacy) {
    if (auto status = parseStatus(readFileOrEmpty(path.string()))) add(*status);
  }
  const std::string log = readFileOrEmpty(dir + "/log");
  std::set<std::string> acked;
  for (size_t at = 0; at < log.size();) {
    size_t end = log.find('\n', at);
    if (end == std::string::npos) break;  // cut short by a crash: never acknowledged, never sent
    std::string_view line(log.data() + at, end - at);
    at = end + 1;
    if (line.size() < 2 || line[1] != ' ') continue;
    if (line[0] == '+') {
      if (auto status = parseStatus(std::string(line.substr(2)))) add(*status);
    } else if (line[0] == '-') {
      std::istringstream uuids{std::string(line.substr(2))};
      for (std::string uuid; uuids >> uuid;) acked.insert(uuid);
    }
  }
  std::erase_if(u->entries_, [&](const TaskStatus &s) { return acked.count(s.uuid) != 0; });
  if (auto c = u->compact(); !c) return c.error();
  for (const auto &[seq, path] : legacy) fs::remove(path, ec);  // in the log now
  return u;
}

StatusUpdates::~StatusUpdates() {
  if (fd_ >= 0) ::close(fd_);
}

Status StatusUpdates::compact() {
  std::string text;
  for (const auto &s : entries_) text += "+ " + statusJson(s) + "\n";
  const std::string path = dir_ + "/log";
  if (auto w = writeFileAtomically(path, text, 0644, kTaskState); !w) return w.error().wrap("rewriting the update log");
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return makeError("cannot open " + path + ": " + std::strerror(errno), errno);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  acked_ = 0;
  broken_ = false;
  return Status::Ok();
}

Status StatusUpdates::append(const std::string &line) {
  // After a failed append the log may end in part of a line, which the
  // next line would be read as the end of: rewritten first.
  if (broken_ || fd_ < 0) {
    if (auto c = compact(); !c) return c;
  }
  for (size_t done = 0; done < line.size();) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      broken_ = true;
      return makeError("cannot append to " + dir_ + "/log: " + std::strerror(errno), errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status StatusUpdates::record(TaskStatus &status) {
  std::lock_guard lock(mutex_);
  TaskStatus s = status;
  s.uuid = newUuid();
  if (s.timestampMs == 0) s.timestampMs = nowMs();
  if (auto w = append("+ " + statusJson(s) + "\n"); !w) return w.error().wrap("checkpointing a status update");
  entries_.push_back(s);
  status = s;
  return Status::Ok();
}

std::vector<TaskStatus> StatusUpdates::pending(size_t max) const {
  std::lock_guard lock(mutex_);
  return {entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(std::min(max, entries_.size()))};
}

size_t StatusUpdates::pendingCount() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void StatusUpdates::acknowledge(const std::vector<std::string> &uuids) {
  std::lock_guard lock(mutex_);
  std::string line = "-";
  size_t dropped = 0;
  for (const auto &uuid : uuids) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const TaskStatus &e) { return e.uuid == uuid; });
    if (it == entries_.end()) continue;
    entries_.erase(it);
    line += " " + uuid;
    ++dropped;
  }
  if (dropped == 0) return;
  // Rewritten once the acknowledged lines outnumber the pending ones (and
  // a few more): each ack costs O(1) on average, and the log stays small.
  acked_ += dropped;
  if (acked_ > std::max<size_t>(256, entries_.size())) {
    if (compact()) return;
  }
  (void)append(line + "\n");
}

}  // namespace dcos::agent
