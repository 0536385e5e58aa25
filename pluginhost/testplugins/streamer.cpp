// A module that serves a server-sent event stream at /events: every client
// gets "event: hello" at once and "event: tick" every 100 ms until it goes
// or the module stops. For the node API's slow-client tests.
#include <dcos/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace {

class Streamer : public dcos::sdk::Module {
 public:
  Streamer(dcos::sdk::Host host, std::string_view) : host_(host) {}

  void start() override {
    ticker_ = std::thread([this] { tick(); });
    host_.httpRoute("/events", &Streamer::serve, this);
  }
  void stop() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    ticker_.join();
    for (auto *s : streams_) s->close(s->ctx);
    streams_.clear();
  }

 private:
  static void serve(void *self, const dcos_http_request *, const dcos_http_response *resp) {
    auto *me = static_cast<Streamer *>(self);
    if (resp->struct_size < offsetof(dcos_http_response, open_stream) + sizeof resp->open_stream) return;
    resp->set_header(resp->ctx, "Content-Type", "text/event-stream");
    dcos_http_stream *s = resp->open_stream(resp->ctx);
    if (s == nullptr) return;
    static const char hello[] = "event: hello\ndata: {}\n\n";
    s->write(s->ctx, hello, sizeof hello - 1);
    std::lock_guard lock(me->mutex_);
    if (me->stopping_) {
      s->close(s->ctx);
      return;
    }
    me->streams_.push_back(s);
  }

  void tick() {
    static const char tick[] = "event: tick\ndata: {}\n\n";
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; })) {
      std::vector<dcos_http_stream *> open;
      for (auto *s : streams_) {
        if (s->write(s->ctx, tick, sizeof tick - 1) == 0) {
          open.push_back(s);
        } else {
          s->close(s->ctx);  // the client is gone
        }
      }
      streams_.swap(open);
    }
  }

  dcos::sdk::Host host_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<dcos_http_stream *> streams_;
  std::thread ticker_;
};

}  // namespace

DCOS_MODULE(Streamer, "streamer", "0.0.1", "serves an event stream for tests")
