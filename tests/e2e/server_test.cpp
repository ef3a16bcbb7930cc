// The picloud binary end to end: real process, real HTTP over loopback, real
// plugin files, real databases.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <thread>

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include "kernel/json_text.hpp"
#include "picloud/sdk/abi.hpp"
#include "support.hpp"

using namespace picloud;
using namespace std::chrono_literals;
using namespace std::string_literals;
using test::Backend;
using test::Process;

// The kernel's SDK ABI as "major.minor", as the command line prints it.
const std::string kAbi = std::to_string(PICLOUD_SDK_ABI_MAJOR) + "." + std::to_string(PICLOUD_SDK_ABI_MINOR);

namespace {

struct Server {
  test::TempDir dir;
  int port = test::free_port();
  std::unique_ptr<test::TestDatabase> db;
  std::unique_ptr<Process> process;

  Server(Backend backend, std::map<std::string, std::string> env, std::vector<std::string> args = {"serve"}) {
    db = std::make_unique<test::TestDatabase>(backend);
    env.emplace("PICLOUD_SERVER_PORT", std::to_string(port));
    env.emplace("PICLOUD_DATABASE_URL", db->url());
    env.emplace("PICLOUD_PLUGINS_SEARCH_PATH", test::test_plugin_dir());
    env.emplace("PICLOUD_PLUGINS_ENABLED", "t_good");
    env.emplace("PICLOUD_SERVER_SHUTDOWN_GRACE_MS", "5000");
    if (backend == Backend::postgres) env.emplace("PICLOUD_KEYRING_KEY", test::kKeyringKey);
    args.insert(args.begin(), test::picloud_binary());
    process = std::make_unique<Process>(Process::Options{args, env, dir.path(), false});
  }
  bool ready() { return test::wait_for_status(port, "/readyz", 200, 15s); }
};

std::string diagnostics(Process& p) { return "stdout:\n" + p.out() + "\nstderr:\n" + p.err(); }

}  // namespace

class ServerTest : public ::testing::TestWithParam<Backend> {};

TEST_P(ServerTest, ServesKernelAndPluginRoutes) {
  Server s(GetParam(), {});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);

  auto health = test::http_get(s.port, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_FALSE(health.headers["x-request-id"].empty());

  auto ready = test::http_get(s.port, "/readyz");
  EXPECT_EQ(ready.body, R"({"database":"ok","plugins":"started","ready":true})");

  EXPECT_EQ(test::http_get(s.port, "/t_good/hello").body, "hello");
  auto item = test::http_get(s.port, "/t_good/items/a%20b?x=1&y=2");
  EXPECT_EQ(item.status, 200);
  EXPECT_EQ(item.body, R"({"id":"a b","query":"x=1&y=2"})");
  EXPECT_EQ(item.headers["content-type"], "application/json");

  std::string binary("\0\1\2\xff body", 9);
  auto echo = test::http("POST", s.port, "/t_good/echo", binary, {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(echo.status, 201);
  EXPECT_EQ(echo.body, binary);
  EXPECT_EQ(echo.headers["x-echo-length"], "9");

  // The plugin's migration (shipped beside its .so) ran and start() wrote a row.
  EXPECT_EQ(test::http_get(s.port, "/t_good/events").body, "1");

  auto traced = test::http("GET", s.port, "/healthz", "", {{"X-Request-Id", "trace-123"}});
  EXPECT_EQ(traced.headers["x-request-id"], "trace-123");
}

TEST_P(ServerTest, AnswersErrorsInOneShape) {
  Server s(GetParam(), {{"PICLOUD_SERVER_MAX_BODY_BYTES", "1000"}});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);

  auto missing = test::http_get(s.port, "/no/such/route");
  EXPECT_EQ(missing.status, 404);
  // 127.0.0.1 is the admin API's host: no app is ever served there.
  EXPECT_EQ(missing.body,
            R"({"error":{"code":"not_found","details":{},"message":"no app serves the host '127.0.0.1': it is the admin API's"}})");

  auto method = test::http("DELETE", s.port, "/t_good/hello");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.headers["allow"], "GET");
  EXPECT_NE(method.body.find(R"("code":"method_not_allowed")"), std::string::npos);

  auto big = test::http("POST", s.port, "/t_good/echo", std::string(1001, 'x'));
  EXPECT_EQ(big.status, 413);
  EXPECT_NE(big.body.find(R"("code":"payload_too_large")"), std::string::npos);
  auto fits = test::http("POST", s.port, "/t_good/echo", std::string(1000, 'x'));
  EXPECT_EQ(fits.status, 201);

  auto secret = test::http_get(s.port, "/t_good/secret");
  EXPECT_EQ(secret.status, 401);
  EXPECT_NE(secret.body.find(R"("code":"unauthorized")"), std::string::npos);

  auto thrown = test::http_get(s.port, "/t_good/throws");
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(thrown.body, R"({"error":{"code":"internal","details":{},"message":"internal error"}})");
  auto injected = test::http_get(s.port, "/t_good/bad_header");
  EXPECT_EQ(injected.status, 500);
  EXPECT_EQ(injected.headers.count("set-cookie"), 0u);

  auto head = test::http("HEAD", s.port, "/t_good/hello");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], "5");
  EXPECT_EQ(head.body, "");

  // The server is still fine afterwards.
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 200);
}

