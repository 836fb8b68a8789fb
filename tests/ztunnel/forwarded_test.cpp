#include "ztunnel/forwarded.h"

#include <gtest/gtest.h>

namespace ambit::ztunnel {
namespace {

TEST(Forwarded, RoundTripsV4AndV6) {
  auto v4 = *IpAddress::parse("10.244.1.7");
  EXPECT_EQ(format_forwarded_for(v4), "for=10.244.1.7");
  EXPECT_EQ(parse_forwarded_for(format_forwarded_for(v4)), v4);
  auto v6 = *IpAddress::parse("fd00::7");
  EXPECT_EQ(format_forwarded_for(v6), "for=\"[fd00::7]\"");
  EXPECT_EQ(parse_forwarded_for(format_forwarded_for(v6)), v6);
}

TEST(Forwarded, FindsForAmongOtherParameters) {
  EXPECT_EQ(parse_forwarded_for("proto=https;for=10.0.0.9;by=10.0.0.1"),
            *IpAddress::parse("10.0.0.9"));
  EXPECT_EQ(parse_forwarded_for("For=\"[::1]:4711\""), *IpAddress::parse("::1"));
  EXPECT_EQ(parse_forwarded_for("for=10.0.0.9, for=10.0.0.10"), *IpAddress::parse("10.0.0.9"));
}

TEST(Forwarded, RejectsWhatIsNotAnAddress) {
  EXPECT_FALSE(parse_forwarded_for("").has_value());
  EXPECT_FALSE(parse_forwarded_for("by=10.0.0.1").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=unknown").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=_hidden").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=\"[fd00::1\"").has_value());
}

}  // namespace
}  // namespace ambit::ztunnel
