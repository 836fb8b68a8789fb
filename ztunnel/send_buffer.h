// What an HBONE stream has taken from its relay and not yet sent: bytes in 64 KiB blocks, each
// kept with kHeadroom writable bytes in front of its unsent part. The connection writes the DATA
// frame header (9 bytes) into that room, so header and payload reach TLS as one write: a full
// block is one frame of 65,527 bytes, 65,536 with its header, four full 16 KiB TLS records.
// Nothing moves once appended (no compaction), and a drained block leaves the stream at once, so
// an idle stream holds no buffer at all; each thread keeps a few drained blocks for reuse.
// A stream that starts with a small write (a request or response head, a short message) gets a
// 4 KiB block first: a thousand streams each waiting with a few hundred bytes then hold 4 MiB, not
// 64 (heaptrack under 1,000 HTTP/1.1 clients through the waypoint put 52 of its 62 MB peak heap in
// such blocks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace ambit::ztunnel {

class SendBuffer {
 public:
  static constexpr size_t kBlockSize = 64 * 1024;
  static constexpr size_t kHeadroom = 9;  // an HTTP/2 frame header
  static constexpr size_t kBlockPayload = kBlockSize - kHeadroom;
  static constexpr size_t kSmallBlockSize = 4 * 1024;

  SendBuffer() = default;
  SendBuffer(const SendBuffer&) = delete;
  SendBuffer& operator=(const SendBuffer&) = delete;
  ~SendBuffer();

  void append(std::span<const uint8_t> data);
  // The unsent bytes at the front that lie in one block (empty when nothing is buffered). The
  // kHeadroom bytes before front().data() belong to the buffer and may be overwritten.
  std::span<uint8_t> front();
  // n <= front().size() bytes of the front were sent.
  void consume(size_t n);
  size_t size() const { return size_; }
  size_t blocks() const { return blocks_.size(); }

 private:
  struct Block {
    std::unique_ptr<uint8_t[]> data;
    size_t capacity = kBlockSize;  // kBlockSize or kSmallBlockSize
    size_t begin = kHeadroom;      // first unsent byte
    size_t end = kHeadroom;        // one past the last byte appended
  };
  std::vector<Block> blocks_;  // a handful at most: the stream's high-water mark bounds them
  size_t size_ = 0;
};

}  // namespace ambit::ztunnel
