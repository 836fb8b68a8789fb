#include "waypoint/http1_codec.h"

// Beast 1.74 asserts on a chunked body whose only chunk is the last one when it arrives in small
// pieces (a false assertion, fixed upstream in boostorg/beast#2861): always build it without.
#ifndef NDEBUG
#define NDEBUG
#include <boost/beast/http/basic_parser.hpp>
#undef NDEBUG
#else
#include <boost/beast/http/basic_parser.hpp>
#endif
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>

#include "core/http_text.h"

namespace ambit::waypoint {
namespace {

namespace http = boost::beast::http;
using boost::beast::error_code;
using bsv = boost::beast::string_view;

std::string lower(bsv s) { return ascii_lower(std::string_view(s.data(), s.size())); }

// Fields that describe one hop, not the message: never forwarded as received (RFC 9110 §7.6.1).
bool hop_by_hop(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding",
      "te",         "upgrade",    "trailer",          "content-length",
      "host"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

// Host per RFC 9110 §7.2 (uri-host [":" port]); no userinfo, no path, not empty.
bool valid_host(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    if (std::string_view("-._~%!$&'()*+,;=:[]").find(c) == std::string_view::npos) return false;
  }
  return true;
}

// The message parser for one message, on Beast. Field values are copied out (they are kept past
// the buffer they came from); body bytes are handed on without a copy.
template <bool isRequest>
class BeastMessage final : public http::basic_parser<isRequest> {
 public:
  BeastMessage(const ParserLimits& limits, Http1Parser::BodySink** sink)
      : limits_(limits), sink_(sink) {
    this->header_limit(static_cast<std::uint32_t>(limits.max_head_bytes + 4));
    // No limit of Beast's (bodies stream through); not boost::none, which 1.74 compares as
    // "less than any length" on Content-Length bodies and so refuses every one.
    this->body_limit(std::numeric_limits<std::uint64_t>::max());
    this->eager(true);
  }

  std::string method, target, reason;
  int version = 11, status = 0;
  std::vector<Header> fields;
  std::vector<std::string> connection_tokens;
  size_t content_lengths = 0, transfer_encodings = 0, hosts = 0;
  std::string transfer_encoding, host;
  bool expect_continue = false;
  std::string upgrade_value;
  // Our own refusal, more precise than Beast's error code when set.
  std::optional<ParseError> refused;

