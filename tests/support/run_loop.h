// Drives an EventLoop in a test until a condition holds, bounded in time.
#pragma once

#include <chrono>

#include "core/event_loop.h"

namespace ambit::testing {

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
