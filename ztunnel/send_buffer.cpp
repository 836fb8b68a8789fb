#include "ztunnel/send_buffer.h"

#include <algorithm>
#include <cstring>

namespace ambit::ztunnel {
namespace {

// Drained blocks kept for reuse by this thread's streams, so a steady transfer does not malloc and
// free 64 KiB per read. Bounded: after a burst a worker keeps at most this much, whatever the
// number of streams it carried.
constexpr size_t kSpareBlocks = 8;
constexpr size_t kSpareSmallBlocks = 64;
thread_local std::vector<std::unique_ptr<uint8_t[]>> spare_blocks;
thread_local std::vector<std::unique_ptr<uint8_t[]>> spare_small_blocks;

std::vector<std::unique_ptr<uint8_t[]>>& spares(size_t capacity) {
  return capacity == SendBuffer::kBlockSize ? spare_blocks : spare_small_blocks;
}

std::unique_ptr<uint8_t[]> take_block(size_t capacity) {
  auto& spare = spares(capacity);
  if (spare.empty()) {
    // Uninitialised on purpose: every byte is written before it is read.
    return std::make_unique_for_overwrite<uint8_t[]>(capacity);
  }
  auto block = std::move(spare.back());
  spare.pop_back();
  return block;
}

void give_back(std::unique_ptr<uint8_t[]> block, size_t capacity) {
  auto& spare = spares(capacity);
  size_t bound = capacity == SendBuffer::kBlockSize ? kSpareBlocks : kSpareSmallBlocks;
  if (spare.size() < bound) spare.push_back(std::move(block));
}

}  // namespace

SendBuffer::~SendBuffer() {
  for (auto& b : blocks_) give_back(std::move(b.data), b.capacity);
}

void SendBuffer::append(std::span<const uint8_t> data) {
  while (!data.empty()) {
    if (blocks_.empty() || blocks_.back().end == blocks_.back().capacity) {
      // Small only as the first block of a small write; after it, full-size frames.
      size_t capacity = blocks_.empty() && data.size() <= kSmallBlockSize - kHeadroom
                            ? kSmallBlockSize
                            : kBlockSize;
      blocks_.push_back(Block{take_block(capacity), capacity});
    }
    Block& tail = blocks_.back();
    size_t n = std::min(data.size(), tail.capacity - tail.end);
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
    give_back(std::move(head.data), head.capacity);
    blocks_.erase(blocks_.begin());
  }
}

}  // namespace ambit::ztunnel