 private:
  void refuse(error_code& ec, int status, std::string reason) {
    if (!refused) refused = ParseError{status, std::move(reason)};
    ec = http::error::bad_field;
  }
  void on_request_impl(http::verb, bsv m, bsv t, int v, error_code& ec) override {
    method.assign(m.data(), m.size());
    target.assign(t.data(), t.size());
    version = v;
    if (target.size() > limits_.max_target_bytes) refuse(ec, 414, "uri_too_long");
  }
  void on_response_impl(int code, bsv r, int v, error_code&) override {
    status = code;
    reason.assign(r.data(), r.size());
    version = v;
  }
  void on_field_impl(http::field f, bsv name, bsv value, error_code& ec) override {
    if (this->is_header_done()) return;  // trailer fields: dropped
    if (fields.size() >= limits_.max_fields) return refuse(ec, 431, "too_many_headers");
    std::string n = lower(name);
    std::string_view v(value.data(), value.size());
    if (n == "content-length") {
      // Beast takes "5" twice or "1,1" as one length; a proxy must not (RFC 9112 §6.3).
      if (++content_lengths > 1) return refuse(ec, 400, "duplicate_content_length");
      if (v.find(',') != std::string_view::npos) {
        return refuse(ec, 400, "bad_content_length");
      }
    } else if (n == "transfer-encoding") {
      ++transfer_encodings;
      transfer_encoding.assign(v);
    } else if (n == "host") {
      ++hosts;
      host.assign(trim_ows(v));
    } else if (n == "connection") {
      std::string_view rest = v;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string token(trim_ows(rest.substr(0, comma)));
        for (char& c : token) c = ascii_lower(c);
        if (!token.empty()) connection_tokens.push_back(std::move(token));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    } else if (n == "expect") {
      if (iequals_ascii(trim_ows(v), "100-continue")) expect_continue = true;
    } else if (n == "upgrade") {
      upgrade_value.assign(trim_ows(v));
    }
    fields.push_back({std::move(n), std::string(v)});
  }
  void on_header_impl(error_code& ec) override {
    if (transfer_encodings > 0) {
      // Only "chunked", once: any other coding (or chunked not last) would leave the body's
      // end to a guess (RFC 9112 §6.1), which is how requests get smuggled.
      if (isRequest && version == 10) return refuse(ec, 400, "transfer_encoding_in_http10");
      if (!iequals_ascii(trim_ows(transfer_encoding), "chunked")) {
        if (isRequest) return refuse(ec, 501, "unsupported_transfer_encoding");
      }
    }
    if constexpr (isRequest) {
      if (version == 11 && hosts != 1) {
        return refuse(ec, 400, hosts == 0 ? "missing_host" : "duplicate_host");
      }
      if (hosts == 1 && !valid_host(host)) return refuse(ec, 400, "bad_host");
    }
  }
  void on_body_init_impl(boost::optional<std::uint64_t> const&, error_code&) override {}
  std::size_t on_body_impl(bsv b, error_code&) override {
    (*sink_)->on_body({reinterpret_cast<const uint8_t*>(b.data()), b.size()});
    return b.size();
  }
  void on_chunk_header_impl(std::uint64_t, bsv ext, error_code& ec) override {
    if (ext.size() > limits_.max_chunk_extension) ec = http::error::bad_chunk_extension;
  }
  std::size_t on_chunk_body_impl(std::uint64_t, bsv b, error_code&) override {
    (*sink_)->on_body({reinterpret_cast<const uint8_t*>(b.data()), b.size()});
    return b.size();
  }
  void on_finish_impl(error_code&) override {}

  const ParserLimits& limits_;
  Http1Parser::BodySink** sink_;
};

std::string beast_reason(const error_code& ec) {
  std::string r = ec.message();
  for (char& c : r) c = c == ' ' || c == '-' ? '_' : static_cast<char>(std::tolower(c));
  return r;  // "bad_transfer_encoding", "bad_chunk", "bad_field", ...
}

template <bool isRequest>
class Parser final : public Http1Parser {
 public:
  explicit Parser(ParserLimits limits) : limits_(limits) { next(); }

  size_t feed(std::span<const uint8_t> in, BodySink& sink) override {
    sink_ = &sink;
    if (state_ == State::kHead) return feed_head(in);
    if (state_ != State::kBody || in.empty()) return 0;
    error_code ec;
    size_t used = msg_->put(boost::asio::buffer(in.data(), in.size()), ec);
    if (ec == http::error::need_more) ec = {};
    if (ec) return fail(400, beast_reason(ec)), used;
    if (msg_->is_done()) state_ = State::kDone;
    return used;
  }

  void finish() override {
    if (state_ != State::kBody) {
      if (state_ == State::kHead && got_bytes_) fail(400, "incomplete_message");
      return;
    }
    error_code ec;
    msg_->put_eof(ec);
    if (ec) return fail(400, beast_reason(ec));
    state_ = State::kDone;
  }

  void expect_no_body(bool no_body) override {
    no_body_ = no_body;
    if (msg_) msg_->skip(no_body);
  }

  void next() override {
    msg_.emplace(limits_, &sink_);  // in place: no allocation per message
    if (no_body_) msg_->skip(true);
    state_ = State::kHead;
    got_bytes_ = false;
    request_ = {};
    response_ = {};
  }

  State state() const override { return state_; }
  const RequestHead& request() const override { return request_; }
  const ResponseHead& response() const override { return response_; }
  const ParseError& error() const override { return error_; }

 private:
  void fail(int status, std::string reason) {
    error_ = {status, std::move(reason)};
    state_ = State::kError;
  }

