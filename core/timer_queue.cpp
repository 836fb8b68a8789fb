#include "core/timer_queue.h"

namespace ambit {

void TimerQueue::Timer::arm(std::chrono::nanoseconds after, std::function<void()> fn) {
  cancel();
  fn_ = std::move(fn);
  it_ = queue_->timers_.emplace(Clock::now() + after, this);
  armed_ = true;
  queue_->ensure_ticking();
}

void TimerQueue::Timer::cancel() {
  if (!armed_) return;
  queue_->timers_.erase(it_);
  armed_ = false;
  fn_ = nullptr;
}

void TimerQueue::ensure_ticking() {
  if (ticking_ || timers_.empty()) return;
  ticking_ = true;
  loop_.arm_timer(&tick_op_, &tick_);
}

void TimerQueue::on_tick(int, uint32_t) {
  ticking_ = false;
  auto now = Clock::now();
  // One at a time from the front: a callback may cancel, destroy or arm any timer.
  while (!timers_.empty() && timers_.begin()->first <= now) {
    Timer* t = timers_.begin()->second;
    timers_.erase(timers_.begin());
    t->armed_ = false;
    auto fn = std::move(t->fn_);
    t->fn_ = nullptr;
    fn();
  }
  ensure_ticking();
}

}  // namespace ambit
