#include "core/net_address.h"

#include <gtest/gtest.h>

namespace ambit {
namespace {

TEST(SocketAddress, ParsesV4AndV6) {
  auto a = SocketAddress::parse("10.1.2.3:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port(), 8080);
  EXPECT_EQ(a->to_string(), "10.1.2.3:8080");
  auto b = SocketAddress::parse("[fd00::1]:15008");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_FALSE(b->ip().is_v4());
  EXPECT_EQ(b->to_string(), "[fd00::1]:15008");
}

TEST(SocketAddress, RejectsBadInput) {
  EXPECT_FALSE(SocketAddress::parse("10.1.2.3").ok());
  EXPECT_FALSE(SocketAddress::parse("10.1.2.3:99999").ok());
  EXPECT_FALSE(SocketAddress::parse("nothost:80").ok());
  EXPECT_FALSE(SocketAddress::parse("[fd00::1:80").ok());
}

TEST(SocketAddress, SockaddrRoundTrip) {
  auto a = *SocketAddress::parse("[::1]:443");
  sockaddr_storage ss;
  socklen_t len = a.to_sockaddr(&ss);
  auto back = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, a);
}

TEST(Cidr, MatchesPrefixes) {
  auto c = *Cidr::parse("10.244.0.0/16");
  EXPECT_TRUE(c.contains(*IpAddress::parse("10.244.3.7")));
  EXPECT_FALSE(c.contains(*IpAddress::parse("10.245.0.1")));
  EXPECT_FALSE(c.contains(*IpAddress::parse("::1")));
  auto odd = *Cidr::parse("192.168.1.128/25");
  EXPECT_TRUE(odd.contains(*IpAddress::parse("192.168.1.200")));
  EXPECT_FALSE(odd.contains(*IpAddress::parse("192.168.1.100")));
  auto host = *Cidr::parse("1.2.3.4");
  EXPECT_TRUE(host.contains(*IpAddress::parse("1.2.3.4")));
  EXPECT_FALSE(host.contains(*IpAddress::parse("1.2.3.5")));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/33").ok());
}

}  // namespace
}  // namespace ambit

namespace ambit {
namespace {

TEST(IpAddress, LoopbackIsRecognisedInBothFamilies) {
  EXPECT_TRUE(IpAddress::parse("127.0.0.1")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("127.3.2.1")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("::1")->is_loopback());
  EXPECT_FALSE(IpAddress::parse("10.244.0.10")->is_loopback());
  EXPECT_FALSE(IpAddress::parse("::2")->is_loopback());
  EXPECT_FALSE(IpAddress::parse("::ffff:10.0.0.1")->is_loopback());
}

}  // namespace
}  // namespace ambit
