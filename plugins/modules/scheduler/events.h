// Marathon's event bus: what /v2/events streams (server-sent events). The
// scheduler publishes as it changes its state, under its own lock, so a
// subscriber sees events in the order the changes were made. A subscriber
// is a sink that must not block (the node API's streams queue what they are
// given); one that answers false is gone and dropped.
//
// Thread safety: every method may be called from any thread; a sink is
// called with the bus's lock held and must not call back into the bus.
#pragma once

#include <Poco/JSON/Object.h>

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace dcos::scheduler {

class EventBus {
 public:
  // Gets whole frames, "event: <type>\ndata: <json>\n\n"; false: gone.
  using Sink = std::function<bool(const std::string &frame)>;

  // `types` empty: every event. Returns the subscription's id. With
  // `announce`, that event is published to every subscriber at once, under
  // the same lock: it is the first the new one gets (event_stream_attached).
  int subscribe(std::set<std::string> types, Sink sink, const std::string &announceType = "",
                Poco::JSON::Object::Ptr announce = nullptr);
  void unsubscribe(int id);
  size_t subscribers() const;

  // Sets eventType and timestamp (now, Marathon's format) and delivers.
  void publish(const std::string &type, Poco::JSON::Object::Ptr event);

  // One server-sent event.
  static std::string frame(const std::string &type, const std::string &json);

 private:
  void deliver(const std::string &type, Poco::JSON::Object::Ptr event);  // mutex_ held
  struct Subscriber {
    std::set<std::string> types;
    Sink sink;
  };
  mutable std::mutex mutex_;
  std::map<int, Subscriber> subscribers_;
  int next_ = 1;
};

// Marathon's instance condition for a Mesos task state ("TASK_RUNNING" ->
// "Running").
std::string instanceCondition(const std::string &taskState);
// Marathon's instance id for a task id: "web.<uuid>" -> "web.instance-<uuid>".
std::string instanceId(const std::string &taskId);

}  // namespace dcos::scheduler
