// Process-wide logging (spdlog). Never log key material.
//
// Lines go through a bounded queue to one writer thread, so a thread that logs (an io_uring
// worker writing an access log line per closed connection) never waits on stderr. When the queue
// is full the oldest queued line is dropped rather than blocking the caller; drops are counted
// (dropped_lines(), the agent's ambit_log_lines_dropped_total) and reported when logging stops.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <string_view>

namespace ambit {

class LogQueue;

class Logging {
 public:
  static constexpr size_t kDefaultQueueLines = 8192;

  // Makes the default logger asynchronous over sink (stderr when null), UTC timestamps, level
  // from "trace".."off". Keep the object alive for as long as anything may log (top of main).
  explicit Logging(std::string_view level, spdlog::sink_ptr sink = nullptr,
                   size_t queue_lines = kDefaultQueueLines);
  // Writes out every queued line, then leaves a synchronous stderr logger as the default for
  // whatever logs later (static destructors, stray threads).
  ~Logging();
  Logging(const Logging&) = delete;
  Logging& operator=(const Logging&) = delete;

  // Lines dropped because the queue was full.
  uint64_t dropped_lines() const;

 private:
  std::shared_ptr<LogQueue> queue_;
};

}  // namespace ambit