TEST_P(ServerTest, ExportsPrometheusMetrics) {
  Server s(GetParam(), {});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);
  test::http_get(s.port, "/t_good/hello");
  test::http_get(s.port, "/nope");
  auto m = test::http_get(s.port, "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.headers["content-type"].find("text/plain"), std::string::npos);
  for (const char* expected :
       {"picloud_http_requests_total{owner=\"t_good\",route=\"/t_good/hello\",status=\"2xx\"} 1",
        "picloud_http_request_duration_seconds_count{owner=\"t_good\",route=\"/t_good/hello\"} 1",
        "picloud_http_not_found_total 1", "picloud_plugins_loaded 1", "picloud_plugins_started 1",
        "picloud_db_connections_in_use ", "picloud_db_pool_size ", "picloud_t_good_ticks_total "})
    EXPECT_NE(m.body.find(expected), std::string::npos) << expected << "\n" << m.body;
}

TEST_P(ServerTest, SigtermFinishesInFlightRequestsThenStopsPlugins) {
  Server s(GetParam(), {});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);
  test::HttpResult slow;
  std::thread client([&] { slow = test::http_get(s.port, "/t_good/slow"); });
  std::this_thread::sleep_for(200ms);
  s.process->signal(SIGTERM);
  client.join();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.body, "slow done");
  EXPECT_EQ(s.process->wait(10s), 0) << diagnostics(*s.process);
  std::string log = s.process->err();
  auto shutting = log.find("msg=\"shutting down\" signal=SIGTERM");
  auto stopped = log.find("msg=\"plugin stopped\" plugin=t_good");
  auto closed = log.find("msg=\"database closed\"");
  ASSERT_NE(shutting, std::string::npos) << log;
  ASSERT_NE(stopped, std::string::npos) << log;
  ASSERT_NE(closed, std::string::npos) << log;
  EXPECT_LT(shutting, stopped);
  EXPECT_LT(stopped, closed);
  // No new connections after shutdown.
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 0);
}

TEST_P(ServerTest, PluginThatFailsToStartLeavesNoServer) {
  Server s(GetParam(), {{"PICLOUD_PLUGINS_ENABLED", "t_good,t_start_throws"}});
  EXPECT_EQ(s.process->wait(15s), 1) << diagnostics(*s.process);
  EXPECT_NE(s.process->err().find("plugin 't_start_throws' failed to start: threw: boom in start"), std::string::npos)
      << s.process->err();
  EXPECT_NE(s.process->err().find("msg=\"plugin stopped\" plugin=t_good"), std::string::npos);
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 0);
}

TEST_P(ServerTest, WrongAbiIsRefusedNamingBothVersions) {
  Server s(GetParam(), {{"PICLOUD_PLUGINS_ENABLED", "t_good, t_abi_major"}});
  EXPECT_EQ(s.process->wait(15s), 1);
  std::string err = s.process->err();
  EXPECT_NE(err.find("t_abi_major.so was built for SDK ABI " + std::to_string(PICLOUD_SDK_ABI_MAJOR + 1) +
                     ".0, but this kernel provides ABI " + kAbi),
            std::string::npos)
      << err;
}

TEST(Readiness, ReadyzAnswers503WhenTheDatabaseGoesAway) {
  Server s(Backend::postgres, {});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);
  s.db.reset();  // drops the database, terminating the server's connections
  auto ready = test::http_get(s.port, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, R"({"database":"unreachable","plugins":"started","ready":false})");
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 200) << "the process itself is up";
}

