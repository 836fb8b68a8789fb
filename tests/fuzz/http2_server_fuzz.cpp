// Frames from any client reach the waypoint's HTTP/2 server session (after the preface, which
// the target sends itself). Besides not crashing: a request handed on has the pseudo-headers
// RFC 9113 requires, and no field an HTTP/2 message must not carry (so nothing that could mean
// something else on an HTTP/1.1 hop gets through); answers and resets the handler submits from
// inside callbacks are taken as the waypoint's front submits them. The first input byte picks
// the piece size the frames arrive in.
#include <cstdlib>
#include <string>

#include "waypoint/http2_codec.h"

namespace {

using ambit::waypoint::Header;
using ambit::waypoint::Http2Codec;
using ambit::waypoint::HttpRequest;

bool forbidden(const Header& h) {
  for (char c : h.name) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return h.name.empty() || h.name[0] == ':' || h.name == "connection" ||
         h.name == "transfer-encoding" || h.name == "upgrade" || h.name == "keep-alive" ||
         h.name == "proxy-connection" || (h.name == "te" && h.value != "trailers");
}

struct Front final : Http2Codec::Handler {
  Http2Codec* codec = nullptr;
  void on_request(int32_t id, HttpRequest r, bool end) override {
    if (r.method.empty()) std::abort();
    if (r.method != "CONNECT" && (r.path.empty() || r.scheme.empty())) std::abort();
    for (const auto& h : r.headers) {
      if (forbidden(h)) std::abort();
    }
    if (id % 3 == 0) return codec->submit_reset(id, 8);
    codec->submit_response(id, 200, {{"content-type", "text/plain"}}, false);
    codec->submit_data(id, r.path);
    if (end) codec->submit_end(id, {{"grpc-status", "0"}});
  }
  void on_response(int32_t, int, std::vector<Header>, bool) override { std::abort(); }
  void on_trailers(int32_t, std::vector<Header> t) override {
    for (const auto& h : t) {
      if (h.name.empty() || h.name[0] == ':') std::abort();
    }
  }
  void on_data(int32_t id, std::span<const uint8_t> d) override { codec->consume(id, d.size()); }
  void on_end(int32_t id) override { codec->submit_end(id); }
  void on_closed(int32_t, uint32_t) override {}
  void on_drained(int32_t) override {}
  void on_malformed(int32_t, std::string_view reason) override {
    if (reason.empty()) std::abort();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t step = 1 + data[0] % 128;
  std::string in = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  in.append(reinterpret_cast<const char*>(data + 1), size - 1);
  Front front;
  Http2Codec::Settings settings;
  settings.max_header_bytes = 4096;
  Http2Codec codec(Http2Codec::Role::kServer, front, settings);
  front.codec = &codec;
  std::string out;
  for (size_t at = 0; at < in.size(); at += step) {
    size_t n = std::min(step, in.size() - at);
    bool ok = codec.feed({reinterpret_cast<const uint8_t*>(in.data()) + at, n}, nullptr);
    out.clear();
    codec.take_output(out);
    if (!ok) break;
  }
  return 0;
}
