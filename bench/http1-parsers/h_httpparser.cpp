// Harness for nodejs http-parser 2.9.4 (Debian libhttp-parser-dev).
// g++ -O2 -std=c++20 h_httpparser.cpp -lhttp_parser
#include "common.hpp"
#include <http_parser.h>

namespace {
struct Ctx {
  Result* r;
  Msg cur;
  bool in_msg = false, last_was_value = false;
  const char* base;
  bool skip_body = false;
};

int on_begin(http_parser* p) { auto* c = (Ctx*)p->data; c->cur = Msg{}; c->in_msg = true; c->last_was_value = false; return 0; }
int on_url(http_parser* p, const char* a, size_t n) { ((Ctx*)p->data)->cur.target.append(a, n); return 0; }
int on_status(http_parser* p, const char* a, size_t n) { ((Ctx*)p->data)->cur.note.append(a, n); return 0; }
int on_hf(http_parser* p, const char* a, size_t n) {
  auto* c = (Ctx*)p->data;
  if (c->cur.hdrs.empty() || c->last_was_value) c->cur.hdrs.emplace_back();
  c->cur.hdrs.back().first.append(a, n); c->last_was_value = false; return 0;
}
int on_hv(http_parser* p, const char* a, size_t n) {
  auto* c = (Ctx*)p->data;
  if (c->cur.hdrs.empty()) c->cur.hdrs.emplace_back();
  c->cur.hdrs.back().second.append(a, n); c->last_was_value = true; return 0;
}
int on_hc(http_parser* p) {
  auto* c = (Ctx*)p->data;
  c->cur.vmaj = p->http_major; c->cur.vmin = p->http_minor;
  if (p->type == HTTP_REQUEST) c->cur.method = http_method_str((http_method)p->method);
  else c->cur.method = std::to_string(p->status_code);
  if (p->flags & F_CHUNKED) c->cur.note += " chunked";
  if (p->upgrade) c->cur.note += " upgrade";
  return c->skip_body ? 1 : 0;
}
int on_body(http_parser* p, const char*, size_t n) { ((Ctx*)p->data)->cur.body += n; return 0; }
int on_complete(http_parser* p) {
  auto* c = (Ctx*)p->data; c->in_msg = false;
  c->r->msgs.push_back(c->cur);
  http_parser_pause(p, 1);  // so execute() returns exactly at the message end
  return 0;
}

http_parser_settings settings() {
  http_parser_settings s; http_parser_settings_init(&s);
  s.on_message_begin = on_begin; s.on_url = on_url; s.on_status = on_status;
  s.on_header_field = on_hf; s.on_header_value = on_hv; s.on_headers_complete = on_hc;
  s.on_body = on_body; s.on_message_complete = on_complete;
  return s;
}

Result run(const std::string& in, http_parser_type t, bool head) {
  Result r; Ctx c; c.r = &r; c.base = in.data(); c.skip_body = head;
  http_parser p; http_parser_init(&p, t); p.data = &c;
  static http_parser_settings s = settings();
  size_t off = 0;
  while (true) {
    size_t len = std::min(g_step, in.size() - off);
    size_t n = http_parser_execute(&p, &s, in.data() + off, len);
    off += n;
    auto e = HTTP_PARSER_ERRNO(&p);
    if (e == HPE_PAUSED) {
      r.msgs.back().end = off;
      http_parser_pause(&p, 0);
      if (p.upgrade) { r.verdict = "UPG"; r.msgs.back().note += " upgrade-stop"; return r; }
      if (off == in.size()) break;
      continue;
    }
    if (e != HPE_OK) { r.verdict = "REJ"; r.err = http_errno_name(e); r.errpos = off; return r; }
    if (p.upgrade) { r.verdict = "UPG"; return r; }
    if (off < in.size()) continue;
    break;
  }
  if (t == HTTP_RESPONSE && c.in_msg) {  // signal EOF
    http_parser_execute(&p, &s, nullptr, 0);
    auto e = HTTP_PARSER_ERRNO(&p);
    if (e == HPE_PAUSED) { r.msgs.back().end = off; r.msgs.back().note += " eof-delimited"; }
    else if (e != HPE_OK) { r.verdict = "REJ"; r.err = http_errno_name(e); r.errpos = off; return r; }
  }
  r.verdict = c.in_msg ? "INC" : "ACC";
  return r;
}

// --- bench: zero-copy callbacks recording pointers only
struct BCtx { const char* hp[64]; size_t hn[64]; int nh; size_t body; size_t msgs; };
int b_hf(http_parser* p, const char* a, size_t n) { auto* c = (BCtx*)p->data; c->hp[c->nh & 63] = a; c->hn[c->nh & 63] = n; c->nh++; return 0; }
int b_hv(http_parser* p, const char* a, size_t n) { auto* c = (BCtx*)p->data; c->hp[c->nh & 63] = a; c->hn[c->nh & 63] = n; c->nh++; return 0; }
int b_url(http_parser* p, const char* a, size_t n) { auto* c = (BCtx*)p->data; c->hp[0] = a; c->hn[0] = n; return 0; }
int b_body(http_parser* p, const char*, size_t n) { ((BCtx*)p->data)->body += n; return 0; }
int b_done(http_parser* p) { ((BCtx*)p->data)->msgs++; return 0; }
}  // namespace

Result run_req(const std::string& in) { return run(in, HTTP_REQUEST, false); }
Result run_resp(const std::string& in, const std::string& m) { return run(in, HTTP_RESPONSE, m == "HEAD"); }

size_t bench_parse(const std::string& buf, size_t n) {
  http_parser_settings s; http_parser_settings_init(&s);
  s.on_url = b_url; s.on_header_field = b_hf; s.on_header_value = b_hv; s.on_body = b_body; s.on_message_complete = b_done;
  BCtx c{}; http_parser p; http_parser_init(&p, HTTP_REQUEST); p.data = &c;
  for (size_t i = 0; i < n; i++) {
    size_t k = http_parser_execute(&p, &s, buf.data(), buf.size());
    if (k != buf.size()) { fprintf(stderr, "bench error %s\n", http_errno_name(HTTP_PARSER_ERRNO(&p))); return 0; }
  }
  return c.msgs + c.body + c.nh;
}

int main(int argc, char** argv) { return driver(argc, argv, "http-parser"); }
