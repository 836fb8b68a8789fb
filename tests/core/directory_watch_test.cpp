#include "core/directory_watch.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace ambit {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class DirectoryWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ambit-watch-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  static bool readable(const DirectoryWatch& w, int timeout_ms) {
    pollfd p{w.fd(), POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
  }
  fs::path dir_;
};

TEST_F(DirectoryWatchTest, NamesTheFilesWrittenAndMovedIn) {
  auto watch = DirectoryWatch::open(dir_, DirectoryWatch::Events::kNewContent);
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  EXPECT_FALSE(readable(*watch, 0));
  write("a.yaml", "x: 1\n");
  write("b.tmp", "y: 2\n");
  fs::rename(dir_ / "b.tmp", dir_ / "b.yaml");  // an editor's atomic replace
  ASSERT_TRUE(readable(*watch, 1000));
  auto names = watch->drain();
  EXPECT_NE(std::find(names.begin(), names.end(), "a.yaml"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "b.yaml"), names.end());
  EXPECT_FALSE(readable(*watch, 0)) << "drain() reads every pending event";
}

TEST_F(DirectoryWatchTest, NewContentIgnoresRemovalsAnyChangeDoesNot) {
  write("a.yaml", "x: 1\n");
  auto content = DirectoryWatch::open(dir_, DirectoryWatch::Events::kNewContent);
  auto any = DirectoryWatch::open(dir_, DirectoryWatch::Events::kAnyChange);
  ASSERT_TRUE(content.ok() && any.ok());
  fs::remove(dir_ / "a.yaml");
  ASSERT_TRUE(readable(*any, 1000));
  EXPECT_EQ(any->drain(), std::vector<std::string>{"a.yaml"});
  EXPECT_FALSE(readable(*content, 50));
}

TEST_F(DirectoryWatchTest, MissingDirectoryIsAnError) {
  auto watch = DirectoryWatch::open(dir_ / "nope", DirectoryWatch::Events::kAnyChange);
  ASSERT_FALSE(watch.ok());
  EXPECT_NE(watch.error().message.find("nope"), std::string::npos) << watch.error().message;
}

TEST_F(DirectoryWatchTest, ThreadCallsBackOncePerBurst) {
  std::atomic<int> calls{0};
  auto watch = DirectoryWatchThread::start(dir_, [&calls] { calls.fetch_add(1); });
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  for (int i = 0; i < 5; ++i) write("a.yaml", std::to_string(i));
  for (int i = 0; i < 200 && calls.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_GE(calls.load(), 1);
  EXPECT_LT(calls.load(), 5) << "the settle folds a burst of writes into few callbacks";
  watch->reset();  // stops and joins; no callback after this
  int after = calls.load();
  write("b.yaml", "z");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(calls.load(), after);
}

}  // namespace
}  // namespace ambit
