// The files plugin in a real server process, for what needs one: files of
// hundreds of MiB through the admin API with the server's memory measured,
// uploads cut off half way, and kill -9 in the middle of uploads.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kernel/admin/api_support.hpp"
#include "raw_http.hpp"
#include "support.hpp"

using namespace picloud;
using namespace std::chrono_literals;
using namespace test::raw_http;
using test::Backend;
using test::Process;

namespace {

const std::string kPassword = "correct horse battery staple";

struct Pair {
  Backend db;
  std::string backend;
};
std::string pair_name(const Pair& p) { return test::backend_name(p.db) + "_" + p.backend; }
void PrintTo(const Pair& p, std::ostream* os) { *os << pair_name(p); }

// A picloud serve process with the files plugin, restartable on the same
// data directory and database.
struct FilesServer {
  test::TempDir dir;
  int port = test::free_port();
  std::unique_ptr<test::TestDatabase> db;
  std::map<std::string, std::string> env;
  std::unique_ptr<Process> process;
  std::string cookie, app_id;

  FilesServer(const Pair& pair, std::map<std::string, std::string> extra = {}) {
    db = std::make_unique<test::TestDatabase>(pair.db);
    env = {{"PICLOUD_SERVER_PORT", std::to_string(port)},
           {"PICLOUD_SERVER_DATA_DIR", dir.path()},
           {"PICLOUD_DATABASE_URL", db->url()},
           {"PICLOUD_DATABASE_MIGRATIONS_PATH", test::source_dir() + "/migrations"},
           {"PICLOUD_PLUGINS_SEARCH_PATH", test::builtin_plugin_dir()},
           {"PICLOUD_PLUGINS_ENABLED", "files"},
           {"PICLOUD_FILES_BACKEND", pair.backend},
           {"PICLOUD_FILES_MAX_FILE_BYTES", std::to_string(300 * kMiB)},
           {"PICLOUD_OWNER_USERNAME", "owner"},
           {"PICLOUD_OWNER_PASSWORD", kPassword},
           {"PICLOUD_KEYRING_KEY", test::kKeyringKey},
           {"PICLOUD_LOG_LEVEL", "warn"}};
    for (auto& [k, v] : extra) env[k] = v;
    // Under AddressSanitizer freed memory waits in a quarantine (256 MiB)
    // instead of being reused, which would read as the server's growth.
    if (const char* asan = std::getenv("ASAN_OPTIONS")) env["ASAN_OPTIONS"] = std::string(asan) + ":quarantine_size_mb=1";
    start();
    auto login = test::http("POST", port, "/api/v1/admin/login",
                            R"({"username":"owner","password":")" + kPassword + R"("})",
                            {{"Content-Type", "application/json"}});
    EXPECT_EQ(login.status, 200) << login.body;
    cookie = login.headers["set-cookie"].substr(0, login.headers["set-cookie"].find(';'));
    auto app = admin("POST", "/apps", R"({"slug":"big","hostnames":["big.localhost"]})");
    EXPECT_EQ(app.status, 201) << app.body;
    app_id = kernel::admin::parse_stored_json(app.body)["id"].string_or("");
  }

  void start() {
    process = std::make_unique<Process>(Process::Options{{test::picloud_binary(), "serve"}, env, dir.path(), false});
    EXPECT_TRUE(test::wait_for_status(port, "/readyz", 200, 20s)) << process->err();
  }

  test::HttpResult admin(const std::string& method, const std::string& path, const std::string& body = "") {
    std::map<std::string, std::string> headers{{"Cookie", cookie}};
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return test::http(method, port, "/api/v1/admin" + path, body, headers);
  }

  std::string upload_request(const std::string& name, std::int64_t size) const {
    return "PUT /api/v1/admin/apps/big/files/pics/file?name=" + name +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + cookie + "\r\nContent-Type: application/octet-stream\r\n"
           "Content-Length: " + std::to_string(size) + "\r\nConnection: close\r\n\r\n";
  }
  std::string download_request(const std::string& name) const {
    return "GET /api/v1/admin/apps/big/files/pics/file?name=" + name + " HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " +
           cookie + "\r\nConnection: close\r\n\r\n";
  }

  void reset_peak() const { std::ofstream("/proc/" + std::to_string(process->pid()) + "/clear_refs") << "5"; }
  std::int64_t memory_kib(const std::string& field) const {
    std::ifstream in("/proc/" + std::to_string(process->pid()) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
    return -1;
  }
  std::int64_t count(const std::string& sql) {
    auto conn = db->open(1);
    auto rows = conn->query(sql, {});
    EXPECT_TRUE(rows) << (rows ? "" : rows.error().message);
    return rows ? rows->rows[0][0].as_int() : -1;
  }
  std::int64_t files_under(const std::string& sub) const {
    std::int64_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir.path() + "/plugins/files/" + sub, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file()) ++n;
    return n;
  }
};

// The SHA-256 (hex) of the first `size` bytes of the pattern.
std::string pattern_sha256(std::int64_t size) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::string block = pattern(0, static_cast<std::size_t>(kMiB + 251));
  for (std::int64_t at = 0; at < size;) {
    auto n = static_cast<std::size_t>(std::min<std::int64_t>(kMiB, size - at));
    EVP_DigestUpdate(ctx, block.data() + at % 251, n);
    at += static_cast<std::int64_t>(n);
  }
  unsigned char d[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, d, &len);
  EVP_MD_CTX_free(ctx);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kDigits[d[i] >> 4]);
    out.push_back(kDigits[d[i] & 15]);
  }
  return out;
}

class FilesE2E : public ::testing::TestWithParam<Pair> {};

