#include "ztunnel/send_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

namespace ambit::ztunnel {
namespace {

std::vector<uint8_t> counting(size_t n, uint8_t first = 0) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

// Drains the buffer the way the connection does: frames of at most `frame` bytes from the front,
// each with a header written into the room before it.
std::vector<uint8_t> drain(SendBuffer& b, size_t frame) {
  std::vector<uint8_t> out;
  while (b.size() > 0) {
    auto f = b.front();
    EXPECT_FALSE(f.empty());
    size_t n = std::min(frame, f.size());
    std::memset(f.data() - SendBuffer::kHeadroom, 0xEE, SendBuffer::kHeadroom);  // the header
    out.insert(out.end(), f.begin(), f.begin() + static_cast<long>(n));
    b.consume(n);
  }
  return out;
}

TEST(SendBuffer, AFullBlockIsOneFrameOfWholeTlsRecords) {
  SendBuffer b;
  auto data = counting(3 * SendBuffer::kBlockPayload + 100);
  b.append(data);
  EXPECT_EQ(b.size(), data.size());
  EXPECT_EQ(b.blocks(), 4u);
  EXPECT_EQ(b.front().size(), SendBuffer::kBlockPayload);
  EXPECT_EQ((b.front().size() + SendBuffer::kHeadroom) % 16384, 0u);
  EXPECT_EQ(drain(b, SIZE_MAX), data);
  EXPECT_EQ(b.blocks(), 0u);
}

TEST(SendBuffer, HeadersWrittenIntoTheRoomDoNotTouchUnsentBytes) {
  SendBuffer b;
  auto data = counting(200'000, 7);
  // Appended in uneven pieces and drained in frames smaller than a block, interleaved.
  std::vector<uint8_t> out;
  size_t appended = 0;
  while (appended < data.size() || b.size() > 0) {
    size_t n = std::min<size_t>(12'345, data.size() - appended);
    b.append({data.data() + appended, n});
    appended += n;
    auto f = b.front();
    size_t take = std::min<size_t>(f.size(), 5'000);
    std::memset(f.data() - SendBuffer::kHeadroom, 0xEE, SendBuffer::kHeadroom);
    out.insert(out.end(), f.begin(), f.begin() + static_cast<long>(take));
    b.consume(take);
  }
  EXPECT_EQ(out, data);
}

TEST(SendBuffer, ADrainedStreamKeepsNoBlock) {
  SendBuffer b;
  b.append(counting(100));
  EXPECT_EQ(b.blocks(), 1u);
  b.consume(100);
  EXPECT_EQ(b.blocks(), 0u);
  EXPECT_TRUE(b.front().empty());
  b.append(counting(10));
  EXPECT_EQ(b.front().size(), 10u);
}

// A head of a few hundred bytes waits in a 4 KiB block, not a 64 KiB one; what follows it goes
// on in full-size blocks, in order.
TEST(SendBuffer, ASmallFirstWriteTakesASmallBlock) {
  SendBuffer b;
  auto data = counting(100'000, 3);
  b.append({data.data(), 300});
  EXPECT_EQ(b.blocks(), 1u);
  b.append({data.data() + 300, data.size() - 300});
  // The small block filled up (4096 - 9 bytes), then 64 KiB blocks took the rest.
  EXPECT_EQ(b.front().size(), SendBuffer::kSmallBlockSize - SendBuffer::kHeadroom);
  EXPECT_EQ(b.blocks(), 3u);
  EXPECT_EQ(drain(b, 16'000), data);
  EXPECT_EQ(b.blocks(), 0u);
}

}  // namespace
}  // namespace ambit::ztunnel
