// Requests from any client reach the waypoint's HTTP/1.1 parser. Besides not crashing: whatever
// it accepts, the request the waypoint would send upstream (rebuilt from the parsed values) must
// parse back to the same method, target, authority, fields and body, so the proxy and the
// endpoint can never disagree on where a request ends (no smuggling through the rebuild). The
// first input byte picks the piece size the bytes arrive in.
#include <cstdlib>
#include <string>

#include "waypoint/http1_codec.h"

namespace {

using ambit::waypoint::Http1Parser;

struct Sink final : Http1Parser::BodySink {
  std::string body;
  void on_body(std::span<const uint8_t> d) override {
    body.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
};

// Parses one request from `in`, `step` bytes at a time; false when refused or incomplete.
bool parse_one(const std::string& in, size_t step, ambit::waypoint::RequestHead* head,
               std::string* body) {
  auto p = Http1Parser::for_requests();
  Sink sink;
  std::string buffer;
  size_t delivered = 0;
  while (p->state() != Http1Parser::State::kDone && p->state() != Http1Parser::State::kError) {
    size_t n = p->feed({reinterpret_cast<const uint8_t*>(buffer.data()), buffer.size()}, sink);
    buffer.erase(0, n);
    if (n > 0) continue;
    if (delivered == in.size()) break;
    size_t take = std::min(step, in.size() - delivered);
    buffer.append(in, delivered, take);
    delivered += take;
  }
  if (p->state() != Http1Parser::State::kDone) return false;
  *head = p->request();
  *body = sink.body;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t step = 1 + data[0] % 64;
  std::string in(reinterpret_cast<const char*>(data + 1), size - 1);
  ambit::waypoint::RequestHead head;
  std::string body;
  if (!parse_one(in, step, &head, &body)) return 0;
  ambit::waypoint::Framing framing;
  framing.content_length = body.size();
  std::string again = ambit::waypoint::serialize_request_head(head.request, framing, true, "");
  again += body;
  ambit::waypoint::RequestHead head2;
  std::string body2;
  if (!parse_one(again, 7, &head2, &body2)) std::abort();
  const auto& a = head.request;
  const auto& b = head2.request;
  if (a.method != b.method || a.path != b.path || a.authority != b.authority || body != body2) {
    std::abort();
  }
  if (a.headers.size() != b.headers.size()) std::abort();
  for (size_t i = 0; i < a.headers.size(); ++i) {
    if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value) {
      std::abort();
    }
  }
  return 0;
}
