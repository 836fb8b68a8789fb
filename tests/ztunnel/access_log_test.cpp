#include "ztunnel/access_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace ambit::ztunnel {
namespace {

using namespace std::chrono_literals;

ConnectionRecord outbound_record() {
  ConnectionRecord r;
  r.direction = "outbound";
  r.src = *SocketAddress::parse("10.0.0.1:4444");
  r.dst = *SocketAddress::parse("10.0.0.2:8080");
  r.hbone_address = *SocketAddress::parse("10.0.0.2:15008");
  r.src_workload = "default/sleep";
  r.dst_workload = "default/echo";
  r.src_identity = Identity("cluster.local", "default", "sleep");
  r.dst_identity = Identity("cluster.local", "default", "echo");
  r.bytes_sent = 123;
  r.bytes_received = 456;
  r.duration = 12'345us;
  return r;
}

TEST(AccessLog, FormatsLikeZtunnel) {
  EXPECT_EQ(format_access_log(outbound_record()),
            "connection complete src.addr=10.0.0.1:4444 src.workload=\"default/sleep\" "
            "src.identity=\"spiffe://cluster.local/ns/default/sa/sleep\" dst.addr=10.0.0.2:8080 "
            "dst.hbone_addr=10.0.0.2:15008 dst.workload=\"default/echo\" "
            "dst.identity=\"spiffe://cluster.local/ns/default/sa/echo\" direction=\"outbound\" "
            "bytes_sent=123 bytes_recv=456 duration=\"12ms\"");
}

TEST(AccessLog, LeavesOutWhatIsUnknown) {
  ConnectionRecord r;
  r.direction = "inbound";
  r.src = *SocketAddress::parse("[fd00::1]:5555");
  r.dst = *SocketAddress::parse("10.0.0.2:8080");
  EXPECT_EQ(format_access_log(r),
            "connection complete src.addr=[fd00::1]:5555 dst.addr=10.0.0.2:8080 "
            "direction=\"inbound\" bytes_sent=0 bytes_recv=0 duration=\"0ms\"");
}

TEST(AccessLog, SaysWhenTheConnectionWentViaAWaypoint) {
  ConnectionRecord r = outbound_record();
  r.dst = *SocketAddress::parse("10.96.0.20:9080");
  r.hbone_address = *SocketAddress::parse("10.0.1.1:15008");
  r.dst_workload = "shop/shop-waypoint-a";
  r.dst_identity = Identity("cluster.local", "shop", "shop-waypoint");
  r.dst_waypoint = "shop/shop-waypoint";
  std::string line = format_access_log(r);
  EXPECT_NE(line.find(" dst.addr=10.96.0.20:9080 dst.hbone_addr=10.0.1.1:15008 "
                      "dst.workload=\"shop/shop-waypoint-a\" "
                      "dst.identity=\"spiffe://cluster.local/ns/shop/sa/shop-waypoint\" "
                      "dst.waypoint=\"shop/shop-waypoint\" "),
            std::string::npos)
      << line;
}

TEST(AccessLog, ErrorIsQuotedAndEscaped) {
  ConnectionRecord r = outbound_record();
  r.error = "denied by \"x\"\\y\nz\x01";
  std::string line = format_access_log(r);
  EXPECT_NE(line.find(R"( error="denied by \"x\"\\y\nz\x01")"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind(" error=", std::string::npos), line.find(" error="));  // once, last
}

TEST(AccessLog, WritesToTheDefaultLoggerAtInfo) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("test-access", sink);
  logger->set_pattern("%v");
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  write_access_log(outbound_record());
  logger->set_level(spdlog::level::warn);
  write_access_log(outbound_record());  // info is off: nothing
  spdlog::set_default_logger(previous);
  EXPECT_EQ(out.str(), format_access_log(outbound_record()) + "\n");
}

}  // namespace
}  // namespace ambit::ztunnel
