#include "ztunnel/forwarded.h"

#include <gtest/gtest.h>

namespace ambit::ztunnel {
namespace {

SocketAddress addr(const char* text) { return *SocketAddress::parse(text); }

TEST(Forwarded, SendsZtunnelsQuotedFormWithPortAndHost) {
  EXPECT_EQ(format_forwarded(addr("10.244.1.7:4711")), "for=\"10.244.1.7:4711\"");
  EXPECT_EQ(format_forwarded(addr("[fd00::7]:80")), "for=\"[fd00::7]:80\"");
  EXPECT_EQ(format_forwarded(addr("10.244.1.7:4711"), "echo.default.svc.cluster.local"),
            "for=\"10.244.1.7:4711\";host=echo.default.svc.cluster.local");
}

TEST(Forwarded, RoundTripsV4AndV6) {
  for (const char* a : {"10.244.1.7:4711", "[fd00::7]:80", "127.0.0.1:1"}) {
    EXPECT_EQ(parse_forwarded_for(format_forwarded(addr(a), "h.ns.svc.cluster.local")), addr(a));
  }
}

TEST(Forwarded, ReadsEveryFormZtunnelAndRfc7239Allow) {
  EXPECT_EQ(parse_forwarded_for("for=10.0.0.9"), addr("10.0.0.9:0"));
  EXPECT_EQ(parse_forwarded_for("for=\"10.0.0.9:1234\""), addr("10.0.0.9:1234"));
  EXPECT_EQ(parse_forwarded_for("for=\"10.0.0.9:1234\";host=a.b.svc.cluster.local"),
            addr("10.0.0.9:1234"));
  EXPECT_EQ(parse_forwarded_for("For=\"[::1]:4711\""), addr("[::1]:4711"));
  EXPECT_EQ(parse_forwarded_for("for=\"[fd00::1]\""), addr("[fd00::1]:0"));
  EXPECT_EQ(parse_forwarded_for("proto=https;for=10.0.0.9;by=10.0.0.1"), addr("10.0.0.9:0"));
  EXPECT_EQ(parse_forwarded_for(" for = 10.0.0.9 ;proto=tcp"), addr("10.0.0.9:0"));
  // Only the first element (the client end) counts.
  EXPECT_EQ(parse_forwarded_for("for=10.0.0.9, for=10.0.0.10"), addr("10.0.0.9:0"));
  EXPECT_FALSE(parse_forwarded_for("by=10.0.0.1, for=10.0.0.10").has_value());
}

TEST(Forwarded, ReadsTheHostParameter) {
  EXPECT_EQ(parse_forwarded_host("for=\"10.0.0.9:1\";host=echo.default.svc.cluster.local"),
            "echo.default.svc.cluster.local");
  EXPECT_EQ(parse_forwarded_host("host=\"a.b\";for=10.0.0.9"), "a.b");
  EXPECT_EQ(parse_forwarded_host("for=10.0.0.9"), "");
}

TEST(Forwarded, RejectsWhatIsNotAnAddress) {
  EXPECT_FALSE(parse_forwarded_for("").has_value());
  EXPECT_FALSE(parse_forwarded_for("by=10.0.0.1").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=unknown").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=_hidden").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=\"[fd00::1\"").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=\"[fd00::1]x\"").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=fd00::1").has_value()) << "IPv6 must be bracketed";
  EXPECT_FALSE(parse_forwarded_for("for=\"10.0.0.9:99999\"").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=\"10.0.0.9:\"").has_value());
  EXPECT_FALSE(parse_forwarded_for("for=\"10.0.0.9:80x\"").has_value());
}

}  // namespace
}  // namespace ambit::ztunnel
