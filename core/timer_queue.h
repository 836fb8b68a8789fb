// Many short timers on one EventLoop for the price of one: request timeouts, per-try timeouts
// and retry back-offs are kept in order here, and a single io_uring timeout ticks every
// `granularity` while any is pending (none is armed when the queue is empty, so an idle worker
// does not wake). Arming and cancelling are synchronous: a cancelled or destroyed Timer never
// fires, which keeps the lifetime of whoever owns it simple.
#pragma once

#include <chrono>
#include <functional>
#include <map>

#include "core/event_loop.h"

namespace ambit {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TimerQueue(EventLoop& loop,
                      std::chrono::milliseconds granularity = std::chrono::milliseconds(5))
      : loop_(loop), tick_(to_timespec(granularity)) {}
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;
  // The loop must not run again after this (the pending tick refers to the queue).
  ~TimerQueue() = default;

  class Timer {
   public:
    explicit Timer(TimerQueue& queue) : queue_(&queue) {}
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    ~Timer() { cancel(); }
    // Calls fn once, `after` from now (rounded up to the queue's granularity). Re-arming an
    // armed timer moves it.
    void arm(std::chrono::nanoseconds after, std::function<void()> fn);
    void cancel();
    bool armed() const { return armed_; }

   private:
    friend class TimerQueue;
    TimerQueue* queue_;
    std::multimap<Clock::time_point, Timer*>::iterator it_;
    std::function<void()> fn_;
    bool armed_ = false;
  };

  size_t pending() const { return timers_.size(); }

 private:
  void on_tick(int res, uint32_t flags);
  void ensure_ticking();

  EventLoop& loop_;
  __kernel_timespec tick_;
  std::multimap<Clock::time_point, Timer*> timers_;
  MemberCompletion<TimerQueue, &TimerQueue::on_tick> tick_op_{this};
  bool ticking_ = false;
};

}  // namespace ambit
