#include "waypoint/retry_budget.h"

#include <algorithm>

namespace ambit::waypoint {

RetryBudget::RetryBudget(RetryBudgetPolicy policy)
    : policy_(policy), slots_(static_cast<size_t>(std::max<int64_t>(1, policy.ttl.count()))) {}

RetryBudget::Slot& RetryBudget::slot(Clock::time_point now) {
  int64_t second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  Slot& s = slots_[static_cast<size_t>(second) % slots_.size()];
  if (s.second != second) s = Slot{second, 0, 0};  // a second that left the window
  return s;
}

void RetryBudget::deposit(Clock::time_point now) {
  std::lock_guard lock(mu_);
  ++slot(now).requests;
}

bool RetryBudget::withdraw(Clock::time_point now) {
  std::lock_guard lock(mu_);
  Slot& current = slot(now);
  int64_t oldest = current.second - static_cast<int64_t>(slots_.size()) + 1;
  uint64_t requests = 0, retries = 0;
  for (const Slot& s : slots_) {
    if (s.second < oldest) continue;
    requests += s.requests;
    retries += s.retries;
  }
  double allowed = policy_.ratio * static_cast<double>(requests) +
                   static_cast<double>(policy_.min_per_second) * static_cast<double>(slots_.size());
  if (static_cast<double>(retries) >= allowed) return false;
  ++current.retries;
  return true;
}

RetryBudget& RetryBudgets::for_service(const std::string& service_uid,
                                       const RetryBudgetPolicy& policy) {
  std::lock_guard lock(mu_);
  auto& b = budgets_[service_uid];
  if (!b) b = std::make_unique<RetryBudget>(policy);
  return *b;
}

}  // namespace ambit::waypoint
