#include "core/tcp_socket.h"

#include <netinet/tcp.h>
#include <spdlog/spdlog.h>

#include <cstring>

namespace ambit {

TcpSocket::TcpSocket(EventLoop& loop, UniqueFd fd, Handler* handler)
    : loop_(loop), fd_(std::move(fd)), handler_(handler) {
  int one = 1;
  setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

Result<UniqueFd> TcpSocket::open_stream_socket(int family) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error::format("socket: {}", std::strerror(errno));
  return fd;
}

void TcpSocket::connect(const SocketAddress& to, std::chrono::milliseconds timeout) {
  socklen_t len = to.to_sockaddr(&connect_addr_);
  connect_timeout_ = to_timespec(timeout);
  auto* s = loop_.sqe(&connect_op_);
  io_uring_prep_connect(s, fd_.get(), reinterpret_cast<sockaddr*>(&connect_addr_), len);
  s->flags |= IOSQE_IO_LINK;
  auto* t = loop_.sqe(nullptr);
  io_uring_prep_link_timeout(t, &connect_timeout_, 0);
  ++inflight_;
  connecting_ = true;
}

void TcpSocket::on_connect(int res, uint32_t) {
  --inflight_;
  connecting_ = false;
  if (closing_) return maybe_release();
  handler_->on_connected(*this, res == -ECANCELED ? -ETIMEDOUT : res);
  // Whatever was written while connecting (early tunnel data) goes out now.
  if (res == 0 && !closing_ && !send_armed_) flush();
}

void TcpSocket::start_reading() {
  want_read_ = true;
  if (!recv_armed_ && !read_closed_ && !closing_) arm_recv();
}

void TcpSocket::pause_reading() {
  if (!want_read_) return;
  want_read_ = false;
  // Data already received keeps arriving until the cancel lands; the handler buffers it.
  if (recv_armed_) loop_.cancel(&recv_op_);
}

void TcpSocket::arm_recv() {
  auto* s = loop_.sqe(&recv_op_);
  io_uring_prep_recv_multishot(s, fd_.get(), nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = loop_.recv_buffers().group();
  recv_armed_ = true;
  ++inflight_;
}

void TcpSocket::on_recv(int res, uint32_t flags) {
  bool more = (flags & IORING_CQE_F_MORE) != 0;
  if (!more) {
    recv_armed_ = false;
    --inflight_;
  }
  if (flags & IORING_CQE_F_BUFFER) {
    auto id = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    if (res > 0 && !closing_ && !read_closed_) {
      bytes_read_ += static_cast<uint64_t>(res);
      handler_->on_data(*this, {loop_.recv_buffers().buffer(id), static_cast<size_t>(res)});
    }
    loop_.recv_buffers().recycle(id);
  }
  if (closing_) return maybe_release();
  if (res == 0 || (res < 0 && res != -ENOBUFS && res != -ECANCELED)) {
    if (!read_closed_) {
      read_closed_ = true;
      handler_->on_read_closed(*this, res);
    }
    return;
  }
  if (!recv_armed_ && want_read_ && !read_closed_ && !closing_) arm_recv();
}

void TcpSocket::write(std::span<const uint8_t> data) {
  if (closing() || data.empty()) return;
  queued_.insert(queued_.end(), data.begin(), data.end());
  if (write_backlog() >= kHighWater) was_above_high_ = true;
  if (!send_armed_ && !connecting_) schedule_flush();
}

void TcpSocket::schedule_flush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  ++inflight_;  // the socket is not released while a flush is pending
  loop_.defer(&flush_task_);
}

void TcpSocket::on_deferred_flush(int, uint32_t) {
  flush_scheduled_ = false;
  --inflight_;
  if (closing_) return maybe_release();
  if (!send_armed_ && !connecting_) flush();
}

void TcpSocket::commit_written() {
  if (closing()) {
    queued_.clear();
    return;
  }
  if (write_backlog() >= kHighWater) was_above_high_ = true;
  if (!send_armed_ && !connecting_) schedule_flush();
}

void TcpSocket::flush() {
  if (sent_ == sending_.size()) {
    sending_.clear();
    sent_ = 0;
    sending_.swap(queued_);
  }
  if (sending_.empty()) {
    if (shutdown_after_flush_) {
      shutdown_after_flush_ = false;
      ::shutdown(fd_.get(), SHUT_WR);
    }
    if (close_after_flush_) {
      close_after_flush_ = false;
      close(CloseMode::kGraceful);
    }
    return;
  }
  auto* s = loop_.sqe(&send_op_);
  io_uring_prep_send(s, fd_.get(), sending_.data() + sent_, sending_.size() - sent_, MSG_NOSIGNAL);
  send_armed_ = true;
  ++inflight_;
}

void TcpSocket::on_send(int res, uint32_t) {
  send_armed_ = false;
  --inflight_;
  if (closing_) return maybe_release();
  if (res < 0) {
    sending_.clear();
    queued_.clear();
    sent_ = 0;
    close_after_flush_ = false;
    handler_->on_write_error(*this, res);
    return;
  }
  sent_ += static_cast<size_t>(res);
  bytes_written_ += static_cast<uint64_t>(res);
  flush();
  if (was_above_high_ && write_backlog() <= kLowWater && !closing_) {
    was_above_high_ = false;
    handler_->on_writable(*this);
  }
}

void TcpSocket::shutdown_write() {
  if (closing_) return;
  if (write_backlog() == 0 && !send_armed_ && !connecting_ && !flush_scheduled_) {
    ::shutdown(fd_.get(), SHUT_WR);
  } else {
    shutdown_after_flush_ = true;
  }
}

void TcpSocket::close(CloseMode mode) {
  if (closing_) return;
  if (mode == CloseMode::kGraceful && (write_backlog() > 0 || send_armed_)) {
    close_after_flush_ = true;
    return;
  }
  closing_ = true;
  want_read_ = false;
  if (mode == CloseMode::kReset) {
    // SO_LINGER 0 now; the RST goes out when the fd is finally closed.
    linger lg{1, 0};
    setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  // Cancel whatever is pending; the fd is closed only when nothing refers to it any more. The
  // cancel itself counts as pending, so release always happens from a completion, never inside
  // the caller's stack.
  auto* s = loop_.sqe(&cancel_op_);
  io_uring_prep_cancel_fd(s, fd_.get(), IORING_ASYNC_CANCEL_ALL);
  ++inflight_;
}

void TcpSocket::on_cancelled(int, uint32_t) {
  --inflight_;
  maybe_release();
}

void TcpSocket::maybe_release() {
  if (!closing_ || released_ || inflight_ > 0) return;
  released_ = true;
  fd_.reset();
  handler_->on_released(*this);
}

void reset_and_close(UniqueFd fd) {
  linger lg{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

Result<std::unique_ptr<Listener>> Listener::bind(EventLoop& loop, const SocketAddress& address,
                                                 const Options& options, AcceptFn on_accept) {
  std::unique_ptr<Listener> l(new Listener(loop));
  l->on_accept_ = std::move(on_accept);
  auto fd = TcpSocket::open_stream_socket(address.family());
  if (!fd) return fd.error();
  l->fd_ = std::move(*fd);
  int one = 1;
  setsockopt(l->fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (options.reuse_port) setsockopt(l->fd_.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (options.transparent &&
      setsockopt(l->fd_.get(), SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) != 0) {
    return Error::format("listener {}: IP_TRANSPARENT: {}", address.to_string(),
                         std::strerror(errno));
  }
  sockaddr_storage ss;
  socklen_t len = address.to_sockaddr(&ss);
  if (::bind(l->fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return Error::format("listener {}: bind: {}", address.to_string(), std::strerror(errno));
  }
  if (::listen(l->fd_.get(), options.backlog) != 0) {
    return Error::format("listener {}: listen: {}", address.to_string(), std::strerror(errno));
  }
  auto bound = SocketAddress::local_of(l->fd_.get());
  l->address_ = bound ? *bound : address;
  return l;
}

Listener::~Listener() = default;

void Listener::start() {
  if (armed_ || stopped_) return;
  auto* s = loop_.sqe(&accept_op_);
  io_uring_prep_multishot_accept(s, fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  armed_ = true;
}

void Listener::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (armed_) {
    loop_.cancel(&accept_op_);
  } else {
    fd_.reset();
  }
}

void Listener::on_accept(int res, uint32_t flags) {
  if (!(flags & IORING_CQE_F_MORE)) armed_ = false;
  if (res >= 0) {
    UniqueFd fd(res);
    if (!stopped_) on_accept_(std::move(fd));
  } else if (res != -ECANCELED) {
    SPDLOG_WARN("accept on {}: {}", address_.to_string(), std::strerror(-res));
  }
  if (!armed_) {
    if (stopped_) {
      fd_.reset();
    } else {
      start();
    }
  }
}

}  // namespace ambit
