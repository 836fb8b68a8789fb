#include "tests/e2e/netlab/packet_capture.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/netns.h"

namespace ambit::netlab {

PacketCapture::PacketCapture(std::string netns_path, Limits limits)
    : netns_path_(std::move(netns_path)), limits_(limits) {}

PacketCapture::~PacketCapture() { stop(); }

Status PacketCapture::start() {
  if (running_) return Status();
  auto ns = NetnsHandle::open(netns_path_);
  if (!ns) return ns.error();
  auto fd = in_netns(*ns, [&]() -> Result<int> {
    int s = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (s < 0) return Error::format("AF_PACKET socket: {}", std::strerror(errno));
    return s;
  });
  if (!fd) return fd.error();
  socket_.reset(*fd);
  int rcvbuf = 16 << 20;
  ::setsockopt(socket_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
  wakeup_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  running_ = true;
  thread_ = std::thread([this] { run(); });
  return Status();
}

void PacketCapture::stop() {
  if (!thread_.joinable()) return;
  running_ = false;
  uint64_t one = 1;
  (void)!::write(wakeup_.get(), &one, sizeof(one));
  thread_.join();
  socket_.reset();
}

void PacketCapture::run() {
  // veth frames can be GSO super-frames well above the MTU.
  std::vector<uint8_t> buf(256 * 1024);
  auto deadline = std::chrono::steady_clock::now() + limits_.max_duration;
  while (running_ && std::chrono::steady_clock::now() < deadline) {
    pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {wakeup_.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, 200);
    if (n < 0 && errno != EINTR) break;
    // Stopping: take what the socket already holds first, so frames of the exchange that just
    // finished are counted even if stop() came before this thread saw them.
    bool stopping = fds[1].revents != 0;
    if (!stopping && !(fds[0].revents & POLLIN)) continue;
    // Drain what is queued before polling again.
    for (;;) {
      sockaddr_ll from{};
      socklen_t from_len = sizeof(from);
      ssize_t len = ::recvfrom(socket_.get(), buf.data(), buf.size(), MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
      if (len < 0) break;
      // Each frame crossing the bridge is seen entering one port and leaving another: keep only
      // the entering copy.
      if (from.sll_pkttype == PACKET_OUTGOING) continue;
      record(buf.data(), std::min(static_cast<size_t>(len), buf.size()));
    }
    if (stopping) break;
  }
  running_ = false;
}

void PacketCapture::record(const uint8_t* frame, size_t len) {
  std::lock_guard lock(mu_);
  ++frames_;
  bytes_ += len;
  if (kept_.size() + len <= limits_.max_bytes) kept_.append(reinterpret_cast<const char*>(frame), len);
  if (len < 14) return;
  uint16_t ethertype = static_cast<uint16_t>(frame[12] << 8 | frame[13]);
  size_t l4 = 0;
  uint8_t proto = 0;
  if (ethertype == ETH_P_IP && len >= 14 + 20) {
    l4 = 14 + (frame[14] & 0x0f) * 4u;
    proto = frame[14 + 9];
  } else if (ethertype == ETH_P_IPV6 && len >= 14 + 40) {
    l4 = 14 + 40;  // extension headers are not followed; enough for our traffic
    proto = frame[14 + 6];
  }
  if (proto == IPPROTO_TCP && len >= l4 + 4) {
    uint16_t sport = static_cast<uint16_t>(frame[l4] << 8 | frame[l4 + 1]);
    uint16_t dport = static_cast<uint16_t>(frame[l4 + 2] << 8 | frame[l4 + 3]);
    tcp_ports_.emplace(sport, dport);
  }
}

uint64_t PacketCapture::frames() const {
  std::lock_guard lock(mu_);
  return frames_;
}

uint64_t PacketCapture::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

bool PacketCapture::contains(std::string_view needle) const {
  std::lock_guard lock(mu_);
  return std::string_view(kept_).find(needle) != std::string_view::npos;
}

std::set<std::pair<uint16_t, uint16_t>> PacketCapture::tcp_ports() const {
  std::lock_guard lock(mu_);
  return tcp_ports_;
}

bool PacketCapture::saw_tcp_port(uint16_t port) const {
  std::lock_guard lock(mu_);
  for (const auto& [s, d] : tcp_ports_) {
    if (s == port || d == port) return true;
  }
  return false;
}

}  // namespace ambit::netlab
