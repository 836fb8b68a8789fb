// Harness for llhttp 8.1.0 (C sources shipped by Debian package node-llhttp,
// extracted with dpkg -x into llhttp-deb/). Build: see build.sh
#include "common.hpp"
#include "llhttp.h"

namespace {
struct Ctx {
  Result* r;
  Msg cur;
  bool in_msg = false, last_was_value = false;
  const char* base;
  bool skip_body = false;
};

int on_begin(llhttp_t* p) { auto* c = (Ctx*)p->data; c->cur = Msg{}; c->in_msg = true; c->last_was_value = false; return 0; }
int on_url(llhttp_t* p, const char* a, size_t n) { ((Ctx*)p->data)->cur.target.append(a, n); return 0; }
int on_status(llhttp_t* p, const char* a, size_t n) { ((Ctx*)p->data)->cur.note.append(a, n); return 0; }
int on_hf(llhttp_t* p, const char* a, size_t n) {
  auto* c = (Ctx*)p->data;
  if (c->cur.hdrs.empty() || c->last_was_value) c->cur.hdrs.emplace_back();
  c->cur.hdrs.back().first.append(a, n); c->last_was_value = false; return 0;
}
int on_hv(llhttp_t* p, const char* a, size_t n) {
  auto* c = (Ctx*)p->data;
  if (c->cur.hdrs.empty()) c->cur.hdrs.emplace_back();
  c->cur.hdrs.back().second.append(a, n); c->last_was_value = true; return 0;
}
int on_hc(llhttp_t* p) {
  auto* c = (Ctx*)p->data;
  c->cur.vmaj = p->http_major; c->cur.vmin = p->http_minor;
  if (p->type == HTTP_REQUEST) c->cur.method = llhttp_method_name((llhttp_method_t)p->method);
  else c->cur.method = std::to_string(p->status_code);
  if (p->flags & F_CHUNKED) c->cur.note += " chunked";
  if (p->upgrade) c->cur.note += " upgrade";
  return c->skip_body ? 1 : 0;
}
int on_body(llhttp_t* p, const char*, size_t n) { ((Ctx*)p->data)->cur.body += n; return 0; }
int on_complete(llhttp_t* p) {
  auto* c = (Ctx*)p->data; c->in_msg = false;
  c->r->msgs.push_back(c->cur);
  return HPE_PAUSED;  // so execute() returns exactly at the message end
}

llhttp_settings_t settings() {
  llhttp_settings_t s; llhttp_settings_init(&s);
  s.on_message_begin = on_begin; s.on_url = on_url; s.on_status = on_status;
  s.on_header_field = on_hf; s.on_header_value = on_hv; s.on_headers_complete = on_hc;
  s.on_body = on_body; s.on_message_complete = on_complete;
  return s;
}

Result run(const std::string& in, llhttp_type_t t, bool head) {
  Result r; Ctx c; c.r = &r; c.base = in.data(); c.skip_body = head;
  static llhttp_settings_t s = settings();
  llhttp_t p; llhttp_init(&p, t, &s); p.data = &c;
  size_t off = 0;
  while (off < in.size()) {
    size_t len = std::min(g_step, in.size() - off);
    auto e = llhttp_execute(&p, in.data() + off, len);
    if (e == HPE_OK) { off += len; continue; }
    size_t pos = llhttp_get_error_pos(&p) - in.data();
    if (e == HPE_PAUSED) {
      r.msgs.back().end = pos; off = pos;
      llhttp_resume(&p);
      if (p.upgrade) { r.verdict = "UPG"; r.msgs.back().note += " upgrade-stop"; return r; }
      continue;
    }
    if (e == HPE_PAUSED_UPGRADE) { r.verdict = "UPG"; if (!r.msgs.empty()) r.msgs.back().note += " upgrade-stop@" + std::to_string(pos); return r; }
    r.verdict = "REJ"; r.err = llhttp_errno_name(e); r.errpos = pos;
    if (p.reason) r.err += std::string("(") + p.reason + ")";
    return r;
  }
  if (t == HTTP_RESPONSE && c.in_msg) {
    auto e = llhttp_finish(&p);
    if (e == HPE_PAUSED || e == HPE_OK) { if (!c.in_msg && !r.msgs.empty()) { r.msgs.back().end = off; r.msgs.back().note += " eof-delimited"; } }
    else { r.verdict = "REJ"; r.err = llhttp_errno_name(e); r.errpos = off; return r; }
  }
  r.verdict = c.in_msg ? "INC" : "ACC";
  return r;
}

// --- bench: zero-copy callbacks recording pointers only
struct BCtx { const char* hp[64]; size_t hn[64]; int nh; size_t body; size_t msgs; };
int b_hf(llhttp_t* p, const char* a, size_t n) { auto* c = (BCtx*)p->data; c->hp[c->nh & 63] = a; c->hn[c->nh & 63] = n; c->nh++; return 0; }
int b_hv(llhttp_t* p, const char* a, size_t n) { auto* c = (BCtx*)p->data; c->hp[c->nh & 63] = a; c->hn[c->nh & 63] = n; c->nh++; return 0; }
int b_url(llhttp_t* p, const char* a, size_t n) { auto* c = (BCtx*)p->data; c->hp[0] = a; c->hn[0] = n; return 0; }
int b_body(llhttp_t* p, const char*, size_t n) { ((BCtx*)p->data)->body += n; return 0; }
int b_done(llhttp_t* p) { ((BCtx*)p->data)->msgs++; return 0; }
}  // namespace

Result run_req(const std::string& in) { return run(in, HTTP_REQUEST, false); }
Result run_resp(const std::string& in, const std::string& m) { return run(in, HTTP_RESPONSE, m == "HEAD"); }

size_t bench_parse(const std::string& buf, size_t n) {
  llhttp_settings_t s; llhttp_settings_init(&s);
  s.on_url = b_url; s.on_header_field = b_hf; s.on_header_value = b_hv; s.on_body = b_body; s.on_message_complete = b_done;
  BCtx c{}; llhttp_t p; llhttp_init(&p, HTTP_REQUEST, &s); p.data = &c;
  for (size_t i = 0; i < n; i++) {
    auto e = llhttp_execute(&p, buf.data(), buf.size());
    if (e != HPE_OK) { fprintf(stderr, "bench error %s\n", llhttp_errno_name(e)); return 0; }
  }
  return c.msgs + c.body + c.nh;
}

int main(int argc, char** argv) { return
#ifndef HARNESS_NAME
#define HARNESS_NAME "llhttp"
#endif
  driver(argc, argv, HARNESS_NAME); }
