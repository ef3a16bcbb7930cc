// The http plugin end to end: the real http.so through the loader, scripts
// calling http:: over loopback, against real HTTP and HTTPS servers this
// test starts on 127.0.0.x. The guard's development switch lets the local
// servers through here; the guard itself is tested with it off below (on
// loopback) and in a network namespace (tests/e2e/http_guard_test.cpp).
//
// The plugin keeps no data, so these run on SQLite only.
#include <chrono>

#include "http_test_server.hpp"
#include "service_support.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

using V = sdk::Value;

TestCertificates& certificates() {
  static TestCertificates certs;
  return certs;
}

std::map<std::string, std::string> http_env(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env{
      {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir()},
      {"PICLOUD_PLUGINS_ENABLED", "http"},
      {"PICLOUD_HTTP_ALLOW_PRIVATE", "true"},
      {"PICLOUD_HTTP_CA_FILE", certificates().ca_file()},
      {"PICLOUD_HTTP_MAX_RESPONSE_BYTES", "1048576"},
      {"PICLOUD_HTTP_MAX_REQUEST_BYTES", "65536"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

// Every http:: function, driven by a JSON body {op, url, body, options,
// times}; answers what the response showed (or the script error: 502).
const char* kDriver = R"(
json summary(http::Response@ r) {
  json o;
  o["status"] = r.status;
  o["ok"] = r.ok;
  o["headers"] = r.headers;
  o["content_type"] = r.header("CONTENT-TYPE");
  o["text"] = r.text();
  o["size"] = int64(r.bytes().length());
  o["url"] = r.url;
  o["redirects"] = r.redirects;
  return o;
}
void handle(request@ req, response@ res) {
  json a = req.json();
  string op = a.get_string("op");
  string url = a.get_string("url");
  json opts = a["options"];
  int times = a.has("times") ? int(a["times"].as_int()) : 1;
  json all = json::array();
  for (int i = 0; i < times; i++) {
    http::Response@ r;
    if (op == "get") @r = http::get(url, opts);
    else if (op == "head") @r = http::head(url, opts);
    else if (op == "post") @r = http::post(url, a["body"], opts);
    else if (op == "post_bytes") @r = http::post(url, json::bytes(base64::decode_bytes(a.get_string("body"))), opts);
    else if (op == "put") @r = http::put(url, a["body"], opts);
    else if (op == "patch") @r = http::patch(url, a["body"], opts);
    else if (op == "delete") @r = http::delete(url, a["body"], opts);
    else if (op == "form") @r = http::post_form(url, a["body"], opts);
    else if (op == "request") @r = http::request(a["request"]);
    else if (op == "json") { res.json(http::get(url, opts).json()); return; }
    else throw("unknown op " + op);
    all.push(summary(r));
  }
  res.json(times == 1 ? all[0] : all);
})";

struct HttpApp {
  Instance& pc;
  std::string slug;
  std::string id;
  DriverReply drive(const V& args) { return drive_at(pc, slug, "/http", args); }
  V ok(const V& args) {
    auto r = drive(args);
    EXPECT_EQ(r.status, 200) << sdk::to_json(args) << " -> " << r.body;
    return r.json;
  }
  std::string refused(const V& args) {
    auto r = drive(args);
    EXPECT_EQ(r.status, 502) << sdk::to_json(args) << " -> " << r.body;
    return r.error();
  }
};

HttpApp driver_app(Instance& pc, const std::string& slug) {
  std::string id = make_app(pc, slug);
  save_script(pc, slug, "drive", kDriver);
  bind_route(pc, slug, R"({"script":"drive","path":"/http","methods":["POST"]})");
  return {pc, slug, id};
}

Instance& instance_with(const std::string& name, std::map<std::string, std::string> extra = {}) {
  static std::map<std::string, std::unique_ptr<Instance>> instances;
  auto& slot = instances[name];
  if (!slot) {
    slot = std::make_unique<Instance>(Backend::sqlite, http_env(std::move(extra)));
    slot->cast_owner();
  }
  return *slot;
}

HttpApp& app() {
  static HttpApp a = driver_app(instance_with("default"), "web");
  return a;
}

TestHttpServer& server() {
  static TestHttpServer s;
  return s;
}

V echo_of(const V& summary) { return kernel::admin::parse_stored_json(summary["text"].string_or("null")); }

TEST(Http, VerbsSendTheirBodiesWithTheRightTypes) {
  auto& a = app();
  auto get = a.ok(V::object({{"op", "get"}, {"url", server().url("/echo?x=1")},
                             {"options", V::object({{"headers", V::object({{"X-Trace", "abc"}, {"X-Num", 7}})}})}}));
  EXPECT_EQ(get["status"], V(200));
  EXPECT_EQ(get["ok"], V(true));
  EXPECT_EQ(get["content_type"], V("application/json"));
  auto seen = echo_of(get);
  EXPECT_EQ(seen["method"], V("GET"));
  EXPECT_EQ(seen["uri"], V("/echo?x=1"));
  EXPECT_EQ(seen["headers"]["x-trace"], V("abc"));
  EXPECT_EQ(seen["headers"]["x-num"], V("7"));
  EXPECT_EQ(seen["headers"]["user-agent"], V("picloud/" PC_SDK_VERSION));
  EXPECT_EQ(seen["headers"]["host"], V("127.0.0.1:" + std::to_string(server().port())));
  // Nothing names the app.
  std::string all_headers = sdk::to_json(seen["headers"]);
  ASSERT_FALSE(a.id.empty());
  EXPECT_EQ(all_headers.find(a.id), std::string::npos) << all_headers;

  auto json_post = echo_of(a.ok(V::object({{"op", "post"}, {"url", server().url("/echo")},
                                            {"body", V::object({{"n", 1}, {"s", "x"}})}})));
  EXPECT_EQ(json_post["method"], V("POST"));
  EXPECT_EQ(json_post["headers"]["content-type"], V("application/json"));
  EXPECT_EQ(json_post["body"], V(R"({"n":1,"s":"x"})"));

  auto text_put = echo_of(a.ok(V::object({{"op", "put"}, {"url", server().url("/echo")}, {"body", "plain words"}})));
  EXPECT_EQ(text_put["method"], V("PUT"));
  EXPECT_EQ(text_put["headers"]["content-type"], V("text/plain; charset=utf-8"));
  EXPECT_EQ(text_put["body"], V("plain words"));

  auto bytes_post = echo_of(a.ok(V::object({{"op", "post_bytes"}, {"url", server().url("/echo")}, {"body", "aGVsbG8="}})));
  EXPECT_EQ(bytes_post["headers"]["content-type"], V("application/octet-stream"));
  EXPECT_EQ(bytes_post["headers"]["content-length"], V("5"));
  EXPECT_EQ(bytes_post["body"], V("hello"));

  auto typed = echo_of(a.ok(V::object({{"op", "patch"}, {"url", server().url("/echo")}, {"body", "<a/>"},
                                        {"options", V::object({{"headers", V::object({{"content-type", "application/xml"}})}})}})));
  EXPECT_EQ(typed["method"], V("PATCH"));
  EXPECT_EQ(typed["headers"]["content-type"], V("application/xml"));

  auto del = echo_of(a.ok(V::object({{"op", "delete"}, {"url", server().url("/echo")}})));
  EXPECT_EQ(del["method"], V("DELETE"));
  EXPECT_EQ(del["body"], V(""));

  auto form = echo_of(a.ok(V::object({{"op", "form"}, {"url", server().url("/echo")},
                                       {"body", V::object({{"name", "Zoë & co"}, {"n", 3}, {"yes", true}})}})));
  EXPECT_EQ(form["headers"]["content-type"], V("application/x-www-form-urlencoded"));
  EXPECT_EQ(form["body"], V("n=3&name=Zo%C3%AB+%26+co&yes=true"));

  auto request = echo_of(a.ok(V::object({{"op", "request"},
                                          {"request", V::object({{"method", "options"}, {"url", server().url("/echo")},
                                                                 {"headers", V::object({{"Accept", "text/plain"}})}})}})));
  EXPECT_EQ(request["method"], V("OPTIONS"));
  EXPECT_EQ(request["headers"]["accept"], V("text/plain"));

  auto head = a.ok(V::object({{"op", "head"}, {"url", server().url("/bytes?n=500")}}));
  EXPECT_EQ(head["status"], V(200));
  EXPECT_EQ(head["size"], V(0));
  EXPECT_EQ(head["headers"]["content-length"], V("500"));
}

TEST(Http, ANonSuccessStatusIsAnAnswerNotAnError) {
  auto& a = app();
  for (int status : {201, 204, 400, 404, 418, 500, 503}) {
    auto r = a.ok(V::object({{"op", "get"}, {"url", server().url("/status/" + std::to_string(status))}}));
    EXPECT_EQ(r["status"], V(status));
    EXPECT_EQ(r["ok"], V(status < 300));
  }
  auto parsed = a.ok(V::object({{"op", "json"}, {"url", server().url("/json")}}));
  EXPECT_EQ(parsed, V::object({{"hello", "world"}, {"n", 1}}));
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "json"}, {"url", server().url("/status/200")}})),
                       "the response body is not JSON"));
}

