#include <gtest/gtest.h>

#include "kernel/http/wire.hpp"

using namespace picloud;
using namespace picloud::kernel::http;

TEST(Wire, SerialisesOneBufferWithFraming) {
  sdk::HttpResponse r{201, {{"content-type", "text/plain"}, {"Content-Length", "999"}, {"connection", "upgrade"}}, "hi"};
  std::string out;
  ASSERT_TRUE(serialize_response(r, {false, true, false, "rid-1"}, out));
  EXPECT_EQ(out.rfind("HTTP/1.1 201 Created\r\nDate: ", 0), 0u) << out;
  EXPECT_NE(out.find("\r\ncontent-type: text/plain\r\nX-Request-Id: rid-1\r\nContent-Length: 2\r\n\r\nhi"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("999"), std::string::npos) << "a handler's framing headers are dropped";
  EXPECT_EQ(out.find("upgrade"), std::string::npos);
  EXPECT_EQ(out.find("Connection:"), std::string::npos) << "HTTP/1.1 keep-alive is implicit";
}

TEST(Wire, HeadCloseAndHttp10) {
  sdk::HttpResponse r = sdk::HttpResponse::text(200, "body");
  std::string out;
  ASSERT_TRUE(serialize_response(r, {true, false, false, ""}, out));
  EXPECT_NE(out.find("Connection: close\r\nContent-Length: 4\r\n\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n") << "HEAD has no body";
  ASSERT_TRUE(serialize_response(r, {false, true, true, ""}, out));
  EXPECT_NE(out.find("Connection: Keep-Alive\r\n"), std::string::npos);
}

TEST(Wire, RefusesHeadersThatWouldSplitTheResponse) {
  std::string out;
  EXPECT_FALSE(serialize_response({200, {{"x-a", "ok\r\nSet-Cookie: evil=1"}}, ""}, {}, out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(serialize_response({200, {{"bad name", "v"}}, ""}, {}, out));
  EXPECT_FALSE(serialize_response({200, {{"", "v"}}, ""}, {}, out));
  EXPECT_TRUE(valid_header("X-Custom_1", "any text: even ; commas,"));
}

// A response a client or proxy would frame differently than we send it: a
// body after 204/304 would be read as the next response; a 101 would switch
// the connection away from HTTP.
TEST(Wire, StatusesWithoutABodyAreSentWithoutOne) {
  std::string out;
  for (int status : {204, 304}) {
    sdk::HttpResponse r{status, {{"content-length", "5"}}, "hello"};
    ASSERT_TRUE(serialize_response(r, {false, true, false, ""}, out)) << status;
    EXPECT_EQ(out.find("Content-Length"), std::string::npos) << out;
    EXPECT_EQ(out.find("hello"), std::string::npos) << out;
    EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n") << out;
  }
  ASSERT_TRUE(serialize_response({200, {}, ""}, {}, out));
  EXPECT_NE(out.find("Content-Length: 0\r\n\r\n"), std::string::npos) << "an empty 200 still says its length";
  for (int status : {0, 99, 100, 101, 103, 199, 600, 999})
    EXPECT_FALSE(serialize_response({status, {{"upgrade", "websocket"}}, ""}, {}, out)) << status;
}

TEST(Wire, HopByHopHeadersAreTheServers) {
  sdk::HttpResponse r{200,
                      {{"Upgrade", "h2c"}, {"Keep-Alive", "timeout=999"}, {"TE", "trailers"}, {"Trailer", "X-Sum"},
                       {"Transfer-Encoding", "chunked"}, {"Proxy-Connection", "keep-alive"}, {"proxy-anything", "1"},
                       {"Connection", "close"}, {"X-Kept", "yes"}},
                      "ok"};
  std::string out;
  ASSERT_TRUE(serialize_response(r, {}, out));
  for (const char* gone : {"Upgrade", "Keep-Alive", "TE:", "Trailer", "chunked", "Proxy-", "proxy-", "close"})
    EXPECT_EQ(out.find(gone), std::string::npos) << gone << " in\n" << out;
  EXPECT_NE(out.find("X-Kept: yes\r\n"), std::string::npos);
  EXPECT_TRUE(is_hop_by_hop("CONNECTION"));
  EXPECT_FALSE(is_hop_by_hop("X-Connection"));
  EXPECT_FALSE(is_hop_by_hop("tea"));
}

TEST(Wire, AStreamedBodyIsFramedButNotInlined) {
  sdk::HttpResponse known{200, {}, "ignored"};
  known.stream = std::make_shared<sdk::GeneratedBody>(5000, [](char*, std::size_t) -> sdk::Result<std::size_t> { return 0; });
  std::string out;
  ASSERT_TRUE(serialize_response(known, {false, true, false, ""}, out));
  EXPECT_EQ(out.substr(out.size() - 24), "Content-Length: 5000\r\n\r\n") << out;
  sdk::HttpResponse unknown{200, {}, ""};
  unknown.stream = std::make_shared<sdk::GeneratedBody>(-1, [](char*, std::size_t) -> sdk::Result<std::size_t> { return 0; });
  ASSERT_TRUE(serialize_response(unknown, {false, true, false, ""}, out));
  EXPECT_EQ(out.substr(out.size() - 30), "Transfer-Encoding: chunked\r\n\r\n") << out;
  ASSERT_TRUE(serialize_response(unknown, {false, false, true, ""}, out));
  EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos) << "HTTP/1.0: until the connection closes";
  EXPECT_EQ(out.find("Content-Length"), std::string::npos);
  sdk::HttpResponse none{204, {}, ""};
  none.stream = known.stream;
  ASSERT_TRUE(serialize_response(none, {false, true, false, ""}, out));
  EXPECT_EQ(out.find("Content-Length"), std::string::npos);
}