TEST(Protocol, KeepAlivePipeliningChunkedBodiesAndBadRequests) {
  Server s(Backend::sqlite, {{"PICLOUD_SERVER_MAX_BODY_BYTES", "16"}, {"PICLOUD_SERVER_KEEP_ALIVE_TIMEOUT_S", "1"}});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);
  auto count = [](const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  };

  // Two pipelined requests on one connection, both answered, connection kept.
  auto two = test::raw_exchange(s.port, "GET /t_good/hello HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", 500ms);
  EXPECT_EQ(count(two.received, "HTTP/1.1 200 OK"), 2u) << two.received;
  EXPECT_FALSE(two.closed);

  // A chunked body within the limit is read and echoed.
  auto chunked = test::raw_exchange(
      s.port, "POST /t_good/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n3\r\n!!!\r\n0\r\n\r\n", 2s);
  EXPECT_NE(chunked.received.find("HTTP/1.1 201 Created"), std::string::npos) << chunked.received;
  EXPECT_NE(chunked.received.find("\r\n\r\nhello!!!"), std::string::npos) << chunked.received;
  EXPECT_TRUE(chunked.closed) << "Connection: close is honoured";

  // A chunked body over the limit answers 413 and closes the connection.
  auto big = test::raw_exchange(
      s.port, "POST /t_good/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n", 2s);
  EXPECT_NE(big.received.find("HTTP/1.1 413 "), std::string::npos) << big.received;
  EXPECT_TRUE(big.closed);

  // Expect: 100-continue is answered before the body is sent; a client that
  // sent its body without waiting gets the final answer only.
  {
    Poco::Net::StreamSocket client(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(s.port)));
    client.setReceiveTimeout(Poco::Timespan(2, 0));
    std::string head = "POST /t_good/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
    client.sendBytes(head.data(), static_cast<int>(head.size()));
    char buf[4096];
    int n = client.receiveBytes(buf, sizeof buf);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "HTTP/1.1 100 Continue\r\n\r\n");
    client.sendBytes("ok", 2);
    n = client.receiveBytes(buf, sizeof buf);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)).rfind("HTTP/1.1 201", 0), 0u);
  }
  auto eager = test::raw_exchange(
      s.port, "POST /t_good/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nok", 2s);
  EXPECT_EQ(eager.received.rfind("HTTP/1.1 201", 0), 0u) << eager.received;

  // HTTP/1.0 without keep-alive: answered, then closed.
  auto old = test::raw_exchange(s.port, "GET /healthz HTTP/1.0\r\n\r\n", 2s);
  EXPECT_NE(old.received.find("200 OK"), std::string::npos);
  EXPECT_TRUE(old.closed);

  // Garbage: 400 in the common error shape, then closed.
  auto garbage = test::raw_exchange(s.port, "THIS IS NOT HTTP\r\n\r\n", 2s);
  EXPECT_NE(garbage.received.find("HTTP/1.1 400 Bad Request"), std::string::npos) << garbage.received;
  EXPECT_NE(garbage.received.find(R"("code":"bad_request")"), std::string::npos) << garbage.received;
  EXPECT_TRUE(garbage.closed);
  auto long_method = test::raw_exchange(s.port, std::string(200, 'A') + " / HTTP/1.1\r\n\r\n", 2s);
  EXPECT_NE(long_method.received.find("HTTP/1.1 400 Bad Request"), std::string::npos) << long_method.received;

  // A body shorter than its Content-Length: after the receive timeout, 400 and closed.
  auto started = std::chrono::steady_clock::now();
  auto short_body = test::raw_exchange(s.port, "POST /t_good/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc", 5s);
  EXPECT_NE(short_body.received.find("HTTP/1.1 400 Bad Request"), std::string::npos) << short_body.received;
  EXPECT_TRUE(short_body.closed);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 200);
}

TEST(Protocol, FramingErrorsAnswer400OrOversizeHeaders431) {
  Server s(Backend::sqlite, {});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);
  auto post = [&](const std::string& headers, const std::string& body) {
    return test::raw_exchange(s.port, "POST /t_good/echo HTTP/1.1\r\nHost: localhost\r\n" + headers + "\r\n" + body, 3s);
  };
  struct Case {
    const char* what;
    std::string headers, body, expect;
  };
  std::vector<Case> cases{
      {"both framing headers", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n", "both Content-Length and Transfer-Encoding"},
      {"length not a number", "Content-Length: 5x\r\n", "hello", "Content-Length is not a number"},
      {"unsupported coding", "Transfer-Encoding: gzip\r\n", "", "unsupported Transfer-Encoding"},
      {"bad chunk size", "Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n", "chunk size is malformed"},
      {"chunk longer than its size", "Transfer-Encoding: chunked\r\n", "2\r\nhello\r\n0\r\n\r\n", "does not end where its size says"},
  };
  for (const auto& c : cases) {
    auto r = post(c.headers, c.body);
    EXPECT_EQ(r.received.rfind("HTTP/1.1 400 Bad Request", 0), 0u) << c.what << ": " << r.received;
    EXPECT_NE(r.received.find(c.expect), std::string::npos) << c.what << ": " << r.received;
    EXPECT_TRUE(r.closed) << c.what;
  }
  std::string big_head = "GET /healthz HTTP/1.1\r\n";
  for (int i = 0; i < 40; ++i) big_head += "X-Big-" + std::to_string(i) + ": " + std::string(2000, 'a') + "\r\n";
  auto huge = test::raw_exchange(s.port, big_head + "\r\n", 3s);
  EXPECT_EQ(huge.received.rfind("HTTP/1.1 431 ", 0), 0u) << huge.received.substr(0, 200);
  EXPECT_TRUE(huge.closed);
  // A client that half-closes after a complete request still gets its answer.
  {
    Poco::Net::StreamSocket client(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(s.port)));
    client.setReceiveTimeout(Poco::Timespan(2, 0));
    std::string req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    client.sendBytes(req.data(), static_cast<int>(req.size()));
    client.shutdownSend();
    char buf[4096];
    int n = client.receiveBytes(buf, sizeof buf);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)).rfind("HTTP/1.1 200 OK", 0), 0u);
  }
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 200);
}