TEST(Http, ChunkedResponsesArriveWhole) {
  auto r = app().ok(V::object({{"op", "get"}, {"url", server().url("/chunked")}}));
  EXPECT_EQ(r["text"], V("first,second,third"));
}

TEST(Http, RedirectsAreFollowedAndCredentialsStayWithTheirOrigin) {
  auto& a = app();
  TestHttpServer other;  // another port: another origin
  auto to = [](const std::string& target, int code = 302) {
    std::string encoded;
    for (char c : target) {
      if (std::isalnum(static_cast<unsigned char>(c))) encoded.push_back(c);
      else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
        encoded += buf;
      }
    }
    return server().url("/redirect?code=" + std::to_string(code) + "&to=" + encoded);
  };
  V secret_headers = V::object({{"headers", V::object({{"Authorization", "Bearer s3cret"}, {"Cookie", "sid=1"}})}});

  auto same = a.ok(V::object({{"op", "get"}, {"url", to("/echo")}, {"options", secret_headers}}));
  EXPECT_EQ(same["redirects"], V(1));
  EXPECT_EQ(same["url"], V(server().url("/echo")));
  EXPECT_EQ(echo_of(same)["headers"]["authorization"], V("Bearer s3cret"));

  auto cross = a.ok(V::object({{"op", "get"}, {"url", to(other.url("/echo"))}, {"options", secret_headers}}));
  EXPECT_EQ(cross["url"], V(other.url("/echo")));
  auto cross_seen = echo_of(cross)["headers"];
  EXPECT_FALSE(cross_seen.has("authorization")) << sdk::to_json(cross_seen);
  EXPECT_FALSE(cross_seen.has("cookie")) << sdk::to_json(cross_seen);

  // 303 (and 301/302 after a POST) become a GET without the body; 307
  // and 308 repeat the method and the body.
  auto see_other = echo_of(a.ok(V::object({{"op", "post"}, {"url", to("/echo", 303)}, {"body", "payload"}})));
  EXPECT_EQ(see_other["method"], V("GET"));
  EXPECT_EQ(see_other["body"], V(""));
  EXPECT_FALSE(see_other["headers"].has("content-type"));
  auto temporary = echo_of(a.ok(V::object({{"op", "put"}, {"url", to("/echo", 307)}, {"body", "payload"}})));
  EXPECT_EQ(temporary["method"], V("PUT"));
  EXPECT_EQ(temporary["body"], V("payload"));
  auto permanent = echo_of(a.ok(V::object({{"op", "post"}, {"url", to("/echo", 308)}, {"body", "payload"}})));
  EXPECT_EQ(permanent["method"], V("POST"));
  EXPECT_EQ(permanent["body"], V("payload"));

  auto not_followed = a.ok(V::object({{"op", "get"}, {"url", to("/echo")},
                                      {"options", V::object({{"follow_redirects", false}})}}));
  EXPECT_EQ(not_followed["status"], V(302));
  EXPECT_EQ(not_followed["headers"]["location"], V("/echo"));

  std::string chain = to(to(to("/echo")));
  EXPECT_EQ(a.ok(V::object({{"op", "get"}, {"url", chain}}))["redirects"], V(3));
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", chain}, {"options", V::object({{"max_redirects", 2}})}})),
                       "redirect: more than 2 redirects"));
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", to("ftp://example.com/")}})),
                       "blocked: scheme 'ftp' is not allowed"));
}

