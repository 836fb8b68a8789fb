// Retry budgets, as Linkerd's ServiceProfile retryBudget: over a sliding window of `ttl`, a
// service's retries may number at most retryRatio times its original requests plus
// minRetriesPerSecond times the window's seconds, so retries cannot multiply an outage. A
// ServiceProfile's budget has Linkerd's defaults (0.2, 10/s, 10 s). Routes without one (Istio
// retries) get the waypoint's default budget: ratio 1.0, 10/s, 10 s (--retry-budget-ratio,
// --retry-budget-min-per-second), enough to hide a backend failing half its requests (about
// 0.9 retries per request at attempts 3) while a dead one gets at most twice its traffic, not
// attempts + 1 times. A budget is shared by the workers of one view (a mutex per service).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace ambit::waypoint {

struct RetryBudgetPolicy {
  double ratio = 0.2;  // Linkerd's; the waypoint's default for Istio routes is 1.0
  uint32_t min_per_second = 10;
  std::chrono::seconds ttl{10};
};

// The waypoint's default for routes without a budget of their own.
inline constexpr RetryBudgetPolicy kDefaultRouteBudget{1.0, 10, std::chrono::seconds(10)};

class RetryBudget {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RetryBudget(RetryBudgetPolicy policy);
  // An original request was sent (no lock: a counter of the current second).
  void deposit(Clock::time_point now = Clock::now());
  // A retry may go: true, and it is counted; false when the budget is spent.
  bool withdraw(Clock::time_point now = Clock::now());

 private:
  struct Slot {
    std::atomic<int64_t> second{-1};
    std::atomic<uint64_t> requests{0}, retries{0};
  };
  // The slot of `now`'s second, cleared first when it still holds an older second.
  Slot& slot(Clock::time_point now);

  RetryBudgetPolicy policy_;
  std::mutex mu_;
  std::unique_ptr<Slot[]> slots_;  // one per second of the window
  size_t size_;
};

// The budgets of one view, by what shares one: a VirtualService (all its routes, as a
// ServiceProfile's share Linkerd's), or a Service reached without one.
class RetryBudgets {
 public:
  RetryBudget& get(const void* owner, const RetryBudgetPolicy& policy);

 private:
  std::mutex mu_;
  std::unordered_map<const void*, std::unique_ptr<RetryBudget>> budgets_;
};

}  // namespace ambit::waypoint
