// Shared HTTP/1.1 request strictness cases. Each case: id, expectation per
// RFC 9110/9112 for a strict proxy ("R" = must be 400, "A" = valid,
// "A/R" = either is defensible), raw bytes.
#pragma once
#include <string>
#include <vector>

struct Case { std::string id; std::string rfc; std::string bytes; };

inline std::string S(const char* p, size_t n) { return std::string(p, n); }

inline std::vector<Case> make_cases() {
  const std::string H = "Host: a\r\n";
  std::vector<Case> c;
  auto add = [&](std::string id, std::string rfc, std::string b) { c.push_back({id, rfc, b}); };
  add("baseline_get", "A", "GET /x?y=1 HTTP/1.1\r\n" + H + "User-Agent: t\r\n\r\n");
  add("baseline_post_cl", "A", "POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\n\r\nhello");
  add("baseline_chunked", "A", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  // --- CL / TE conflicts
  add("cl_then_te", "R", "POST / HTTP/1.1\r\n" + H + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX");
  add("te_then_cl", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nX");
  add("cl_dup_same", "A/R", "POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello");
  add("cl_dup_diff", "R", "POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
  add("cl_list_1,1", "A/R", "POST / HTTP/1.1\r\n" + H + "Content-Length: 1,1\r\n\r\nx");
  add("cl_list_1,2", "R", "POST / HTTP/1.1\r\n" + H + "Content-Length: 1,2\r\n\r\nxy");
  add("cl_plus", "R", "POST / HTTP/1.1\r\n" + H + "Content-Length: +5\r\n\r\nhello");
  add("cl_minus", "R", "POST / HTTP/1.1\r\n" + H + "Content-Length: -5\r\n\r\nhello");
  add("cl_inner_space", "R", "POST / HTTP/1.1\r\n" + H + "Content-Length: 1 2\r\n\r\nhelloworld12");
  add("cl_ows_around", "A", "POST / HTTP/1.1\r\n" + H + "Content-Length:   5  \r\n\r\nhello");
  add("cl_hex", "R", "POST / HTTP/1.1\r\n" + H + "Content-Length: 0x5\r\n\r\nhello");
  add("cl_empty", "R", "POST / HTTP/1.1\r\n" + H + "Content-Length:\r\n\r\n");
  add("cl_overflow", "R", "POST / HTTP/1.1\r\n" + H + "Content-Length: 99999999999999999999999\r\n\r\n");
  add("cl_name_space_colon", "R", "POST / HTTP/1.1\r\n" + H + "Content-Length : 5\r\n\r\nhello");
  // --- Transfer-Encoding variants
  add("te_chunked_identity", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n");
  add("te_identity_chunked", "A/R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n");
  add("te_gzip_chunked", "A", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
  add("te_chunked_gzip", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n");
  add("te_xchunked", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n");
  add("te_CHUNKED_upper", "A", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n");
  add("te_dup_hdr", "A/R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  add("te_chunked_then_gzip_hdr", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n");
  add("te_http10", "R", "POST / HTTP/1.0\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  add("te_name_space_colon", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n");
  add("te_obsfold_value", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n");
  add("te_leading_comma", "A/R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: , chunked\r\n\r\n0\r\n\r\n");
  add("te_vtab_value", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding:\x0b" "chunked\r\n\r\n0\r\n\r\n");
  // --- chunk sizes
  add("chunk_ext", "A", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5;foo=bar\r\nhello\r\n0\r\n\r\n");
  add("chunk_ext_bad_quote", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5;foo=\"b\r\nhello\r\n0\r\n\r\n");
  add("chunk_ext_bare_lf", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n");
  add("chunk_leading_ws", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n");
  add("chunk_trailing_ws", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n");
  add("chunk_bws_before_semi", "A/R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5 ;x\r\nhello\r\n0\r\n\r\n");
  add("chunk_overflow", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n");
  add("chunk_negative", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n");
  add("chunk_0x", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n");
  add("chunk_size_bare_lf", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n");
  add("chunk_data_no_crlf", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n");
  add("chunk_data_bare_lf", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n");
  add("chunk_empty_size", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n");
  // --- header syntax
  add("obsfold_sp", "R", "GET / HTTP/1.1\r\n" + H + "X-A: a\r\n b\r\n\r\n");
  add("obsfold_tab", "R", "GET / HTTP/1.1\r\n" + H + "X-A: a\r\n\tb\r\n\r\n");
  add("first_hdr_leading_sp", "R", "GET / HTTP/1.1\r\n Host: a\r\n\r\n");
  add("sp_before_colon", "R", "GET / HTTP/1.1\r\n" + H + "X-A : b\r\n\r\n");
  add("tab_before_colon", "R", "GET / HTTP/1.1\r\n" + H + "X-A\t: b\r\n\r\n");
  add("name_at_sign", "R", "GET / HTTP/1.1\r\n" + H + "X@A: b\r\n\r\n");
  add("name_quote", "R", "GET / HTTP/1.1\r\n" + H + "X\"A: b\r\n\r\n");
  add("name_slash", "R", "GET / HTTP/1.1\r\n" + H + "X/A: b\r\n\r\n");
  add("name_empty", "R", "GET / HTTP/1.1\r\n" + H + ": b\r\n\r\n");
  add("name_nul", "R", "GET / HTTP/1.1\r\n" + H + S("X\0A: b\r\n\r\n", 9));
  add("name_utf8", "R", "GET / HTTP/1.1\r\n" + H + "X\xc3\xa9: b\r\n\r\n");
  add("no_colon", "R", "GET / HTTP/1.1\r\n" + H + "Foo\r\n\r\n");
  add("value_nul", "R", "GET / HTTP/1.1\r\n" + H + S("X-A: a\0b\r\n\r\n", 11));
  add("value_bare_cr", "R", "GET / HTTP/1.1\r\n" + H + "X-A: a\rb\r\n\r\n");
  add("value_bare_lf_then_name", "A/R", "GET / HTTP/1.1\r\n" + H + "X-A: a\nX-B: b\r\n\r\n");
  add("value_ctl_01", "R", "GET / HTTP/1.1\r\n" + H + "X-A: a\x01" "b\r\n\r\n");
  add("value_del_7f", "R", "GET / HTTP/1.1\r\n" + H + "X-A: a\x7f" "b\r\n\r\n");
  add("value_obs_text", "A", "GET / HTTP/1.1\r\n" + H + "X-A: a\xff\x80" "b\r\n\r\n");
  add("value_tab_inside", "A", "GET / HTTP/1.1\r\n" + H + "X-A: a\tb\r\n\r\n");
  add("bare_lf_everywhere", "A/R", "GET / HTTP/1.1\nHost: a\nX-A: b\n\n");
  add("bare_lf_end_of_headers", "A/R", "GET / HTTP/1.1\r\nHost: a\r\n\n");
  add("leading_crlf", "A", "\r\nGET / HTTP/1.1\r\n" + H + "\r\n");
  add("host_missing_11", "R", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n");
  add("host_dup", "R", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  // --- request line
  add("rl_double_space", "R", "GET  / HTTP/1.1\r\n" + H + "\r\n");
  add("rl_trailing_space", "R", "GET / HTTP/1.1 \r\n" + H + "\r\n");
  add("rl_tab_sep", "R", "GET\t/\tHTTP/1.1\r\n" + H + "\r\n");
  add("rl_absolute_form", "A", "GET http://b.example/x HTTP/1.1\r\n" + H + "\r\n");
  add("rl_connect_authority", "A", "CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n");
  add("rl_options_star", "A", "OPTIONS * HTTP/1.1\r\n" + H + "\r\n");
  add("rl_method_at", "R", "G@T / HTTP/1.1\r\n" + H + "\r\n");
  add("rl_method_lower", "A", "get / HTTP/1.1\r\n" + H + "\r\n");
  add("rl_method_unknown_tok", "A", "FOOBAR / HTTP/1.1\r\n" + H + "\r\n");
  add("rl_http12", "A/R", "GET / HTTP/1.2\r\n" + H + "\r\n");
  add("rl_http20", "R", "GET / HTTP/2.0\r\n" + H + "\r\n");
  add("rl_http09", "R", "GET /\r\n\r\n");
  add("rl_http_lower", "R", "GET / http/1.1\r\n" + H + "\r\n");
  add("rl_http_1_10", "R", "GET / HTTP/1.10\r\n" + H + "\r\n");
  add("rl_target_ctl", "R", "GET /a\x01" "b HTTP/1.1\r\n" + H + "\r\n");
  add("rl_target_del", "R", "GET /a\x7f" "b HTTP/1.1\r\n" + H + "\r\n");
  add("rl_target_utf8", "R", "GET /\xc3\xa9 HTTP/1.1\r\n" + H + "\r\n");
  add("rl_target_fragment", "R", "GET /a#f HTTP/1.1\r\n" + H + "\r\n");
  add("rl_bare_lf", "A/R", "GET / HTTP/1.1\n" + H + "\r\n");
  // --- limits
  add("long_uri_64k", "R", "GET /" + std::string(65536, 'a') + " HTTP/1.1\r\n" + H + "\r\n");
  add("long_hdrs_100k", "R", "GET / HTTP/1.1\r\n" + H + "X-A: " + std::string(100000, 'b') + "\r\n\r\n");
  { std::string m = "GET / HTTP/1.1\r\n" + H; for (int i = 0; i < 5000; i++) m += "X" + std::to_string(i) + ": v\r\n"; m += "\r\n";
    add("many_hdrs_5000", "R", m); }
  add("hdrs_9k", "A/R", "GET / HTTP/1.1\r\n" + H + "X-A: " + std::string(9000, 'b') + "\r\n\r\n");
  // --- framing / pipelining
  add("pipe_2get", "A", "GET /1 HTTP/1.1\r\n" + H + "\r\nGET /2 HTTP/1.1\r\n" + H + "\r\n");
  add("pipe_post_cl_get", "A", "POST /1 HTTP/1.1\r\n" + H + "Content-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\n" + H + "\r\n");
  add("pipe_chunked_get", "A", "POST /1 HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /2 HTTP/1.1\r\n" + H + "\r\n");
  add("get_with_cl_body", "A", "GET /1 HTTP/1.1\r\n" + H + "Content-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\n" + H + "\r\n");
  add("expect_100", "A", "POST / HTTP/1.1\r\n" + H + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello");
  add("upgrade_ws", "A", "GET /ws HTTP/1.1\r\n" + H + "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x05hello");
  add("upgrade_with_cl", "A", "POST /u HTTP/1.1\r\n" + H + "Connection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\n" + H + "\r\n");
  add("connect_tunnel", "A", "CONNECT b:443 HTTP/1.1\r\nHost: b:443\r\n\r\n\x16\x03\x01");
  add("trailers", "A", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\nContent-Length: 99\r\n\r\n");
  add("trailer_obsfold", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n 2\r\n\r\n");
  add("trailer_bad_name", "R", "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\nX T: 1\r\n\r\n");
  return c;
}

// Response-side framing cases (upstream parsing). "req" gives the request
// method the response answers (HEAD changes body rules).
struct RCase { std::string id; std::string req_method; std::string expect; std::string bytes; };
inline std::vector<RCase> make_rcases() {
  return {
    {"r_200_cl", "GET", "body 3", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"},
    {"r_head_cl", "HEAD", "body 0, next msg", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
    {"r_204_cl", "GET", "body 0", "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
    {"r_304_cl", "GET", "body 0", "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
    {"r_100_then_200", "GET", "1xx skipped, then body 2", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
    {"r_close_delim", "GET", "body until EOF", "HTTP/1.1 200 OK\r\n\r\nabcdef"},
    {"r_cl_te", "GET", "reject (or TE wins + close)", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
    {"r_te_not_chunked_last", "GET", "read until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabcdef"},
    {"r_status_2digit", "GET", "reject", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"},
    {"r_no_reason", "GET", "accept", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"},
    {"r_101_upgrade", "GET", "stop after headers", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00"},
  };
}
