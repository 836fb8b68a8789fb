// The resolver of DNS ServiceEntries: lookups through the system's resolver (/etc/hosts has
// localhost), the change callback once a name first resolves, and a DNS server that does not
// answer (a UDP port nothing listens on: refused at once, bounded by the resolver's retries).
#include "waypoint/dns_resolver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace ambit::waypoint {
namespace {

using namespace std::chrono_literals;

TEST(DnsResolver, TheSystemsResolverAnswersForLocalhost) {
  auto ips = DnsResolver::resolve("localhost", std::nullopt);
  ASSERT_TRUE(ips.ok()) << ips.error().message;
  EXPECT_NE(std::find(ips->begin(), ips->end(), *IpAddress::parse("127.0.0.1")), ips->end());
}

TEST(DnsResolver, ANameAskedForIsResolvedInTheBackgroundAndTheChangeIsTold) {
  std::atomic<int> changes{0};
  DnsResolver dns(std::nullopt, 10s, [&] { ++changes; });
  EXPECT_TRUE(dns.lookup("localhost").empty());  // not yet: asked for now
  auto until = std::chrono::steady_clock::now() + 5s;
  while (changes.load() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(changes.load(), 1);
  auto ips = dns.lookup("localhost");
  EXPECT_NE(std::find(ips.begin(), ips.end(), *IpAddress::parse("127.0.0.1")), ips.end());
}

TEST(DnsResolver, AServerThatDoesNotAnswerIsAnErrorNamingIt) {
  auto ips = DnsResolver::resolve("api.stripe.com", *SocketAddress::parse("127.0.0.1:9"));
  ASSERT_FALSE(ips.ok());
  EXPECT_NE(ips.error().message.find("no answer from 127.0.0.1:9"), std::string::npos)
      << ips.error().message;
}

}  // namespace
}  // namespace ambit::waypoint
