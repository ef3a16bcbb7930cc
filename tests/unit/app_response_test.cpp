// The rules for scripts' responses on their own (the end-to-end tests with
// real scripts are in tests/dispatch/app_response_test.cpp). The scripting
// API already refuses a 1xx status and split headers when set; these show
// the rules hold for a response that got past it anyway.
#include "kernel/http/app_response.hpp"

#include <gtest/gtest.h>

using namespace picloud;
using namespace picloud::kernel::http;

namespace {
bool has_header(const sdk::HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return true;
  return false;
}
}  // namespace

TEST(AppResponseRules, StatusesOutsideTheFinalRangeAreTheScriptsFault) {
  for (int status : {0, 99, 100, 101, 199, 600}) {
    auto r = app_response({status, {{"Upgrade", "websocket"}}, "x"});
    EXPECT_EQ(r.status, 502) << status;
    EXPECT_NE(r.body.find(R"("code":"script_error")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("status " + std::to_string(status)), std::string::npos) << r.body;
  }
  EXPECT_EQ(app_response({599, {}, ""}).status, 599);
  EXPECT_EQ(app_response({200, {}, ""}).status, 200);
}

TEST(AppResponseRules, SplitHeadersAreTheScriptsFault) {
  EXPECT_EQ(app_response({200, {{"X-A", "a\r\nSet-Cookie: x=1"}}, ""}).status, 502);
  EXPECT_EQ(app_response({200, {{"X-A", std::string("a\0b", 3)}}, ""}).status, 502);
  EXPECT_EQ(app_response({200, {{"X A", "a"}}, ""}).status, 502);
}

TEST(AppResponseRules, HopByHopHeadersAndTheAdminSessionCookieAreDropped) {
  auto r = app_response({204,
                         {{"Connection", "close"}, {"upgrade", "h2c"}, {"Proxy-Foo", "1"}, {"Content-Length", "3"},
                          {"Set-Cookie", "picloud_session=x"}, {"set-cookie", " __HOST-Picloud_Session = x; Path=/"},
                          {"Set-Cookie", "__Secure-picloud_session=x"}, {"Set-Cookie", "picloud_session"},
                          {"Set-Cookie", "theme=dark"}, {"X-Kept", "1"}},
                         "abc"});
  EXPECT_EQ(r.status, 204);
  for (const char* gone : {"Connection", "upgrade", "Proxy-Foo", "Content-Length"}) EXPECT_FALSE(has_header(r, gone)) << gone;
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Set-Cookie", "theme=dark"}));
  EXPECT_EQ(r.headers[1].first, "X-Kept");
}
