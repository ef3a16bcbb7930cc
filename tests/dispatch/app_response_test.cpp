// Scripts' responses on the wire, read as raw bytes from a real server: a
// script cannot answer in a way that makes a client or a proxy frame the
// connection differently than the server does (1xx, a body on 204/304, its
// own framing headers, split headers), nor plant the admin session cookie.
// Each check sends a keep-alive follow-up on the same connection and reads
// every byte back as a sequence of responses: one wrongly framed response
// shows up as a follow-up that is missing, garbled, or bytes left over.
// The database plays no part here, so SQLite only.
#include <regex>

#include "fixture.hpp"
#include "scripts.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

struct Response {
  int status = 0;
  std::string head;  // status line and headers, as sent
  std::map<std::string, std::string> headers;  // names lower case
  std::string body;
};

// Splits `bytes` into responses framed as a client does: no body for HEAD,
// 1xx, 204 and 304, else Content-Length. `left` gets what no response framed.
std::vector<Response> read_responses(std::string bytes, const std::vector<std::string>& methods, std::string& left) {
  std::vector<Response> out;
  for (const auto& method : methods) {
    auto end = bytes.find("\r\n\r\n");
    if (end == std::string::npos) break;
    Response r;
    r.head = bytes.substr(0, end + 2);
    if (r.head.rfind("HTTP/1.1 ", 0) != 0) break;
    r.status = std::stoi(r.head.substr(9, 3));
    std::size_t pos = r.head.find("\r\n") + 2;
    while (pos < r.head.size()) {
      auto eol = r.head.find("\r\n", pos);
      auto line = r.head.substr(pos, eol - pos);
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = line.substr(std::min(line.size(), colon + 2));
      pos = eol + 2;
    }
    bytes.erase(0, end + 4);
    bool bodiless = method == "HEAD" || r.status < 200 || r.status == 204 || r.status == 304;
    std::size_t length = bodiless || !r.headers.count("content-length") ? 0 : std::stoul(r.headers["content-length"]);
    r.body = bytes.substr(0, length);
    bytes.erase(0, length);
    out.push_back(std::move(r));
  }
  left = bytes;
  return out;
}

// `first` and then GET /after on one connection (the second closes it).
struct Exchange {
  std::vector<Response> responses;
  std::string left;
};
Exchange then_follow_up(Instance& pc, const std::string& host, const std::string& method, const std::string& path) {
  std::string bytes = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n" + "GET /after HTTP/1.1\r\nHost: " +
                      host + "\r\nConnection: close\r\n\r\n";
  auto raw = raw_exchange(pc.port(), bytes, 5s);
  Exchange x;
  x.responses = read_responses(raw.received, {method, "GET"}, x.left);
  EXPECT_TRUE(raw.closed) << raw.received;
  return x;
}

Instance& instance_with_app() {
  Instance& pc = shared_instance(Backend::sqlite, false);
  static bool made = false;
  if (made) return pc;
  made = true;
  EXPECT_EQ(pc.post("/apps", pc.owner_key, R"({"slug":"wire","hostnames":["wire.localhost"]})").status, 201);
  auto script = [&](const std::string& name, const std::string& body) {
    save_script(pc, "wire", name, "void handle(request@ req, response@ res) {\n" + body + "\n}");
    bind_route(pc, "wire", R"({"script":")" + name + R"(","path":"/)" + name + R"("})");
  };
  script("after", R"(res.text("after");)");
  script("switch", R"(res.set_header("Upgrade", "websocket"); res.status = 101; res.text("not http");)");
  script("early", R"(res.status = 103; res.text("early");)");
  script("no_content", R"(res.status = 204; res.set_header("Content-Length", "26"); res.text("GET /smuggled HTTP/1.1\r\n\r\n");)");
  script("not_modified", R"(res.status = 304; res.text("GET /smuggled HTTP/1.1\r\n\r\n");)");
  script("framing", R"(
  res.set_header("Connection", "close");
  res.set_header("Keep-Alive", "timeout=999");
  res.set_header("Upgrade", "h2c");
  res.set_header("Transfer-Encoding", "chunked");
  res.set_header("Content-Length", "1");
  res.set_header("TE", "trailers");
  res.set_header("Trailer", "X-Sum");
  res.set_header("Proxy-Authenticate", "Basic");
  res.set_header("Proxy-Connection", "close");
  res.set_header("X-Kept", "yes");
  res.text("framed by the server");)");
  script("split_cr", R"(res.set_header("X-A", "a\r\nSet-Cookie: planted=1"); res.text("x");)");
  script("split_lf", R"(res.set_header("X-A", "a\nSet-Cookie: planted=1"); res.text("x");)");
  script("cookie", R"(res.set_header("Set-Cookie", req.header("X-Cookie")); res.text("cookie");)");
  script("sized", R"(res.text("twelve bytes");)");
  return pc;
}

}  // namespace

