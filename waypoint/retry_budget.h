// Retry budgets, as Linkerd's ServiceProfile retryBudget: over a sliding window of `ttl`, a
// service's retries may number at most retryRatio times its original requests plus
// minRetriesPerSecond times the window's seconds, so retries cannot multiply an outage. Routes
// without a ServiceProfile (Istio retries) get the waypoint's default budget, Linkerd's
// defaults (0.2, 10/s, 10 s) unless the waypoint is told otherwise. A budget is shared by the
// workers of one view (a mutex per service).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ambit::waypoint {

struct RetryBudgetPolicy {
  double ratio = 0.2;
  uint32_t min_per_second = 10;
  std::chrono::seconds ttl{10};
};

class RetryBudget {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RetryBudget(RetryBudgetPolicy policy);
  // An original request was sent.
  void deposit(Clock::time_point now = Clock::now());
  // A retry may go: true, and it is counted; false when the budget is spent.
  bool withdraw(Clock::time_point now = Clock::now());

 private:
  struct Slot {
    int64_t second = -1;
    uint64_t requests = 0, retries = 0;
  };
  Slot& slot(Clock::time_point now);

  RetryBudgetPolicy policy_;
  std::mutex mu_;
  std::vector<Slot> slots_;  // one per second of the window
};

// The budgets of one view, by destination service.
class RetryBudgets {
 public:
  RetryBudget& for_service(const std::string& service_uid, const RetryBudgetPolicy& policy);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<RetryBudget>> budgets_;
};

}  // namespace ambit::waypoint
