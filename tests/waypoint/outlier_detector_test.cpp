#include "waypoint/outlier_detector.h"

#include <gtest/gtest.h>

namespace ambit::waypoint {
namespace {

using namespace std::chrono_literals;
using Clock = OutlierDetector::Clock;

const SocketAddress kA = *SocketAddress::parse("10.0.0.1:80");
const SocketAddress kB = *SocketAddress::parse("10.0.0.2:80");

OutlierPolicy policy(uint32_t five_xx, uint32_t gateway = 0, uint32_t max_percent = 100) {
  OutlierPolicy p;
  p.enabled = true;
  p.consecutive_5xx = five_xx;
  p.consecutive_gateway = gateway;
  p.interval = 10s;
  p.base_ejection = 30s;
  p.max_ejection_percent = max_percent;
  return p;
}

TEST(OutlierDetector, ConsecutiveErrorsEjectAndASuccessResetsTheCount) {
  OutlierDetector d;
  auto p = policy(3);
  auto t = Clock::now();
  d.report("c", p, 2, kA, 500, t);
  d.report("c", p, 2, kA, 503, t);
  d.report("c", p, 2, kA, 200, t);  // the run is broken
  d.report("c", p, 2, kA, 0, t);    // no answer counts as an error
  d.report("c", p, 2, kA, 502, t);
  EXPECT_FALSE(d.ejected("c", kA, t));
  d.report("c", p, 2, kA, 504, t);
  EXPECT_TRUE(d.ejected("c", kA, t));
  EXPECT_FALSE(d.ejected("c", kB, t));
  EXPECT_FALSE(d.ejected("other", kA, t));
  EXPECT_TRUE(d.ejected("c", kA, t + 29s));
  EXPECT_FALSE(d.ejected("c", kA, t + 31s));
  EXPECT_EQ(d.ejections_total(), 1u);
}

TEST(OutlierDetector, GatewayErrorsCountOnly502To504) {
  OutlierDetector d;
  auto p = policy(0, 2);
  auto t = Clock::now();
  d.report("c", p, 2, kA, 500, t);
  d.report("c", p, 2, kA, 500, t);
  EXPECT_FALSE(d.ejected("c", kA, t));
  d.report("c", p, 2, kA, 503, t);
  d.report("c", p, 2, kA, 500, t);  // not a gateway error: the run is broken
  d.report("c", p, 2, kA, 502, t);
  EXPECT_FALSE(d.ejected("c", kA, t));
  d.report("c", p, 2, kA, 0, t);
  EXPECT_TRUE(d.ejected("c", kA, t));
}

TEST(OutlierDetector, EachEjectionIsLongerAndQuietIntervalsForgive) {
  OutlierDetector d;
  auto p = policy(1);
  auto t = Clock::now();
  d.report("c", p, 2, kA, 500, t);  // out 30 s
  auto back = t + 31s;
  EXPECT_FALSE(d.ejected("c", kA, back));
  d.report("c", p, 2, kA, 500, back);  // out 60 s
  EXPECT_TRUE(d.ejected("c", kA, back + 59s));
  EXPECT_FALSE(d.ejected("c", kA, back + 61s));
  // Three quiet intervals (30 s) after it came back: forgiven down to none, so 30 s again.
  auto later = back + 61s + 30s;
  d.report("c", p, 2, kA, 500, later);
  EXPECT_TRUE(d.ejected("c", kA, later + 29s));
  EXPECT_FALSE(d.ejected("c", kA, later + 31s));
}

TEST(OutlierDetector, MaxEjectionPercentKeepsTheRestIn) {
  OutlierDetector d;
  auto p = policy(1, 0, 50);
  auto t = Clock::now();
  d.report("c", p, 2, kA, 500, t);
  d.report("c", p, 2, kB, 500, t);
  EXPECT_TRUE(d.ejected("c", kA, t));
  EXPECT_FALSE(d.ejected("c", kB, t));  // 50 % of two is one
  // A small percentage still lets one go (Envoy ejects at least one).
  OutlierDetector small;
  auto q = policy(1, 0, 10);
  small.report("c", q, 3, kA, 500, t);
  EXPECT_TRUE(small.ejected("c", kA, t));
}

TEST(OutlierDetector, ParseNamesTheField) {
  ambit::v1::OutlierDetection od;
  od.set_interval("often");
  auto p = OutlierPolicy::parse(od, "DestinationRule shop/web: trafficPolicy.outlierDetection");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("trafficPolicy.outlierDetection.interval: \"often\""),
            std::string::npos)
      << p.error().message;
  ambit::v1::OutlierDetection unset;
  auto d = OutlierPolicy::parse(unset, "x");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->consecutive_5xx, 5u);  // Envoy's defaults
  EXPECT_EQ(d->base_ejection, 30s);
  EXPECT_EQ(d->max_ejection_percent, 10u);
}

}  // namespace
}  // namespace ambit::waypoint
