#include "waypoint/http2_upstream.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>

#include "core/http_text.h"

namespace ambit::waypoint {
namespace {

constexpr size_t kHighWater = ztunnel::HboneConnection::kStreamHighWater;

// An HTTP/2 response head as the fronts read heads: content-length as framing, else a body of
// unknown length (close-delimited, as an HTTP/1.1 front knows it), or none when the stream ends
// with it.
ResponseHead head_of(int status, std::vector<Header> headers, bool end_stream) {
  ResponseHead head;
  head.status = status;
  for (auto it = headers.begin(); it != headers.end(); ++it) {
    if (it->name != "content-length") continue;
    head.framing.content_length = decimal_value(it->value);
    headers.erase(it);  // the framing says it
    break;
  }
  if (!head.framing.content_length) {
    if (end_stream) {
      head.framing.content_length = 0;
    } else {
      head.close_delimited = true;
    }
  }
  head.headers = std::move(headers);
  return head;
}

}  // namespace

class Http2Upstream::Request final : public UpstreamRequest {
 public:
  Request(Http2Upstream& up, ResponseSink* sink) : up_(up), sink_(sink), released_(!sink) {}

  void send_head(const HttpRequest& request, const Framing& framing, bool end_stream,
                 std::string_view) override {
    int32_t id;
    if (framing.content_length && !end_stream && request.header("content-length") == nullptr) {
      HttpRequest copy = request;
      copy.headers.push_back({"content-length", std::to_string(*framing.content_length)});
      id = up_.codec_.submit_request(copy, end_stream);
    } else {
      id = up_.codec_.submit_request(request, end_stream);
    }
    if (id <= 0) {
      closed_ = true;
      if (released_) return up_.forget(this);  // a shadow copy: nobody to tell
      if (ResponseSink* s = std::exchange(sink_, nullptr)) {
        s->response_failed("UF", fmt::format("HTTP/2 request refused: {}", nghttp2_strerror(id)));
      }
      return;
    }
    id_ = id;
    up_.by_id_[id] = this;
    up_.flush();
  }
  void send_body(std::string_view data) override {
    if (id_ <= 0 || closed_) return;
    up_.codec_.submit_data(id_, data);
    up_.flush();
  }
  void send_end(const std::vector<Header>& trailers) override {
    if (id_ <= 0 || closed_) return;
    up_.codec_.submit_end(id_, trailers);
    up_.flush();
  }
  size_t backlog() const override {
    return (id_ > 0 ? up_.codec_.backlog(id_) : 0) + up_.HboneUpstream::backlog();
  }
  void resume_response() override {
    if (sink_ == nullptr) return;
    if (!held_.empty() && sink_->response_room()) {
      std::string held = std::move(held_);
      held_.clear();
      sink_->response_body({reinterpret_cast<const uint8_t*>(held.data()), held.size()});
      up_.codec_.consume(id_, held.size());
      up_.flush();
    }
    if (held_.empty() && peer_ended_ && !ended_ && sink_ != nullptr) {
      ended_ = true;
      sink_->response_end(trailers_);
    }
  }
  void release(bool complete) override {
    sink_ = nullptr;
    released_ = true;
    if (closed_ || id_ <= 0) return up_.forget(this);
    if (complete && ended_) return;  // it goes when its stream closes
    up_.codec_.submit_reset(id_, NGHTTP2_CANCEL);
    // Sending the reset closes the stream at once, and closed() frees this: nothing after.
    up_.flush();
  }

