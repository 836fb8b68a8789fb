// A client side of HBONE for tests: a StreamSink that collects what a stream receives, an Owner
// that notes the connection's release, and a loop runner bounded in time, for tests that drive
// our own client HboneConnection on a loop in the test thread against a real engine.
#pragma once

#include <chrono>
#include <span>
#include <string>

#include "core/event_loop.h"
#include "ztunnel/hbone_connection.h"

namespace ambit::testing {

struct StreamCollector : ztunnel::StreamSink {
  void on_stream_response(int s) override { status = s; }
  void on_stream_data(std::span<const uint8_t> d) override {
    data.append(reinterpret_cast<const char*>(d.data()), d.size());
    conn->consume(stream, d.size());
  }
  void on_stream_end() override { ended = true; }
  void on_stream_closed(uint32_t code, const std::string& w) override {
    closed = true;
    closed_code = code;
    why = w;
  }
  void on_stream_writable() override {}
  ztunnel::HboneConnection* conn = nullptr;
  ztunnel::HboneConnection::Stream* stream = nullptr;
  int status = 0;
  std::string data;
  bool ended = false;
  bool closed = false;
  uint32_t closed_code = 0;
  std::string why;
};

struct ReleaseWatcher : ztunnel::HboneConnection::Owner {
  void on_released(ztunnel::HboneConnection&) override { released = true; }
  bool released = false;
};

// Runs `loop` until done() or about 5 s.
template <typename F>
void run_loop_until(EventLoop& loop, F done) {
  using namespace std::chrono_literals;
  struct Poll : Completion {
    EventLoop* loop;
    F* done;
    int rounds = 0;
    __kernel_timespec ts = to_timespec(2ms);
    void complete(int, uint32_t) override {
      if ((*done)() || ++rounds > 2500) return loop->exit();
      loop->arm_timer(this, &ts);
    }
  } poll;
  poll.loop = &loop;
  poll.done = &done;
  loop.arm_timer(&poll, &poll.ts);
  loop.run();
}

}  // namespace ambit::testing
