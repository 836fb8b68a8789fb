// The queue between the threads that log and the one thread that writes (core/log.h).
//
// It holds only the lines not yet written, so an idle process, or one that logs nothing below
// warnings, keeps no buffer. spdlog's own async queue constructs every slot up front: 8,192 lines
// of 400 bytes, 3.2 MiB of every process's idle RSS (docs/benchmarks.md, "Idle RSS").
#pragma once

#include <spdlog/details/log_msg_buffer.h>
#include <spdlog/sinks/sink.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

namespace ambit {

class LogQueue final : public spdlog::sinks::sink {
 public:
  // Starts the writer thread, which takes no signals. At most `capacity` lines wait; when full,
  // the oldest is dropped and counted, so a caller never waits on a slow target. The batch being
  // written has left the queue, so up to twice `capacity` lines are held at the worst.
  LogQueue(spdlog::sink_ptr target, size_t capacity);
  ~LogQueue() override;
  LogQueue(const LogQueue&) = delete;
  LogQueue& operator=(const LogQueue&) = delete;

  void log(const spdlog::details::log_msg& msg) override;
  void flush() override;
  void set_pattern(const std::string& pattern) override;
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

  // Writes every queued line and joins the writer; later lines go straight to the target.
  void stop();
  uint64_t dropped() const;

 private:
  void write_until_stopped();

  const spdlog::sink_ptr target_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<spdlog::details::log_msg_buffer> lines_;
  uint64_t dropped_ = 0;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace ambit
