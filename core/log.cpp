#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include "core/log_queue.h"

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
  queue_ = std::make_shared<LogQueue>(std::move(sink), queue_lines);
  spdlog::set_default_logger(make_logger(std::make_shared<spdlog::logger>("ambit", queue_),
                                         spdlog::level::from_str(std::string(level))));
}

Logging::~Logging() {
  auto level = spdlog::default_logger_raw()->level();
  spdlog::set_default_logger(make_logger(
      std::make_shared<spdlog::logger>("ambit", std::make_shared<spdlog::sinks::stderr_sink_mt>()),
      level));
  queue_->stop();
  uint64_t dropped = dropped_lines();
  if (dropped > 0)
    spdlog::warn("logging: {} lines dropped because the log queue was full", dropped);
}

uint64_t Logging::dropped_lines() const { return queue_->dropped(); }

}  // namespace ambit