// Request smuggling: each request below is one a front proxy could frame
// (or route) differently than PiCloud. Behind each one on the same
// connection comes a second request; before, PiCloud served it (its bytes
// were the tail of the first request's body to a proxy, so the proxy never
// saw it). Now the first is refused with a 400 and the connection closed, so
// the tail is never served: exactly one response on the wire.
TEST(Protocol, SmugglingShapesAreRefusedAndTheirTailIsNeverServed) {
  Server s(Backend::sqlite, {});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);
  const std::string tail = "GET /t_good/hello HTTP/1.1\r\nHost: localhost\r\n\r\n";
  const std::string post = "POST /t_good/echo HTTP/1.1\r\nHost: localhost\r\n";
  struct Case {
    const char* what;
    std::string request, reason;
  };
  const std::vector<Case> cases{
      {"two Content-Lengths, first 0", post + "Content-Length: 0\r\nContent-Length: " + std::to_string(tail.size()) + "\r\n\r\n",
       "2 Content-Length headers"},
      {"two equal Content-Lengths", post + "Content-Length: 2\r\nContent-Length: 2\r\n\r\nab", "2 Content-Length headers"},
      {"space before the colon of TE", post + "Content-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
       "whitespace between the header name"},
      {"TE folded into another header", post + "Content-Length: 5\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       "obsolete line folding"},
      {"TE on a line without a colon", post + "Content-Length: 5\r\nTransfer-Encoding chunked\r\n\r\n0\r\n\r\n", "has no colon"},
      {"TE and CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "both Content-Length and Transfer-Encoding"},
      {"TE in HTTP/1.0", "POST /t_good/echo HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       "not allowed in an HTTP/1.0 request"},
      {"TE chunked, gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", "unsupported Transfer-Encoding"},
      {"TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", "unsupported Transfer-Encoding"},
      {"a bare LF in a chunk extension", post + "Transfer-Encoding: chunked\r\n\r\n3;x\nabc\r\n0\r\n\r\n", "bare LF"},
      {"a bare LF ending the chunked body", post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\n\n", "bare LF"},
      {"a bare LF in the head", "POST /t_good/echo HTTP/1.1\r\nHost: x\nContent-Length: 0\r\n\r\n", "bare LF"},
      {"NUL in a header value", post + "X-A: a\0b\r\nContent-Length: 0\r\n\r\n"s, "control character"},
      {"two Host headers", "GET /t_good/hello HTTP/1.1\r\nHost: localhost\r\nHost: y\r\n\r\n", "2 Host headers"},
      {"an absolute target naming another host", "GET http://y/t_good/hello HTTP/1.1\r\nHost: localhost\r\n\r\n", "but Host is 'localhost'"},
      {"two spaces in the request line", "GET  /t_good/hello HTTP/1.1\r\nHost: localhost\r\n\r\n", "extra spaces"},
      {"HTTP/1.2", "GET /t_good/hello HTTP/1.2\r\nHost: localhost\r\n\r\n", "unsupported protocol version"},
  };
  for (const auto& c : cases) {
    auto r = test::raw_exchange(s.port, c.request + tail, 3s);
    EXPECT_EQ(r.received.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << c.what << ": " << r.received;
    EXPECT_NE(r.received.find(c.reason), std::string::npos) << c.what << ": " << r.received;
    EXPECT_NE(r.received.find("\r\nConnection: close\r\n"), std::string::npos) << c.what << ": " << r.received;
    // Exactly one response: its header block and the body its Content-Length gives.
    auto head_end = r.received.find("\r\n\r\n");
    auto length_at = r.received.find("\r\nContent-Length: ");
    ASSERT_NE(head_end, std::string::npos) << c.what;
    ASSERT_LT(length_at, head_end) << c.what;
    auto length = std::stoul(r.received.substr(length_at + 18));
    EXPECT_EQ(r.received.size(), head_end + 4 + length) << c.what << ": more than one response\n" << r.received;
    EXPECT_TRUE(r.closed) << c.what;
  }
  // The same tail behind a well-framed request is served: the cases above
  // fail for their framing, not for the tail.
  auto good = test::raw_exchange(s.port, post + "Content-Length: 2\r\n\r\nab" + tail, 1s);
  EXPECT_EQ(good.received.find("HTTP/1.1 201"), 0u) << good.received;
  EXPECT_NE(good.received.find("\r\n\r\nhello"), std::string::npos) << good.received;
}

// Idle keep-alive connections hold no worker: with two workers, hundreds of
// open connections and a slow request in progress, a new request is still
// answered at once, and every idle connection still works afterwards.
TEST(Protocol, IdleConnectionsHoldNoWorker) {
  Server s(Backend::sqlite, {{"PICLOUD_SERVER_THREADS", "2"}});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
  auto ask = [&](Poco::Net::StreamSocket& sock) {
    sock.sendBytes(req.data(), static_cast<int>(req.size()));
    char buf[2048];
    int n = sock.receiveBytes(buf, sizeof buf);
    return n > 0 && std::string(buf, static_cast<std::size_t>(n)).rfind("HTTP/1.1 200 OK", 0) == 0;
  };
  std::vector<Poco::Net::StreamSocket> idle;
  for (int i = 0; i < 300; ++i) {
    idle.emplace_back(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(s.port)));
    idle.back().setReceiveTimeout(Poco::Timespan(3, 0));
    ASSERT_TRUE(ask(idle.back())) << "connection " << i;
  }
  std::thread slow([&] { EXPECT_EQ(test::http_get(s.port, "/t_good/slow").status, 200); });
  std::this_thread::sleep_for(100ms);  // the slow request holds one of the two workers
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
  auto metrics = test::http_get(s.port, "/metrics").body;
  EXPECT_NE(metrics.find("picloud_http_connections_open 30"), std::string::npos) << "300 idle + slow + this one";
  for (std::size_t i = 0; i < idle.size(); i += 50) EXPECT_TRUE(ask(idle[i])) << "connection " << i;
  slow.join();
}

// Workers held by slow handlers stop counting against the active ones: with
// one active worker (of four), two slow requests in progress do not keep a
// quick one waiting.
TEST(Protocol, SlowHandlersLetParkedWorkersIn) {
  Server s(Backend::sqlite, {{"PICLOUD_SERVER_THREADS", "4"}, {"PICLOUD_SERVER_ACTIVE_WORKERS", "1"}});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);
  std::vector<std::thread> slow;
  for (int i = 0; i < 2; ++i)
    slow.emplace_back([&] { EXPECT_EQ(test::http_get(s.port, "/t_good/slow").status, 200); });
  std::this_thread::sleep_for(150ms);
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 300ms) << "the slow requests take 800 ms";
  for (auto& t : slow) t.join();
}

TEST(Protocol, ShutdownDoesNotWaitForIdleKeepAliveConnections) {
  Server s(Backend::sqlite, {{"PICLOUD_SERVER_KEEP_ALIVE_TIMEOUT_S", "60"}});
  ASSERT_TRUE(s.ready()) << diagnostics(*s.process);
  Poco::Net::StreamSocket idle(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(s.port)));
  std::string req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
  idle.sendBytes(req.data(), static_cast<int>(req.size()));
  char buf[1024];
  ASSERT_GT(idle.receiveBytes(buf, sizeof buf), 0);
  auto started = std::chrono::steady_clock::now();
  s.process->signal(SIGTERM);
  EXPECT_EQ(s.process->wait(10s), 0) << diagnostics(*s.process);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return test::backend_name(info.param); });

