// Extra Beast probes: obs-fold value location, long chunk extension, TE without chunked.
#include <boost/beast/http.hpp>
#include <cstdio>
#include <string>
namespace http = boost::beast::http;
using sv = boost::beast::string_view; using boost::beast::error_code;
struct P final : http::basic_parser<true> {
  const char *lo, *hi; size_t ext = 0, body = 0;
  void on_request_impl(http::verb, sv, sv, int, error_code&) override {}
  void on_response_impl(int, sv, int, error_code&) override {}
  void on_field_impl(http::field, sv n, sv v, error_code&) override {
    printf("  field %.*s value-in-input=%d\n", (int)n.size(), n.data(), v.data() >= lo && v.data() < hi);
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(boost::optional<std::uint64_t> const&, error_code&) override {}
  std::size_t on_body_impl(sv b, error_code&) override { body += b.size(); return b.size(); }
  void on_chunk_header_impl(std::uint64_t, sv e, error_code&) override { ext = e.size(); }
  std::size_t on_chunk_body_impl(std::uint64_t, sv b, error_code&) override { body += b.size(); return b.size(); }
  void on_finish_impl(error_code&) override {}
};
void run(const char* name, const std::string& m) {
  P p; p.lo = m.data(); p.hi = m.data() + m.size(); p.eager(true); error_code ec;
  size_t n = p.put(boost::asio::buffer(m), ec);
  printf("%s: consumed=%zu/%zu ec=%s done=%d ext=%zu body=%zu\n", name, n, m.size(), ec.message().c_str(), p.is_done(), p.ext, p.body);
}
int main() {
  run("obsfold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\nX-B: c\r\n\r\n");
  run("chunk_ext_1MB", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=" + std::string(1 << 20, 'a') + "\r\nhello\r\n0\r\n\r\n");
  run("te_gzip_only", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  run("chunked_body_over_1MB_default_limit", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n" + std::string(0x200000, 'a') + "\r\n0\r\n\r\n");
}
