// HTTP/2 for the waypoint's two sides: a server session for a client that speaks h2c inside its
// HBONE stream, and a client session for an endpoint that does. Bytes in through feed(), frames
// out through flush() (or take_output()): the codec owns no socket, the HTTP session or upstream
// that owns it moves the bytes. nghttp2 does the framing, HPACK, flow control and the RFC 9113
// checks on fields (uppercase or connection-specific names, pseudo-header rules, content-length
// against DATA); a malformed message resets its stream, a malformed connection gets a GOAWAY. Flow
// control windows open only as the owner consume()s what it passed on, so a slow far side
// holds the sender back instead of filling the waypoint's memory.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "waypoint/http_request.h"

struct nghttp2_session;

namespace ambit::waypoint {

class Http2Codec {
 public:
  enum class Role { kServer, kClient };

  class Handler {
   public:
    // Server: a request's head, pseudo-headers folded into `request` (cookie fields joined
    // with "; " as RFC 9113 says an HTTP/1.1 hop needs them).
    virtual void on_request(int32_t id, HttpRequest request, bool end_stream) = 0;
    // Client: a response's head, interim (1xx) or final.
    virtual void on_response(int32_t id, int status, std::vector<Header> headers,
                             bool end_stream) = 0;
    // A trailers block; the stream's end follows.
    virtual void on_trailers(int32_t id, std::vector<Header> trailers) = 0;
    virtual void on_data(int32_t id, std::span<const uint8_t> data) = 0;
    virtual void on_end(int32_t id) = 0;  // the peer ended its side of the stream
    // The stream is gone: both sides ended (error 0), or reset by either end.
    virtual void on_closed(int32_t id, uint32_t error_code) = 0;
    // What was queued for `id` has gone out: more may be sent.
    virtual void on_drained(int32_t id) = 0;
    // The peer sent something malformed (a reason for the counter: "h2_bad_header", ...).
    virtual void on_malformed(int32_t id, std::string_view reason) = 0;
    // Handlers are called from inside feed() and take_output(): they may submit and flush() (a
    // flush from inside waits for the one running), but must not call feed() or take_output()
    // again (nghttp2 is not re-entrant) nor destroy the codec.

   protected:
    ~Handler() = default;
  };

  struct Settings {
    uint32_t max_concurrent_streams = 128;
    int32_t stream_window = 256 * 1024;
    int32_t connection_window = 1024 * 1024;
    size_t max_header_bytes = 60 * 1024;  // one head's names and values, Envoy's 60 KiB
  };

  Http2Codec(Role role, Handler& handler, Settings settings);
  Http2Codec(Role role, Handler& handler) : Http2Codec(role, handler, Settings{}) {}
  ~Http2Codec();
  Http2Codec(const Http2Codec&) = delete;
  Http2Codec& operator=(const Http2Codec&) = delete;

  // Frames from the peer. False: the connection is broken (`error` says why); a GOAWAY is queued
  // for take_output and nothing more is read.
  bool feed(std::span<const uint8_t> in, std::string* error);
  // Appends the frames ready to go to `out`.
  void take_output(std::string& out);
  // Hands the frames ready to go to `write` while `room()` says the transport takes more.
  // Called while the session is busy (from a handler, inside feed() or a flush: nghttp2 is not
  // re-entrant), it only notes that more may be ready: the flush running goes on, and after
  // feed() the owner flushes.
  template <class Room, class Write>
  void flush(Room&& room, Write&& write) {
    if (busy_) {
      flush_again_ = true;
      return;
    }
    busy_ = true;
    do {
      flush_again_ = false;
      if (!room()) break;
      out_.clear();
      take_output(out_);
      write(std::string_view(out_));
    } while (flush_again_);
    busy_ = false;
  }
  // Inside feed() or flush().
  bool busy() const { return busy_; }
  // Neither side will send anything more (GOAWAY exchanged, or the session failed).
  bool done() const;

  // Client: opens a stream for `request`; with end_stream no body follows. <= 0 on failure.
  int32_t submit_request(const HttpRequest& request, bool end_stream);
  // Server: the response head on stream `id`.
  void submit_response(int32_t id, int status, const std::vector<Header>& headers, bool end_stream);
  // Body bytes for `id`, sent as the peer's window allows.
  void submit_data(int32_t id, std::string_view data);
  // Ends our side of `id` after what is queued, with a trailers block when `trailers` has one.
  void submit_end(int32_t id, std::vector<Header> trailers = {});
  void submit_reset(int32_t id, uint32_t error_code);
  // The `n` bytes of on_data for `id` were passed on: the peer may send as many more.
  void consume(int32_t id, size_t n);
  // Bytes submitted for `id` and not yet sent.
  size_t backlog(int32_t id) const;
  // Client: a new request may be submitted (no GOAWAY heard, the session is sound).
  bool accepting() const;

  // nghttp2's callbacks (public for the C trampolines).
  int on_begin_headers(int32_t id);
  int on_header(int32_t id, std::string_view name, std::string_view value);
  int on_headers_done(int32_t id, bool end_stream, bool is_request_or_response);
  int on_data_chunk(int32_t id, std::span<const uint8_t> data);
  int on_stream_end(int32_t id);
  int on_stream_close(int32_t id, uint32_t error_code);
  int on_invalid(int32_t id, std::string_view reason);
  long read_body(int32_t id, uint8_t* buf, size_t length, uint32_t* flags);

 private:
  struct Incoming {  // a header block being received
    std::vector<Header> fields;
    std::string method, scheme, authority, path, status, host;
    size_t bytes = 0;
  };
  struct Outgoing {  // what we send on a stream
    std::string queue;
    size_t sent = 0;  // of queue
    bool end = false;
    bool deferred = false;  // nghttp2 is waiting for data
    bool has_provider = false;
    std::vector<Header> trailers;
  };
  void resume(int32_t id, Outgoing& out);

  Role role_;
  Handler& handler_;
  Settings settings_;
  nghttp2_session* session_ = nullptr;
  bool failed_ = false;
  bool busy_ = false, flush_again_ = false;
  std::string out_;  // flush()'s frames
  std::map<int32_t, Incoming> incoming_;
  std::map<int32_t, Outgoing> outgoing_;
};

}  // namespace ambit::waypoint
