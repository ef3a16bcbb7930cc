// Cross-origin access to apps (an app's cors_origins), through real HTTP on
// both databases: what the admin API takes and refuses, and what a browser
// on another origin gets from the app's hosts — script routes, a plugin's
// app-host route (t_host), the kernel's own errors, preflights — while the
// admin API's hosts and other apps stay untouched. Browsers are played by
// hand: they send Origin, and Access-Control-Request-* on a preflight.
#include <thread>

#include "fixture.hpp"
#include "scripts.hpp"

using namespace picloud;
using namespace picloud::test;

namespace {

using Headers = std::map<std::string, std::string>;

const std::string kSpa = "https://spa.example.com";
const std::string kDev = "http://localhost:5173";

Instance& cors_instance(Backend backend) {
  static std::map<Backend, std::unique_ptr<Instance>> instances;
  auto& slot = instances[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(backend, std::map<std::string, std::string>{
                                                   {"PICLOUD_PLUGINS_ENABLED", "t_host"},
                                                   {"PICLOUD_SERVER_MAX_BODY_BYTES", "4096"},
                                                   {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"},
                                               });
    slot->cast_owner();
  }
  return *slot;
}

class Cors : public ::testing::TestWithParam<Backend> {
 protected:
  Instance& pc() { return cors_instance(GetParam()); }

  // An app <slug>.localhost with `origins` (JSON array) and a script that
  // counts its runs in a header and answers GET/POST /echo, GET /fail
  // (throws), and whatever method on /any.
  void make_cors_app(const std::string& slug, const std::string& origins) {
    auto app = pc().post("/apps", pc().owner_key,
                         R"({"slug":")" + slug + R"(","hostnames":[")" + slug + R"(.localhost"],"cors_origins":)" +
                             origins + "}");
    ASSERT_EQ(app.status, 201) << app.body;
    save_script(pc(), slug, "echo", R"(
void handle(request@ req, response@ res) {
  res.set_header("X-Echo", req.method);
  res.text(req.method + " " + req.body);
})");
    save_script(pc(), slug, "fail", R"(void handle(request@ req, response@ res) { throw("no"); })");
    save_script(pc(), slug, "own", R"(
void handle(request@ req, response@ res) {
  res.set_header("Access-Control-Allow-Origin", "https://someone.else");
  res.set_header("Access-Control-Expose-Headers", "X-Total");
  res.set_header("Vary", "Accept");
  res.set_header("X-Total", "3");
  res.text("own");
})");
    bind_route(pc(), slug, R"({"script":"echo","path":"/echo","methods":["GET","POST"]})");
    bind_route(pc(), slug, R"({"script":"fail","path":"/fail"})");
    bind_route(pc(), slug, R"({"script":"own","path":"/own"})");
    bind_route(pc(), slug, R"({"script":"echo","path":"/any","methods":["*"]})");
  }

  HttpResult from(const std::string& origin, const std::string& slug, const std::string& method,
                  const std::string& path, const std::string& body = "", Headers headers = {}) {
    if (!origin.empty()) headers["Origin"] = origin;
    return on(pc(), slug + ".localhost:8080", method, path, body, headers);
  }
  HttpResult preflight(const std::string& origin, const std::string& slug, const std::string& path,
                       const std::string& method, const std::string& headers = "") {
    Headers h{{"Access-Control-Request-Method", method}};
    if (!headers.empty()) h["Access-Control-Request-Headers"] = headers;
    return from(origin, slug, "OPTIONS", path, "", h);
  }
  std::int64_t runs_of(const std::string& slug) {
    pc().kernel().admin()->executions().flush();
    auto r = pc().db().query("SELECT count(*) FROM executions e JOIN apps a ON a.id = e.app_id WHERE a.slug = ?", {slug});
    return r ? r->rows[0][0].as_int() : -1;
  }
};

std::string header(const HttpResult& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

bool has_cors(const HttpResult& r) {
  for (const auto& [name, _] : r.headers)
    if (name.rfind("access-control-", 0) == 0) return true;
  return false;
}

// The grant a listed origin gets on every answer.
void expect_granted(const HttpResult& r, const std::string& origin, bool credentials = true) {
  EXPECT_EQ(header(r, "access-control-allow-origin"), origin) << r.status << " " << r.body;
  EXPECT_EQ(r.headers.count("access-control-allow-credentials"), credentials ? 1u : 0u);
  if (credentials) EXPECT_EQ(r.headers.at("access-control-allow-credentials"), "true");
  std::string exposed = header(r, "access-control-expose-headers");
  for (std::string name : {"X-Request-Id", "Retry-After", "Location", "Content-Length", "X-Execution-Id"})
    EXPECT_NE(exposed.find(name), std::string::npos) << name << " not in '" << exposed << "'";
  EXPECT_NE(header(r, "vary").find("Origin"), std::string::npos) << header(r, "vary");
}

TEST_P(Cors, TheAdminApiChecksStoresAndShowsTheOrigins) {
  Instance& pc = this->pc();
  auto made = pc.post("/apps", pc.owner_key,
                      R"({"slug":"cors-val","cors_origins":["HTTPS://SPA.Example.com:443","http://localhost:5173",)"
                      R"("http://127.0.0.1:80","https://[0:0::1]:8443","http://xn--bcher-kva.example"]})");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string canonical =
      R"(["https://spa.example.com","http://localhost:5173","http://127.0.0.1","https://[::1]:8443","http://xn--bcher-kva.example"])";
  EXPECT_EQ(sdk::to_json(made.json["cors_origins"]), canonical);
  EXPECT_EQ(sdk::to_json(pc.get("/apps/cors-val", pc.owner_key).json["cors_origins"]), canonical);
  bool listed = false;
  auto list = pc.get("/apps?limit=100", pc.owner_key);
  for (const auto& app : list.json["items"].as_array())
    if (app["slug"].string_or("") == "cors-val") listed = sdk::to_json(app["cors_origins"]) == canonical;
  EXPECT_TRUE(listed) << "the list shows the origins too: " << list.body;
  // An app without them shows an empty list.
  auto plain = pc.post("/apps", pc.owner_key, R"({"slug":"cors-plain"})");
  ASSERT_EQ(plain.status, 201) << plain.body;
  EXPECT_EQ(sdk::to_json(plain.json["cors_origins"]), "[]");

  // Every bad entry is refused, naming the field and the entry; nothing changes.
  std::string too_many = "[";
  for (int i = 0; i < 33; ++i) too_many += (i ? ",\"https://a" : "\"https://a") + std::to_string(i) + ".example\"";
  too_many += "]";
  const std::vector<std::pair<std::string, std::string>> bad{
      {R"(["https://spa.example.com/"])", "'https://spa.example.com/' has a path"},
      {R"(["https://spa.example.com/app"])", "has a path"},
      {R"(["https://spa.example.com?x=1"])", "has a path, query or fragment"},
      {R"(["https://spa.example.com#top"])", "has a path, query or fragment"},
      {R"(["https://user:pw@spa.example.com"])", "has user info"},
      {R"(["ftp://spa.example.com"])", "has the scheme 'ftp'"},
      {R"(["spa.example.com"])", "is not an origin"},
      {R"(["null"])", "'null' is not an origin"},
      {R"(["https://"])", "has no valid host"},
      {R"(["https://spa_example.com"])", "has no valid host"},
      {R"(["https://spa.example.com."])", "has no valid host"},
      {R"(["https://*.example.com"])", "has no valid host"},
      {R"(["http://127.1"])", "has no valid host"},
      {R"(["http://[::g]"])", "has no valid host"},
      {R"(["https://spa.example.com:0"])", "has a bad port"},
      {R"(["https://spa.example.com:65536"])", "has a bad port"},
      {R"(["https://spa.example.com:"])", "has a bad port"},
      {R"(["https://spa.example.com:8x"])", "has a bad port"},
      {R"(["https://spa.example.com","https://SPA.example.com:443"])", "'https://SPA.example.com:443' is listed twice"},
      {R"(["*","https://spa.example.com"])", "'*' allows any origin: it must be the only entry"},
      {R"(["https://spa.example.com","*"])", "it must be the only entry"},
      {too_many, "at most 32 per app"},
  };
  for (const auto& [list, why] : bad) {
    for (bool patch : {false, true}) {
      auto r = patch ? pc.call("PATCH", "/apps/cors-val", pc.owner_key, R"({"cors_origins":)" + list + "}")
                     : pc.post("/apps", pc.owner_key, R"({"slug":"cors-bad","cors_origins":)" + list + "}");
      EXPECT_EQ(r.status, 400) << list << " " << r.body;
      EXPECT_EQ(r.code(), "invalid_field") << r.body;
      EXPECT_EQ(r.json["error"]["details"]["field"].string_or(""), "cors_origins") << r.body;
      EXPECT_NE(r.message().find("cors_origins: "), std::string::npos) << r.body;
      EXPECT_NE(r.message().find(why), std::string::npos) << list << ": " << r.body;
    }
  }
  for (const char* wrong : {R"("https://spa.example.com")", "[1]", R"([null])"}) {
    auto r = pc.call("PATCH", "/apps/cors-val", pc.owner_key, std::string(R"({"cors_origins":)") + wrong + "}");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json["error"]["details"]["field"].string_or(""), "cors_origins") << r.body;
  }
  EXPECT_EQ(pc.get("/apps/cors-bad", pc.owner_key).status, 404) << "no app was made";
  EXPECT_EQ(sdk::to_json(pc.get("/apps/cors-val", pc.owner_key).json["cors_origins"]), canonical) << "nothing changed";

  // "*" alone; [] clears; null leaves the list as it is.
  auto any = pc.call("PATCH", "/apps/cors-val", pc.owner_key, R"({"cors_origins":["*"]})");
  ASSERT_EQ(any.status, 200) << any.body;
  EXPECT_EQ(sdk::to_json(any.json["cors_origins"]), R"(["*"])");
  auto kept = pc.call("PATCH", "/apps/cors-val", pc.owner_key, R"({"name":"Val","cors_origins":null})");
  ASSERT_EQ(kept.status, 200) << kept.body;
  EXPECT_EQ(sdk::to_json(kept.json["cors_origins"]), R"(["*"])");
  auto cleared = pc.call("PATCH", "/apps/cors-val", pc.owner_key, R"({"cors_origins":[]})");
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_EQ(sdk::to_json(cleared.json["cors_origins"]), "[]");
}

TEST_P(Cors, AListedOriginMayCallScriptRoutesWithCredentials) {
  make_cors_app("corsa", R"(["https://spa.example.com","http://localhost:5173"])");
  auto get = from(kSpa, "corsa", "GET", "/echo");
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.body, "GET ");
  expect_granted(get, kSpa);
  auto post = from(kDev, "corsa", "POST", "/echo", R"({"a":1})", {{"Content-Type", "application/json"}});
  ASSERT_EQ(post.status, 200) << post.body;
  EXPECT_EQ(post.body, R"(POST {"a":1})");
  expect_granted(post, kDev);

  // Another origin runs as before (CORS is the browser's check) but is
  // granted nothing; the answer says it varies by Origin.
  for (std::string other : {"https://evil.example", "https://spa.example.com.evil.example", "http://spa.example.com",
                            "https://spa.example.com:8443", "null", "HTTPS://SPA.EXAMPLE.COM"}) {
    auto r = from(other, "corsa", "GET", "/echo");
    EXPECT_EQ(r.status, 200) << other;
    EXPECT_FALSE(has_cors(r)) << other;
    EXPECT_EQ(r.headers["vary"], "Origin") << other;
  }
  // Without an Origin nothing is added.
  auto plain = from("", "corsa", "GET", "/echo");
  EXPECT_EQ(plain.status, 200);
  EXPECT_FALSE(has_cors(plain));
  EXPECT_EQ(plain.headers.count("vary"), 0u);
}

TEST_P(Cors, PreflightsAreAnsweredByTheKernelAndNeverRunAScript) {
  make_cors_app("corsp", R"(["https://spa.example.com"])");
  std::int64_t before = runs_of("corsp");
  auto ok = preflight(kSpa, "corsp", "/any", "PUT", "Content-Type, authorization,Last-Event-ID , X-Request-Id, X-Custom");
  ASSERT_EQ(ok.status, 204) << ok.body;
  EXPECT_EQ(ok.body, "");
  EXPECT_EQ(ok.headers["access-control-allow-origin"], kSpa);
  EXPECT_EQ(ok.headers["access-control-allow-credentials"], "true");
  EXPECT_EQ(ok.headers["access-control-allow-methods"], "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
  EXPECT_EQ(ok.headers["access-control-allow-headers"], "content-type, authorization, last-event-id, x-request-id, x-custom");
  EXPECT_EQ(ok.headers["access-control-max-age"], "600");
  EXPECT_EQ(ok.headers["vary"], "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  EXPECT_EQ(ok.headers.count("x-echo"), 0u) << "the script did not answer";

  // Names that are not tokens, and headers no page may set, are left out.
  auto picky = preflight(kSpa, "corsp", "/echo", "POST", "content-type, bad header, x-ok, cookie, Sec-Fetch-Mode, proxy-x, host");
  ASSERT_EQ(picky.status, 204);
  EXPECT_EQ(picky.headers["access-control-allow-headers"], "content-type, x-ok");
  // No headers asked for: none named.
  auto bare = preflight(kSpa, "corsp", "/nowhere", "DELETE");
  ASSERT_EQ(bare.status, 204) << "any path: the real request gets its 404 or 405";
  EXPECT_EQ(bare.headers.count("access-control-allow-headers"), 0u);

  // An origin not listed: refused without CORS headers.
  for (std::string other : {"https://evil.example", "null", "http://spa.example.com"}) {
    auto no = preflight(other, "corsp", "/any", "PUT", "content-type");
    EXPECT_EQ(no.status, 403) << other << " " << no.body;
    EXPECT_FALSE(has_cors(no)) << other;
    EXPECT_NE(no.body.find("\"cross_origin\""), std::string::npos) << no.body;
    EXPECT_NE(no.body.find("'" + other + "' is not one of this app's cors_origins"), std::string::npos) << no.body;
  }
  EXPECT_EQ(runs_of("corsp"), before) << "no preflight ran the script";

  // OPTIONS without Access-Control-Request-Method is an ordinary request.
  auto options = from(kSpa, "corsp", "OPTIONS", "/any");
  ASSERT_EQ(options.status, 200) << options.body;
  EXPECT_EQ(options.body, "OPTIONS ");
  expect_granted(options, kSpa);
}

TEST_P(Cors, AnAppWithoutAListIsLeftAsBefore) {
  make_cors_app("corsn", "[]");
  std::int64_t before = runs_of("corsn");
  auto r = from(kSpa, "corsn", "GET", "/echo");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(has_cors(r));
  EXPECT_EQ(r.headers.count("vary"), 0u);
  // Its script answers a preflight itself, as it always could.
  auto pre = preflight(kSpa, "corsn", "/any", "PUT");
  EXPECT_EQ(pre.status, 200) << pre.body;
  EXPECT_EQ(pre.body, "OPTIONS ");
  EXPECT_EQ(runs_of("corsn"), before + 2);
  // And sets its own CORS headers.
  auto own = from(kSpa, "corsn", "GET", "/own");
  EXPECT_EQ(own.headers["access-control-allow-origin"], "https://someone.else");
}

TEST_P(Cors, AnyOriginIsGrantedWithoutCredentials) {
  make_cors_app("corsw", R"(["*"])");
  for (std::string origin : {kSpa, std::string("https://evil.example"), std::string("null")}) {
    auto r = from(origin, "corsw", "POST", "/echo", "x", {{"Content-Type", "text/plain"}});
    ASSERT_EQ(r.status, 200) << r.body;
    expect_granted(r, "*", /*credentials=*/false);
    auto pre = preflight(origin, "corsw", "/echo", "POST", "authorization");
    ASSERT_EQ(pre.status, 204) << pre.body;
    EXPECT_EQ(pre.headers["access-control-allow-origin"], "*");
    EXPECT_EQ(pre.headers.count("access-control-allow-credentials"), 0u);
    EXPECT_EQ(pre.headers["access-control-allow-headers"], "authorization");
  }
}

TEST_P(Cors, ErrorAnswersCarryTheGrantSoPagesCanReadThem) {
  make_cors_app("corse", R"(["https://spa.example.com"])");
  auto no_route = from(kSpa, "corse", "GET", "/missing");
  EXPECT_EQ(no_route.status, 404);
  expect_granted(no_route, kSpa);
  auto wrong_method = from(kSpa, "corse", "DELETE", "/echo");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.headers["allow"], "GET, POST");
  expect_granted(wrong_method, kSpa);
  auto threw = from(kSpa, "corse", "GET", "/fail");
  EXPECT_EQ(threw.status, 502) << threw.body;
  expect_granted(threw, kSpa);
  auto too_large = from(kSpa, "corse", "POST", "/echo", std::string(5000, 'x'), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(too_large.status, 413) << too_large.body;
  expect_granted(too_large, kSpa);
  auto kernel_404 = from(kSpa, "corse", "GET", "/_picloud/t_host/nothing");
  EXPECT_EQ(kernel_404.status, 404);
  expect_granted(kernel_404, kSpa);
  // The kernel's paths on an app's host are never the app's.
  auto admin_path = from(kSpa, "corse", "GET", "/api/v1/admin/me");
  EXPECT_EQ(admin_path.status, 404);
  EXPECT_FALSE(has_cors(admin_path));
  EXPECT_FALSE(has_cors(preflight(kSpa, "corse", "/api/v1/admin/me", "GET")));
}

TEST_P(Cors, TheKernelsGrantReplacesAScriptsOwnForAListedOrigin) {
  make_cors_app("corso", R"(["https://spa.example.com"])");
  auto r = from(kSpa, "corso", "GET", "/own");
  ASSERT_EQ(r.status, 200) << r.body;
  expect_granted(r, kSpa);
  EXPECT_NE(r.headers["access-control-expose-headers"].find(", X-Total"), std::string::npos)
      << "the script's exposed names are kept: " << r.headers["access-control-expose-headers"];
  EXPECT_EQ(r.headers["vary"], "Accept, Origin");
  // On the wire: one of each, the script's replaced rather than repeated.
  auto raw = raw_exchange(pc().port(),
                          "GET /own HTTP/1.1\r\nHost: corso.localhost\r\nOrigin: " + kSpa +
                              "\r\nConnection: close\r\n\r\n",
                          std::chrono::seconds(5));
  std::string head = raw.received.substr(0, raw.received.find("\r\n\r\n"));
  for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto count = [&](const std::string& name) {
    std::size_t n = 0;
    for (auto at = head.find("\r\n" + name + ":"); at != std::string::npos; at = head.find("\r\n" + name + ":", at + 1)) ++n;
    return n;
  };
  for (std::string name : {"access-control-allow-origin", "access-control-allow-credentials",
                           "access-control-expose-headers", "vary"})
    EXPECT_EQ(count(name), 1u) << name << " in\n" << head;
  EXPECT_EQ(head.find("someone.else"), std::string::npos) << head;
  // For another origin the script's own headers stand.
  auto other = from("https://evil.example", "corso", "GET", "/own");
  EXPECT_EQ(other.headers["access-control-allow-origin"], "https://someone.else");
  EXPECT_EQ(other.headers["access-control-expose-headers"], "X-Total");
  EXPECT_EQ(other.headers["vary"], "Accept, Origin");
}

TEST_P(Cors, APluginsAppHostRouteGetsTheGrant) {
  make_cors_app("corsg", R"(["https://spa.example.com"])");
  auto r = from(kSpa, "corsg", "GET", "/_picloud/t_host/whoami/ada");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"name\":\"ada\""), std::string::npos) << r.body;
  expect_granted(r, kSpa);
  auto pre = preflight(kSpa, "corsg", "/_picloud/t_host/whoami/ada", "GET", "last-event-id");
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.headers["access-control-allow-origin"], kSpa);
  EXPECT_EQ(pre.headers["access-control-allow-headers"], "last-event-id");
  auto other = from("https://evil.example", "corsg", "GET", "/_picloud/t_host/whoami/ada");
  EXPECT_EQ(other.status, 200);
  EXPECT_FALSE(has_cors(other));
}

TEST_P(Cors, OneAppsOriginsNeverApplyToAnother) {
  make_cors_app("corsx", R"(["https://spa.example.com"])");
  make_cors_app("corsy", R"(["https://other.example.com"])");
  auto x = from(kSpa, "corsx", "GET", "/echo");
  expect_granted(x, kSpa);
  auto y = from(kSpa, "corsy", "GET", "/echo");
  EXPECT_EQ(y.status, 200);
  EXPECT_FALSE(has_cors(y));
  EXPECT_EQ(preflight(kSpa, "corsy", "/echo", "POST").status, 403);
  // A host no app serves gets nothing either.
  auto nobody = on(pc(), "nobody.localhost", "GET", "/echo", "", {{"Origin", kSpa}});
  EXPECT_EQ(nobody.status, 404);
  EXPECT_FALSE(has_cors(nobody));
}

TEST_P(Cors, TheAdminApisHostsAreUntouched) {
  make_cors_app("corsadm", R"(["*"])");
  Instance& pc = this->pc();
  // On the admin API's hosts (127.0.0.1, localhost) nothing is granted,
  // preflights are not answered by CORS, and the CSRF check stands.
  for (const std::string host : {"127.0.0.1:" + std::to_string(pc.port()), std::string("localhost")}) {
    auto me = pc.call("GET", "/me", pc.owner_key, "", {{"Origin", kSpa}, {"Host", host}});
    EXPECT_EQ(me.status, 200) << me.body;
    EXPECT_FALSE(has_cors(HttpResult{me.status, me.headers, me.body})) << host;
    EXPECT_EQ(me.headers.count("vary"), 0u);
    auto pre = pc.call("OPTIONS", "/me", {}, "", {{"Origin", kSpa}, {"Host", host}, {"Access-Control-Request-Method", "GET"}});
    EXPECT_NE(pre.status, 204) << host;
    EXPECT_FALSE(has_cors(HttpResult{pre.status, pre.headers, pre.body})) << host;
    auto health = http("GET", pc.port(), "/healthz", "", {{"Origin", kSpa}, {"Host", host}});
    EXPECT_FALSE(has_cors(health));
  }
  Creds session = pc.login("owner");
  auto forged = pc.call("POST", "/apps/corsadm/scripts/echo/run", session, "", {{"Origin", kSpa}, {"Content-Type", "text/plain"}});
  EXPECT_EQ(forged.status, 403) << forged.body;
  EXPECT_EQ(forged.code(), "cross_origin");
}

TEST_P(Cors, APatchTakesEffectAtOnceAndOnEveryNode) {
  if (GetParam() == Backend::sqlite) GTEST_SKIP() << "one node per SQLite database";
  make_cors_app("corsu", "[]");
  Instance& a = pc();
  Instance b(GetParam(), {{"PICLOUD_DATABASE_URL", a.database_url()},
                          {"PICLOUD_PLUGINS_ENABLED", "t_host"},
                          {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "100"}});
  auto on_b = [&] { return on(b, "corsu.localhost", "GET", "/echo", "", {{"Origin", kSpa}}); };
  EXPECT_FALSE(has_cors(from(kSpa, "corsu", "GET", "/echo")));
  EXPECT_FALSE(has_cors(on_b()));

  auto set = a.call("PATCH", "/apps/corsu", a.owner_key, R"({"cors_origins":["https://spa.example.com"]})");
  ASSERT_EQ(set.status, 200) << set.body;
  expect_granted(from(kSpa, "corsu", "GET", "/echo"), kSpa);  // this node: at once
  auto granted_on_b = [&](bool want) {
    for (int i = 0; i < 150; ++i) {
      if (has_cors(on_b()) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  EXPECT_TRUE(granted_on_b(true)) << "the other node follows within its poll interval";

  auto changed = a.call("PATCH", "/apps/corsu", a.owner_key, R"({"cors_origins":["http://localhost:5173"]})");
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_FALSE(has_cors(from(kSpa, "corsu", "GET", "/echo")));
  expect_granted(from(kDev, "corsu", "GET", "/echo"), kDev);
  EXPECT_TRUE(granted_on_b(false));

  // A new hostname carries the list too.
  auto hosts = a.call("PATCH", "/apps/corsu", a.owner_key, R"({"hostnames":["corsu.localhost","corsu2.localhost"]})");
  ASSERT_EQ(hosts.status, 200) << hosts.body;
  expect_granted(on(a, "corsu2.localhost", "GET", "/echo", "", {{"Origin", kDev}}), kDev);
}

INSTANTIATE_TEST_SUITE_P(Backends, Cors, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
