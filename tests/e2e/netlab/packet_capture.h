// Captures every frame entering a bridge's ports in one network namespace (an AF_PACKET socket
// opened inside it) into memory, bounded in bytes and time. Used to check what crosses the
// node-to-node link: plaintext markers, TCP ports.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit::netlab {

class PacketCapture {
 public:
  struct Limits {
    size_t max_bytes = 64 << 20;                         // frames beyond this are counted only
    std::chrono::milliseconds max_duration = std::chrono::seconds(120);
  };
  PacketCapture(std::string netns_path, Limits limits);
  PacketCapture(std::string netns_path) : PacketCapture(std::move(netns_path), Limits{}) {}
  ~PacketCapture();
  PacketCapture(const PacketCapture&) = delete;
  PacketCapture& operator=(const PacketCapture&) = delete;

  // The socket exists (and sees frames) once start() returns.
  Status start();
  void stop();

  uint64_t frames() const;
  uint64_t bytes() const;  // bytes of all frames seen, including those not kept
  bool contains(std::string_view needle) const;
  // TCP (source, destination) ports of the IPv4/IPv6 frames seen.
  std::set<std::pair<uint16_t, uint16_t>> tcp_ports() const;
  bool saw_tcp_port(uint16_t port) const;

 private:
  void run();
  void record(const uint8_t* frame, size_t len);

  std::string netns_path_;
  Limits limits_;
  UniqueFd socket_, wakeup_;
  std::thread thread_;
  std::atomic<bool> running_{false};

  mutable std::mutex mu_;
  std::string kept_;  // frames back to back
  uint64_t frames_ = 0, bytes_ = 0;
  std::set<std::pair<uint16_t, uint16_t>> tcp_ports_;
};

}  // namespace ambit::netlab