TEST(Http, TimeoutsEndTheRequestWhateverTheServerDoes) {
  auto& a = app();
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", server().url("/slow?ms=3000")},
                                            {"options", V::object({{"timeout_ms", 300}})}})),
                       "unavailable: timeout: the request took longer than its 300 ms"));
  // A server that keeps sending a byte at a time cannot stretch it either.
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", server().url("/drip")},
                                            {"options", V::object({{"timeout_ms", 700}})}})),
                       "timeout:"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2500ms);
}

TEST(Http, ARequestNeverOutlivesItsRun) {
  auto& pc = instance_with("short-runs", {{"PICLOUD_SCRIPTING_TIMEOUT_MS", "600"}});
  static HttpApp a = driver_app(pc, "brief");
  auto started = std::chrono::steady_clock::now();
  auto r = a.drive(V::object({{"op", "get"}, {"url", server().url("/slow?ms=4000")},
                              {"options", V::object({{"timeout_ms", 60000}})}}));
  EXPECT_TRUE(r.status == 502 || r.status == 504) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2500ms);
}

TEST(Http, BodiesAreCappedAsTheyStreamIn) {
  auto& a = app();
  EXPECT_EQ(a.ok(V::object({{"op", "get"}, {"url", server().url("/bytes?n=1048576")}}))["size"], V(1048576));
  // Announced too large: refused before reading.
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", server().url("/bytes?n=1048577")}})),
                       "too_large: the response body is 1048577 bytes, over the limit of 1048576"));
  // Unannounced (chunked, 256 MiB on offer): stopped at the cap, quickly.
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", server().url("/endless")}})),
                       "too_large: the response body is over the limit of 1048576 bytes"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  // Request bodies too.
  auto before = server().seen().size();
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "post"}, {"url", server().url("/echo")},
                                            {"body", std::string(65537, 'z')}})),
                       "too_large: the request body is 65537 bytes, over the limit of 65536"));
  EXPECT_EQ(server().seen().size(), before);
}

