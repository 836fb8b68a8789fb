#include "agent/pod_records.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ambit::agent {
namespace {

class PodRecordsTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string root_ = "/tmp/ambit-pod-records-" + std::to_string(getpid());
  PodRecords records_{root_ + "/ebpf"};
};

TEST_F(PodRecordsTest, RoundTripsEveryField) {
  PodRecord r{{"shop/web", "/run/netns/web", "/sys/fs/cgroup/unified/web",
               {*IpAddress::parse("10.244.0.10"), *IpAddress::parse("fd00::10")}},
              4026532000UL,
              {{"ipv6", "1"}}};
  ASSERT_TRUE(records_.write(r).ok());
  struct stat st {};
  ASSERT_EQ(::stat(records_.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "records are the node's capture state: owner only";

  auto back = records_.read("shop/web");
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_TRUE(back->has_value());
  const PodRecord& got = **back;
  EXPECT_EQ(got.pod.uid, "shop/web");
  EXPECT_EQ(got.pod.netns_path, "/run/netns/web");
  EXPECT_EQ(got.pod.cgroup_path, "/sys/fs/cgroup/unified/web");
  EXPECT_EQ(got.pod.addresses, r.pod.addresses);
  EXPECT_EQ(got.netns_inode, 4026532000UL);
  EXPECT_EQ(got.notes.at("ipv6"), "1");
  EXPECT_EQ(records_.uids(), std::vector<std::string>{"shop/web"});
}

TEST_F(PodRecordsTest, MissingRecordIsNotAnError) {
  auto r = records_.read("shop/none");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_TRUE(records_.remove("shop/none").ok());
  EXPECT_TRUE(records_.uids().empty());
}

TEST_F(PodRecordsTest, RemoveAndRemoveAllLeaveNothing) {
  ASSERT_TRUE(records_.write({{"a/one", "/n1", "/c1", {}}, 1, {}}).ok());
  ASSERT_TRUE(records_.write({{"b/two", "/n2", "/c2", {}}, 2, {}}).ok());
  // An interrupted write's temporary file is not a record, but remove_all takes it too.
  std::ofstream(records_.dir() + "/c_three.pod.tmp") << "uid=c/three\n";
  EXPECT_EQ(records_.uids(), (std::vector<std::string>{"a/one", "b/two"}));
  ASSERT_TRUE(records_.remove("a/one").ok());
  EXPECT_EQ(records_.all().size(), 1u);
  ASSERT_TRUE(records_.remove_all().ok());
  EXPECT_FALSE(std::filesystem::exists(records_.dir()));
}

TEST_F(PodRecordsTest, ARecordOfAnotherPodIsRefused) {
  ASSERT_TRUE(records_.write({{"a/one", "/n1", "/c1", {}}, 1, {}}).ok());
  std::filesystem::copy_file(records_.dir() + "/a_one.pod", records_.dir() + "/a_two.pod");
  auto r = records_.read("a/two");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a record of a/two"), std::string::npos) << r.error().message;
}

TEST(PodRecordsNames, UidsEncodeToOnePathComponentAndBack) {
  EXPECT_EQ(PodRecords::encode("shop/web-1.v2"), "shop_web-1.v2");
  EXPECT_EQ(PodRecords::decode("shop_web-1.v2"), "shop/web-1.v2");
}

}  // namespace
}  // namespace ambit::agent
