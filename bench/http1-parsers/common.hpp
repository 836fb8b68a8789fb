// Shared result type, printing and driver for the per-parser harnesses.
#pragma once
#include "cases.hpp"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

struct Msg {
  std::string method, target;  // or status code in target for responses
  int vmaj = -1, vmin = -1;
  std::vector<std::pair<std::string, std::string>> hdrs;
  size_t body = 0;
  size_t end = 0;  // offset just past the message in the input
  std::string note;  // e.g. "upgrade", "chunked"
};
struct Result {
  std::vector<Msg> msgs;
  std::string verdict;  // ACC (all bytes consumed), REJ, INC (needs more), UPG (stopped at upgrade)
  std::string err;
  size_t errpos = 0;
};

inline std::string esc(const std::string& s, size_t max = 40) {
  std::string o;
  for (unsigned char ch : s) {
    if (o.size() >= max) { o += "..."; break; }
    if (ch >= 0x21 && ch < 0x7f && ch != '|') o += (char)ch;
    else { char b[8]; snprintf(b, sizeof b, "\\x%02x", ch); o += b; }
  }
  return o;
}

inline std::string describe(const Result& r) {
  std::string o;
  for (auto& m : r.msgs) {
    o += "[" + esc(m.method, 12) + " " + esc(m.target, 24) + " " + std::to_string(m.vmaj) + "." +
         std::to_string(m.vmin) + " body=" + std::to_string(m.body) + " end=" + std::to_string(m.end);
    if (!m.note.empty()) o += " " + m.note;
    int shown = 0;
    for (auto& h : m.hdrs) {
      if (h.first == "Host" && h.second == "a") continue;
      if (++shown > 3) { o += " +" + std::to_string(m.hdrs.size()) + "hdrs"; break; }
      o += " {" + esc(h.first, 20) + "=" + esc(h.second, 24) + "}";
    }
    o += "]";
  }
  if (!r.err.empty()) o += " err=" + r.err + "@" + std::to_string(r.errpos);
  return o;
}

// Bytes handed to the parser per call ("split" mode feeds 1 byte at a time).
inline size_t g_step = (size_t)-1;
Result run_req(const std::string& in);
Result run_resp(const std::string& in, const std::string& req_method);
// Parse `buf` (one complete message) `n` times; returns a checksum.
size_t bench_parse(const std::string& buf, size_t n);

inline std::string bench_get() {
  std::string s =
      "GET /api/v1/users/12345/profile?fields=name,email&lang=en HTTP/1.1\r\n"
      "Host: users.internal.svc.cluster.local\r\n"
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64) ambit-bench/1.0\r\n"
      "Accept: application/json, text/plain, */*\r\n"
      "Accept-Encoding: gzip, deflate, br\r\n"
      "Accept-Language: en-US,en;q=0.9\r\n"
      "Cookie: session=abcdef0123456789abcdef0123456789\r\n"
      "X-Request-Id: 7f3c9a2e-1b4d-4e8f-9a6b-2c5d8e1f0a3b\r\n"
      "Connection: keep-alive\r\n\r\n";
  return s;
}
inline std::string bench_post_chunked() {
  std::string s =
      "POST /api/v1/upload HTTP/1.1\r\n"
      "Host: upload.internal.svc.cluster.local\r\n"
      "User-Agent: ambit-bench/1.0\r\n"
      "Content-Type: application/octet-stream\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; i++) s += "100\r\n" + std::string(256, 'a' + i) + "\r\n";
  s += "0\r\n\r\n";
  return s;
}

inline int driver(int argc, char** argv, const char* name) {
  std::string mode = argc > 1 ? argv[1] : "matrix";
  if (mode == "split") { g_step = 1; mode = "matrix"; }
  if (mode == "matrix") {
    for (auto& c : make_cases()) {
      if (getenv("TRACE")) fprintf(stderr, "case %s\n", c.id.c_str());
      Result r = run_req(c.bytes);
      printf("%s\t%s\t%s\t%s\t%s\n", name, c.id.c_str(), c.rfc.c_str(), r.verdict.c_str(), describe(r).c_str());
    }
    for (auto& c : make_rcases()) {
      Result r = run_resp(c.bytes, c.req_method);
      printf("%s\t%s\t%s\t%s\t%s\n", name, c.id.c_str(), c.expect.c_str(), r.verdict.c_str(), describe(r).c_str());
    }
    return 0;
  }
  if (mode == "bench") {
    std::string which = argc > 2 ? argv[2] : "get";
    size_t n = argc > 3 ? strtoull(argv[3], nullptr, 10) : 1000000;
    std::string buf = which == "get" ? bench_get() : bench_post_chunked();
    auto t0 = std::chrono::steady_clock::now();
    size_t sum = bench_parse(buf, n);
    auto t1 = std::chrono::steady_clock::now();
    double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
    printf("%s\t%s\tbytes=%zu\tn=%zu\tns/req=%.1f\tMB/s=%.0f\tsum=%zu\n", name, which.c_str(), buf.size(), n, ns,
           buf.size() / ns * 1e3, sum);
    return 0;
  }
  return 2;
}
