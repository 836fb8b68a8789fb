// The waypoint's random decisions (load balancing, fault injection, rate-limit sampling) come
// from one 64-bit entropy per request; these turn it into independent draws.
#pragma once

#include <cstdint>

namespace ambit::waypoint {

// A 64-bit mix (splitmix64's finaliser): spreads a hash over every bit.
inline uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A fresh draw from the request's entropy, one `salt` per independent decision.
inline uint64_t draw(uint64_t entropy, uint64_t salt) {
  return mix(entropy + salt * 0x9e3779b97f4a7c15ULL);
}

// True for `percent` (0 to 100, to a ten-thousandth) of the draws.
inline bool happens(uint64_t roll, double percent) {
  return static_cast<double>(roll % 1'000'000) < percent * 10'000.0;
}

// The salts in use, so no two decisions share a draw.
inline constexpr uint64_t kSaltFaultAbort = 1, kSaltFaultDelay = 2, kSaltRateLimitEnabled = 3,
                          kSaltRateLimitEnforced = 4;

}  // namespace ambit::waypoint
