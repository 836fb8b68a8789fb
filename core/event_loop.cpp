#include "core/event_loop.h"

#include <sys/eventfd.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>

#include <cstring>

namespace ambit {

Result<std::unique_ptr<BufferRing>> BufferRing::create(io_uring* ring, uint16_t group,
                                                       uint32_t count, uint32_t size) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
    return Error::format("buffer ring size {} must be a power of two up to 32768", count);
  }
  std::unique_ptr<BufferRing> self(new BufferRing());
  self->ring_ = ring;
  self->group_ = group;
  self->count_ = count;
  self->size_ = size;
  // liburing 2.3 has no io_uring_setup_buf_ring: map the ring and register it by hand.
  self->br_bytes_ = count * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, self->br_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
                   -1, 0);
  if (mem == MAP_FAILED) return Error::format("mmap buffer ring: {}", std::strerror(errno));
  self->br_ = static_cast<io_uring_buf_ring*>(mem);
  // Untouched pages of the storage cost no memory until a receive lands in them.
  self->storage_bytes_ = static_cast<size_t>(count) * size;
  mem = mmap(nullptr, self->storage_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
             -1, 0);
  if (mem == MAP_FAILED) return Error::format("mmap receive buffers: {}", std::strerror(errno));
  self->storage_ = static_cast<uint8_t*>(mem);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(self->br_);
  reg.ring_entries = count;
  reg.bgid = group;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc != 0) return Error::format("io_uring_register_buf_ring: {}", std::strerror(-rc));
  io_uring_buf_ring_init(self->br_);
  int mask = io_uring_buf_ring_mask(count);
  for (uint32_t i = 0; i < count; ++i) {
    io_uring_buf_ring_add(self->br_, self->buffer(static_cast<uint16_t>(i)), size,
                          static_cast<uint16_t>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(self->br_, static_cast<int>(count));
  return self;
}

BufferRing::~BufferRing() {
  if (ring_ && br_) io_uring_unregister_buf_ring(ring_, group_);
  if (br_) munmap(br_, br_bytes_);
  if (storage_) munmap(storage_, storage_bytes_);
}

void BufferRing::recycle(uint16_t id) {
  io_uring_buf_ring_add(br_, buffer(id), size_, id, io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
}

Result<std::unique_ptr<EventLoop>> EventLoop::create(const EventLoopOptions& options) {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  params.cq_entries = options.entries * 4;
  int rc = io_uring_queue_init_params(options.entries, &loop->ring_, &params);
  if (rc != 0) return Error::format("io_uring_queue_init: {}", std::strerror(-rc));
  loop->ring_ready_ = true;
  auto buffers =
      BufferRing::create(&loop->ring_, 1, options.recv_buffers, options.recv_buffer_size);
  if (!buffers) return buffers.error();
  loop->buffers_ = std::move(*buffers);
  loop->wake_fd_.reset(eventfd(0, EFD_CLOEXEC));
  if (!loop->wake_fd_.valid()) return Error::format("eventfd: {}", std::strerror(errno));
  loop->arm_wake();
  return loop;
}

EventLoop::~EventLoop() {
  buffers_.reset();
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

io_uring_sqe* EventLoop::sqe(Completion* completion) {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  io_uring_sqe_set_data(s, completion);
  return s;
}

void EventLoop::run() {
  exit_ = false;
  while (!exit_) {
    int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      SPDLOG_ERROR("io_uring_submit_and_wait: {}", std::strerror(-rc));
      return;
    }
    io_uring_cqe* cqe;
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      auto* c = reinterpret_cast<Completion*>(io_uring_cqe_get_data(cqe));
      if (c != nullptr) c->complete(cqe->res, cqe->flags);
    }
    io_uring_cq_advance(&ring_, seen);
    while (!deferred_.empty()) {
      running_deferred_.swap(deferred_);
      for (Completion* c : running_deferred_) c->complete(0, 0);
      running_deferred_.clear();
    }
  }
  io_uring_submit(&ring_);
}

void EventLoop::post(std::function<void()> task) {
  {
    std::lock_guard lock(tasks_mutex_);
    tasks_.push_back(std::move(task));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof(one));
}

void EventLoop::arm_wake() {
  auto* s = sqe(&wake_completion_);
  io_uring_prep_read(s, wake_fd_.get(), &wake_value_, sizeof(wake_value_), 0);
}

void EventLoop::on_wake(int res, uint32_t) {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(tasks_mutex_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
  if (res >= 0 || res == -EINTR) arm_wake();
}

void EventLoop::arm_timer(Completion* completion, __kernel_timespec* ts) {
  auto* s = sqe(completion);
  io_uring_prep_timeout(s, ts, 0, 0);
}

void EventLoop::cancel(Completion* target) {
  auto* s = sqe(nullptr);
  io_uring_prep_cancel(s, target, 0);
}

void EventLoop::cancel_fd(int fd) {
  auto* s = sqe(nullptr);
  io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
}

}  // namespace ambit
