#include "plugins/modules/scheduler/events.h"

#include <sstream>
#include <vector>

#include "base/clock.h"

namespace dcos::scheduler {

int EventBus::subscribe(std::set<std::string> types, Sink sink, const std::string &announceType,
                        Poco::JSON::Object::Ptr announce) {
  std::lock_guard lock(mutex_);
  int id = next_++;
  subscribers_[id] = Subscriber{std::move(types), std::move(sink)};
  if (announce) deliver(announceType, announce);
  return id;
}

void EventBus::unsubscribe(int id) {
  std::lock_guard lock(mutex_);
  subscribers_.erase(id);
}

size_t EventBus::subscribers() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

std::string EventBus::frame(const std::string &type, const std::string &json) {
  return "event: " + type + "\ndata: " + json + "\n\n";
}

void EventBus::publish(const std::string &type, Poco::JSON::Object::Ptr event) {
  std::lock_guard lock(mutex_);
  deliver(type, event);
}

void EventBus::deliver(const std::string &type, Poco::JSON::Object::Ptr event) {
  if (subscribers_.empty()) return;
  event->set("eventType", type);
  event->set("timestamp", isoTime(nowMs()));
  std::ostringstream out;
  event->stringify(out);
  const std::string f = frame(type, out.str());
  std::vector<int> gone;
  for (auto &[id, s] : subscribers_) {
    if (!s.types.empty() && s.types.count(type) == 0) continue;
    if (!s.sink(f)) gone.push_back(id);
  }
  for (int id : gone) subscribers_.erase(id);
}

std::string instanceCondition(const std::string &state) {
  static const std::map<std::string, std::string> conditions = {
      {"TASK_STAGING", "Staging"},   {"TASK_STARTING", "Starting"},        {"TASK_RUNNING", "Running"},
      {"TASK_FINISHED", "Finished"}, {"TASK_FAILED", "Failed"},            {"TASK_KILLING", "Killing"},
      {"TASK_KILLED", "Killed"},     {"TASK_LOST", "Unreachable"},         {"TASK_UNREACHABLE", "Unreachable"},
      {"TASK_GONE", "Gone"},         {"TASK_GONE_BY_OPERATOR", "Gone"},    {"TASK_DROPPED", "Dropped"},
      {"TASK_ERROR", "Error"},       {"TASK_UNKNOWN", "Unknown"},
  };
  auto it = conditions.find(state);
  return it == conditions.end() ? "Unknown" : it->second;
}

std::string instanceId(const std::string &taskId) {
  size_t dot = taskId.rfind('.');
  if (dot == std::string::npos) return taskId;
  return taskId.substr(0, dot) + ".instance-" + taskId.substr(dot + 1);
}

}  // namespace dcos::scheduler