TEST(Http, BrokenAnswersAreNetworkErrors) {
  auto& a = app();
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", server().url("/short")}})),
                       "network: the response ended before its end"));
  // A port nobody listens on.
  int closed_port = 0;
  {
    TestHttpServer gone;
    closed_port = gone.port();
  }
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", "http://127.0.0.1:" + std::to_string(closed_port) + "/"}})),
                       "network: the server refused the connection"));
}

TEST(Http, AnswersAreReadByTheirFramingAndNothingIsLeftForTheNextRequest) {
  auto& a = app();
  auto get = [&](const std::string& url, int times = 1) {
    return V::object({{"op", "get"}, {"url", url}, {"times", times}});
  };
  // A chunked body cut by the server is not taken for a whole one.
  RawHttpServer cut("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nwor", true);
  EXPECT_TRUE(contains(a.refused(get(cut.url())), "network: the response ended before its end"));
  RawHttpServer garbled("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", true);
  EXPECT_TRUE(contains(a.refused(get(garbled.url())), "network: the response's chunked framing is not valid"));
  RawHttpServer padded("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0005;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
                       false);
  EXPECT_EQ(a.ok(get(padded.url()))["text"], V("hello"));
  // One reading of a body's length, or none.
  for (const char* head : {"Content-Length: -1", "Content-Length: 1,0", "Content-Length: 2\r\nContent-Length: 3",
                           "Transfer-Encoding: gzip, chunked", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"}) {
    RawHttpServer odd("HTTP/1.1 200 OK\r\n" + std::string(head) + "\r\n\r\nok", true);
    auto error = a.refused(get(odd.url()));
    EXPECT_TRUE(contains(error, "network: the response's")) << head << " -> " << error;
  }
  RawHttpServer agreeing("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok", false);
  EXPECT_EQ(a.ok(get(agreeing.url()))["text"], V("ok"));
  // Interim answers come before the real one; 101 is not followed.
  RawHttpServer hints("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                      false);
  auto hinted = a.ok(get(hints.url(), 2));
  ASSERT_EQ(hinted.size(), 2u) << sdk::to_json(hinted);
  EXPECT_EQ(hinted[0]["status"], V(200));
  EXPECT_EQ(hinted[1]["text"], V("ok"));
  RawHttpServer upgrade("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", false);
  EXPECT_TRUE(contains(a.refused(get(upgrade.url())), "network: the server answered with 101"));
  // Bytes after the announced end stay with their connection, which is not
  // kept: the next request gets a connection (and an answer) of its own.
  RawHttpServer overlong("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforged",
                         false);
  auto twice = a.ok(get(overlong.url(), 2));
  ASSERT_EQ(twice.size(), 2u) << sdk::to_json(twice);
  EXPECT_EQ(twice[0]["text"], V("ok"));
  EXPECT_EQ(twice[1]["text"], V("ok"));
  EXPECT_EQ(overlong.connections(), 2);
}

TEST(Http, HttpsVerifiesTheCertificateAndTheName) {
  auto& a = app();
  auto& certs = certificates();
  TestHttpServer good("127.0.0.1", 0, certs.cert("localhost"), certs.key("localhost"));
  auto by_name = a.ok(V::object({{"op", "get"}, {"url", good.url("/echo", "localhost")}}));
  EXPECT_EQ(by_name["status"], V(200));
  EXPECT_EQ(echo_of(by_name)["headers"]["host"], V("localhost:" + std::to_string(good.port())));
  EXPECT_EQ(a.ok(V::object({{"op", "get"}, {"url", good.url("/json")}}))["status"], V(200));  // the IP's own SAN
  // Kept alive like plain connections, and bounded by time like them.
  auto twice = a.ok(V::object({{"op", "get"}, {"url", good.url("/echo", "localhost")}, {"times", 2}}));
  ASSERT_EQ(twice.size(), 2u);
  EXPECT_EQ(echo_of(twice[0])["peer_port"], echo_of(twice[1])["peer_port"]);
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", good.url("/drip", "localhost")},
                                            {"options", V::object({{"timeout_ms", 500}})}})),
                       "timeout:"));

  TestHttpServer wrong_name("127.0.0.1", 0, certs.cert("other"), certs.key("other"));
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", wrong_name.url("/echo", "localhost")}})),
                       "tls: the server's certificate is not valid for localhost"));
  TestHttpServer untrusted("127.0.0.1", 0, certs.cert("rogue"), certs.key("rogue"));
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", untrusted.url("/echo", "localhost")}})),
                       "tls: the server's certificate is not trusted"));
  EXPECT_TRUE(wrong_name.seen().empty());
  EXPECT_TRUE(untrusted.seen().empty());
  // Plain HTTP to a TLS port is an answer nobody can read, not a crash.
  auto plain = "http://127.0.0.1:" + std::to_string(good.port()) + "/";
  auto r = a.drive(V::object({{"op", "get"}, {"url", plain}, {"options", V::object({{"timeout_ms", 2000}})}}));
  EXPECT_TRUE(r.status == 502 || r.status == 200) << r.body;
}

