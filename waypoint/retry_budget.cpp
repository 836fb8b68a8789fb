#include "waypoint/retry_budget.h"

#include <algorithm>

namespace ambit::waypoint {

RetryBudget::RetryBudget(RetryBudgetPolicy policy)
    : policy_(policy),
      slots_(
          std::make_unique<Slot[]>(static_cast<size_t>(std::max<int64_t>(1, policy.ttl.count())))),
      size_(static_cast<size_t>(std::max<int64_t>(1, policy.ttl.count()))) {}

RetryBudget::Slot& RetryBudget::slot(Clock::time_point now) {
  int64_t second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  Slot& s = slots_[static_cast<size_t>(second) % size_];
  if (s.second.load(std::memory_order_acquire) != second) {
    std::lock_guard lock(mu_);
    if (s.second.load(std::memory_order_relaxed) != second) {  // a second that left the window
      s.requests.store(0, std::memory_order_relaxed);
      s.retries.store(0, std::memory_order_relaxed);
      s.second.store(second, std::memory_order_release);
    }
  }
  return s;
}

void RetryBudget::deposit(Clock::time_point now) {
  slot(now).requests.fetch_add(1, std::memory_order_relaxed);
}

bool RetryBudget::withdraw(Clock::time_point now) {
  Slot& current = slot(now);
  std::lock_guard lock(mu_);  // one decision at a time, so the budget is not overdrawn
  int64_t oldest = current.second.load(std::memory_order_relaxed) - static_cast<int64_t>(size_) + 1;
  uint64_t requests = 0, retries = 0;
  for (size_t i = 0; i < size_; ++i) {
    const Slot& s = slots_[i];
    if (s.second.load(std::memory_order_relaxed) < oldest) continue;
    requests += s.requests.load(std::memory_order_relaxed);
    retries += s.retries.load(std::memory_order_relaxed);
  }
  double allowed = policy_.ratio * static_cast<double>(requests) +
                   static_cast<double>(policy_.min_per_second) * static_cast<double>(size_);
  if (static_cast<double>(retries) >= allowed) return false;
  current.retries.fetch_add(1, std::memory_order_relaxed);
  return true;
}

RetryBudget& RetryBudgets::get(const void* owner, const RetryBudgetPolicy& policy) {
  std::lock_guard lock(mu_);
  auto& b = budgets_[owner];
  if (!b) b = std::make_unique<RetryBudget>(policy);
  return *b;
}

}  // namespace ambit::waypoint
