// The waypoint's HTTP/1.1 parser: what it accepts and how it reads it, what it refuses and with
// which status, whole and byte by byte. The smuggling cases are those of docs/http1-parsers.md.
#include "waypoint/http1_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace ambit::waypoint {
namespace {

struct Collect final : Http1Parser::BodySink {
  std::string body;
  void on_body(std::span<const uint8_t> d) override {
    body.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
};

struct Parsed {
  Http1Parser::State state;
  RequestHead head;
  ResponseHead response;
  ParseError error;
  std::string body;
  size_t used = 0;
};

// Feeds `in` in pieces of `step` bytes (0: all at once), as a socket would deliver it, keeping
// the unused tail as a caller must. Stops at the end of the first message.
Parsed parse(std::unique_ptr<Http1Parser> p, const std::string& in, size_t step = 0) {
  Collect sink;
  std::string buffer;
  size_t delivered = 0, used = 0;
  while (true) {
    if (p->state() == Http1Parser::State::kDone || p->state() == Http1Parser::State::kError) break;
    size_t n = p->feed({reinterpret_cast<const uint8_t*>(buffer.data()), buffer.size()}, sink);
    buffer.erase(0, n);
    used += n;
    if (n > 0 && !buffer.empty()) continue;
    if (p->state() == Http1Parser::State::kDone || p->state() == Http1Parser::State::kError) break;
    if (delivered == in.size()) {
      if (n == 0) break;
      continue;
    }
    size_t take = step == 0 ? in.size() - delivered : std::min(step, in.size() - delivered);
    buffer.append(in, delivered, take);
    delivered += take;
  }
  Parsed out{p->state(), {}, {}, p->error(), sink.body, used};
  if (p->state() != Http1Parser::State::kError && p->state() != Http1Parser::State::kHead) {
    out.head = p->request();
    out.response = p->response();
  }
  return out;
}

Parsed request(const std::string& in, size_t step = 0) {
  return parse(Http1Parser::for_requests(), in, step);
}

TEST(Http1Parser, ReadsARequestWithItsFieldsLowercasedAndHopByHopFieldsRemoved) {
  auto r = request(
      "GET /api/orders?id=7 HTTP/1.1\r\nHost: shop.shop.svc.cluster.local\r\n"
      "User-Agent: curl/7.88\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
      "End-User: debug\r\n\r\n");
  ASSERT_EQ(r.state, Http1Parser::State::kDone) << r.error.reason;
  EXPECT_EQ(r.head.request.method, "GET");
  EXPECT_EQ(r.head.request.path, "/api/orders?id=7");
  EXPECT_EQ(r.head.request.path_only(), "/api/orders");
  EXPECT_EQ(r.head.request.authority, "shop.shop.svc.cluster.local");
  ASSERT_EQ(r.head.request.headers.size(), 2u);
  EXPECT_EQ(r.head.request.headers[0].name, "user-agent");
  EXPECT_EQ(*r.head.request.header("end-user"), "debug");
  EXPECT_EQ(r.head.request.header("x-hop"), nullptr) << "named by Connection: hop-by-hop";
  EXPECT_TRUE(r.head.keep_alive);
}

TEST(Http1Parser, BodiesArriveWholeWhateverThePieces) {
  for (size_t step : {0u, 1u, 3u, 7u}) {
    auto cl = request("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world", step);
    ASSERT_EQ(cl.state, Http1Parser::State::kDone) << step;
    EXPECT_EQ(cl.body, "hello world");
    EXPECT_EQ(cl.head.framing.content_length, 11u);
    auto chunked = request(
        "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
        step);
    ASSERT_EQ(chunked.state, Http1Parser::State::kDone) << step << chunked.error.reason;
    EXPECT_EQ(chunked.body, "hello world");
    EXPECT_TRUE(chunked.head.framing.chunked);
    // The case Beast 1.74 asserts on when built with assertions (only the last chunk, in bytes).
    auto empty =
        request("POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", step);
    EXPECT_EQ(empty.state, Http1Parser::State::kDone) << step;
  }
}

TEST(Http1Parser, LeadingEmptyLinesAreIgnored) {
  auto r = request("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(r.state, Http1Parser::State::kDone) << r.error.reason;
}

TEST(Http1Parser, AbsoluteFormTargetsGiveTheAuthority) {
  auto r = request("GET http://reviews:9080/x?y HTTP/1.1\r\nHost: other\r\n\r\n");
  ASSERT_EQ(r.state, Http1Parser::State::kDone) << r.error.reason;
  EXPECT_EQ(r.head.request.authority, "reviews:9080");
  EXPECT_EQ(r.head.request.path, "/x?y");
}

TEST(Http1Parser, ExpectAndUpgradeAreSeen) {
  auto r =
      request("POST /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(r.state, Http1Parser::State::kBody);
  EXPECT_TRUE(r.head.expect_continue);
  auto ws = request(
      "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: x\r\n\r\n");
  ASSERT_EQ(ws.state, Http1Parser::State::kDone) << ws.error.reason;
  EXPECT_EQ(ws.head.upgrade, "websocket");
}

struct Refusal {
  const char* name;
  std::string bytes;
  int status;
  const char* reason;  // nullptr: any reason
};

class Http1Refusals : public ::testing::TestWithParam<Refusal> {};

TEST_P(Http1Refusals, AreRefusedWithTheirStatusWholeAndByteByByte) {
  const Refusal& c = GetParam();
  for (size_t step : {0u, 1u}) {
    auto r = request(c.bytes, step);
    ASSERT_EQ(r.state, Http1Parser::State::kError) << c.name << " step " << step;
    EXPECT_EQ(r.error.status, c.status) << c.name << " " << r.error.reason;
    if (c.reason != nullptr) {
      EXPECT_EQ(r.error.reason, c.reason) << c.name;
    }
  }
}

const std::string kHead = "POST / HTTP/1.1\r\nHost: h\r\n";

INSTANTIATE_TEST_SUITE_P(
    Smuggling, Http1Refusals,
    ::testing::Values(
        Refusal{"cl_then_te", kHead + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                400, nullptr},
        Refusal{"te_then_cl", kHead + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                400, nullptr},
        Refusal{"cl_twice_same", kHead + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400,
                "duplicate_content_length"},
        Refusal{"cl_list", kHead + "Content-Length: 1,1\r\n\r\nx", 400, "bad_content_length"},
        Refusal{"cl_twice_differ", kHead + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
                nullptr},
        Refusal{"cl_plus", kHead + "Content-Length: +5\r\n\r\n", 400, nullptr},
        Refusal{"cl_hex", kHead + "Content-Length: 0x5\r\n\r\n", 400, nullptr},
        Refusal{"te_chunked_identity", kHead + "Transfer-Encoding: chunked, identity\r\n\r\n", 501,
                "unsupported_transfer_encoding"},
        Refusal{"te_xchunked", kHead + "Transfer-Encoding: xchunked\r\n\r\n", 501, nullptr},
        Refusal{"te_gzip", kHead + "Transfer-Encoding: gzip\r\n\r\n", 501, nullptr},
        Refusal{"te_twice",
                kHead + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                nullptr},
        Refusal{"te_http10", "POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
                400, "transfer_encoding_in_http10"},
        Refusal{"te_space_before_colon", kHead + "Transfer-Encoding : chunked\r\n\r\n", 400,
                nullptr},
        Refusal{"obs_fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  continued\r\n\r\n", 400,
                "obs_fold"},
        Refusal{"obs_fold_tab_te", kHead + "Transfer-Encoding: gzip\r\n\tchunked\r\n\r\n", 400,
                "obs_fold"},
        Refusal{"bad_chunk_size",
                kHead + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400, nullptr},
        Refusal{"chunk_no_crlf", kHead + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n",
                400, nullptr},
        Refusal{"chunk_size_overflow",
                kHead + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nx\r\n", 400,
                nullptr},
        Refusal{"missing_host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, "missing_host"},
        Refusal{"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "duplicate_host"},
        Refusal{"host_userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", 400, "bad_host"},
        Refusal{"bad_target", "GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bad_target"},
        Refusal{"fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bad_target"},
        Refusal{"star_not_options", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bad_target"},
        Refusal{"connect", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 405, nullptr},
        Refusal{"space_in_target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400, nullptr},
        Refusal{"bad_version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 400, nullptr},
        Refusal{"bare_lf", "GET / HTTP/1.1\nHost: h\n\n\r\n\r\n", 400, nullptr},
        Refusal{"nul_in_value", std::string("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 35),
                400, nullptr},
        Refusal{"empty_name", "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", 400, nullptr},
        Refusal{"name_with_slash", "GET / HTTP/1.1\r\nHost: h\r\nA/B: x\r\n\r\n", 400, nullptr},
        Refusal{"head_too_large",
                "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(70 * 1024, 'a') + "\r\n\r\n", 431,
                "headers_too_large"},
        Refusal{"uri_too_long", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n",
                414, "uri_too_long"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Http1Parser, TooManyFieldsAre431) {
  std::string in = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 120; ++i) in += "X-" + std::to_string(i) + ": v\r\n";
  auto r = request(in + "\r\n");
  ASSERT_EQ(r.state, Http1Parser::State::kError);
  EXPECT_EQ(r.error.status, 431);
}

TEST(Http1Parser, ARequestIsReadUpToItsEndAndTheNextWaits) {
  std::string two =
      "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\nHost: "
      "h\r\n\r\n";
  auto p = Http1Parser::for_requests();
  Collect sink;
  std::span<const uint8_t> all{reinterpret_cast<const uint8_t*>(two.data()), two.size()};
  size_t used = p->feed(all, sink);
  ASSERT_EQ(p->state(), Http1Parser::State::kBody);
  used += p->feed(all.subspan(used), sink);
  ASSERT_EQ(p->state(), Http1Parser::State::kDone);
  EXPECT_EQ(sink.body, "hi");
  EXPECT_EQ(p->feed(all.subspan(used), sink), 0u) << "done: the next message is not touched";
  p->next();
  used += p->feed(all.subspan(used), sink);
  ASSERT_EQ(p->state(), Http1Parser::State::kDone);
  EXPECT_EQ(p->request().request.path, "/b");
  EXPECT_EQ(used, two.size());
}

Parsed response(const std::string& in, bool head = false, size_t step = 0) {
  auto p = Http1Parser::for_responses();
  p->expect_no_body(head);
  auto r = parse(std::move(p), in, step);
  return r;
}

TEST(Http1Parser, ResponsesWithEachFraming) {
  auto cl = response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Y: z\r\n\r\nok");
  ASSERT_EQ(cl.state, Http1Parser::State::kDone);
  EXPECT_EQ(cl.response.status, 200);
  EXPECT_EQ(cl.body, "ok");
  ASSERT_EQ(cl.response.headers.size(), 1u);
  auto head = response("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", true);
  EXPECT_EQ(head.state, Http1Parser::State::kDone) << "a HEAD answer has no body";
  auto no_content = response("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(no_content.state, Http1Parser::State::kDone);
  auto cont = response("HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(cont.state, Http1Parser::State::kDone);
  EXPECT_EQ(cont.response.status, 100);
}

TEST(Http1Parser, ACloseDelimitedResponseEndsWithFinish) {
  auto p = Http1Parser::for_responses();
  Collect sink;
  std::string in = "HTTP/1.1 200 OK\r\n\r\nuntil close";
  std::span<const uint8_t> all{reinterpret_cast<const uint8_t*>(in.data()), in.size()};
  size_t used = p->feed(all, sink);
  ASSERT_EQ(p->state(), Http1Parser::State::kBody);
  EXPECT_TRUE(p->response().close_delimited);
  used += p->feed(all.subspan(used), sink);
  EXPECT_EQ(p->state(), Http1Parser::State::kBody);
  p->finish();
  EXPECT_EQ(p->state(), Http1Parser::State::kDone);
  EXPECT_EQ(sink.body, "until close");
}

TEST(Http1Parser, ATruncatedBodyIsAnErrorAtFinish) {
  auto p = Http1Parser::for_responses();
  Collect sink;
  std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
  std::span<const uint8_t> all{reinterpret_cast<const uint8_t*>(in.data()), in.size()};
  size_t used = p->feed(all, sink);
  p->feed(all.subspan(used), sink);
  p->finish();
  EXPECT_EQ(p->state(), Http1Parser::State::kError);
}

TEST(Http1Serialize, WhatGoesUpstreamReadsBackTheSame) {
  HttpRequest r{"POST", "http", "reviews:9080", "/a?b=c", {{"x-a", "1"}, {"end-user", "debug"}}};
  std::string head = serialize_request_head(r, Framing{true, std::nullopt}, true, "");
  EXPECT_EQ(head,
            "POST /a?b=c HTTP/1.1\r\nhost: reviews:9080\r\nx-a: 1\r\nend-user: debug\r\n"
            "transfer-encoding: chunked\r\n\r\n");
  auto back =
      request(head + chunk_header(3) + "abc" + std::string(kChunkEnd) + std::string(kLastChunk));
  ASSERT_EQ(back.state, Http1Parser::State::kDone) << back.error.reason;
  EXPECT_EQ(back.head.request.path, r.path);
  EXPECT_EQ(back.head.request.headers.size(), 2u);
  EXPECT_EQ(back.body, "abc");
}

TEST(Http1Serialize, LocalResponsesAsEnvoyWritesThem) {
  EXPECT_EQ(local_response(403, "RBAC: access denied", true),
            "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 19\r\n\r\n"
            "RBAC: access denied");
  EXPECT_EQ(local_response(404, "", false),
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
}

}  // namespace
}  // namespace ambit::waypoint
