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
