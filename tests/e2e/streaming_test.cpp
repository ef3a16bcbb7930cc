// Request and response bodies larger than memory, through the real server
// and a real plugin (tests/plugins/t_stream.cpp) over loopback: spooled
// uploads, streamed downloads (producer, chunked, sendfile), per-route body
// limits, the server's memory while hundreds of MiB pass, and slow clients
// that must not hold the server's workers.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "raw_http.hpp"
#include "support.hpp"

using namespace picloud;
using namespace std::chrono_literals;
using test::Process;
using namespace test::raw_http;

namespace {

struct StreamServer {
  test::TempDir dir;
  int port = test::free_port();
  std::unique_ptr<test::TestDatabase> db = std::make_unique<test::TestDatabase>(test::Backend::sqlite);
  std::unique_ptr<Process> process;

  explicit StreamServer(std::map<std::string, std::string> env = {}) {
    env.emplace("PICLOUD_SERVER_PORT", std::to_string(port));
    env.emplace("PICLOUD_SERVER_DATA_DIR", dir.path());
    env.emplace("PICLOUD_DATABASE_URL", db->url());
    env.emplace("PICLOUD_PLUGINS_SEARCH_PATH", test::test_plugin_dir());
    env.emplace("PICLOUD_PLUGINS_ENABLED", "t_stream");
    process = std::make_unique<Process>(Process::Options{{test::picloud_binary(), "serve"}, env, dir.path(), false});
    EXPECT_TRUE(test::wait_for_status(port, "/readyz", 200, 15s)) << process->err();
  }

