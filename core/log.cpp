#include "core/log.h"

#include <pthread.h>
#include <signal.h>

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace ambit {
namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%fZ %l %v";

std::shared_ptr<spdlog::logger> make_logger(std::shared_ptr<spdlog::logger> logger,
                                            spdlog::level::level_enum level) {
  logger->set_pattern(kPattern, spdlog::pattern_time_type::utc);
  logger->set_level(level);
  return logger;
}

}  // namespace

Logging::Logging(std::string_view level, spdlog::sink_ptr sink, size_t queue_lines) {
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  // One writer thread keeps the lines of all threads in the order they were queued.
  // The writer never takes signals: mains block SIGTERM only after logging is up and read it
  // from a signalfd, and a thread with it unblocked would let the default action kill the process.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  writer_ = std::make_shared<spdlog::details::thread_pool>(queue_lines, 1);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  spdlog::set_default_logger(make_logger(
      std::make_shared<spdlog::async_logger>("ambit", std::move(sink), writer_,
                                             spdlog::async_overflow_policy::overrun_oldest),
      spdlog::level::from_str(std::string(level))));
}

Logging::~Logging() {
  auto level = spdlog::default_logger_raw()->level();
  uint64_t dropped = dropped_lines();
  // The thread pool's destructor queues its stop behind every pending line and joins the writer;
  // queued lines keep their logger alive until written.
  spdlog::set_default_logger(make_logger(
      std::make_shared<spdlog::logger>("ambit", std::make_shared<spdlog::sinks::stderr_sink_mt>()),
      level));
  writer_.reset();
  if (dropped > 0)
    spdlog::warn("logging: {} lines dropped because the log queue was full", dropped);
}

uint64_t Logging::dropped_lines() const { return writer_->overrun_counter(); }

}  // namespace ambit