TEST(AppResponse, InterimStatusesFailTheRunWith502) {
  Instance& pc = instance_with_app();
  for (const char* path : {"/switch", "/early"}) {
    auto x = then_follow_up(pc, "wire.localhost", "GET", path);
    ASSERT_EQ(x.responses.size(), 2u) << path;
    EXPECT_EQ(x.responses[0].status, 502) << x.responses[0].head;
    EXPECT_NE(x.responses[0].body.find(R"("code":"script_error")"), std::string::npos) << x.responses[0].body;
    EXPECT_NE(x.responses[0].body.find("is not 200-599"), std::string::npos) << x.responses[0].body;
    EXPECT_EQ(x.responses[0].headers.count("upgrade"), 0u);
    // The run is recorded as failed.
    std::string id = x.responses[0].headers["x-execution-id"];
    EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM executions WHERE id = ? AND status = 'error'", {id}, 1)) << path;
    EXPECT_EQ(x.responses[1].status, 200);
    EXPECT_EQ(x.responses[1].body, "after");
    EXPECT_EQ(x.left, "");
  }
}

TEST(AppResponse, NoContentAndNotModifiedGoOutWithoutBodyOrLength) {
  Instance& pc = instance_with_app();
  for (const char* path : {"/no_content", "/not_modified"}) {
    auto x = then_follow_up(pc, "wire.localhost", "GET", path);
    ASSERT_EQ(x.responses.size(), 2u) << path << ": " << x.left;
    EXPECT_EQ(x.responses[0].status, std::string(path) == "/no_content" ? 204 : 304);
    EXPECT_EQ(x.responses[0].headers.count("content-length"), 0u) << x.responses[0].head;
    EXPECT_EQ(x.responses[1].status, 200) << "the script's body was sent and read as the next response";
    EXPECT_EQ(x.responses[1].body, "after");
    EXPECT_EQ(x.left, "");
  }
}

TEST(AppResponse, HeadKeepsTheLengthAndSendsNoBody) {
  Instance& pc = instance_with_app();
  auto x = then_follow_up(pc, "wire.localhost", "HEAD", "/sized");
  ASSERT_EQ(x.responses.size(), 2u) << x.left;
  EXPECT_EQ(x.responses[0].status, 200);
  EXPECT_EQ(x.responses[0].headers["content-length"], "12");
  EXPECT_EQ(x.responses[1].body, "after");
  EXPECT_EQ(x.left, "");
}

TEST(AppResponse, ScriptsCannotSetTheConnectionsOrTheFramingHeaders) {
  Instance& pc = instance_with_app();
  auto x = then_follow_up(pc, "wire.localhost", "GET", "/framing");
  ASSERT_EQ(x.responses.size(), 2u) << x.left;
  const auto& r = x.responses[0];
  EXPECT_EQ(r.status, 200);
  for (const char* gone : {"connection", "keep-alive", "upgrade", "transfer-encoding", "te", "trailer",
                           "proxy-authenticate", "proxy-connection"})
    EXPECT_EQ(r.headers.count(gone), 0u) << gone << " in\n" << r.head;
  EXPECT_EQ(r.headers.at("content-length"), "20");
  EXPECT_EQ(r.body, "framed by the server");
  EXPECT_EQ(r.headers.at("x-kept"), "yes");
  EXPECT_EQ(x.responses[1].body, "after") << "the script's Connection: close did not end the connection";
  EXPECT_EQ(x.left, "");
}

