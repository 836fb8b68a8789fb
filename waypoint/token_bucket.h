// Envoy's token bucket for local rate limiting: it starts full, gains `tokens_per_fill` every
// `fill_interval` (whole fills, not a trickle) up to `max_tokens`, and a request takes one. One
// bucket serves every worker of the waypoint through one atomic word, so the rate configured is
// the rate enforced whatever the worker count (Envoy's process-wide bucket; its per-worker
// shards would let N workers admit N times the burst). Buckets outlive views: a config push
// must not refill them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ambit::waypoint {

struct TokenBucketSpec {
  uint32_t max_tokens = 1;
  uint32_t tokens_per_fill = 1;
  std::chrono::milliseconds fill_interval{1000};
  bool operator==(const TokenBucketSpec&) const = default;
};

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TokenBucket(TokenBucketSpec spec, Clock::time_point start = Clock::now());
  // Takes a token: false when none is left until the next fill. Lock-free.
  bool try_take(Clock::time_point now = Clock::now());
  uint32_t tokens(Clock::time_point now = Clock::now()) const;
  const TokenBucketSpec& spec() const { return spec_; }

 private:
  // The fills due by `now`, modulo 2^32 (as the state keeps them).
  uint32_t fills_at(Clock::time_point now) const;
  // The tokens of `state` once the fills due at `fills` are added.
  uint32_t refilled(uint64_t state, uint32_t fills) const;

  TokenBucketSpec spec_;
  Clock::time_point start_;
  // High 32 bits: the fills applied so far; low 32 bits: the tokens left.
  std::atomic<uint64_t> state_;
};

// The buckets of every view, by a key naming the policy, its route and its rule: a new view
// whose policy is unchanged gets the same bucket (tokens carry over); a changed spec gets a
// fresh, full one. Only view builds take the mutex.
class TokenBuckets {
 public:
  std::shared_ptr<TokenBucket> get(const std::string& key, const TokenBucketSpec& spec);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<TokenBucket>> buckets_;
};

}  // namespace ambit::waypoint
