// Harness for Boost.Beast 1.74 http::basic_parser (Debian libboost-dev),
// used through a zero-copy derived parser (string_view callbacks), which is
// how a proxy would use it (request_parser<Body> is a thin wrapper on this).
// g++ -O2 -std=c++20 h_beast.cpp -lpthread
#include "common.hpp"
#include <boost/beast/http.hpp>

namespace http = boost::beast::http;
using boost::beast::error_code;
using sv = boost::beast::string_view;

template <bool isRequest>
struct P final : http::basic_parser<isRequest> {
  Msg m;
  bool record = true;
  size_t nh = 0;
  void on_request_impl(http::verb, sv method, sv target, int version, error_code&) override {
    if (record) { m.method.assign(method.data(), method.size()); m.target.assign(target.data(), target.size()); }
    m.vmaj = version / 10; m.vmin = version % 10;
  }
  void on_response_impl(int code, sv reason, int version, error_code&) override {
    if (record) { m.method = std::to_string(code); m.note.assign(reason.data(), reason.size()); }
    m.vmaj = version / 10; m.vmin = version % 10;
  }
  void on_field_impl(http::field, sv name, sv value, error_code&) override {
    nh++;
    if (record) m.hdrs.emplace_back(std::string(name.data(), name.size()), std::string(value.data(), value.size()));
  }
  void on_header_impl(error_code&) override {
    if (record) { if (this->chunked()) m.note += " chunked"; if (this->upgrade()) m.note += " upgrade"; }
  }
  void on_body_init_impl(boost::optional<std::uint64_t> const&, error_code&) override {}
  std::size_t on_body_impl(sv b, error_code&) override { m.body += b.size(); return b.size(); }
  void on_chunk_header_impl(std::uint64_t, sv ext, error_code&) override {
    if (record && !ext.empty()) m.note += " ext=" + esc(std::string(ext.data(), ext.size()), 16);
  }
  std::size_t on_chunk_body_impl(std::uint64_t, sv b, error_code&) override { m.body += b.size(); return b.size(); }
  void on_finish_impl(error_code&) override {}
};

template <bool isRequest>
Result run(const std::string& in, bool head) {
  Result r;
  size_t off = 0;
  while (off < in.size()) {
    P<isRequest> p;
    p.eager(true);
    if (head) p.skip(true);
    error_code ec;
    size_t fed = std::min(in.size(), off + g_step);  // bytes the "socket" has delivered so far
    while (!p.is_done()) {
      if (off >= fed && fed < in.size()) fed = std::min(in.size(), fed + g_step);
      if (off >= in.size()) {
        if (!isRequest && p.is_header_done()) {  // response: signal EOF
          error_code ec2; p.put_eof(ec2);
          if (!ec2 && p.is_done()) { p.m.note += " eof-delimited"; break; }
          r.verdict = "REJ"; r.err = ec2.message(); r.errpos = off; return r;
        }
        if (p.got_some()) r.msgs.push_back(p.m);
        r.verdict = "INC"; return r;
      }
      size_t n = p.put(boost::asio::buffer(in.data() + off, fed - off), ec);
      off += n;
      if (ec == http::error::need_more) {
        if (n == 0 && fed < in.size()) { fed = std::min(in.size(), fed + g_step); ec = {}; continue; }
        if (n == 0) { if (p.got_some()) r.msgs.push_back(p.m); r.verdict = "INC"; r.err = "need_more"; r.errpos = off; return r; }
        ec = {}; continue;
      }
      if (ec) { r.verdict = "REJ"; r.err = ec.message(); r.errpos = off; return r; }
    }
    p.m.end = off;
    r.msgs.push_back(p.m);
    if (p.upgrade() || (isRequest && p.m.method == "CONNECT")) {
      r.verdict = "UPG"; r.msgs.back().note += " upgrade-stop(app)"; return r;
    }
  }
  r.verdict = "ACC";
  return r;
}

Result run_req(const std::string& in) { return run<true>(in, false); }
Result run_resp(const std::string& in, const std::string& m) { return run<false>(in, m == "HEAD"); }

size_t bench_parse(const std::string& buf, size_t n) {
  size_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    P<true> p;  // basic_parser is single-message; a new one per request
    p.record = false;
    p.eager(true);
    error_code ec;
    size_t k = p.put(boost::asio::buffer(buf.data(), buf.size()), ec);
    if (ec || !p.is_done() || k != buf.size()) { fprintf(stderr, "bench error %s\n", ec.message().c_str()); return 0; }
    sum += p.nh + p.m.body;
  }
  return sum;
}

int main(int argc, char** argv) { return driver(argc, argv, "beast"); }