TEST(AppResponse, HeaderValuesWithLineBreaksFailTheRun) {
  Instance& pc = instance_with_app();
  for (const char* path : {"/split_cr", "/split_lf"}) {
    auto x = then_follow_up(pc, "wire.localhost", "GET", path);
    ASSERT_EQ(x.responses.size(), 2u) << path << ": " << x.left;
    EXPECT_EQ(x.responses[0].status, 502) << x.responses[0].head;
    EXPECT_EQ(x.responses[0].head.find("planted"), std::string::npos) << x.responses[0].head;
    EXPECT_EQ(x.responses[1].body, "after");
    EXPECT_EQ(x.left, "");
  }
}

TEST(AppResponse, ScriptsCannotSetTheAdminSessionCookie) {
  Instance& pc = instance_with_app();
  for (const char* cookie : {"picloud_session=planted; Path=/; HttpOnly", "PICLOUD_SESSION=planted",
                             " picloud_session =planted", "__Host-picloud_session=planted; Secure; Path=/",
                             "__host-Picloud_Session=planted", "__Secure-picloud_session=planted"}) {
    auto r = on(pc, "wire.localhost", "GET", "/cookie", "", {{"X-Cookie", cookie}});
    EXPECT_EQ(r.status, 200) << cookie;
    EXPECT_EQ(r.headers.count("set-cookie"), 0u) << cookie;
  }
  for (const char* cookie : {"theme=dark; Path=/", "picloud_session_pref=1", "my_picloud_session=1"}) {
    auto r = on(pc, "wire.localhost", "GET", "/cookie", "", {{"X-Cookie", cookie}});
    EXPECT_EQ(r.headers["set-cookie"], cookie) << "an app's own cookies are its business";
  }
}

// A proxy that routes on one Host header and PiCloud on another would let an
// app's public hostname reach the admin API; now two Host headers are a 400.
TEST(AppResponse, TwoHostHeadersNeverReachTheAdminApi) {
  Instance& pc = instance_with_app();
  const std::string key = "Authorization: Bearer " + pc.owner_key.key + "\r\n";
  auto me = raw_exchange(pc.port(), "GET /api/v1/admin/me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + key + "\r\n", 2s);
  ASSERT_EQ(me.received.rfind("HTTP/1.1 200 ", 0), 0u) << "the control: one Host reaches the API\n" << me.received;
  for (const std::string& hosts : {"Host: 127.0.0.1\r\nHost: wire.localhost\r\n", "Host: wire.localhost\r\nHost: 127.0.0.1\r\n"}) {
    auto r = raw_exchange(pc.port(), "GET /api/v1/admin/me HTTP/1.1\r\n" + hosts + key + "\r\nGET /after HTTP/1.1\r\nHost: wire.localhost\r\n\r\n", 2s);
    EXPECT_EQ(r.received.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << r.received;
    EXPECT_NE(r.received.find("2 Host headers"), std::string::npos) << r.received;
    EXPECT_EQ(r.received.find("\"username\""), std::string::npos);
    EXPECT_EQ(r.received.find("after"), std::string::npos) << "nothing after the refused request is served";
    EXPECT_TRUE(r.closed);
  }
  // An absolute URL naming the admin host while Host names the app's.
  auto absolute = raw_exchange(pc.port(), "GET http://127.0.0.1/api/v1/admin/me HTTP/1.1\r\nHost: wire.localhost\r\n" + key + "\r\n", 2s);
  EXPECT_EQ(absolute.received.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << absolute.received;
  EXPECT_TRUE(absolute.closed);
}
