// A client side of HBONE for tests: a StreamSink that collects what a stream receives, an Owner
// that notes the connection's release, and a loop runner bounded in time, for tests that drive
// our own client HboneConnection on a loop in the test thread against a real engine.
#pragma once

#include <chrono>
#include <span>
#include <string>

#include "core/event_loop.h"
#include "tests/support/run_loop.h"
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

}  // namespace ambit::testing
