// Http2Codec on both ends in memory: what one session submits, the other hears, and the checks
// and flow control the waypoint relies on.
#include "waypoint/http2_codec.h"

#include <gtest/gtest.h>

#include <map>

namespace ambit::waypoint {
namespace {

struct Recorder : Http2Codec::Handler {
  struct Stream {
    HttpRequest request;
    int status = 0;
    std::vector<Header> headers, trailers;
    std::string body;
    bool ended = false, closed = false;
    uint32_t code = 0;
  };
  void on_request(int32_t id, HttpRequest r, bool end) override {
    streams[id].request = std::move(r);
    streams[id].ended = end;
  }
  void on_response(int32_t id, int status, std::vector<Header> h, bool) override {
    streams[id].status = status;
    streams[id].headers = std::move(h);
  }
  void on_trailers(int32_t id, std::vector<Header> t) override { streams[id].trailers = t; }
  void on_data(int32_t id, std::span<const uint8_t> d) override {
    streams[id].body.append(reinterpret_cast<const char*>(d.data()), d.size());
    if (consume && codec) codec->consume(id, d.size());
  }
  void on_end(int32_t id) override { streams[id].ended = true; }
  void on_closed(int32_t id, uint32_t code) override {
    streams[id].closed = true;
    streams[id].code = code;
  }
  void on_drained(int32_t) override { ++drained; }
  void on_malformed(int32_t, std::string_view reason) override { malformed.emplace_back(reason); }
  std::map<int32_t, Stream> streams;
  std::vector<std::string> malformed;
  Http2Codec* codec = nullptr;
  bool consume = true;
  int drained = 0;
};

// A client and a server session joined in memory.
struct Pair {
  explicit Pair(Http2Codec::Settings server_settings = {})
      : client(Http2Codec::Role::kClient, c),
        server(Http2Codec::Role::kServer, s, server_settings) {
    c.codec = &client;
    s.codec = &server;
  }
  // Moves bytes both ways until neither side has more (bounded).
  bool settle() {
    for (int i = 0; i < 100; ++i) {
      std::string a, b;
      client.take_output(a);
      if (!a.empty() && !server.feed({reinterpret_cast<uint8_t*>(a.data()), a.size()}, &error))
        return false;
      server.take_output(b);
      if (!b.empty() && !client.feed({reinterpret_cast<uint8_t*>(b.data()), b.size()}, &error))
        return false;
      if (a.empty() && b.empty()) return true;
    }
    return true;
  }
  Recorder c, s;
  Http2Codec client, server;
  std::string error;
};

HttpRequest request(std::string method, std::string path, std::vector<Header> headers = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.authority = "shop:80";
  r.path = std::move(path);
  r.headers = std::move(headers);
  return r;
}

TEST(Http2Codec, ARequestWithBodyAndTrailersAndItsResponseCrossWhole) {
  Pair p;
  int32_t id = p.client.submit_request(
      request("POST", "/cart?x=1", {{"content-type", "application/grpc"}, {"te", "trailers"}}),
      false);
  ASSERT_GT(id, 0);
  p.client.submit_data(id, "hello ");
  p.client.submit_data(id, "world");
  p.client.submit_end(id, {{"x-checksum", "42"}});
  ASSERT_TRUE(p.settle()) << p.error;
  const auto& in = p.s.streams[id];
  EXPECT_EQ(in.request.method, "POST");
  EXPECT_EQ(in.request.authority, "shop:80");
  EXPECT_EQ(in.request.path, "/cart?x=1");
  ASSERT_NE(in.request.header("te"), nullptr);
  EXPECT_EQ(in.body, "hello world");
  ASSERT_EQ(in.trailers.size(), 1u);
  EXPECT_EQ(in.trailers[0].value, "42");
  EXPECT_TRUE(in.ended);

  p.server.submit_response(id, 200, {{"content-type", "application/grpc"}}, false);
  p.server.submit_data(id, "answer");
  p.server.submit_end(id, {{"grpc-status", "0"}});
  ASSERT_TRUE(p.settle()) << p.error;
  const auto& out = p.c.streams[id];
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.body, "answer");
  ASSERT_EQ(out.trailers.size(), 1u);
  EXPECT_EQ(out.trailers[0].name, "grpc-status");
  EXPECT_TRUE(out.closed);
  EXPECT_EQ(out.code, 0u);
}

TEST(Http2Codec, CookiesAreJoinedAndConnectionFieldsAreNotSent) {
  Pair p;
  int32_t id = p.client.submit_request(request("GET", "/",
                                               {{"cookie", "a=1"},
                                                {"connection", "keep-alive"},
                                                {"cookie", "b=2"},
                                                {"transfer-encoding", "chunked"},
                                                {"te", "gzip"}}),
                                       true);
  ASSERT_TRUE(p.settle()) << p.error;
  const auto& r = p.s.streams[id].request;
  ASSERT_EQ(r.headers.size(), 1u);  // nghttp2 would reset the stream on any of the others
  EXPECT_EQ(r.headers[0].value, "a=1; b=2");
  EXPECT_EQ(r.cookie("b"), "2");
}

TEST(Http2Codec, AHeadBeyondTheLimitResetsItsStream) {
  Http2Codec::Settings small;
  small.max_header_bytes = 1024;
  Pair p(small);
  int32_t id =
      p.client.submit_request(request("GET", "/", {{"x-big", std::string(2000, 'a')}}), true);
  ASSERT_TRUE(p.settle()) << p.error;
  EXPECT_TRUE(p.c.streams[id].closed);
  EXPECT_NE(p.c.streams[id].code, 0u);
  EXPECT_EQ(p.s.streams[id].request.method, "");  // never handed on as a request
  ASSERT_FALSE(p.s.malformed.empty());
  EXPECT_EQ(p.s.malformed[0], "h2_headers_too_large");
}

TEST(Http2Codec, BytesThatAreNotAPrefaceBreakTheSession) {
  Recorder r;
  Http2Codec server(Http2Codec::Role::kServer, r);
  std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string error;
  EXPECT_FALSE(server.feed({reinterpret_cast<uint8_t*>(junk.data()), junk.size()}, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_TRUE(r.streams.empty());
}

TEST(Http2Codec, WhatIsNotConsumedHoldsTheSenderBack) {
  Http2Codec::Settings tight;
  tight.stream_window = 16 * 1024;
  tight.connection_window = 64 * 1024;
  Pair p(tight);
  p.s.consume = false;  // the server passes nothing on
  int32_t id = p.client.submit_request(request("POST", "/upload"), false);
  ASSERT_TRUE(p.settle());  // the server's SETTINGS have arrived: its window holds
  p.client.submit_data(id, std::string(100 * 1024, 'x'));
  ASSERT_TRUE(p.settle()) << p.error;
  EXPECT_EQ(p.s.streams[id].body.size(), 16u * 1024);  // one window, no more
  EXPECT_EQ(p.client.backlog(id), 100u * 1024 - 16 * 1024);
  // Consuming reopens the window and the rest flows.
  p.s.consume = true;
  p.server.consume(id, 16 * 1024);
  for (int i = 0; i < 20 && p.client.backlog(id) > 0; ++i) ASSERT_TRUE(p.settle());
  EXPECT_EQ(p.s.streams[id].body.size(), 100u * 1024);
  EXPECT_EQ(p.client.backlog(id), 0u);
}

}  // namespace
}  // namespace ambit::waypoint
