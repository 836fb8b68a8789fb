// The control channel's framing arrives from any peer that completed the mTLS handshake: agents
// and waypoints send it to the push server, the controller sends it to every control client. The
// input is a byte stream as read from the connection. Checks, besides not crashing:
//   - the decoder gives the same frames (and the same verdict) whether the stream arrives whole
//     or in pieces, as TLS records cut it;
//   - an Update parsed from a frame and encoded again by encode_update_frame (the push server's
//     hand-written encoder) is exactly one frame and decodes to the same Update.
// Seeds: corpus/control_channel/, written by control_channel_seeds (see that file).
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "ambit/v1/control.pb.h"
#include "control/control_channel.h"

namespace {

using ambit::control::encode_update_frame;
using ambit::control::split_frames;
using ambit::control::UpdateParts;

// Map fields serialize in hash order unless asked otherwise.
std::string canonical(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

struct Decoded {
  std::vector<std::string> frames;
  bool failed = false;
  std::string left;  // bytes of an incomplete frame (or from the refused length on)
};

Decoded decode_whole(const std::string& stream) {
  Decoded d;
  d.left = stream;
  d.failed = !split_frames(d.left, d.frames).ok();
  return d;
}

// Piece sizes come from the stream itself, so the fuzzer steers them too.
Decoded decode_in_pieces(const std::string& stream) {
  Decoded d;
  size_t off = 0;
  while (off < stream.size() && !d.failed) {
    size_t piece =
        std::min<size_t>(stream.size() - off, 1 + static_cast<unsigned char>(stream[off]) % 61);
    d.left.append(stream, off, piece);
    off += piece;
    d.failed = !split_frames(d.left, d.frames).ok();
  }
  return d;
}

void check_update_round_trip(const ambit::v1::Update& update) {
  // The fields encode_update_frame carries (unknown top-level fields are not among them).
  ambit::v1::Update known;
  known.set_version(update.version());
  known.set_snapshot(update.snapshot());
  known.set_base_version(update.base_version());
  *known.mutable_added() = update.added();
  *known.mutable_removed() = update.removed();

  std::vector<std::string> added;
  added.reserve(update.added_size());
  for (const auto& r : update.added()) added.push_back(r.SerializeAsString());
  UpdateParts parts;
  parts.version = update.version();
  parts.base_version = update.base_version();
  parts.snapshot = update.snapshot();
  for (const auto& a : added) parts.added.push_back(&a);
  parts.removed.assign(update.removed().begin(), update.removed().end());

  std::string frame = encode_update_frame(parts);
  std::vector<std::string> frames;
  if (!split_frames(frame, frames).ok() || frames.size() != 1 || !frame.empty()) std::abort();
  ambit::v1::ServerMessage again;
  if (!again.ParseFromString(frames.front()) || !again.has_update()) std::abort();
  if (canonical(again.update()) != canonical(known)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every invalid UTF-8 string it refuses; the verdict is what matters here.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;

  std::string stream(reinterpret_cast<const char*>(data), size);
  Decoded whole = decode_whole(stream);
  Decoded pieces = decode_in_pieces(stream);
  if (whole.frames != pieces.frames || whole.failed != pieces.failed) std::abort();
  if (!whole.failed && whole.left != pieces.left) std::abort();
  if (!whole.failed && whole.left.size() >= 4 + ambit::control::kMaxFrameBytes) std::abort();

  for (const std::string& frame : whole.frames) {
    ambit::v1::ClientMessage from_client;
    (void)from_client.ParseFromString(frame);
    ambit::v1::ServerMessage from_server;
    if (from_server.ParseFromString(frame) && from_server.has_update()) {
      check_update_round_trip(from_server.update());
    }
  }
  return 0;
}