// 200 MiB on one pair, 8 MiB on the others (CI time): through the admin
// API both ways, the server's memory growing by a few buffers at most.
TEST_P(FilesE2E, LargeFilesRoundTripInLittleMemory) {
  FilesServer s(GetParam());
  const std::int64_t size = pair_name(GetParam()) == "sqlite_local" ? 200 * kMiB : 8 * kMiB;
  s.reset_peak();
  const std::int64_t rss_before = s.memory_kib("VmRSS");
  auto up = transfer(s.port, s.upload_request("big.bin", size), size);
  ASSERT_EQ(up.status, 201) << up.head << up.body;
  auto head = kernel::admin::parse_stored_json(up.body);
  EXPECT_EQ(head["size"], sdk::Value(size));
  EXPECT_EQ(head["sha256"], sdk::Value(pattern_sha256(size)));
  auto down = transfer(s.port, s.download_request("big.bin"));
  EXPECT_EQ(down.status, 200) << down.head;
  EXPECT_TRUE(down.complete);
  EXPECT_EQ(down.length, size);
  EXPECT_TRUE(down.pattern_ok);
  const std::int64_t peak = s.memory_kib("VmHWM");
  EXPECT_LT(peak - rss_before, 24 * 1024) << "RSS before " << rss_before << " KiB, peak " << peak << " KiB";
}

TEST_P(FilesE2E, AnUploadCutOffHalfWayLeavesNothing) {
  FilesServer s(GetParam());
  int fd = connect_to(s.port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, s.upload_request("cut.bin", 8 * kMiB)));
  ASSERT_TRUE(send_pattern(fd, 4 * kMiB));
  ::close(fd);
  std::this_thread::sleep_for(500ms);
  auto listed = s.admin("GET", "/apps/big/files/pics");
  EXPECT_EQ(listed.status, 200);
  EXPECT_EQ(kernel::admin::parse_stored_json(listed.body)["items"].size(), 0u) << listed.body;
  EXPECT_EQ(s.count("SELECT count(*) FROM files_blobs"), 0);
  EXPECT_EQ(s.count("SELECT count(*) FROM files_chunks"), 0);
  EXPECT_EQ(s.files_under("tmp") + s.files_under("blobs"), 0);
}

// kill -9 while uploads are being spooled and written: after a restart
// every file is whole and verified or absent, and the sweep takes what the
// crash left behind.
TEST_P(FilesE2E, KillDuringUploadsLeavesWholeFilesOrNone) {
  FilesServer s(GetParam(), {{"PICLOUD_FILES_SWEEP_INTERVAL_S", "1"}, {"PICLOUD_FILES_SWEEP_GRACE_S", "1"}});
  const std::int64_t size = 16 * kMiB;
  std::atomic<int> stored{0};
  std::vector<std::thread> uploads;
  for (int i = 0; i < 8; ++i)
    uploads.emplace_back([&, i] {
      std::this_thread::sleep_for(std::chrono::milliseconds(120 * i));
      auto r = transfer(s.port, s.upload_request("f" + std::to_string(i), size), size);
      if (r.status == 201) ++stored;
    });
  // Killed once two are stored: the others are arriving, being written, or
  // being committed. (Under the sanitizers a database-backend upload takes
  // seconds.)
  auto deadline = std::chrono::steady_clock::now() + 90s;
  while (stored.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  s.process->signal(SIGKILL);
  s.process->wait(5s);
  for (auto& t : uploads) t.join();
  s.start();

  auto listed = s.admin("GET", "/apps/big/files/pics");
  ASSERT_EQ(listed.status, 200) << listed.body;
  auto items = kernel::admin::parse_stored_json(listed.body)["items"];
  EXPECT_GE(items.size(), static_cast<std::size_t>(stored.load()));
  for (const auto& item : items.as_array()) {
    EXPECT_EQ(item["size"], sdk::Value(size));
    auto down = transfer(s.port, s.download_request(item["name"].string_or("")));
    EXPECT_EQ(down.status, 200);
    EXPECT_TRUE(down.complete) << item["name"].string_or("");  // verified against its SHA-256 as it went
    EXPECT_EQ(down.length, size);
    EXPECT_TRUE(down.pattern_ok);
  }
  // What the crash left (a blob being written, a temp file) goes with the
  // sweep; the stored files' bytes stay.
  const auto live = static_cast<std::int64_t>(items.size());
  const std::int64_t left_over = s.count("SELECT count(*) FROM files_blobs WHERE state <> 'live'");
  deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline && s.count("SELECT count(*) FROM files_blobs") != live)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(s.count("SELECT count(*) FROM files_blobs"), live);
  EXPECT_EQ(s.count("SELECT count(*) FROM files_blobs WHERE state <> 'live'"), 0);
  if (GetParam().backend == "local") {
    EXPECT_EQ(s.files_under("blobs"), live);
    EXPECT_EQ(s.files_under("tmp"), 0);
  } else {
    EXPECT_EQ(s.count("SELECT count(*) FROM files_chunks c WHERE NOT EXISTS (SELECT 1 FROM files_objects o WHERE "
                      "o.blob_id = c.blob_id)"),
              0);
  }
  EXPECT_GE(stored.load(), 1);
  EXPECT_LT(live, 8);
  std::cout << "[ kill -9  ] " << stored.load() << " uploads answered before the kill, " << live
            << " files after the restart, " << left_over << " unfinished blobs swept\n";
}

INSTANTIATE_TEST_SUITE_P(Backends, FilesE2E,
                         ::testing::Values(Pair{Backend::sqlite, "local"}, Pair{Backend::sqlite, "database"},
                                           Pair{Backend::postgres, "local"}, Pair{Backend::postgres, "database"}),
                         [](const auto& info) { return pair_name(info.param); });

}  // namespace