TEST(Http, KeepAliveConnectionsAreReused) {
  auto runs = app().ok(V::object({{"op", "get"}, {"url", server().url("/echo")}, {"times", 3}}));
  ASSERT_EQ(runs.size(), 3u) << sdk::to_json(runs);
  auto port = [&](std::size_t i) { return echo_of(runs[i])["peer_port"]; };
  EXPECT_EQ(port(0), port(1));
  EXPECT_EQ(port(1), port(2));

  auto& unpooled = instance_with("no-pool", {{"PICLOUD_HTTP_POOL", "false"}});
  static HttpApp b = driver_app(unpooled, "nopool");
  auto fresh = b.ok(V::object({{"op", "get"}, {"url", server().url("/echo")}, {"times", 2}}));
  ASSERT_EQ(fresh.size(), 2u);
  EXPECT_NE(echo_of(fresh[0])["peer_port"], echo_of(fresh[1])["peer_port"]);
  EXPECT_EQ(echo_of(fresh[0])["headers"]["connection"], V("Close"));
}

TEST(Http, BadRequestsAreRefusedAndSendNothing) {
  auto& a = app();
  auto before = server().seen().size();
  auto refuse = [&](const V& args, const std::string& part) {
    EXPECT_TRUE(contains(a.refused(args), part)) << sdk::to_json(args);
  };
  auto get = [&](const V& options) { return V::object({{"op", "get"}, {"url", server().url("/echo")}, {"options", options}}); };
  refuse(get(V::object({{"timeout", 5}})), "unknown option 'timeout' (known: headers, timeout_ms");
  refuse(get(V("string")), "options must be a JSON object");
  refuse(get(V::object({{"timeout_ms", "5"}})), "option 'timeout_ms' must be an int from 1 to 120000");
  refuse(get(V::object({{"timeout_ms", 0}})), "option 'timeout_ms' must be an int");
  refuse(get(V::object({{"max_redirects", 21}})), "option 'max_redirects' must be an int from 0 to 20");
  refuse(get(V::object({{"follow_redirects", 1}})), "option 'follow_redirects' must be a bool");
  refuse(get(V::object({{"headers", V::array({"a"})}})), "option 'headers' must be an object");
  refuse(get(V::object({{"headers", V::object({{"X-A", V::object()}})}})), "header 'X-A' must be a string or an int");
  refuse(get(V::object({{"headers", V::object({{"Bad Name", "x"}})}})), "header name 'Bad Name' is not a valid HTTP token");
  refuse(get(V::object({{"headers", V::object({{"X-Inject", "a\r\nX-Evil: 1"}})}})), "contains a line break");
  V many = V::object();
  for (int i = 0; i < 101; ++i) many.set("X-H" + std::to_string(i), "v");
  refuse(get(V::object({{"headers", many}})), "more than 100 headers");
  for (const char* reserved : {"Host", "content-length", "Transfer-Encoding", "Connection", "Proxy-Authorization"})
    refuse(get(V::object({{"headers", V::object({{reserved, "x"}})}})), "is set by PiCloud, not by scripts");
  refuse(V::object({{"op", "request"}, {"request", V::object({{"url", server().url("/")}, {"method", "TRACE"}})}}),
         "method 'TRACE' is not supported");
  refuse(V::object({{"op", "request"}, {"request", V::object({{"method", "GET"}})}}), "needs a 'url' string");
  refuse(V::object({{"op", "request"}, {"request", V::object({{"url", server().url("/")}, {"verb", "GET"}})}}),
         "unknown option 'verb' (known: method, url, body, headers");
  refuse(V::object({{"op", "get"}, {"url", "http://user:pw@127.0.0.1/"}}), "invalid URL: user and password");
  refuse(V::object({{"op", "get"}, {"url", "file:///etc/passwd"}}), "forbidden: blocked: scheme 'file' is not allowed");
  refuse(V::object({{"op", "form"}, {"url", server().url("/echo")}, {"body", V::object({{"a", V::array()}})}}),
         "form field 'a' must be a string, number or bool");
  EXPECT_EQ(server().seen().size(), before);
}

