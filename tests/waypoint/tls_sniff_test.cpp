// sniff_server_name on ClientHellos that OpenSSL's own client writes into memory.
#include "waypoint/tls_sniff.h"

#include <gtest/gtest.h>

#include "tests/waypoint/tls_hello.h"

namespace ambit::waypoint {
namespace {

TEST(TlsSniff, ReadsTheServerNameOfTls13AndTls12Hellos) {
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    std::string hello = testing::client_hello("Admin.Shop.Example", version);
    ASSERT_GT(hello.size(), 5u);
    std::string name;
    EXPECT_EQ(sniff_server_name(hello, &name), TlsSniff::kName) << version;
    EXPECT_EQ(name, "admin.shop.example");
  }
}

TEST(TlsSniff, WaitsForTheWholeRecordAndTellsOtherBytesApart) {
  std::string hello = testing::client_hello("shop.example");
  std::string name;
  EXPECT_EQ(sniff_server_name(hello.substr(0, 3), &name), TlsSniff::kNeedMore);
  EXPECT_EQ(sniff_server_name(hello.substr(0, hello.size() - 1), &name), TlsSniff::kNeedMore);
  EXPECT_EQ(sniff_server_name(testing::client_hello(""), &name), TlsSniff::kNoName);
  EXPECT_EQ(sniff_server_name("SSH-2.0-OpenSSH_9.2\r\n", &name), TlsSniff::kNotTls);
  std::string not_hello = hello;
  not_hello[5] = 0x02;  // a ServerHello
  EXPECT_EQ(sniff_server_name(not_hello, &name), TlsSniff::kNotTls);
}

}  // namespace
}  // namespace ambit::waypoint
