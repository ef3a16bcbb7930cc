#include <gtest/gtest.h>

#include "kernel/http/router.hpp"

using namespace picloud;
using namespace picloud::kernel;

namespace {
sdk::HttpRoute route(std::string method, std::string path, std::string body) {
  return {std::move(method), std::move(path), "public",
          [body](const sdk::HttpRequest&) { return sdk::HttpResponse::text(200, body); }};
}
std::string call(const http::Router& r, std::string_view method, std::string_view path) {
  auto m = r.match(method, path);
  return m.route ? m.route->handler(sdk::HttpRequest{}).body : "-";
}
}  // namespace

TEST(Router, MostSpecificRouteWins) {
  MetricsRegistry metrics;
  http::Router r(metrics);
  ASSERT_TRUE(r.add(route("GET", "/a/*", "prefix"), "p").ok());
  ASSERT_TRUE(r.add(route("GET", "/a/b/*", "longer prefix"), "p").ok());
  ASSERT_TRUE(r.add(route("GET", "/a/{id}", "param"), "p").ok());
  ASSERT_TRUE(r.add(route("GET", "/a/fixed", "literal"), "p").ok());
  ASSERT_TRUE(r.add(route("*", "/any", "any method"), "p").ok());
  EXPECT_EQ(call(r, "GET", "/a/fixed"), "literal");
  EXPECT_EQ(call(r, "GET", "/a/42"), "param");
  EXPECT_EQ(call(r, "GET", "/a/42/x"), "prefix");
  EXPECT_EQ(call(r, "GET", "/a/b/c/d"), "longer prefix");
  EXPECT_EQ(call(r, "GET", "/a"), "prefix");
  EXPECT_EQ(call(r, "DELETE", "/any"), "any method");
  EXPECT_EQ(call(r, "GET", "/b"), "-");
  EXPECT_EQ(call(r, "HEAD", "/a/fixed"), "literal");
  auto m = r.match("GET", "/a/7");
  EXPECT_EQ(m.params.at("id"), "7");
  auto wrong = r.match("POST", "/a/fixed");
  EXPECT_EQ(wrong.route, nullptr);
  EXPECT_FALSE(wrong.allowed_methods.empty());
}

TEST(Router, ConflictsNameTheOwner) {
  MetricsRegistry metrics;
  http::Router r(metrics);
  ASSERT_TRUE(r.add(route("GET", "/x/{id}", "1"), "first").ok());
  auto dup = r.add(route("GET", "/x/{name}", "2"), "second");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind, sdk::ErrorKind::conflict);
  EXPECT_NE(dup.error().message.find("of first"), std::string::npos) << dup.error().message;
  EXPECT_TRUE(r.add(route("POST", "/x/{id}", "3"), "second").ok());
  EXPECT_FALSE(r.add(route("*", "/x/{id}", "4"), "third").ok());
}

TEST(Router, RejectsBadRoutes) {
  MetricsRegistry metrics;
  http::Router r(metrics);
  EXPECT_FALSE(r.add(route("GET", "no-slash", ""), "p").ok());
  EXPECT_FALSE(r.add(route("FETCH", "/x", ""), "p").ok());
  EXPECT_FALSE(r.add(route("GET", "/a/*/b", ""), "p").ok());
  EXPECT_FALSE(r.add(route("GET", "/a/{x", ""), "p").ok());
  EXPECT_FALSE(r.add(sdk::HttpRoute{"GET", "/c", "", [](const sdk::HttpRequest&) { return sdk::HttpResponse{}; }}, "p").ok());
  EXPECT_FALSE(r.add(sdk::HttpRoute{"GET", "/c", "public", nullptr}, "p").ok());
}

TEST(Metrics, RendersPrometheusText) {
  MetricsRegistry m;
  m.counter("c_total", "a counter", {{"k", "v\"q"}}).inc(3);
  m.histogram("h_seconds", "a histogram").observe(0.003);
  m.gauge("g", "a gauge", [] { return 2.5; });
  std::string text = m.render();
  EXPECT_NE(text.find("# TYPE c_total counter\nc_total{k=\"v\\\"q\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{le=\"0.0025\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_count 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("g 2.5\n"), std::string::npos) << text;
}