// ---- start-up failures and the other commands ---------------------------------

namespace {

std::unique_ptr<Process> run(std::vector<std::string> args, std::map<std::string, std::string> env,
                             const std::string& cwd, bool drop_root = false) {
  args.insert(args.begin(), test::picloud_binary());
  env.emplace("PICLOUD_SERVER_PORT", std::to_string(test::free_port()));
  env.emplace("PICLOUD_PLUGINS_SEARCH_PATH", test::test_plugin_dir());
  env.emplace("PICLOUD_PLUGINS_ENABLED", "t_good");
  return std::make_unique<Process>(Process::Options{args, env, cwd, drop_root});
}

}  // namespace

TEST(Startup, VersionMatchesTheRelease) {
  test::TempDir dir;
  auto p = run({"--version"}, {}, dir.path());
  EXPECT_EQ(p->wait(5s), 0);
  EXPECT_EQ(p->out(), "picloud 0.1.0 (SDK ABI " + kAbi + ")\n");
}

TEST(Startup, DefaultsToSqliteUnderData) {
  test::TempDir dir;
  auto p = run({}, {}, dir.path());
  std::string err;
  for (int i = 0; i < 300 && err.find("msg=listening") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    err = p->err();
  }
  ASSERT_NE(err.find("database=sqlite:./data/picloud.db"), std::string::npos) << err;
  struct stat st {};
  EXPECT_EQ(stat((dir.path() + "/data/picloud.db").c_str(), &st), 0);
  p->signal(SIGINT);
  EXPECT_EQ(p->wait(10s), 0);
}

namespace {

// Waits for the "listening" log line; the process's stderr so far.
std::string wait_listening(Process& p) {
  std::string err;
  for (int i = 0; i < 300 && err.find("msg=listening") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    err = p.err();
  }
  return err;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 01000;  // missing: no mode matches
  return st.st_mode & 0777;
}

}  // namespace

TEST(Startup, TheDataDirectoryAndDatabaseAreOwnerOnly) {
  // On 0.1.0 the database was created 0644 in a 0755 directory: password
  // hashes readable by every local user.
  test::TempDir dir;
  auto p = run({}, {{"PICLOUD_SERVER_DATA_DIR", "state/nested"}}, dir.path());
  auto err = wait_listening(*p);
  ASSERT_NE(err.find("database=sqlite:state/nested/picloud.db"), std::string::npos) << err;
  EXPECT_EQ(mode_of(dir.path() + "/state"), 0700u);
  EXPECT_EQ(mode_of(dir.path() + "/state/nested"), 0700u);
  EXPECT_EQ(mode_of(dir.path() + "/state/nested/picloud.db"), 0600u);
  EXPECT_EQ(mode_of(dir.path() + "/state/nested/picloud.db-wal"), 0600u);
  p->signal(SIGINT);
  EXPECT_EQ(p->wait(10s), 0);
}

TEST(Startup, AnOlderDataDirectoryReadableByOthersIsTightened) {
  test::TempDir dir;
  ASSERT_EQ(mkdir((dir.path() + "/data").c_str(), 0755), 0);
  dir.write("data/picloud.db", "");  // an empty file is an empty SQLite database
  ASSERT_EQ(chmod((dir.path() + "/data/picloud.db").c_str(), 0644), 0);
  auto p = run({}, {}, dir.path());
  auto err = wait_listening(*p);
  ASSERT_NE(err.find("msg=listening"), std::string::npos) << err;
  EXPECT_EQ(mode_of(dir.path() + "/data"), 0700u);
  EXPECT_EQ(mode_of(dir.path() + "/data/picloud.db"), 0600u);
  EXPECT_NE(err.find("now owner-only (0700)"), std::string::npos) << err;
  EXPECT_NE(err.find("now owner-only (0600)"), std::string::npos) << err;
  p->signal(SIGINT);
  EXPECT_EQ(p->wait(10s), 0);
}

