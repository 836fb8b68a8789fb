// Egress through the waypoint (proxy_fixture.h): an Istio ServiceEntry host outside the mesh
// (api.stripe.com, VIP 10.96.0.50) whose STATIC endpoint is a plain HTTP server on loopback.
// The waypoint dials it straight (no HBONE) and applies the VirtualService that names its host.
#include "tests/waypoint/proxy_fixture.h"

namespace ambit::waypoint {
namespace {

using namespace std::chrono_literals;
namespace pb = ambit::v1;
using testing::HttpBackend;
using testing::kExternalHost;

class WaypointEgressTest : public testing::WaypointProxyFixture {
 protected:
  testing::Response charge(const std::string& path = "/v1/charges") {
    auto rs =
        exchange("GET " + path + " HTTP/1.1\r\nHost: api.stripe.com\r\n\r\n", 1, "10.96.0.50:80");
    return rs.empty() ? testing::Response{} : rs.front();
  }
};

// The seed's api.stripe.com VirtualService: retries and a timeout for the external host.
pb::VirtualService stripe_routes(int attempts, std::string timeout) {
  pb::VirtualService vs;
  vs.set_uid("shop/stripe");
  vs.set_name("stripe");
  vs.set_namespace_("shop");
  vs.add_hosts(kExternalHost);
  auto* r = vs.add_http();
  r->set_name("stripe");
  *r->add_route() = testing::to(kExternalHost);
  r->mutable_retries()->set_attempts(attempts);
  r->mutable_retries()->set_retry_on("5xx");
  r->set_timeout(std::move(timeout));
  return vs;
}

TEST_F(WaypointEgressTest, AServiceEntryHostIsReachedStraightFromTheWaypoint) {
  ASSERT_TRUE(external_.bound());
  start_waypoint({}, {});
  auto r = charge();
  EXPECT_EQ(r.status, 200) << r.head << r.body;
  EXPECT_EQ(r.served_by(), "stripe");
  // It arrived as plain HTTP on the endpoint's own port (an HBONE stream would be TLS).
  auto seen = external_.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].starts_with("GET /v1/charges HTTP/1.1\r\n")) << seen[0];
  EXPECT_NE(seen[0].find("api.stripe.com"), std::string::npos) << seen[0];
  // Several requests on one client connection share one connection to it.
  ASSERT_EQ(exchange("GET /a HTTP/1.1\r\nHost: api.stripe.com\r\n\r\n"
                     "GET /b HTTP/1.1\r\nHost: api.stripe.com\r\n\r\n",
                     2, "10.96.0.50:80")
                .size(),
            2u);
  EXPECT_EQ(external_.connections(), 2u);  // one per client connection
  EXPECT_TRUE(v1_.seen().empty());
  EXPECT_TRUE(v2_->seen().empty());
}

TEST_F(WaypointEgressTest, TheVirtualServiceOfTheExternalHostRetriesItsFailures) {
  external_.set_behaviour(
      [](const std::string&, size_t n) { return HttpBackend::Reply{n % 2 == 0 ? 503 : 200}; });
  start_waypoint({stripe_routes(3, "")}, {});
  for (int i = 0; i < 6; ++i) EXPECT_EQ(charge("/r/" + std::to_string(i)).status, 200) << i;
  EXPECT_EQ(external_.seen().size(), 12u);  // each failed once, then succeeded
}

TEST_F(WaypointEgressTest, TheVirtualServicesTimeoutBoundsTheExternalHost) {
  external_.set_behaviour([](const std::string&, size_t) {
    return HttpBackend::Reply{200, 2000ms};
  });
  start_waypoint({stripe_routes(0, "0.200s")}, {});
  auto begin = std::chrono::steady_clock::now();
  auto r = charge();
  EXPECT_EQ(r.status, 504) << r.head;
  EXPECT_EQ(r.body, "upstream request timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1500ms);
}

TEST_F(WaypointEgressTest, AnExternalHostThatRefusesConnectionsIs503UF) {
  external_port_ = ambit::testing::unused_port("127.0.0.6");  // nothing listens there
  start_waypoint({stripe_routes(0, "")}, {});
  auto r = charge();
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("reset reason: connection failure"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace ambit::waypoint