  size_t feed_head(std::span<const uint8_t> in) {
    std::string_view s(reinterpret_cast<const char*>(in.data()), in.size());
    size_t skipped = 0;
    if constexpr (isRequest) {
      // Empty lines before a request line are ignored (RFC 9112 §2.2).
      while (skipped + 1 < s.size() && s[skipped] == '\r' && s[skipped + 1] == '\n') skipped += 2;
    }
    s.remove_prefix(skipped);
    if (!s.empty()) got_bytes_ = true;
    size_t end = s.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (s.size() > limits_.max_head_bytes) fail(431, "headers_too_large");
      return skipped;
    }
    size_t head_len = end + 4;
    if (head_len > limits_.max_head_bytes + 4) {
      fail(431, "headers_too_large");
      return skipped;
    }
    std::string_view head = s.substr(0, head_len);
    // obs-fold: Beast would unfold it into a value; RFC 9112 §5.2 lets a proxy refuse it.
    for (size_t i = head.find("\r\n"); i != std::string_view::npos && i + 2 < end + 2;
         i = head.find("\r\n", i + 2)) {
      if (i + 2 < head.size() && (head[i + 2] == ' ' || head[i + 2] == '\t')) {
        fail(400, "obs_fold");
        return skipped;
      }
    }
    error_code ec;
    size_t used = msg_->put(boost::asio::buffer(head.data(), head.size()), ec);
    if (msg_->refused) {
      error_ = *msg_->refused;
      state_ = State::kError;
      return skipped;
    }
    if (ec && ec != http::error::need_more) {
      fail(400, beast_reason(ec));
      return skipped;
    }
    if (!msg_->is_header_done() || used != head.size()) {
      fail(400, "bad_head");
      return skipped;
    }
    if (auto bad = make_head(); !bad.reason.empty()) {
      error_ = std::move(bad);
      state_ = State::kError;
      return skipped;
    }
    state_ = msg_->is_done() ? State::kDone : State::kBody;
    return skipped + head_len;
  }

  // Fills request_ / response_ from the parsed head; a refusal's reason when the head is
  // well-formed but not something the proxy forwards.
  ParseError make_head() {
    Framing framing;
    framing.chunked = msg_->chunked();
    if (!framing.chunked && msg_->content_length())
      framing.content_length = *msg_->content_length();
    auto keep = [&](const std::string& name) {
      return !hop_by_hop(name) &&
             std::find(msg_->connection_tokens.begin(), msg_->connection_tokens.end(), name) ==
                 msg_->connection_tokens.end();
    };
    bool upgrade = msg_->upgrade();
    if constexpr (isRequest) {
      RequestHead& h = request_;
      h.version = msg_->version;
      h.keep_alive = msg_->keep_alive();
      h.expect_continue = msg_->expect_continue;
      h.framing = framing;
      h.request.method = msg_->method;
      std::string_view target = msg_->target;
      h.request.authority = msg_->host;
      if (target.starts_with("http://") || target.starts_with("https://")) {
        // absolute-form: its authority replaces Host (RFC 9112 §3.2.2).
        size_t scheme_end = target.find("://") + 3;
        size_t path_at = target.find_first_of("/?", scheme_end);
        h.request.authority.assign(target.substr(scheme_end, path_at - scheme_end));
        if (!valid_host(h.request.authority) ||
            h.request.authority.find('@') != std::string::npos) {
          return {400, "bad_target"};
        }
        h.request.scheme.assign(target.substr(0, scheme_end - 3));
        target = path_at == std::string_view::npos ? std::string_view("/") : target.substr(path_at);
        if (target.front() == '?') h.request.path = "/";
      } else if (target == "*") {
        if (h.request.method != "OPTIONS") return {400, "bad_target"};
      } else if (h.request.method == "CONNECT") {
        return {405, "connect_not_allowed"};
      } else if (!target.starts_with('/')) {
        return {400, "bad_target"};
      }
      if (target.find('#') != std::string_view::npos) return {400, "bad_target"};
      h.request.path += target;
      if (h.request.authority.empty()) return {400, "missing_host"};
      if (upgrade) h.upgrade = msg_->upgrade_value;
      for (auto& f : msg_->fields) {
        if (keep(f.name)) h.request.headers.push_back(std::move(f));
      }
    } else {
      ResponseHead& h = response_;
      h.status = msg_->status;
      h.reason = msg_->reason;
      h.version = msg_->version;
      h.keep_alive = msg_->keep_alive();
      h.framing = framing;
      h.close_delimited =
          !framing.chunked && !framing.content_length && !msg_->is_done() && msg_->need_eof();
      if (h.status == 101) h.upgrade = msg_->upgrade_value;
      for (auto& f : msg_->fields) {
        if (keep(f.name)) h.headers.push_back(std::move(f));
      }
    }
    return {};
  }

