// One io_uring per worker thread (SINGLE_ISSUER | DEFER_TASKRUN). Every operation carries a
// pointer to a Completion as its user_data; the loop hands each CQE to it. Nothing here locks
// except the cross-thread task queue, which the data path never uses.
#pragma once

#include <liburing.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit {

class Completion {
 public:
  virtual void complete(int res, uint32_t flags) = 0;

 protected:
  ~Completion() = default;
};

// Calls a member function of T on completion, so one object can own several operations.
template <typename T, void (T::*Method)(int, uint32_t)>
class MemberCompletion final : public Completion {
 public:
  explicit MemberCompletion(T* self) : self_(self) {}
  void complete(int res, uint32_t flags) override { (self_->*Method)(res, flags); }

 private:
  T* self_;
};

// Kernel-provided receive buffers (IORING_REGISTER_PBUF_RING) shared by all sockets of a loop:
// an idle connection holds no receive buffer at all.
class BufferRing {
 public:
  static Result<std::unique_ptr<BufferRing>> create(io_uring* ring, uint16_t group, uint32_t count,
                                                    uint32_t size);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t group() const { return group_; }
  uint32_t buffer_size() const { return size_; }
  uint8_t* buffer(uint16_t id) { return storage_ + static_cast<size_t>(id) * size_; }
  void recycle(uint16_t id);

 private:
  BufferRing() = default;
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  uint8_t* storage_ = nullptr;
  size_t storage_bytes_ = 0;
  uint16_t group_ = 0;
  uint32_t count_ = 0;
  uint32_t size_ = 0;
};

struct EventLoopOptions {
  unsigned entries = 1024;
  uint32_t recv_buffers = 128;       // per loop; must be a power of two
  uint32_t recv_buffer_size = 16384;  // one TLS record
};

class EventLoop {
 public:
  static Result<std::unique_ptr<EventLoop>> create(const EventLoopOptions& options = {});
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Never null: when the submission queue is full it is flushed first.
  io_uring_sqe* sqe(Completion* completion);
  BufferRing& recv_buffers() { return *buffers_; }

  // Runs until exit() is called from inside the loop.
  void run();
  void exit() { exit_ = true; }

  // Thread-safe: queue a task for the loop thread and wake it.
  void post(std::function<void()> task);

  // Runs completion->complete(0, 0) once the current batch of completions has been handled,
  // before the next submit: writes made while handling one batch leave in one send.
  void defer(Completion* completion) { deferred_.push_back(completion); }

  // One-shot timer. Re-arming a pending timer is not allowed; cancel it first.
  void arm_timer(Completion* completion, __kernel_timespec* ts);
  void cancel(Completion* target);  // completes target with -ECANCELED if still pending
  void cancel_fd(int fd);           // cancels every pending operation on fd


 private:
  EventLoop() = default;
  void on_wake(int res, uint32_t flags);
  void arm_wake();

  io_uring ring_{};
  bool ring_ready_ = false;
  std::unique_ptr<BufferRing> buffers_;
  UniqueFd wake_fd_;
  uint64_t wake_value_ = 0;
  MemberCompletion<EventLoop, &EventLoop::on_wake> wake_completion_{this};
  std::mutex tasks_mutex_;
  std::vector<std::function<void()>> tasks_;
  std::vector<Completion*> deferred_;
  std::vector<Completion*> running_deferred_;
  bool exit_ = false;
};

// Converts a duration to io_uring's timespec.
inline __kernel_timespec to_timespec(std::chrono::nanoseconds d) {
  __kernel_timespec ts{};
  ts.tv_sec = static_cast<int64_t>(d.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long long>(d.count() % 1'000'000'000);
  return ts;
}

}  // namespace ambit
