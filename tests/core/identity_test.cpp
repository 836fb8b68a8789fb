#include "core/identity.h"

#include <gtest/gtest.h>

namespace ambit {
namespace {

TEST(Identity, ParsesKubernetesSpiffeId) {
  auto id = Identity::parse("spiffe://cluster.local/ns/default/sa/sleep");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->trust_domain(), "cluster.local");
  EXPECT_EQ(id->ns(), "default");
  EXPECT_EQ(id->service_account(), "sleep");
  EXPECT_EQ(id->to_string(), "spiffe://cluster.local/ns/default/sa/sleep");
}

TEST(Identity, RoundTripsThroughString) {
  Identity id("example.org", "shop-1", "cart_v2");
  auto parsed = Identity::parse(id.to_string());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, id);
}

struct BadId {
  const char* uri;
  const char* expected_fragment;
};

class IdentityRejects : public ::testing::TestWithParam<BadId> {};

TEST_P(IdentityRejects, NamesTheFailedCheck) {
  auto id = Identity::parse(GetParam().uri);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().message.find(GetParam().expected_fragment), std::string::npos)
      << id.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IdentityRejects,
    ::testing::Values(BadId{"http://cluster.local/ns/a/sa/b", "must start with 'spiffe://'"},
                      BadId{"spiffe:///ns/a/sa/b", "trust domain is empty"},
                      BadId{"spiffe://Cluster.local/ns/a/sa/b", "invalid character 'C'"},
                      BadId{"spiffe://td:8080/ns/a/sa/b", "invalid character ':'"},
                      BadId{"spiffe://cluster.local", "path must be"},
                      BadId{"spiffe://cluster.local/ns/a", "path must be"},
                      BadId{"spiffe://cluster.local/ns/a/sa/b/extra", "path must be"},
                      BadId{"spiffe://cluster.local/ns//sa/b", "empty path segment"},
                      BadId{"spiffe://cluster.local/ns/../sa/b", "'..' is not allowed"},
                      BadId{"spiffe://cluster.local/ns/a/sa/b?x=1", "invalid character '?'"},
                      BadId{"spiffe://cluster.local/namespace/a/sa/b", "path must be"}));

}  // namespace
}  // namespace ambit
