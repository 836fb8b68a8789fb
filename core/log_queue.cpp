#include "core/log_queue.h"

#include <pthread.h>
#include <signal.h>

namespace ambit {

LogQueue::LogQueue(spdlog::sink_ptr target, size_t capacity)
    : target_(std::move(target)), capacity_(capacity) {
  // Mains block SIGTERM only after logging is up and read it from a signalfd; a thread with it
  // unblocked would let the default action kill the process.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  writer_ = std::thread([this] { write_until_stopped(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

LogQueue::~LogQueue() { stop(); }

void LogQueue::log(const spdlog::details::log_msg& msg) {
  std::unique_lock lock(mutex_);
  if (stopping_) {
    lock.unlock();
    target_->log(msg);
    return;
  }
  if (lines_.size() >= capacity_) {
    lines_.pop_front();
    ++dropped_;
  }
  lines_.emplace_back(msg);
  lock.unlock();
  queued_.notify_one();
}

void LogQueue::write_until_stopped() {
  std::unique_lock lock(mutex_);
  for (;;) {
    queued_.wait(lock, [this] { return stopping_ || !lines_.empty(); });
    if (lines_.empty()) return;
    // Written outside the lock, so callers queue while the target is slow; the batch's memory
    // goes back when it is written.
    std::deque<spdlog::details::log_msg_buffer> batch;
    batch.swap(lines_);
    lock.unlock();
    for (const auto& line : batch) target_->log(line);
    target_->flush();
    batch.clear();
    lock.lock();
  }
}

void LogQueue::flush() { target_->flush(); }

void LogQueue::set_pattern(const std::string& pattern) { target_->set_pattern(pattern); }

void LogQueue::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
  target_->set_formatter(std::move(formatter));
}

void LogQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_one();
  if (writer_.joinable()) writer_.join();
}

uint64_t LogQueue::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace ambit
