// The dashboard's files at /admin: served only on the admin API's hosts,
// deep links answered with the app's page, hashed assets cached for good
// and everything else revalidated, gzip to browsers that take it, and a
// strict Content-Security-Policy on every answer. (The dashboard itself is
// tested in a real browser by dashboard/e2e.)
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fixture.hpp"
#include "kernel/dashboard/dashboard_site.hpp"

using namespace picloud;
using namespace picloud::test;
using kernel::dashboard::DashboardSite;
using kernel::dashboard::EmbeddedFile;

namespace {

const std::vector<EmbeddedFile> kFiles = {
    {"index.html", "<!doctype html><title>PiCloud</title>", "GZ-INDEX"},
    {"assets/app-3f2a.js", "export default 1;", "GZ-APP"},
    {"assets/app-3f2a.css", "body{}", ""},
    {"favicon.svg", "<svg/>", ""},
};

sdk::HttpRequest get(std::string path, std::vector<std::pair<std::string, std::string>> headers = {}) {
  sdk::HttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.headers = std::move(headers);
  return r;
}

std::string header(const sdk::HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

}  // namespace

TEST(DashboardSite, DeepLinksGetTheAppsPageAndFilesThemselves) {
  DashboardSite site(kFiles);
  ASSERT_TRUE(site.built());
  for (const char* path : {"/admin/", "/admin/apps/shop/scripts", "/admin/x/kv/keys"}) {
    auto r = site.serve(get(path));
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, "<!doctype html><title>PiCloud</title>") << path;
    EXPECT_EQ(header(r, "content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(header(r, "cache-control"), "no-cache") << "the page is revalidated, so an upgrade shows at once";
    EXPECT_FALSE(header(r, "etag").empty());
  }
  auto svg = site.serve(get("/admin/favicon.svg"));
  EXPECT_EQ(svg.body, "<svg/>");
  EXPECT_EQ(header(svg, "content-type"), "image/svg+xml");

  auto js = site.serve(get("/admin/assets/app-3f2a.js"));
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "export default 1;");
  EXPECT_EQ(header(js, "content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(header(js, "cache-control"), "public, max-age=31536000, immutable");

  // A file that is not there (a stale hashed name) is a 404, never HTML.
  auto stale = site.serve(get("/admin/assets/app-0000.js"));
  EXPECT_EQ(stale.status, 404);
  EXPECT_NE(header(stale, "content-type").find("text/plain"), std::string::npos);
  EXPECT_EQ(site.serve(get("/admin/../../etc/passwd.txt")).status, 404);

  // /admin itself redirects to the page's directory, keeping the query.
  auto bare = site.serve(get("/admin"));
  EXPECT_EQ(bare.status, 308);
  EXPECT_EQ(header(bare, "location"), "/admin/");
  auto with_query = get("/admin");
  with_query.query = "next=apps";
  EXPECT_EQ(header(site.serve(with_query), "location"), "/admin/?next=apps");
}

TEST(DashboardSite, GzipGoesOnlyToBrowsersThatTakeIt) {
  DashboardSite site(kFiles);
  for (const char* accept : {"gzip", "gzip, deflate, br", "br;q=1.0, GZIP;q=0.5", "*"}) {
    auto r = site.serve(get("/admin/assets/app-3f2a.js", {{"accept-encoding", accept}}));
    EXPECT_EQ(r.body, "GZ-APP") << accept;
    EXPECT_EQ(header(r, "content-encoding"), "gzip") << accept;
    EXPECT_EQ(header(r, "vary"), "Accept-Encoding");
  }
  for (const char* accept : {"", "br", "gzip;q=0", "deflate, gzip; q=0.0", "*, gzip;q=0", "*;q=0"}) {
    auto r = site.serve(get("/admin/assets/app-3f2a.js", {{"accept-encoding", accept}}));
    EXPECT_EQ(r.body, "export default 1;") << accept;
    EXPECT_EQ(header(r, "content-encoding"), "") << accept;
  }
  // No compressed copy: the file as built, whatever the browser takes.
  auto css = site.serve(get("/admin/assets/app-3f2a.css", {{"accept-encoding", "gzip"}}));
  EXPECT_EQ(css.body, "body{}");
  EXPECT_EQ(header(css, "content-encoding"), "");
}

TEST(DashboardSite, RevalidationAnswersNotModified) {
  DashboardSite site(kFiles);
  auto first = site.serve(get("/admin/"));
  const std::string etag = header(first, "etag");
  ASSERT_FALSE(etag.empty());
  auto again = site.serve(get("/admin/apps", {{"if-none-match", etag}}));
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(site.serve(get("/admin/", {{"if-none-match", "\"other\""}})).status, 200);
  EXPECT_EQ(site.serve(get("/admin/", {{"if-none-match", "\"other\", W/" + etag}})).status, 304) << "a list, weakly";
  EXPECT_EQ(site.serve(get("/admin/", {{"if-none-match", "*"}})).status, 304);
  // The compressed copy is another representation with its own validator.
  auto gz = site.serve(get("/admin/", {{"accept-encoding", "gzip"}}));
  const std::string gz_etag = header(gz, "etag");
  EXPECT_NE(gz_etag, etag);
  EXPECT_EQ(site.serve(get("/admin/", {{"accept-encoding", "gzip"}, {"if-none-match", gz_etag}})).status, 304);
  EXPECT_EQ(site.serve(get("/admin/", {{"if-none-match", gz_etag}})).status, 200) << "not the uncompressed one";
  // Another file has another validator.
  EXPECT_NE(header(site.serve(get("/admin/favicon.svg")), "etag"), etag);
}

TEST(DashboardSite, EveryAnswerCarriesTheSecurityHeaders) {
  DashboardSite site(kFiles);
  DashboardSite unbuilt(std::span<const EmbeddedFile>{});
  auto post = get("/admin/");
  post.method = "POST";
  for (const auto& r : {site.serve(get("/admin/")), site.serve(get("/admin/assets/app-3f2a.js")),
                        site.serve(get("/admin/nope.js")), site.serve(get("/admin")), site.serve(post),
                        unbuilt.serve(get("/admin/"))}) {
    const std::string csp = header(r, "content-security-policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << r.status;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos);
    EXPECT_EQ(header(r, "x-content-type-options"), "nosniff");
    EXPECT_EQ(header(r, "x-frame-options"), "DENY");
    EXPECT_EQ(header(r, "referrer-policy"), "no-referrer");
  }
  auto refused = site.serve(post);
  EXPECT_EQ(refused.status, 405);
  EXPECT_EQ(header(refused, "allow"), "GET, HEAD");
}

TEST(DashboardSite, ABuildWithoutTheDashboardSaysSo) {
  DashboardSite unbuilt(std::span<const EmbeddedFile>{});
  EXPECT_FALSE(unbuilt.built());
  auto r = unbuilt.serve(get("/admin/"));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("not part of this build"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("/api/v1/admin"), std::string::npos) << "the API works without it";
}

TEST(DashboardSite, OnlyAdminAndBelowIsTheDashboards) {
  using kernel::dashboard::dashboard_path;
  EXPECT_TRUE(dashboard_path("/admin"));
  EXPECT_TRUE(dashboard_path("/admin/"));
  EXPECT_TRUE(dashboard_path("/admin/apps"));
  EXPECT_FALSE(dashboard_path("/administrator"));
  EXPECT_FALSE(dashboard_path("/"));
  EXPECT_FALSE(dashboard_path("/api/v1/admin"));
}

// ---- through a running server, on both databases ----------------------------

class Dashboard : public ::testing::TestWithParam<Backend> {};

TEST_P(Dashboard, ServedOnTheAdminHostsWhileAppsKeepTheirOwnAdminPath) {
  Instance& pc = shared_instance(GetParam());
  const std::string admin_host = "127.0.0.1:" + std::to_string(pc.port());
  auto page = http("GET", pc.port(), "/admin/apps", "", {{"Host", admin_host}});
  // Built in or not, the kernel answers it (a test build may lack Node).
  EXPECT_TRUE(page.status == 200 || page.status == 404) << page.status << " " << page.body;
  EXPECT_NE(page.headers["content-security-policy"].find("default-src 'none'"), std::string::npos);
  if (page.status == 404) EXPECT_NE(page.body.find("not part of this build"), std::string::npos) << page.body;

  auto root = http("GET", pc.port(), "/", "", {{"Host", "localhost"}});
  EXPECT_EQ(root.status, 302);
  EXPECT_EQ(root.headers["location"], "/admin/");

  // An app's own /admin is the app's: the dashboard is only on admin hosts.
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"dashpath","hostnames":["dashpath.localhost"]})").status, 201);
  auto script = R"({"name":"hello","source":"void handle(request@ req, response@ res) { res.text(\"app saw \" + req.path); }"})";
  ASSERT_EQ(pc.post("/apps/dashpath/scripts", pc.owner_key, script).status, 201);
  ASSERT_EQ(pc.post("/apps/dashpath/routes", pc.owner_key, R"({"script":"hello","path":"/*"})").status, 201);
  auto app = http("GET", pc.port(), "/admin/users", "", {{"Host", "dashpath.localhost"}});
  for (int i = 0; i < 50 && app.status != 200; ++i) {  // the route table reloads after the change
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    app = http("GET", pc.port(), "/admin/users", "", {{"Host", "dashpath.localhost"}});
  }
  EXPECT_EQ(app.status, 200) << app.body;
  EXPECT_EQ(app.body, "app saw /admin/users");
  EXPECT_EQ(app.headers.count("content-security-policy"), 0u);
  auto app_root = http("GET", pc.port(), "/", "", {{"Host", "dashpath.localhost"}});
  EXPECT_EQ(app_root.body, "app saw /");
  EXPECT_EQ(pc.call("DELETE", "/apps/dashpath", pc.owner_key).status, 204);
}

INSTANTIATE_TEST_SUITE_P(Backends, Dashboard, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });
