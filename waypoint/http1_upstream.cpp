#include "waypoint/http1_upstream.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

namespace ambit::waypoint {

void Http1Upstream::bind(ResponseSink* sink) {
  sink_ = sink;
  reusable_ = false;
  serve_one();
}

void Http1Upstream::make_tunnel(TunnelOwner* owner) {
  sink_ = nullptr;
  reusable_ = false;
  tunnel_ = owner;
}

void Http1Upstream::send_head(const HttpRequest& request, const Framing& framing, bool,
                              std::string_view upgrade) {
  request_framing_ = framing;
  head_request_ = request.method == "HEAD";
  ended_ = false;
  parser_->next();
  parser_->expect_no_body(head_request_);
  send(serialize_request_head(request, request_framing_, true, upgrade));
  // Any response bytes the endpoint already sent (none on a fresh stream) are read now.
  if (sink_ != nullptr && (!in.empty() || eof)) pump();
}

void Http1Upstream::send_body(std::string_view b) {
  if (!b.empty()) write_body(b, request_framing_.chunked, [this](std::string_view x) { send(x); });
}

void Http1Upstream::send_end(const std::vector<Header>& trailers) {
  if (request_framing_.chunked) send(last_chunk(trailers));
}

void Http1Upstream::release(bool complete) {
  if (tunnel_ != nullptr) return;  // after a 101 the tunnel owns it
  sink_ = nullptr;
  // Kept for the next request unless spent, or its slot is wanted by one waiting for a
  // connection to the cluster.
  reusable_ = complete && !closed() && !eof && ended_ && parser_->response().keep_alive &&
              in.empty() && !spent() && !wanted_elsewhere();
  if (!reusable_) return reset();
  mark_idle();
}

void Http1Upstream::on_stream_data(std::span<const uint8_t> data) {
  in.append(reinterpret_cast<const char*>(data.data()), data.size());
  pump();
}

void Http1Upstream::on_stream_end() {
  eof = true;
  pump();
}

void Http1Upstream::on_stream_writable() {
  if (tunnel_ != nullptr) return tunnel_->tunnel_activity();
  if (sink_ != nullptr) sink_->request_writable();
}

void Http1Upstream::on_failed(const std::string& why) {
  reusable_ = false;
  if (tunnel_ != nullptr) return tunnel_->tunnel_failed(why);
  // What the endpoint sent before it went is still read (a close-delimited body ends here).
  eof = true;
  pump();
  if (sink_ == nullptr) return;
  ResponseSink* sink = std::exchange(sink_, nullptr);
  sink->response_failed(answered() ? "UC" : "UF", why);
}

void Http1Upstream::on_body(std::span<const uint8_t> data) {
  if (sink_ != nullptr && !data.empty()) sink_->response_body(data);
}

void Http1Upstream::pump() {
  // A sink may ask for more from inside a callback (its client took the bytes at once): the
  // loop that is running reads on, `in` is not fed twice. (Nothing frees an upstream from its
  // own callbacks: the pool sweeps only from the client's.)
  if (pumping_) {
    pump_again_ = true;
    return;
  }
  pumping_ = true;
  do {
    pump_again_ = false;
    read_response();
  } while (pump_again_);
  pumping_ = false;
}

void Http1Upstream::read_response() {
  if (tunnel_ != nullptr) return tunnel_->tunnel_activity();
  if (sink_ == nullptr) {
    // An idle connection that speaks or ends: it can't be reused.
    if (!in.empty() || eof) {
      reusable_ = false;
      reset();
    }
    return;
  }
  Http1Parser& p = *parser_;
  while (sink_ != nullptr) {
    auto state = p.state();
    if (state == Http1Parser::State::kBody && !sink_->response_room()) return;
    if (state == Http1Parser::State::kHead || state == Http1Parser::State::kBody) {
      size_t n = p.feed(byte_view(in), *this);
      if (n > 0) {
        in.erase(0, n);
        consume(n);
      }
      if (p.state() == state && n == 0) {
        if (!eof) return;
        p.finish();  // the endpoint ended: a close-delimited body is complete, else an error
        if (p.state() == state) return;
      }
      if (sink_ == nullptr || p.state() == Http1Parser::State::kHead) continue;
      if (p.state() != Http1Parser::State::kError && state == Http1Parser::State::kHead) {
        ResponseHead head = p.response();
        if (head.status >= 100 && head.status < 200 && head.status != 101) {
          // 100 Continue and other interim answers; the final one follows.
          p.next();
          p.expect_no_body(head_request_);
          sink_->response_head(head);
          continue;
        }
        if (head.status == 101) {
          // The protocol switched: the sink makes this a tunnel, or lets it go.
          ResponseSink* sink = std::exchange(sink_, nullptr);
          sink->response_head(head);
          return;
        }
        sink_->response_head(head);
      }
      continue;
    }
    if (state == Http1Parser::State::kError) {
      ResponseSink* sink = std::exchange(sink_, nullptr);
      reset();
      sink->response_failed("UPE", "upstream_protocol_error: " + p.error().reason);
      return;
    }
    // kDone: the response is complete; the sink releases this when its request is too.
    if (ended_) {
      if (!in.empty() || eof) reusable_ = false;  // it spoke out of turn
      return;
    }
    ended_ = true;
    sink_->response_end({});
    return;
  }
}

}  // namespace ambit::waypoint
