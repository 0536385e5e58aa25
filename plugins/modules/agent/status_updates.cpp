#include "plugins/modules/agent/status_updates.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/file.h"

namespace dcos::agent {

namespace fs = std::filesystem;

// The agent's checkpoints outlive dcosd, not the machine: a crash of the
// machine ends its tasks as well, and the scheduler learns that by
// reconciling. No fsync on the launch path, then (it cost 30 ms a launch).
constexpr Durability kTaskState = Durability::ProcessCrash;

std::string newUuid() {
  std::ifstream f("/proc/sys/kernel/random/uuid");
  std::string u;
  std::getline(f, u);
  return u;
}

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
  for (const auto &e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (e.path().extension() != ".json") continue;  // a temporary of a write cut short
    uint64_t seq = 0;
    try {
      seq = std::stoull(name.substr(0, name.find('-')));
    } catch (...) {
      continue;
    }
    std::ifstream f(e.path());
    std::stringstream s;
    s << f.rdbuf();
    auto status = parseStatus(s.str());
    if (!status) continue;
    u->entries_.push_back({seq, e.path().string(), *status});
    u->nextSeq_ = std::max(u->nextSeq_, seq + 1);
  }
  std::sort(u->entries_.begin(), u->entries_.end(), [](const Entry &a, const Entry &b) { return a.seq < b.seq; });
  return u;
}

Status StatusUpdates::record(TaskStatus &status) {
  std::lock_guard lock(mutex_);
  TaskStatus s = status;
  s.uuid = newUuid();
  if (s.timestampMs == 0) s.timestampMs = nowMs();
  char name[64];
  std::snprintf(name, sizeof name, "%016llu-", static_cast<unsigned long long>(nextSeq_));
  std::string file = dir_ + "/" + name + s.uuid + ".json";
  if (auto w = writeFileAtomically(file, statusJson(s), 0644, kTaskState); !w) return w.error().wrap("checkpointing a status update");
  entries_.push_back({nextSeq_++, file, s});
  status = s;
  return Status::Ok();
}

std::vector<TaskStatus> StatusUpdates::pending(size_t max) const {
  std::lock_guard lock(mutex_);
  std::vector<TaskStatus> out;
  for (const auto &e : entries_) {
    if (out.size() >= max) break;
    out.push_back(e.status);
  }
  return out;
}

size_t StatusUpdates::pendingCount() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void StatusUpdates::acknowledge(const std::vector<std::string> &uuids) {
  std::lock_guard lock(mutex_);
  for (const auto &uuid : uuids) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry &e) { return e.status.uuid == uuid; });
    if (it == entries_.end()) continue;
    std::error_code ec;
    fs::remove(it->file, ec);
    entries_.erase(it);
  }
}

}  // namespace dcos::agent
