#include "core/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"

namespace ambit {
namespace {

using namespace std::chrono_literals;

// Points fd 2 at a temporary file for the test's lifetime, so the real stderr sink is tested.
class CapturedStderr {
 public:
  CapturedStderr() {
    char name[] = "/tmp/ambit-log-test-XXXXXX";
    UniqueFd file(mkstemp(name));
    path_ = name;
    std::fflush(stderr);
    saved_.reset(dup(STDERR_FILENO));
    dup2(file.get(), STDERR_FILENO);
  }
  ~CapturedStderr() {
    restore();
    unlink(path_.c_str());
  }
  void restore() {
    if (!saved_.valid()) return;
    std::fflush(stderr);
    dup2(saved_.get(), STDERR_FILENO);
    saved_.reset();
  }
  std::vector<std::string> lines() const {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  std::string path_;
  UniqueFd saved_;
};

TEST(Logging, LinesFromManyThreadsArriveIntactAndAllBeforeShutdownReturns) {
  constexpr int kThreads = 8, kLines = 2000;
  CapturedStderr captured;
  {
    Logging logging("info", nullptr, kThreads * kLines);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < kLines; ++i)
          spdlog::info("thread={} line={} {}", t, i, std::string(40, 'x'));
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(logging.dropped_lines(), 0u);
  }  // every queued line must be on stderr once this returns
  captured.restore();
  auto lines = captured.lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  std::map<int, int> next;  // per thread, the next line number expected: order is kept
  for (const auto& line : lines) {
    int t = -1, i = -1;
    auto at = line.find(" info thread=");
    ASSERT_NE(at, std::string::npos) << line;
    ASSERT_EQ(std::sscanf(line.c_str() + at, " info thread=%d line=%d", &t, &i), 2) << line;
    EXPECT_EQ(line.substr(line.size() - 41), " " + std::string(40, 'x')) << line;
    EXPECT_EQ(i, next[t]) << line;
    next[t] = i + 1;
  }
}

// A sink stuck on a slow stderr (a full pipe): it writes nothing until opened.
class GatedSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void open() {
    std::lock_guard lock(gate_mutex_);
    open_ = true;
    opened_.notify_all();
  }
  size_t written() {
    std::lock_guard lock(gate_mutex_);
    return written_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg&) override {
    std::unique_lock lock(gate_mutex_);
    opened_.wait(lock, [this] { return open_; });
    ++written_;
  }
  void flush_() override {}

 private:
  std::mutex gate_mutex_;
  std::condition_variable opened_;
  bool open_ = false;
  size_t written_ = 0;
};

TEST(Logging, AFullQueueDropsAndCountsInsteadOfBlockingTheCaller) {
  constexpr size_t kLines = 1000;
  auto sink = std::make_shared<GatedSink>();
  uint64_t dropped = 0;
  {
    Logging logging("info", sink, 16);
    auto done = std::async(std::launch::async, [] {
      for (size_t i = 0; i < kLines; ++i) spdlog::info("line {}", i);
    });
    bool returned = done.wait_for(10s) == std::future_status::ready;
    sink->open();  // lets a blocked caller finish, so a failure ends the test instead of hanging
    done.wait();
    EXPECT_TRUE(returned) << "logging blocked while the sink was stuck";
    dropped = logging.dropped_lines();
    EXPECT_GT(dropped, 0u);
  }
  EXPECT_EQ(sink->written() + dropped, kLines);
}

}  // namespace
}  // namespace ambit