TEST(Startup, WarnsWhenNoPluginDirectoryExists) {
  test::TempDir dir;
  int port = test::free_port();
  auto p = run({}, {{"PICLOUD_SERVER_PORT", std::to_string(port)}, {"PICLOUD_PLUGINS_ENABLED", "*"},
                    {"PICLOUD_PLUGINS_SEARCH_PATH", "/nonexistent/a:/nonexistent/b"}},
               dir.path());
  ASSERT_TRUE(test::wait_for_status(port, "/readyz", 200, 15s)) << p->err();
  EXPECT_NE(p->err().find("msg=\"no plugin search path directory exists\" search_path=/nonexistent/a:/nonexistent/b"),
            std::string::npos)
      << p->err();
}

TEST(Startup, UnreachablePostgresFailsFastWithAClearMessage) {
  test::TempDir dir;
  auto started = std::chrono::steady_clock::now();
  auto p = run({}, {{"PICLOUD_DATABASE_URL", "postgresql://picloud@127.0.0.1:" + std::to_string(test::free_port()) + "/x"},
                    {"PICLOUD_DATABASE_CONNECT_TIMEOUT_S", "2"}},
               dir.path());
  EXPECT_EQ(p->wait(15s), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_NE(p->err().find("cannot connect to PostgreSQL at postgresql://picloud@127.0.0.1:"), std::string::npos)
      << p->err();
}

TEST(Startup, CorruptSqliteFileIsReported) {
  test::TempDir dir;
  dir.write("data/picloud.db", std::string(8192, 'Z'));
  auto p = run({}, {}, dir.path());
  EXPECT_EQ(p->wait(10s), 1);
  EXPECT_NE(p->err().find("not a database"), std::string::npos) << p->err();
  EXPECT_NE(p->err().find("sqlite:./data/picloud.db"), std::string::npos) << p->err();
}

TEST(Startup, ReadOnlyDataDirectoryIsReported) {
  test::TempDir dir;
  std::string data = dir.file("data");
  ASSERT_EQ(mkdir(data.c_str(), 0555), 0);
  ASSERT_EQ(chmod(data.c_str(), 0555), 0);
  // As root every directory is writable: run the server unprivileged then.
  auto p = run({}, {}, dir.path(), /*drop_root=*/true);
  EXPECT_EQ(p->wait(10s), 1);
  EXPECT_NE(p->err().find("data directory " + data + " is not writable"), std::string::npos) << p->err();
}

TEST(Startup, MalformedDatabaseUrlAndBadValuesExitWithCode2) {
  test::TempDir dir;
  auto p = run({}, {{"PICLOUD_DATABASE_URL", "mysql://localhost/db"}}, dir.path());
  EXPECT_EQ(p->wait(5s), 2);
  EXPECT_NE(p->err().find("[database] url 'mysql://localhost/db' is not valid"), std::string::npos) << p->err();

  auto q = run({}, {{"PICLOUD_SERVER_THREADS", "many"}}, dir.path());
  EXPECT_EQ(q->wait(5s), 2);
  EXPECT_NE(q->err().find("[server] threads = 'many' (from environment PICLOUD_SERVER_THREADS)"), std::string::npos)
      << q->err();
}

TEST(Startup, PortInUseIsReported) {
  test::TempDir dir;
  int port = test::free_port();
  auto first = run({}, {{"PICLOUD_SERVER_PORT", std::to_string(port)}}, dir.path());
  ASSERT_TRUE(test::wait_for_status(port, "/readyz", 200, 15s)) << first->err();
  test::TempDir other;
  auto second = run({}, {{"PICLOUD_SERVER_PORT", std::to_string(port)}}, other.path());
  EXPECT_EQ(second->wait(10s), 1);
  EXPECT_NE(second->err().find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << second->err();
}

TEST(Commands, ConfigCheckWarnsAboutUnknownKeys) {
  test::TempDir dir;
  dir.write("p.ini", "[server]\nprot = 1\n[t_good]\ngreeting = hi\n");
  auto ok = run({"config", "check", "--config", dir.file("p.ini")}, {}, dir.path());
  EXPECT_EQ(ok->wait(5s), 0) << ok->err();
  EXPECT_NE(ok->out().find("config OK"), std::string::npos);
  EXPECT_NE(ok->err().find("key=\"[server] prot"), std::string::npos) << ok->err();
  EXPECT_EQ(ok->err().find("[t_good] greeting"), std::string::npos) << ok->err();

  dir.write("bad.ini", "[log]\nlevel = chatty\n");
  auto bad = run({"config", "check", "--config", dir.file("bad.ini")}, {}, dir.path());
  EXPECT_EQ(bad->wait(5s), 2);
  EXPECT_NE(bad->err().find("[log] level = 'chatty'"), std::string::npos) << bad->err();
}

TEST(Commands, UnknownKeysAreWarnedAtServeToo) {
  test::TempDir dir;
  dir.write("p.ini", "[server]\nhots = x\n[t_good]\ngreting = hi\n");
  int port = test::free_port();
  auto p = run({"--config", dir.file("p.ini")}, {{"PICLOUD_SERVER_PORT", std::to_string(port)}}, dir.path());
  ASSERT_TRUE(test::wait_for_status(port, "/readyz", 200, 15s)) << p->err();
  EXPECT_NE(p->err().find("key=\"[server] hots"), std::string::npos) << p->err();
  EXPECT_NE(p->err().find("key=\"[t_good] greting"), std::string::npos) << p->err();
}

TEST(Commands, PluginsListsFoundEnabledAndRefused) {
  test::TempDir dir;
  auto p = run({"plugins"}, {{"PICLOUD_PLUGINS_ENABLED", "t_good,t_missing"}}, dir.path());
  EXPECT_EQ(p->wait(10s), 1);  // something is refused or missing
  std::string out = p->out();
  EXPECT_NE(out.find("t_good           1.2.3      " + kAbi + "    yes"), std::string::npos) << out;
  EXPECT_NE(out.find("t_dependent      0.1.0      " + kAbi + "    no"), std::string::npos) << out;
  EXPECT_NE(out.find("refused: plugin " + test::test_plugin_dir() + "/t_abi_major.so was built for SDK ABI " +
                     std::to_string(PICLOUD_SDK_ABI_MAJOR + 1) + ".0"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("t_missing"), std::string::npos) << out;
}

TEST(Commands, MigrateAppliesAndPrintsStatus) {
  test::TempDir dir;
  auto p = run({"migrate"}, {}, dir.path());
  EXPECT_EQ(p->wait(10s), 0) << p->err();
  EXPECT_NE(p->out().find("t_good           1        events"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           1        identity_and_apps"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           2        dispatch"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           3        execution_log_indexes"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           4        triggers"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           5        delivery"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           6        plugin_task_runs"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           7        keyring"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           8        plugin_jobs"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           9        app_cors"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           10       nodes"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("kernel           11       trigger_names"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("12 migration(s) applied now"), std::string::npos) << p->out();
  auto again = run({"migrate"}, {}, dir.path());
  EXPECT_EQ(again->wait(10s), 0);
  EXPECT_NE(again->out().find("0 migration(s) applied now"), std::string::npos) << again->out();
}

TEST(Commands, ScriptRunCallsPluginDeclaredFunctions) {
  test::TempDir dir;
  dir.write("util.as", "string shout(const string &in s) { return s + \"!\"; }\n");
  dir.write("hello.as", R"(import "util";
void handle(request@ req, response@ res) {
  log::info("running");
  res.status = 201;
  res.set_header("x-events", "" + t_good::events());
  res.text(util::shout(t_good::greet(req.query.get_string("name"))) + " " + t_good::greet());
})");
  auto p = run({"script", "run", dir.file("hello.as"), "--path", "/x?name=ada"}, {}, dir.path());
  EXPECT_EQ(p->wait(10s), 0) << diagnostics(*p);
  EXPECT_NE(p->out().find("HTTP 201\n"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("x-events: 1\n"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("hello, ada from cli! hello, world from cli"), std::string::npos) << p->out();
  EXPECT_NE(p->err().find("component=script msg=running"), std::string::npos) << p->err();
}

TEST(Commands, ScriptCheckPrintsDiagnostics) {
  test::TempDir dir;
  dir.write("bad.as", "void handle(request@ req, response@ res) {\n  t_good::nope();\n}\n");
  auto p = run({"script", "check", dir.file("bad.as")}, {}, dir.path());
  EXPECT_EQ(p->wait(10s), 1) << diagnostics(*p);
  EXPECT_NE(p->out().find(dir.file("bad.as") + ":2:"), std::string::npos) << p->out();
  EXPECT_NE(p->out().find("error: No matching symbol 't_good::nope'"), std::string::npos) << p->out();
  dir.write("good.as", "int twice(int x) { return 2 * x; }\n");
  auto ok = run({"script", "check", dir.file("good.as"), "--module"}, {}, dir.path());
  EXPECT_EQ(ok->wait(10s), 0) << diagnostics(*ok);
}

TEST(Commands, ScriptCheckListsTheCandidatesOfAWrongCall) {
  test::TempDir dir;
  dir.write("bad.as", "void handle(request@ req, response@ res) {\n  res.text(t_good::greet(42));\n}\n");
  auto p = run({"script", "check", dir.file("bad.as")}, {}, dir.path());
  EXPECT_EQ(p->wait(10s), 1) << diagnostics(*p);
  EXPECT_NE(p->out().find(dir.file("bad.as") +
                          ":2:26: error: No matching signatures to 't_good::greet(const int)': argument 1 is int, "
                          "where name is string\n"
                          "    candidate: string t_good::greet(const string&in name = \"world\")\n"
                          "        the greeting for name, from the calling app\n"),
            std::string::npos)
      << p->out();
}

TEST(Commands, ScriptApiPrintsTheReferenceOfTheEnabledPlugins) {
  test::TempDir dir;
  auto one = run({"script", "api", "t_good"}, {}, dir.path());
  EXPECT_EQ(one->wait(10s), 0) << diagnostics(*one);
  EXPECT_EQ(one->out().rfind("namespace t_good (t_good)\n", 0), 0u) << one->out();
  EXPECT_NE(one->out().find("  string t_good::greet(const string&in name = \"world\")\n"
                            "      the greeting for name, from the calling app\n"),
            std::string::npos)
      << one->out();
  auto as_json = run({"script", "api", "t_good", "--json"}, {}, dir.path());
  EXPECT_EQ(as_json->wait(10s), 0) << diagnostics(*as_json);
  auto parsed = kernel::parse_json(as_json->out(), 64, kernel::JsonStrictness::stored);
  ASSERT_TRUE(parsed) << as_json->out();
  EXPECT_EQ((*parsed)["namespaces"][0]["functions"].size(), 2u) << as_json->out();
  auto gone = run({"script", "api", "t_good"}, {{"PICLOUD_PLUGINS_ENABLED", ""}}, dir.path());
  EXPECT_EQ(gone->wait(10s), 1) << diagnostics(*gone);
  EXPECT_NE(gone->err().find("no namespace 't_good' (is its plugin enabled?"), std::string::npos) << gone->err();
}

// docs/script-api.md is `picloud script api` with the shipped plugins.
TEST(Commands, TheScriptApiReferenceInTheDocsIsCurrent) {
  test::TempDir dir;
  auto p = run({"script", "api"},
               {{"PICLOUD_PLUGINS_SEARCH_PATH", test::builtin_plugin_dir()},
                {"PICLOUD_PLUGINS_ENABLED", "docs,email,files,http,kv,pubsub,realtime,secrets"},
                {"PICLOUD_KEYRING_KEY", test::kKeyringKey}},
               dir.path());
  ASSERT_EQ(p->wait(20s), 0) << diagnostics(*p);
  std::ifstream in(test::source_dir() + "/docs/script-api.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto start = doc.find("```text\n");
  auto end = doc.rfind("\n```");
  ASSERT_TRUE(start != std::string::npos && end != std::string::npos && end > start) << "no ```text block";
  std::string listed = doc.substr(start + 8, end - start - 8);
  std::string printed = p->out();
  while (!printed.empty() && printed.back() == '\n') printed.pop_back();
  EXPECT_EQ(listed, printed) << "docs/script-api.md is out of date: regenerate it with ./dev docs";
  // Everything the shipped plugins and the standard library offer has a doc line.
  auto as_json = run({"script", "api", "--json"},
                     {{"PICLOUD_PLUGINS_SEARCH_PATH", test::builtin_plugin_dir()},
                      {"PICLOUD_PLUGINS_ENABLED", "docs,email,files,http,kv,pubsub,realtime,secrets"},
                      {"PICLOUD_KEYRING_KEY", test::kKeyringKey}},
                     dir.path());
  ASSERT_EQ(as_json->wait(20s), 0) << diagnostics(*as_json);
  auto reference = kernel::parse_json(as_json->out(), 64, kernel::JsonStrictness::stored);
  ASSERT_TRUE(reference);
  std::set<std::string> owners;
  for (const auto& ns : (*reference)["namespaces"].as_array()) {
    owners.insert(ns["owner"].as_string());
    for (const auto& f : ns["functions"].as_array()) EXPECT_NE(f["doc"].as_string(), "") << f["declaration"].as_string();
    for (const auto& t : ns["types"].as_array()) {
      EXPECT_NE(t["doc"].as_string(), "") << t["qualified_name"].as_string();
      for (const auto& m : t["methods"].as_array())
        if (!m["operator"].bool_or(false)) EXPECT_NE(m["doc"].as_string(), "") << m["declaration"].as_string();
      for (const auto& prop : t["properties"].as_array()) EXPECT_NE(prop["doc"].as_string(), "") << prop["name"].as_string();
    }
  }
  EXPECT_EQ(owners, (std::set<std::string>{"docs", "email", "files", "http", "kernel", "kv", "pubsub", "realtime", "secrets"}));
}

TEST(Commands, ScriptRunReportsTheLimitHit) {
  test::TempDir dir;
  dir.write("loop.as", "void handle(request@ req, response@ res) { while (true) {} }\n");
  auto p = run({"script", "run", dir.file("loop.as")}, {{"PICLOUD_SCRIPTING_MAX_OPERATIONS", "10000"}}, dir.path());
  EXPECT_EQ(p->wait(10s), 1) << diagnostics(*p);
  EXPECT_NE(p->err().find("script failed (operation_limit, HTTP 507)"), std::string::npos) << p->err();
  auto bad = run({"script", "run", dir.file("loop.as")}, {{"PICLOUD_SCRIPTING_MAX_OPERATIONS", "-1"}}, dir.path());
  EXPECT_EQ(bad->wait(10s), 2) << diagnostics(*bad);
  EXPECT_NE(bad->err().find("max_operations"), std::string::npos) << bad->err();
}

TEST(Commands, UnknownCommandShowsUsage) {
  test::TempDir dir;
  auto p = run({"frobnicate"}, {}, dir.path());
  EXPECT_EQ(p->wait(5s), 2);
  EXPECT_NE(p->err().find("unknown command 'frobnicate'"), std::string::npos);
  EXPECT_NE(p->err().find("usage: picloud"), std::string::npos);
}
