#include "ztunnel/send_buffer.h"

#include <algorithm>
#include <cstring>

namespace ambit::ztunnel {
namespace {

// Drained blocks kept for reuse by this thread's streams, so a steady transfer does not malloc and
// free 64 KiB per read. Bounded: after a burst a worker keeps at most this much, whatever the
// number of streams it carried.
constexpr size_t kSpareBlocks = 8;
thread_local std::vector<std::unique_ptr<uint8_t[]>> spare_blocks;

std::unique_ptr<uint8_t[]> take_block() {
  if (spare_blocks.empty()) {
    // Uninitialised on purpose: every byte is written before it is read.
    return std::make_unique_for_overwrite<uint8_t[]>(SendBuffer::kBlockSize);
  }
  auto block = std::move(spare_blocks.back());
  spare_blocks.pop_back();
  return block;
}

void give_back(std::unique_ptr<uint8_t[]> block) {
  if (spare_blocks.size() < kSpareBlocks) spare_blocks.push_back(std::move(block));
}

}  // namespace

SendBuffer::~SendBuffer() {
  for (auto& b : blocks_) give_back(std::move(b.data));
}

void SendBuffer::append(std::span<const uint8_t> data) {
  while (!data.empty()) {
    if (blocks_.empty() || blocks_.back().end == kBlockSize) {
      blocks_.push_back(Block{take_block()});
    }
    Block& tail = blocks_.back();
    size_t n = std::min(data.size(), kBlockSize - tail.end);
    std::memcpy(tail.data.get() + tail.end, data.data(), n);
    tail.end += n;
    size_ += n;
    data = data.subspan(n);
  }
}

std::span<uint8_t> SendBuffer::front() {
  if (blocks_.empty()) return {};
  Block& head = blocks_.front();
  return {head.data.get() + head.begin, head.end - head.begin};
}

void SendBuffer::consume(size_t n) {
  if (n == 0) return;
  Block& head = blocks_.front();
  head.begin += n;
  size_ -= n;
  // A drained head goes, even the one still being filled: a stream that may now stay idle keeps
  // no 64 KiB of its own.
  if (head.begin == head.end) {
    give_back(std::move(head.data));
    blocks_.erase(blocks_.begin());
  }
}

}  // namespace ambit::ztunnel
