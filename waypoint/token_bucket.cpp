#include "waypoint/token_bucket.h"

#include <algorithm>

namespace ambit::waypoint {
namespace {

constexpr uint64_t pack(uint32_t fills, uint32_t tokens) {
  return (static_cast<uint64_t>(fills) << 32) | tokens;
}
constexpr uint32_t fills_of(uint64_t state) { return static_cast<uint32_t>(state >> 32); }
constexpr uint32_t tokens_of(uint64_t state) { return static_cast<uint32_t>(state); }

}  // namespace

TokenBucket::TokenBucket(TokenBucketSpec spec, Clock::time_point start)
    : spec_(spec), start_(start), state_(pack(0, spec.max_tokens)) {
  if (spec_.fill_interval.count() <= 0) spec_.fill_interval = std::chrono::milliseconds(1);
}

uint32_t TokenBucket::fills_at(Clock::time_point now) const {
  if (now <= start_) return 0;
  return static_cast<uint32_t>((now - start_) / spec_.fill_interval);
}

uint32_t TokenBucket::refilled(uint64_t state, uint32_t fills) const {
  // A worker whose clock reading is older than the last fill applied sees no new fill.
  auto due = static_cast<int32_t>(fills - fills_of(state));
  if (due <= 0) return tokens_of(state);
  uint64_t tokens = tokens_of(state) + static_cast<uint64_t>(due) * spec_.tokens_per_fill;
  return static_cast<uint32_t>(std::min<uint64_t>(tokens, spec_.max_tokens));
}

bool TokenBucket::try_take(Clock::time_point now) {
  uint32_t fills = fills_at(now);
  uint64_t state = state_.load(std::memory_order_relaxed);
  for (;;) {
    bool due = static_cast<int32_t>(fills - fills_of(state)) > 0;
    uint32_t tokens = refilled(state, fills);
    if (tokens == 0 && !due) return false;
    uint64_t next = pack(due ? fills : fills_of(state), tokens == 0 ? 0 : tokens - 1);
    if (state_.compare_exchange_weak(state, next, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
      return tokens > 0;
    }
  }
}

uint32_t TokenBucket::tokens(Clock::time_point now) const {
  return refilled(state_.load(std::memory_order_relaxed), fills_at(now));
}

std::shared_ptr<TokenBucket> TokenBuckets::get(const std::string& key,
                                               const TokenBucketSpec& spec) {
  std::lock_guard lock(mu_);
  std::erase_if(buckets_, [](const auto& entry) { return entry.second.expired(); });
  auto& slot = buckets_[key];
  if (auto held = slot.lock(); held && held->spec() == spec) return held;
  auto fresh = std::make_shared<TokenBucket>(spec);
  slot = fresh;
  return fresh;
}

}  // namespace ambit::waypoint