  // From the connection.
  void head(int status, std::vector<Header> headers, bool end_stream) {
    if (sink_ == nullptr) return;
    ResponseHead h = head_of(status, std::move(headers), end_stream);
    sink_->response_head(h);
  }
  void data(std::span<const uint8_t> bytes) {
    if (sink_ == nullptr) return up_.codec_.consume(id_, bytes.size());  // a shadow's answer
    if (held_.empty() && sink_->response_room()) {
      sink_->response_body(bytes);
      up_.codec_.consume(id_, bytes.size());
    } else {
      held_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
  }
  void trailers(std::vector<Header> t) { trailers_ = std::move(t); }
  void peer_end() {
    peer_ended_ = true;
    resume_response();
  }
  void closed(uint32_t error_code) {
    closed_ = true;
    up_.by_id_.erase(id_);
    if (released_) return up_.forget(this);
    // The sink releases it now (and it goes) or when its exchange ends.
    if (error_code != 0 && !ended_) {
      fail(malformed_ ? "UPE" : "UC",
           fmt::format("upstream stream reset: {}", nghttp2_http2_strerror(error_code)));
    }
  }
  void fail(std::string_view flags, const std::string& why) {
    closed_ = true;
    if (ResponseSink* s = std::exchange(sink_, nullptr)) s->response_failed(flags, why);
  }
  void writable() {
    if (sink_ != nullptr) sink_->request_writable();
  }
  void malformed() { malformed_ = true; }
  bool released() const { return released_; }
  bool live() const { return !closed_; }

 private:
  Http2Upstream& up_;
  ResponseSink* sink_;
  int32_t id_ = 0;
  std::string held_;  // response body the client had no room for (not consumed yet)
  std::vector<Header> trailers_;
  bool released_;
  bool closed_ = false;
  bool peer_ended_ = false;
  bool ended_ = false;  // the sink heard response_end
  bool malformed_ = false;
};

Http2Upstream::Http2Upstream(SocketAddress address, std::string workload)
    : HboneUpstream(std::move(address), std::move(workload)),
      codec_(Http2Codec::Role::kClient, *this) {}

Http2Upstream::~Http2Upstream() = default;

bool Http2Upstream::usable() const {
  return !failed_ && !closed() && codec_.accepting() && !spent();
}

UpstreamRequest* Http2Upstream::open_request(ResponseSink* sink) {
  if (!usable()) return nullptr;
  serve_one();
  requests_.push_back(std::make_unique<Request>(*this, sink));
  return requests_.back().get();
}

Http2Upstream::Request* Http2Upstream::find(int32_t id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

void Http2Upstream::forget(Request* r) {
  std::erase_if(requests_, [r](const auto& p) { return p.get() == r; });
  if (requests_.empty()) mark_idle();
}

void Http2Upstream::flush() {
  // When the HBONE stream is full, on_stream_writable() goes on.
  codec_.flush([this] { return !closed() && HboneUpstream::backlog() < kHighWater; },
               [this](std::string_view frames) { send(frames); });
}

void Http2Upstream::on_stream_data(std::span<const uint8_t> data) {
  std::string error;
  bool ok = codec_.feed(data, &error);
  consume(data.size());
  if (!ok) {
    failed_ = true;
    fail_all("UPE", "upstream HTTP/2 protocol error: " + error);
  }
  flush();
}

void Http2Upstream::on_stream_end() {
  failed_ = true;
  fail_all("UC", "the endpoint closed its HTTP/2 connection");
  reset();
}

bool Http2Upstream::holds(const Request* r) const {
  return std::any_of(requests_.begin(), requests_.end(), [r](auto& p) { return p.get() == r; });
}

void Http2Upstream::on_stream_writable() {
  flush();
  // A sink may release its request (and so others may go) while it hears this.
  std::vector<Request*> open;
  for (auto& r : requests_) open.push_back(r.get());
  for (Request* r : open) {
    if (holds(r)) r->writable();
  }
}

void Http2Upstream::on_failed(const std::string& why) {
  failed_ = true;
  fail_all(answered() ? "UC" : "UF", why);
}

void Http2Upstream::fail_all(std::string_view flags, const std::string& why) {
  std::vector<Request*> open;
  for (auto& r : requests_) open.push_back(r.get());
  for (Request* r : open) {
    if (!holds(r)) continue;
    r->fail(flags, why);
    if (holds(r) && r->released()) forget(r);
  }
  by_id_.clear();
}

void Http2Upstream::on_response(int32_t id, int status, std::vector<Header> headers,
                                bool end_stream) {
  if (Request* r = find(id)) r->head(status, std::move(headers), end_stream);
}
void Http2Upstream::on_trailers(int32_t id, std::vector<Header> trailers) {
  if (Request* r = find(id)) r->trailers(std::move(trailers));
}
void Http2Upstream::on_data(int32_t id, std::span<const uint8_t> data) {
  if (Request* r = find(id)) {
    r->data(data);
  } else {
    codec_.consume(id, data.size());
  }
}
void Http2Upstream::on_end(int32_t id) {
  if (Request* r = find(id)) r->peer_end();
}
void Http2Upstream::on_closed(int32_t id, uint32_t error_code) {
  if (Request* r = find(id)) r->closed(error_code);
}
void Http2Upstream::on_drained(int32_t id) {
  if (Request* r = find(id)) r->writable();
}
void Http2Upstream::on_malformed(int32_t id, std::string_view) {
  if (Request* r = find(id)) r->malformed();
}

}  // namespace ambit::waypoint