  ParserLimits limits_;
  std::optional<BeastMessage<isRequest>> msg_;
  BodySink* sink_ = nullptr;
  State state_ = State::kHead;
  bool got_bytes_ = false;
  bool no_body_ = false;
  RequestHead request_;
  ResponseHead response_;
  ParseError error_;
};

void append_fields(std::string& out, const std::vector<Header>& fields) {
  for (const auto& f : fields) {
    // What came from an HTTP/2 message may hold fields that are this hop's on HTTP/1.1 (te,
    // content-length): the framing the head is written with says them.
    if (hop_by_hop(f.name)) continue;
    out += f.name;
    out += ": ";
    out += f.value;
    out += "\r\n";
  }
}

void append_framing(std::string& out, const Framing& framing) {
  if (framing.chunked) {
    out += "transfer-encoding: chunked\r\n";
  } else if (framing.content_length) {
    out += fmt::format("content-length: {}\r\n", *framing.content_length);
  }
}

}  // namespace

std::unique_ptr<Http1Parser> Http1Parser::for_requests(ParserLimits limits) {
  return std::make_unique<Parser<true>>(limits);
}
std::unique_ptr<Http1Parser> Http1Parser::for_responses(ParserLimits limits) {
  return std::make_unique<Parser<false>>(limits);
}

std::string serialize_request_head(const HttpRequest& request, const Framing& framing,
                                   bool keep_alive, std::string_view upgrade) {
  std::string out;
  out.reserve(256);
  out += request.method;
  out += ' ';
  out += request.path;
  out += " HTTP/1.1\r\nhost: ";
  out += request.authority;
  out += "\r\n";
  append_fields(out, request.headers);
  append_framing(out, framing);
  if (!upgrade.empty()) {
    out += "connection: upgrade\r\nupgrade: ";
    out += upgrade;
    out += "\r\n";
  } else if (!keep_alive) {
    out += "connection: close\r\n";
  }
  out += "\r\n";
  return out;
}

std::string serialize_response_head(const ResponseHead& head, const Framing& framing,
                                    bool keep_alive) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", head.status,
                                head.reason.empty() ? reason_phrase(head.status) : head.reason);
  append_fields(out, head.headers);
  append_framing(out, framing);
  if (!head.upgrade.empty()) {
    out += "connection: upgrade\r\nupgrade: ";
    out += head.upgrade;
    out += "\r\n";
  } else if (!keep_alive) {
    out += "connection: close\r\n";
  }
  out += "\r\n";
  return out;
}

std::string chunk_header(size_t size) { return fmt::format("{:x}\r\n", size); }

std::string last_chunk(const std::vector<Header>& trailers) {
  std::string out = "0\r\n";
  append_fields(out, trailers);
  out += "\r\n";
  return out;
}

std::string local_response(int status, std::string_view body, bool keep_alive,
                           const std::vector<Header>& extra) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  append_fields(out, extra);
  if (!body.empty()) out += "content-type: text/plain\r\n";
  out += fmt::format("content-length: {}\r\n", body.size());
  if (!keep_alive) out += "connection: close\r\n";
  out += "\r\n";
  out += body;
  return out;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

}  // namespace ambit::waypoint
