#include "agent/admin_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "tests/support/net_helpers.h"

namespace ambit::agent {
namespace {

std::string get(const SocketAddress& to, const std::string& request) {
  auto fd = testing::connect_to(to, 5000);
  if (!fd.valid()) return "connect failed";
  testing::send_all(fd.get(), request.data(), request.size());
  return testing::read_all(fd.get(), 1 << 20);
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto any = *SocketAddress::parse("127.0.0.1:0");
    auto server = AdminServer::start({any, any, any},
                                     {[] { return std::string("ambit_up 1\n"); },
                                      [] { return std::string("{\"node\":\"n\"}\n"); },
                                      [this] { return ready_; }});
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
    ASSERT_EQ(server_->addresses().size(), 3u);
  }
  const SocketAddress& admin() { return server_->addresses()[0]; }
  const SocketAddress& metrics() { return server_->addresses()[1]; }
  const SocketAddress& readiness() { return server_->addresses()[2]; }

  bool ready_ = true;
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminServerTest, ServesMetricsReadinessAndConfigDump) {
  auto m = get(metrics(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(m.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << m;
  EXPECT_NE(m.find("\r\n\r\nambit_up 1\n"), std::string::npos);
  auto r = get(readiness(), "GET /healthz/ready HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK", 0), 0u) << r;
  auto d = get(admin(), "GET /config_dump HTTP/1.1\r\n\r\n");
  EXPECT_NE(d.find("application/json"), std::string::npos);
  EXPECT_NE(d.find("{\"node\":\"n\"}"), std::string::npos);
}

TEST_F(AdminServerTest, ReadinessFollowsTheEngine) {
  ready_ = false;
  auto r = get(readiness(), "GET /healthz/ready HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
}

TEST_F(AdminServerTest, ConfigDumpOnlyOnTheAdminPort) {
  auto d = get(metrics(), "GET /config_dump HTTP/1.1\r\n\r\n");
  EXPECT_EQ(d.rfind("HTTP/1.1 404", 0), 0u) << d;
  auto bad = get(admin(), "DELETE /config_dump HTTP/1.1\r\n\r\n");
  EXPECT_EQ(bad.rfind("HTTP/1.1 405", 0), 0u) << bad;
  auto junk = get(admin(), "garbage\r\n\r\n");
  EXPECT_EQ(junk.rfind("HTTP/1.1 400", 0), 0u) << junk;
}

}  // namespace
}  // namespace ambit::agent
