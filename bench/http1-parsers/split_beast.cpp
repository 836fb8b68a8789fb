// Does Beast's basic_parser consume a partial header? (incremental-feeding API check)
#include <boost/beast/http.hpp>
#include <cstdio>
#include <string>
namespace http = boost::beast::http;
int main() {
  std::string m = "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r\n";
  http::request_parser<http::empty_body> p;
  boost::beast::error_code ec;
  size_t n1 = p.put(boost::asio::buffer(m.data(), 20), ec);
  printf("first 20 bytes: consumed=%zu ec=%s\n", n1, ec.message().c_str());
  ec = {};
  size_t n2 = p.put(boost::asio::buffer(m.data() + n1, m.size() - n1), ec);
  printf("rest presented from offset %zu: consumed=%zu ec=%s done=%d\n", n1, n2, ec.message().c_str(), p.is_done());
}
