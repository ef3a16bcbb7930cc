// The admin API's hosts and session cookie: the admin API (sign-in, the
// session cookie, the OpenAPI document, /metrics) answers only on its own
// hostnames and IP addresses, no app may take those hosts (not even by an
// old database row), and the session cookie cannot be shadowed by a second
// one a sibling host set.
#include <chrono>

#include "fixture.hpp"
#include "kernel/admin/admin_hosts.hpp"
#include "kernel/admin/identity.hpp"
#include "picloud/sdk/json.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;
using kernel::admin::AdminHosts;

namespace {

HttpResult on(Instance& pc, const std::string& host, const std::string& method, const std::string& path,
              std::map<std::string, std::string> headers = {}, const std::string& body = "") {
  headers["Host"] = host;
  if (!body.empty()) headers["Content-Type"] = "application/json";
  return http(method, pc.port(), path, body, headers);
}

std::string with_port(const std::string& host, Instance& pc) { return host + ":" + std::to_string(pc.port()); }

std::string hostnames_of(Instance& pc, const std::string& app) {
  auto r = pc.get("/apps/" + app, pc.owner_key);
  return sdk::to_json(r.json["hostnames"]);
}

void serve_hello(Instance& pc, const std::string& app) {
  auto script = sdk::to_json(sdk::Value::object(
      {{"name", "hello"}, {"source", R"(void handle(request@ req, response@ res) { res.text("script saw " + req.path); })"}}));
  ASSERT_EQ(pc.post("/apps/" + app + "/scripts", pc.owner_key, script).status, 201);
  ASSERT_EQ(pc.post("/apps/" + app + "/routes", pc.owner_key, R"({"script":"hello","path":"/*"})").status, 201);
}

// ---- the rules, without a server --------------------------------------------

TEST(AdminHostRules, IpAddressesAreRecognisedInEveryFormABrowserAccepts) {
  for (const char* ip : {"127.0.0.1", "127.1", "0x7f.0.0.1", "2130706433", "0x7f000001", "017700000001",
                         "10.0.0.1.", "[::1]", "::1", "[::ffff:127.0.0.1]", "[fe80::1]", "1.2.3.0x", "example.0x10"})
    EXPECT_TRUE(kernel::admin::is_ip_literal(ip)) << ip;
  for (const char* name : {"localhost", "app.localhost", "1.2.3.4.example", "example.com", "0xg.example", "x0",
                           "[not-an-ip]", "", "a:b"})
    EXPECT_FALSE(kernel::admin::is_ip_literal(name)) << name;
  EXPECT_EQ(kernel::admin::host_of("LocalHost.:8080"), "localhost");
  EXPECT_EQ(kernel::admin::host_of("[::1]:8080"), "[::1]");
  EXPECT_EQ(kernel::admin::host_of("Example.COM"), "example.com");
}

TEST(AdminHostRules, TheAdminApiServesItsNamesIpAddressesAndNoHost) {
  AdminHosts hosts;  // the default: localhost
  for (const char* host : {"localhost", "LOCALHOST:8080", "localhost.", "127.0.0.1:8080", "127.1", "[::1]:8080",
                           "[::1]", "192.168.1.20", ""})
    EXPECT_TRUE(hosts.serves(host)) << host;
  for (const char* host : {"app.localhost", "example.com", "localhost.example.com", "[nope]:80"})
    EXPECT_FALSE(hosts.serves(host)) << host;
  AdminHosts custom({"admin.example.com"});
  EXPECT_TRUE(custom.serves("Admin.Example.com:443"));
  EXPECT_TRUE(custom.serves("127.0.0.1"));
  EXPECT_FALSE(custom.serves("localhost")) << "the list replaces the default";
  EXPECT_EQ(custom.reserved("localhost"), "");
  EXPECT_NE(custom.reserved("admin.example.com"), "");
  EXPECT_NE(custom.reserved("127.0.0.1"), "");
}

TEST(AdminHostRules, WithoutIpHostsAddressesAreOrdinaryHosts) {
  // [admin] ip_hosts = false: a Pi on a LAN whose apps are reached by
  // address; the admin API answers only on its names.
  AdminHosts hosts({"pi.local"}, false);
  EXPECT_FALSE(hosts.serves("192.168.1.10:8080"));
  EXPECT_FALSE(hosts.serves("127.0.0.1"));
  EXPECT_FALSE(hosts.serves("[::1]:8080"));
  EXPECT_TRUE(hosts.serves("pi.local:8080"));
  EXPECT_EQ(hosts.reserved("192.168.1.10"), "");
  EXPECT_EQ(hosts.reserved("127.0.0.1"), "");
  EXPECT_NE(hosts.reserved("pi.local"), "");
  AdminHosts with_ips({"pi.local"});
  EXPECT_TRUE(with_ips.serves("192.168.1.10:8080"));
  EXPECT_NE(with_ips.reserved("192.168.1.10"), "");
}

TEST(AdminHostRules, TheConfiguredListIsCheckedAndNormalised) {
  auto ok = AdminHosts::parse(" Admin.Example.com , localhost,,localhost. ");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, (std::vector<std::string>{"admin.example.com", "localhost"}));
  auto empty = AdminHosts::parse("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  for (const char* bad : {"admin.example.com:8443", "bad_name", "-x.example", "127.0.0.1", "[::1]"}) {
    auto r = AdminHosts::parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
}

// ---- through the admin API, on both databases -------------------------------

class Hosts : public ::testing::TestWithParam<Backend> {};

TEST_P(Hosts, AnAppAdminCannotTakeTheAdminApisHosts) {
  Instance& pc = shared_instance(GetParam());
  const std::string before = hostnames_of(pc, "alpha");
  ASSERT_EQ(before, R"(["alpha.localhost"])");
  // alice administers alpha but is not the owner.
  for (const std::string taken : {"127.0.0.1", "localhost", "[::1]", "::1", "127.1", "0x7f.0.0.1", "2130706433",
                                  "localhost.", "LOCALHOST", "10.0.0.1", "[::ffff:127.0.0.1]"}) {
    auto r = pc.call("PATCH", "/apps/alpha", pc.alice, R"({"hostnames":["alpha.localhost",")" + taken + R"("]})");
    EXPECT_EQ(r.status, 400) << taken << ": " << r.body;
    EXPECT_EQ(r.json["error"]["details"]["field"].string_or(""), "hostnames") << r.body;
    EXPECT_NE(r.message().find("'" + taken + "'"), std::string::npos) << r.body;
    EXPECT_TRUE(r.message().find("IP address") != std::string::npos ||
                r.message().find("admin API's hostnames") != std::string::npos)
        << r.body;
  }
  EXPECT_EQ(hostnames_of(pc, "alpha"), before) << "nothing changed";
  // Not the owner either, and not at creation.
  auto made = pc.post("/apps", pc.owner_key, R"({"slug":"grab","hostnames":["127.0.0.1"]})");
  EXPECT_EQ(made.status, 400) << made.body;
  EXPECT_EQ(pc.get("/apps/grab", pc.owner_key).status, 404);

  // The admin API still answers on every IP address and on localhost.
  for (const std::string host : {with_port("127.0.0.1", pc), with_port("[::1]", pc), with_port("localhost", pc),
                                 std::string("127.0.0.1"), std::string("LocalHost.")}) {
    auto me = on(pc, host, "GET", "/api/v1/admin/me", {{"Authorization", "Bearer " + pc.alice.key}});
    EXPECT_EQ(me.status, 200) << host << ": " << me.body;
  }
  auto login = on(pc, with_port("127.0.0.1", pc), "POST", "/api/v1/admin/login", {},
                  R"({"username":"alice","password":")" + kPassword + R"("})");
  EXPECT_EQ(login.status, 200) << login.body;
}

TEST_P(Hosts, AppsOnLocalhostSubdomainsServeAndOnlyThereTheAdminApiAndMetricsAreAbsent) {
  Instance& pc = shared_instance(GetParam());
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"sub","hostnames":["sub.localhost"]})").status, 201);
  serve_hello(pc, "sub");
  auto app = on(pc, "sub.localhost", "GET", "/page");
  EXPECT_EQ(app.status, 200) << app.body;
  EXPECT_EQ(app.body, "script saw /page");

  auto me = on(pc, "sub.localhost", "GET", "/api/v1/admin/me", {{"Authorization", "Bearer " + pc.owner_key.key}});
  EXPECT_EQ(me.status, 404) << me.body;
  auto login = on(pc, "sub.localhost:8080", "POST", "/api/v1/admin/login", {},
                  R"({"username":"owner","password":")" + kPassword + R"("})");
  EXPECT_EQ(login.status, 404) << login.body;
  EXPECT_EQ(login.headers.count("set-cookie"), 0u);
  EXPECT_EQ(on(pc, "sub.localhost", "GET", "/api/v1/openapi.json").status, 404);
  // /metrics only on the admin API's hosts; the health checks everywhere.
  auto metrics = on(pc, "sub.localhost", "GET", "/metrics");
  EXPECT_EQ(metrics.status, 404) << metrics.body;
  EXPECT_EQ(metrics.body.find("picloud_"), std::string::npos);
  EXPECT_EQ(on(pc, "unclaimed.example", "GET", "/metrics").status, 404);
  EXPECT_EQ(on(pc, with_port("127.0.0.1", pc), "GET", "/metrics").status, 200);
  EXPECT_EQ(on(pc, "localhost", "GET", "/metrics").status, 200);
  EXPECT_EQ(on(pc, "sub.localhost", "GET", "/healthz").status, 200);
  EXPECT_EQ(on(pc, "sub.localhost", "GET", "/readyz").status, 200);
  EXPECT_EQ(pc.call("DELETE", "/apps/sub", pc.owner_key).status, 204);
}

TEST_P(Hosts, AnOldRowGivingAnAppAnAdminHostIsIgnoredAndReported) {
  Instance& pc = shared_instance(GetParam());
  auto made = pc.post("/apps", pc.owner_key, R"({"slug":"stale","hostnames":["stale.localhost"]})");
  ASSERT_EQ(made.status, 201) << made.body;
  serve_hello(pc, "stale");
  // As an older version could have stored them.
  const std::string id = made.json["id"].as_string();
  for (const char* host : {"localhost", "127.0.0.1"})
    ASSERT_TRUE(pc.db().execute("INSERT INTO app_hostnames (hostname, app_id) VALUES (?, ?)", {host, id}));
  // Another app's change reloads every node's route table, rows included.
  ASSERT_EQ(pc.call("PATCH", "/apps/bravo", pc.owner_key, R"({"hostnames":["bravo.localhost"]})").status, 200);
  EXPECT_EQ(on(pc, "stale.localhost", "GET", "/x").body, "script saw /x") << "the table was reloaded";

  for (const std::string host : {std::string("localhost"), with_port("127.0.0.1", pc)}) {
    auto page = on(pc, host, "GET", "/api/v1/admin-login-page");
    EXPECT_EQ(page.status, 404) << host << ": " << page.body;
    auto fake = on(pc, host, "GET", "/signin");
    EXPECT_EQ(fake.status, 404) << host << ": " << fake.body;
    EXPECT_EQ(fake.body.find("script saw"), std::string::npos) << host << ": the app must not answer there";
    auto me = on(pc, host, "GET", "/api/v1/admin/me", {{"Authorization", "Bearer " + pc.owner_key.key}});
    EXPECT_EQ(me.status, 200) << host << ": " << me.body;
  }
  auto reported = pc.kernel().admin()->reserved_app_hostnames();
  ASSERT_TRUE(reported);
  EXPECT_EQ(*reported, (std::vector<std::pair<std::string, std::string>>{{"stale", "127.0.0.1"}, {"stale", "localhost"}}));
  EXPECT_EQ(pc.call("DELETE", "/apps/stale", pc.owner_key).status, 204);
}

// ---- the session cookie -----------------------------------------------------

TEST_P(Hosts, OverPlainHttpTwoSessionCookiesAreRefused) {
  Instance& pc = shared_instance(GetParam());
  Creds session = pc.login("vera");
  ASSERT_EQ(pc.get("/me", session).status, 200);
  // A sibling host's script could have set the second one, with any Domain
  // and Path; whichever the browser lists first, neither is honoured.
  for (const std::string cookies :
       {session.cookie + "; picloud_session=planted", "picloud_session=planted; " + session.cookie,
        session.cookie + "; " + session.cookie, session.cookie + "; __Host-picloud_session=planted"}) {
    auto r = pc.get("/me", Creds{cookies, ""});
    EXPECT_EQ(r.status, 401) << cookies << ": " << r.body;
    EXPECT_NE(r.message().find("2 session cookies"), std::string::npos) << r.body;
  }
  // Split over two Cookie headers, too.
  auto raw = raw_exchange(pc.port(),
                          "GET /api/v1/admin/me HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + session.cookie +
                              "\r\nCookie: picloud_session=planted\r\nConnection: close\r\n\r\n",
                          3s);
  EXPECT_EQ(raw.received.rfind("HTTP/1.1 401", 0), 0u) << raw.received;
  EXPECT_EQ(pc.get("/me", Creds{"other=1; " + session.cookie + "; more=2", ""}).status, 200);
}

TEST_P(Hosts, OverHttpsTheSessionIsAHostPrefixedCookie) {
  Instance& pc = shared_instance(GetParam());
  const std::map<std::string, std::string> https{{"X-Forwarded-Proto", "https"}};
  auto ok = pc.call("POST", "/login", {}, R"({"username":"vera","password":")" + kPassword + R"("})", https);
  ASSERT_EQ(ok.status, 200) << ok.body;
  const std::string set = ok.headers["set-cookie"];
  EXPECT_EQ(set.rfind("__Host-picloud_session=", 0), 0u) << set;
  for (const char* attr : {"; Path=/;", "; HttpOnly", "; Secure", "; SameSite=Strict", "; Max-Age=604800"})
    EXPECT_NE(set.find(attr), std::string::npos) << attr << " missing in " << set;
  EXPECT_EQ(set.find("Domain"), std::string::npos) << set;
  Creds session{set.substr(0, set.find(';')), ""};
  auto me = pc.call("GET", "/me", session, "", https);
  EXPECT_EQ(me.status, 200) << me.body;
  // A plain cookie beside it can only come from elsewhere: it is ignored.
  EXPECT_EQ(pc.call("GET", "/me", Creds{"picloud_session=planted; " + session.cookie, ""}, "", https).status, 200);
  auto two = pc.call("GET", "/me", Creds{session.cookie + "; __Host-picloud_session=planted", ""}, "", https);
  EXPECT_EQ(two.status, 401) << two.body;
  EXPECT_EQ(pc.call("GET", "/me", Creds{"picloud_session=" + session.cookie.substr(session.cookie.find('=') + 1), ""},
                    "", https)
                .status,
            401)
      << "over HTTPS the plain cookie is not read";

  auto out = pc.call("POST", "/logout", session, "", https);
  EXPECT_EQ(out.status, 204) << out.body;
  const std::string cleared = out.headers["set-cookie"];
  EXPECT_EQ(cleared.rfind("__Host-picloud_session=;", 0), 0u) << cleared;
  for (const char* attr : {"; Path=/;", "; Max-Age=0;", "; Secure"})
    EXPECT_NE(cleared.find(attr), std::string::npos) << attr << " missing in " << cleared;
  EXPECT_EQ(pc.call("GET", "/me", session, "", https).status, 401);
}

TEST_P(Hosts, CookieSecureAlwaysAndNeverDecideTheCookieWhateverTheProxySays) {
  Instance& pc = shared_instance(GetParam());
  kernel::admin::PasswordHasher hasher(1);
  sdk::HttpRequest plain, proxied;
  proxied.headers = {{"x-forwarded-proto", "HTTPS"}};
  auto cookie = [&](kernel::admin::CookieSecure mode, const sdk::HttpRequest& req) {
    kernel::admin::IdentitySettings s;
    s.cookie_secure = mode;
    return kernel::admin::Identity(pc.db(), hasher, s).session_set_cookie(req, "tok", 60);
  };
  using kernel::admin::CookieSecure;
  const std::string secure = "__Host-picloud_session=tok; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict";
  const std::string lan = "picloud_session=tok; Path=/api/v1/admin; Max-Age=60; HttpOnly; SameSite=Strict";
  EXPECT_EQ(cookie(CookieSecure::always, plain), secure);
  EXPECT_EQ(cookie(CookieSecure::always, proxied), secure);
  EXPECT_EQ(cookie(CookieSecure::never, plain), lan);
  EXPECT_EQ(cookie(CookieSecure::never, proxied), lan);
  EXPECT_EQ(cookie(CookieSecure::auto_detect, plain), lan);
  EXPECT_EQ(cookie(CookieSecure::auto_detect, proxied), secure);
}

INSTANTIATE_TEST_SUITE_P(Backends, Hosts, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

// ---- a configured admin hostname and a metrics token --------------------------

class CustomAdminHost : public ::testing::TestWithParam<Backend> {};

TEST_P(CustomAdminHost, OnlyTheConfiguredNameAndIpAddressesServeTheAdminApi) {
  Instance pc(GetParam(), {{"PICLOUD_ADMIN_HOSTNAMES", "admin.example.test"},
                           {"PICLOUD_ADMIN_METRICS_TOKEN", "metrics-secret-1234"}});
  pc.cast_owner();
  const std::map<std::string, std::string> key{{"Authorization", "Bearer " + pc.owner_key.key}};
  EXPECT_EQ(on(pc, "admin.example.test", "GET", "/api/v1/admin/me", key).status, 200);
  EXPECT_EQ(on(pc, "Admin.Example.Test:443", "GET", "/api/v1/admin/me", key).status, 200);
  EXPECT_EQ(on(pc, "127.0.0.1", "GET", "/api/v1/admin/me", key).status, 200);
  auto elsewhere = on(pc, "localhost", "GET", "/api/v1/admin/me", key);
  EXPECT_EQ(elsewhere.status, 404) << "localhost is no longer the admin API's: " << elsewhere.body;
  EXPECT_NE(elsewhere.body.find("[admin] hostnames"), std::string::npos) << elsewhere.body;

  auto taken = pc.post("/apps", pc.owner_key, R"({"slug":"grab","hostnames":["admin.example.test"]})");
  EXPECT_EQ(taken.status, 400) << taken.body;
  EXPECT_NE(taken.message().find("admin API's hostnames"), std::string::npos) << taken.body;
  ASSERT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"dev","hostnames":["localhost"]})").status, 201)
      << "localhost is free for an app once it is not an admin hostname";
  serve_hello(pc, "dev");
  EXPECT_EQ(on(pc, "localhost", "GET", "/x").body, "script saw /x");

  // /metrics: the token, and only on the admin API's hosts.
  auto none = on(pc, "admin.example.test", "GET", "/metrics");
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer realm=\"picloud-metrics\"");
  EXPECT_EQ(on(pc, "admin.example.test", "GET", "/metrics", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(on(pc, "admin.example.test", "GET", "/metrics", {{"Authorization", "Bearer metrics-secret-12345"}}).status,
            401);
  EXPECT_EQ(on(pc, "admin.example.test", "GET", "/metrics", {{"Authorization", "metrics-secret-1234"}}).status, 401);
  auto good = on(pc, "admin.example.test", "GET", "/metrics", {{"Authorization", "Bearer metrics-secret-1234"}});
  EXPECT_EQ(good.status, 200) << good.body;
  EXPECT_NE(good.body.find("picloud_"), std::string::npos);
  EXPECT_EQ(on(pc, "localhost", "GET", "/metrics", {{"Authorization", "Bearer metrics-secret-1234"}}).status, 404);
}

// [admin] ip_hosts = false: apps may take IPv4 addresses (a Pi on a LAN) and
// are served there; the admin API answers on its names only.
TEST_P(CustomAdminHost, WithoutIpHostsAnAppTakesAnAddress) {
  Instance pc(GetParam(), {{"PICLOUD_ADMIN_IP_HOSTS", "false"}});
  pc.admin_host = "localhost";
  pc.cast_owner();
  auto made = pc.post("/apps", pc.owner_key, R"({"slug":"lan","hostnames":["127.0.0.1","192.168.1.20"]})");
  ASSERT_EQ(made.status, 201) << made.body;
  serve_hello(pc, "lan");
  EXPECT_EQ(on(pc, with_port("127.0.0.1", pc), "GET", "/x").body, "script saw /x");
  EXPECT_EQ(on(pc, "192.168.1.20", "GET", "/x").body, "script saw /x");
  const std::map<std::string, std::string> key{{"Authorization", "Bearer " + pc.owner_key.key}};
  EXPECT_EQ(on(pc, "localhost", "GET", "/api/v1/admin/me", key).status, 200);
  auto on_address = on(pc, "127.0.0.1", "GET", "/api/v1/admin/me", key);
  EXPECT_EQ(on_address.status, 404);
  EXPECT_EQ(on_address.body.find("IP addresses"), std::string::npos) << "not said where untrue: " << on_address.body;
  // An IPv6 address, an address in another spelling (browsers send the
  // dotted form) or out of range is refused with its reason; localhost still
  // is the admin API's.
  for (const std::string host : {"[::1]", "::1", "localhost", "127.1", "0x7f.0.0.1", "2130706433", "999.1.1.1",
                                 "10.0.0.01", "1.2.3.4.5"}) {
    auto r = pc.post("/apps", pc.owner_key, R"({"slug":"v6","hostnames":[")" + host + R"("]})");
    EXPECT_EQ(r.status, 400) << host << ": " << r.body;
    EXPECT_NE(r.message().find("'" + host + "' is "), std::string::npos) << r.body;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CustomAdminHost, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