// The guard on, as shipped, with loopback servers: every way of naming
// this machine is refused before a connection is made, and a redirect from
// an allowed server to a refused address is refused at that hop.
TEST(HttpGuardOnLoopback, ThisMachineIsRefusedByEveryName) {
  auto& pc = instance_with("guarded", {{"PICLOUD_HTTP_ALLOW_PRIVATE", "false"}, {"PICLOUD_HTTP_ALLOW_CIDRS", "127.0.0.2/32"}});
  static HttpApp a = driver_app(pc, "guarded");
  TestHttpServer target("127.0.0.1");
  std::string port = std::to_string(target.port());
  for (const std::string& url :
       {"http://127.0.0.1:" + port + "/", "http://localhost:" + port + "/", "http://2130706433:" + port + "/",
        "http://0x7f.1:" + port + "/", "http://0177.0.0.1:" + port + "/", "http://127.0.0.1.:" + port + "/",
        "http://%31%32%37.0.0.1:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/",
        "http://[::1]:" + port + "/", "http://0.0.0.0:" + port + "/", "http://0:" + port + "/"}) {
    auto message = a.refused(V::object({{"op", "get"}, {"url", url}}));
    EXPECT_TRUE(message.find("forbidden: blocked: loopback address") != std::string::npos ||
                message.find("forbidden: blocked: unspecified address") != std::string::npos)
        << url << " -> " << message;
    EXPECT_EQ(message.find("127.0.0.1"), std::string::npos) << message;  // never the address
  }
  // 127.0.0.2 is allowed by allow_cidrs; its redirect to 127.0.0.1 is not.
  TestHttpServer allowed("127.0.0.2");
  EXPECT_EQ(a.ok(V::object({{"op", "get"}, {"url", allowed.url("/echo")}}))["status"], V(200));
  auto hop = allowed.url("/redirect?to=http%3A%2F%2F127.0.0.1%3A" + port + "%2Fecho");
  EXPECT_TRUE(contains(a.refused(V::object({{"op", "get"}, {"url", hop}})), "forbidden: blocked: loopback address"));
  EXPECT_EQ(allowed.seen().size(), 2u);
  EXPECT_TRUE(target.seen().empty()) << "a refused address was reached";
}

TEST(Http, TheGuideExamplesCompileAndTheFirstRuns) {
  // The examples name example.com: denied, so that not even a name lookup
  // leaves the machine.
  auto& pc = instance_with("guide", {{"PICLOUD_HTTP_DENY_HOSTS", "example.com, *.example.com"}});
  std::vector<std::string> examples = guide_examples("http.md");
  ASSERT_EQ(examples.size(), 2u);
  make_app(pc, "guide");
  for (std::size_t i = 0; i < examples.size(); ++i) save_script(pc, "guide", "example" + std::to_string(i), examples[i]);
  bind_route(pc, "guide", R"({"script":"example0","path":"/items"})");
  auto r = on(pc, "guide.localhost", "GET", "/items");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_TRUE(contains(r.body, "forbidden: blocked: denied host")) << r.body;
}

}  // namespace
