// HTTP/1.1 messages as the waypoint reads and writes them: a strict incremental parser for
// requests (downstream) and responses (upstream) on Boost.Beast's basic_parser, with the checks
// Beast leaves to its user (docs/http1-parsers.md: Transfer-Encoding values, duplicate
// Content-Length, obs-fold, Host, request-target form, limits), and the serialisation of what
// the proxy forwards. Nothing is forwarded as received: heads are rebuilt from parsed values and
// bodies re-framed, so a message the two ends could read differently never leaves the proxy.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "waypoint/http_request.h"

namespace ambit::waypoint {

// How a message body is delimited, as parsed (and as the proxy writes it on).
struct Framing {
  bool chunked = false;
  std::optional<uint64_t> content_length;  // set: a Content-Length body
  // Neither: a request has no body; a response runs until the connection closes.
  bool has_body() const { return chunked || content_length.value_or(0) > 0; }
};

struct RequestHead {
  HttpRequest request;
  int version = 11;  // 10 or 11
  bool keep_alive = true;
  bool expect_continue = false;
  std::string upgrade;  // the Upgrade protocol ("websocket") when the client asked for one
  Framing framing;
};

struct ResponseHead {
  int status = 0;
  std::string reason;
  int version = 11;
  std::vector<Header> headers;  // lowercase names, no hop-by-hop fields
  bool keep_alive = true;
  std::string upgrade;  // 101: the protocol switched to
  Framing framing;
  bool close_delimited = false;  // the body runs to the end of the connection
};

// Why a message was refused: the status to answer (400, 413, 414, 431, 501) and a short reason,
// which is also the counter label ("bad_transfer_encoding", "duplicate_content_length", ...).
struct ParseError {
  int status = 400;
  std::string reason;
};

struct ParserLimits {
  size_t max_head_bytes = 60 * 1024;  // request line (or status line) and fields: Envoy's 60 KiB
  size_t max_fields = 100;            // Envoy's max_headers_count
  size_t max_target_bytes = 8 * 1024;
  size_t max_chunk_extension = 1024;
};

// One direction of one connection: parses messages one after another. Bytes are fed from a
// buffer the caller keeps: feed() returns how many it used, and the rest must be presented again,
// with whatever arrives next appended (an incomplete head consumes nothing).
class Http1Parser {
 public:
  // Receives the body as it is parsed; the bytes are valid only during the call.
  class BodySink {
   public:
    virtual void on_body(std::span<const uint8_t> data) = 0;

   protected:
    ~BodySink() = default;
  };
  enum class State { kHead, kBody, kDone, kError };

  static std::unique_ptr<Http1Parser> for_requests(ParserLimits limits = {});
  static std::unique_ptr<Http1Parser> for_responses(ParserLimits limits = {});
  virtual ~Http1Parser() = default;

  // kHead: waits for a whole head, then parses and checks it (-> kBody, kDone or kError) and
  // stops there, so the caller can look at the head before any body byte is read. kBody: passes
  // body bytes to `sink` until the message ends (-> kDone). kDone / kError: consumes nothing.
  virtual size_t feed(std::span<const uint8_t> in, BodySink& sink) = 0;
  // Response parser: the connection closed. Ends a close-delimited body (-> kDone); anything
  // else unfinished -> kError.
  virtual void finish() = 0;
  // Response parser, before the next response: its request was HEAD (no body follows).
  virtual void expect_no_body(bool no_body) = 0;
  // Ready for the next message on the connection (after kDone).
  virtual void next() = 0;

  virtual State state() const = 0;
  virtual const RequestHead& request() const = 0;    // request parser, after the head
  virtual const ResponseHead& response() const = 0;  // response parser, after the head
  virtual const ParseError& error() const = 0;
};

// "GET /path HTTP/1.1\r\nhost: ...\r\n<fields>\r\n<framing>\r\n": what goes upstream.
// `framing` says how the body that follows is written (chunked: with chunked_data/last_chunk).
std::string serialize_request_head(const HttpRequest& request, const Framing& framing,
                                   bool keep_alive, std::string_view upgrade);
std::string serialize_response_head(const ResponseHead& head, const Framing& framing,
                                    bool keep_alive);
// One chunk of a chunked body, and the end of one.
std::string chunk_header(size_t size);
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
// Writes body bytes through `write`, as one chunk when the body goes chunked.
template <class Write>
void write_body(std::string_view body, bool chunked, Write&& write) {
  if (!chunked) return write(body);
  write(chunk_header(body.size()));
  write(body);
  write(kChunkEnd);
}
// The last chunk, with trailer fields when there are (an HTTP/2 message's, for HTTP/1.1).
std::string last_chunk(const std::vector<Header>& trailers);

// A complete response the waypoint answers itself (403 from policy, 404 no route, 503...).
std::string local_response(int status, std::string_view body, bool keep_alive,
                           const std::vector<Header>& extra = {});
std::string_view reason_phrase(int status);

}  // namespace ambit::waypoint
