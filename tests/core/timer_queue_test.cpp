#include "core/timer_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/support/run_loop.h"

namespace ambit {
namespace {

using namespace std::chrono_literals;

TEST(TimerQueue, FiresInDeadlineOrderAndNotBefore) {
  auto loop = std::move(*EventLoop::create());
  TimerQueue q(*loop);
  std::vector<int> fired;
  TimerQueue::Timer late(q), early(q), middle(q);
  auto begin = std::chrono::steady_clock::now();
  late.arm(60ms, [&] { fired.push_back(3); });
  early.arm(10ms, [&] { fired.push_back(1); });
  middle.arm(30ms, [&] { fired.push_back(2); });
  EXPECT_EQ(q.pending(), 3u);
  ambit::testing::run_loop_until(*loop, [&] { return fired.size() == 3; });
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 60ms);
  EXPECT_FALSE(late.armed());
  EXPECT_EQ(q.pending(), 0u);
}

TEST(TimerQueue, ACancelledOrDestroyedTimerNeverFires) {
  auto loop = std::move(*EventLoop::create());
  TimerQueue q(*loop);
  int fired = 0;
  TimerQueue::Timer kept(q), cancelled(q);
  auto gone = std::make_unique<TimerQueue::Timer>(q);
  cancelled.arm(5ms, [&] { fired += 100; });
  gone->arm(5ms, [&] { fired += 1000; });
  kept.arm(20ms, [&] { fired += 1; });
  cancelled.cancel();
  gone.reset();
  ambit::testing::run_loop_until(*loop, [&] { return fired != 0; });
  EXPECT_EQ(fired, 1);
}

TEST(TimerQueue, ACallbackMayCancelAnotherDueInTheSameTickAndArmItself) {
  auto loop = std::move(*EventLoop::create());
  TimerQueue q(*loop);
  int first = 0, second = 0;
  TimerQueue::Timer a(q), b(q);
  a.arm(5ms, [&] {
    ++first;
    b.cancel();  // due at the same time: must not fire
    if (first < 3) a.arm(5ms, [&] { ++first; });
  });
  b.arm(5ms, [&] { ++second; });
  ambit::testing::run_loop_until(*loop, [&] { return first >= 2; });
  EXPECT_EQ(second, 0);
  EXPECT_EQ(first, 2);
}

TEST(TimerQueue, ReArmingMovesTheDeadline) {
  auto loop = std::move(*EventLoop::create());
  TimerQueue q(*loop);
  int fired = 0;
  TimerQueue::Timer t(q);
  t.arm(5ms, [&] { fired = 1; });
  t.arm(40ms, [&] { fired = 2; });
  EXPECT_EQ(q.pending(), 1u);
  auto begin = std::chrono::steady_clock::now();
  ambit::testing::run_loop_until(*loop, [&] { return fired != 0; });
  EXPECT_EQ(fired, 2);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 35ms);
}

}  // namespace
}  // namespace ambit
