// The control channel on 15012: mutual TLS 1.3 (a client certificate is required and must chain
// to the mesh root), carrying length-prefixed protobuf messages (4-byte big-endian length, then a
// serialized ClientMessage or ServerMessage). Blocking sockets; one thread drives one connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ambit/v1/control.pb.h"
#include "control/control_identity.h"
#include "core/net_address.h"
#include "core/openssl_ptr.h"
#include "core/result.h"
#include "core/unique_fd.h"

namespace ambit::control {

// Large enough for a full view of a big mesh; a longer frame is refused, never buffered.
inline constexpr size_t kMaxFrameBytes = 64u << 20;

// OpenSSL writes with write(2): a peer that went away would raise SIGPIPE. Each thread that drives
// a connection calls this first, so the write fails with EPIPE instead (thread-directed, no
// process-wide handler to impose on the binary that embeds us).
void block_sigpipe_in_this_thread();

// TLS 1.3 only, peer certificate required and verified against `root_pem`.
Result<SslCtxPtr> make_control_context(bool server, const Credentials& credentials,
                                       std::string_view root_pem);

// Who is at the other end, from its verified certificate's single URI SAN.
struct ControlPeer {
  v1::Subscribe::Role role = v1::Subscribe::AGENT;
  std::string name;  // node (agent) or <ns>/<name> (waypoint); empty for the controller
  bool is_controller = false;
};
Result<ControlPeer> control_peer(SSL* ssl, std::string_view trust_domain);

class ControlConnection {
 public:
  // Runs the handshake on a connected blocking socket, bounded by `timeout`.
  static Result<std::unique_ptr<ControlConnection>> handshake(UniqueFd fd, SSL_CTX* ctx,
                                                              bool server,
                                                              std::chrono::milliseconds timeout);
  static Result<std::unique_ptr<ControlConnection>> connect(const SocketAddress& address,
                                                            SSL_CTX* ctx,
                                                            std::chrono::milliseconds timeout);

  int fd() const { return fd_.get(); }
  SSL* ssl() const { return ssl_.get(); }
  // Bytes already decrypted or buffered: poll() on the fd would not see them.
  bool has_buffered() const;

  // Sends one frame (adds the length prefix).
  Status write_message(const google::protobuf::MessageLite& message);
  // Sends bytes that already hold complete frames (see encode_update_frame).
  Status write_raw(std::string_view bytes);

  // Reads what is available (blocking for at most one TLS record) and moves every complete frame
  // into `frames`. An error on EOF ("closed"), on a frame over kMaxFrameBytes, or on I/O failure.
  Status read_frames(std::vector<std::string>& frames);

  // Sets how long one blocking read or write may take before the connection counts as dead.
  void set_io_timeout(std::chrono::milliseconds timeout);

 private:
  ControlConnection(UniqueFd fd, SslPtr ssl) : fd_(std::move(fd)), ssl_(std::move(ssl)) {}
  UniqueFd fd_;
  SslPtr ssl_;
  std::string in_;
};

// The decoder behind read_frames (exposed for its fuzz target): moves every complete frame at the
// front of `buffer` into `frames`, leaving an incomplete one in `buffer`. An error on a length over
// kMaxFrameBytes: the stream cannot be resynchronised, the caller drops the connection.
Status split_frames(std::string& buffer, std::vector<std::string>& frames);

// A whole ServerMessage{update} frame built from cached object bytes, without re-serializing.
struct UpdateParts {
  uint64_t version = 0;
  uint64_t base_version = 0;
  bool snapshot = false;
  std::vector<const std::string*> added;  // encoded Resources
  // Instead of `added`, when set: the encoded Resources are added_from(i) for i < added_from_count
  // (a snapshot of a large view, without a vector of pointers per client).
  std::function<const std::string&(size_t)> added_from;
  size_t added_from_count = 0;
  std::vector<v1::ResourceKey> removed;

  size_t added_count() const { return added_from ? added_from_count : added.size(); }
  const std::string& added_at(size_t i) const { return added_from ? added_from(i) : *added[i]; }
};
std::string encode_update_frame(const UpdateParts& parts);  // empty: over kMaxFrameBytes
// The same frame handed to `sink` in pieces of about `chunk_bytes`, so a snapshot of a large mesh
// is sent without holding all of it per client. An error (frame over kMaxFrameBytes, or the
// sink's) stops the encoding before anything over the limit is passed on.
Status encode_update_frame(const UpdateParts& parts, size_t chunk_bytes,
                           const std::function<Status(std::string_view)>& sink);

}  // namespace ambit::control