  // The server's open descriptors of deleted files: spooled bodies and
  // streamed files still held (the database's connections, which come and
  // go, are not counted).
  int deleted_files_open() const {
    int n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(process->pid()) + "/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      auto target = std::filesystem::read_symlink(it->path(), ec);
      if (!ec && target.string().find("(deleted)") != std::string::npos) ++n;
    }
    return n;
  }
  // Starts VmHWM (peak RSS) over from the current RSS.
  void reset_peak() const { std::ofstream("/proc/" + std::to_string(process->pid()) + "/clear_refs") << "5"; }
  // A field of /proc/<pid>/status in KiB (VmRSS, VmHWM).
  std::int64_t memory_kib(const std::string& field) const {
    std::ifstream in("/proc/" + std::to_string(process->pid()) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
    return -1;
  }
};

std::string get(const std::string& target, const std::string& version = "HTTP/1.1") {
  return "GET " + target + " " + version + "\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
}

// The sum of the pattern's first `n` bytes, as t_stream answers it.
std::uint64_t pattern_sum(std::int64_t n) {
  std::uint64_t per_cycle = 250 * 251 / 2, sum = static_cast<std::uint64_t>(n / 251) * per_cycle;
  for (std::int64_t i = 0; i < n % 251; ++i) sum += static_cast<std::uint64_t>(i);
  return sum;
}

TEST(Streaming, LargeBodiesPassThroughInLittleMemory) {
  StreamServer s;
  const std::int64_t size = 256 * kMiB;
  s.reset_peak();
  const std::int64_t rss_before = s.memory_kib("VmRSS");
  auto up = transfer(s.port,
                     "PUT /t_stream/spooled HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(size) +
                         "\r\nConnection: close\r\n\r\n",
                     size);
  EXPECT_EQ(up.status, 200) << up.head << up.body;
  EXPECT_EQ(up.body, std::to_string(size) + " " + std::to_string(pattern_sum(size)));
  for (const char* kind : {"generated", "chunked", "file"}) {
    auto down = transfer(s.port, get(std::string("/t_stream/") + kind + "?size=" + std::to_string(size)));
    EXPECT_EQ(down.status, 200) << kind << ": " << down.head;
    EXPECT_TRUE(down.complete) << kind;
    EXPECT_EQ(down.length, size) << kind;
    EXPECT_TRUE(down.pattern_ok) << kind;
    bool chunked = down.head.find("Transfer-Encoding: chunked") != std::string::npos;
    EXPECT_EQ(chunked, std::string(kind) == "chunked") << down.head;
  }
  // A chunked upload is spooled too.
  int fd = connect_to(s.port);
  ASSERT_GE(fd, 0);
  std::string request = "PUT /t_stream/spooled HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::int64_t at = 0; at < 32 * kMiB; at += kMiB)
    request += "100000\r\n" + pattern(at, static_cast<std::size_t>(kMiB)) + "\r\n";
  ASSERT_TRUE(send_all(fd, request + "0\r\n\r\n"));
  auto chunked_up = read_response(fd);
  ::close(fd);
  EXPECT_EQ(chunked_up.body, std::to_string(32 * kMiB) + " " + std::to_string(pattern_sum(32 * kMiB)));
  // A gigabyte moved through the server; its memory grew by a few buffers.
  const std::int64_t peak = s.memory_kib("VmHWM");
  EXPECT_LT(peak - rss_before, 24 * 1024) << "RSS before " << rss_before << " KiB, peak " << peak << " KiB";
  // Every body's file and every stream's file is closed.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(s.deleted_files_open(), 0);
}

TEST(Streaming, AConnectionGoesOnAfterAStreamedAnswer) {
  StreamServer s;
  int fd = connect_to(s.port);
  ASSERT_GE(fd, 0);
  // Pipelined: a chunked stream, an announced one, then an ordinary answer.
  ASSERT_TRUE(send_all(fd, "GET /t_stream/chunked?size=100000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                           "GET /t_stream/generated?size=70000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                           "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  Reader in(fd);
  auto first = read_response(in);
  EXPECT_EQ(first.length, 100000);
  EXPECT_TRUE(first.complete && first.pattern_ok);
  auto second = read_response(in);
  EXPECT_EQ(second.length, 70000);
  EXPECT_TRUE(second.complete && second.pattern_ok);
  auto third = read_response(in);
  EXPECT_EQ(third.status, 200) << third.head;
  ::close(fd);
  // An empty body on a spooling route is an empty file.
  auto empty = transfer(s.port, "PUT /t_stream/spooled HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                                "Connection: close\r\n\r\n");
  EXPECT_EQ(empty.body, "0 0");
}

TEST(Streaming, EachRouteHasItsOwnBodyLimit) {
  StreamServer s;
  auto post = [&](std::int64_t n) {
    return transfer(s.port,
                    "POST /t_stream/small HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(n) +
                        "\r\nConnection: close\r\n\r\n",
                    n);
  };
  auto fits = post(100);
  EXPECT_EQ(fits.status, 200);
  EXPECT_EQ(fits.body, "100 " + std::to_string(pattern_sum(100)));
  auto over = post(101);
  EXPECT_EQ(over.status, 413);
  EXPECT_NE(over.body.find("larger than 100 bytes"), std::string::npos) << over.body;
  // Chunked, the limit applies as the chunks arrive.
  auto chunked = transfer(s.port, "POST /t_stream/small HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" +
                                      pattern(0, 101) + "\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.status, 413);
  // Past a route's own limit: refused before a byte of the body is read.
  auto huge = transfer(s.port, "PUT /t_stream/spooled HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                                   std::to_string((std::int64_t{1} << 30) + 1) + "\r\n\r\n");
  EXPECT_EQ(huge.status, 413);
  EXPECT_NE(huge.body.find("larger than 1073741824 bytes"), std::string::npos) << huge.body;
  // HEAD gets the length without the body; a 1.0 client an unknown-length
  // body delimited by the close.
  auto head = transfer(s.port, "HEAD /t_stream/generated?size=5000 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                       0, true);
  EXPECT_NE(head.head.find("Content-Length: 5000"), std::string::npos) << head.head;
  auto old = transfer(s.port, get("/t_stream/chunked?size=300000", "HTTP/1.0"));
  EXPECT_EQ(old.status, 200);
  EXPECT_EQ(old.length, 300000);
  EXPECT_TRUE(old.pattern_ok);
  EXPECT_EQ(old.head.find("Transfer-Encoding"), std::string::npos) << old.head;
}

TEST(Streaming, ABodyThatFailsHalfwayEndsItsConnectionOnly) {
  StreamServer s;
  auto broken = transfer(s.port, get("/t_stream/broken"));
  EXPECT_EQ(broken.status, 200);
  EXPECT_FALSE(broken.complete) << "a cut body must not look whole";
  EXPECT_LT(broken.length, kMiB);
  // Of unknown length, chunked or to an HTTP/1.0 client: never a
  // complete-looking body either (the connection is reset).
  auto chunked = transfer(s.port, get("/t_stream/broken?chunked"));
  EXPECT_FALSE(chunked.complete);
  auto old = transfer(s.port, get("/t_stream/broken?chunked", "HTTP/1.0"));
  EXPECT_FALSE(old.complete) << old.length;
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 200);
  EXPECT_NE(s.process->err().find("a response body could not be produced"), std::string::npos) << s.process->err();
  auto metrics = test::http_get(s.port, "/metrics").body;
  EXPECT_NE(metrics.find("picloud_http_stream_failures_total 3"), std::string::npos) << metrics;
}

TEST(Streaming, SpooledBodiesKeepToTheirBudgetAndLeaveTheDiskFree) {
  auto put = [](int port, std::int64_t n, bool declared) {
    std::string head = "PUT /t_stream/spooled HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (declared) return transfer(port, head + "Content-Length: " + std::to_string(n) + "\r\n\r\n", n);
    // Chunked: the budget is found exceeded while the body arrives.
    std::string body = head + "Transfer-Encoding: chunked\r\n\r\n";
    for (std::int64_t at = 0; at < n; at += 65536) body += "10000\r\n" + pattern(at, 65536) + "\r\n";
    return transfer(port, body + "0\r\n\r\n");
  };
  StreamServer budget({{"PICLOUD_SERVER_SPOOL_MAX_BYTES", std::to_string(kMiB)}});
  EXPECT_EQ(put(budget.port, 2 * kMiB, true).status, 507);
  EXPECT_EQ(put(budget.port, 2 * kMiB, false).status, 507);
  // What the refused bodies took is given back.
  auto fits = put(budget.port, kMiB / 2, false);
  EXPECT_EQ(fits.status, 200) << fits.body;
  EXPECT_EQ(fits.body, std::to_string(kMiB / 2) + " " + std::to_string(pattern_sum(kMiB / 2)));
  EXPECT_EQ(put(budget.port, kMiB / 2, true).status, 200);
  // A reserve larger than the disk's free space: nothing is spooled.
  StreamServer reserve({{"PICLOUD_SERVER_SPOOL_RESERVE_BYTES", std::to_string(std::int64_t{1} << 50)}});
  auto refused = put(reserve.port, 1000, true);
  EXPECT_EQ(refused.status, 507);
  EXPECT_NE(refused.body.find("insufficient_storage"), std::string::npos) << refused.body;
}

TEST(Streaming, ASpooledUploadMayWaitFor100Continue) {
  StreamServer s;
  int fd = connect_to(s.port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "PUT /t_stream/spooled HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
                           "Expect: 100-continue\r\nConnection: close\r\n\r\n"));
  Reader in(fd);
  while (in.pending_.find("\r\n\r\n") == std::string::npos) ASSERT_TRUE(in.fill());
  EXPECT_EQ(in.pending_.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << in.pending_;
  in.pending_.clear();
  ASSERT_TRUE(send_pattern(fd, 1000));
  auto r = read_response(in);
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, "1000 " + std::to_string(pattern_sum(1000)));
  ::close(fd);
}

TEST(Streaming, ShutdownCutsADownloadAfterItsGrace) {
  StreamServer s(std::map<std::string, std::string>{{"PICLOUD_SERVER_SHUTDOWN_GRACE_MS", "300"}});
  int fd = connect_to(s.port);
  ASSERT_GE(fd, 0);
  // Far more than the sockets hold, and never read: the download waits.
  ASSERT_TRUE(send_all(fd, get("/t_stream/generated?size=" + std::to_string(512 * kMiB))));
  std::this_thread::sleep_for(200ms);
  s.process->signal(SIGTERM);
  EXPECT_EQ(s.process->wait(10s), 0) << s.process->err();
  auto r = read_response(fd);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.complete) << "a cut download must not look whole";
  EXPECT_LT(r.length, 512 * kMiB);
  ::close(fd);
}

TEST(Streaming, SlowClientsHoldNoWorker) {
  // Two worker threads at most; more slow clients than that.
  StreamServer s({{"PICLOUD_SERVER_THREADS", "2"}, {"PICLOUD_SERVER_ACTIVE_WORKERS", "1"}});
  std::vector<int> readers_that_stall, uploads_that_stall;
  for (int i = 0; i < 4; ++i) {
    // 64 MiB is far more than the sockets' buffers hold: the server must
    // park each download until its client reads.
    int fd = connect_to(s.port);
    ASSERT_TRUE(send_all(fd, get("/t_stream/generated?size=" + std::to_string(64 * kMiB))));
    readers_that_stall.push_back(fd);
    int up = connect_to(s.port);
    ASSERT_TRUE(send_all(up, "PUT /t_stream/spooled HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                                 std::to_string(64 * kMiB) + "\r\n\r\n"));
    ASSERT_TRUE(send_pattern(up, kMiB));  // and then nothing for a while
    uploads_that_stall.push_back(up);
  }
  std::this_thread::sleep_for(300ms);
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(test::http_get(s.port, "/healthz").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  // The stalled downloads are still whole when read at last.
  auto late = read_response(readers_that_stall[0]);
  EXPECT_EQ(late.length, 64 * kMiB);
  EXPECT_TRUE(late.pattern_ok);
  for (int fd : readers_that_stall) ::close(fd);
  for (int fd : uploads_that_stall) ::close(fd);
  EXPECT_EQ(test::http_get(s.port, "/healthz").status, 200);
}

}  // namespace
