// Crash durability of async routes: a server taking async requests is
// killed with SIGKILL at random moments, ten times, and restarted; every
// request that was answered 202 must have run at least once in the end.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "support.hpp"
#include "kernel/admin/api_support.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

const std::string kPassword = "crash test password";

class CrashDurability : public ::testing::TestWithParam<Backend> {};

TEST_P(CrashDurability, EveryAcceptedAsyncRequestRunsAtLeastOnce) {
  TestDatabase database(GetParam());
  TempDir dir;
  const int port = free_port();
  const std::map<std::string, std::string> env{
      {"PICLOUD_HTTP_PORT", std::to_string(port)},
      {"PICLOUD_DATABASE_URL", database.url()},
      {"PICLOUD_DATABASE_MIGRATIONS_PATH", source_dir() + "/migrations"},
      {"PICLOUD_PLUGINS_ENABLED", ""},
      {"PICLOUD_OWNER_USERNAME", "owner"},
      {"PICLOUD_OWNER_PASSWORD", kPassword},
      {"PICLOUD_LOG_LEVEL", "error"},
      {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "50"},
      {"PICLOUD_DISPATCH_LEASE_GRACE_MS", "300"},
      {"PICLOUD_SCRIPTING_TIMEOUT_MS", "1000"},
  };
  auto start = [&] {
    auto p = std::make_unique<Process>(Process::Options{{picloud_binary(), "serve"}, env, dir.path(), false});
    EXPECT_TRUE(wait_for_status(port, "/readyz", 200, 20s)) << p->err();
    return p;
  };
  auto api = [&](const std::string& method, const std::string& path, const std::string& body,
                 const std::map<std::string, std::string>& headers) {
    auto h = headers;
    h["Content-Type"] = "application/json";
    return http(method, port, "/api/v1/admin" + path, body, h);
  };

  {  // The app, its script and an async route.
    auto server = start();
    auto login = api("POST", "/login", R"({"username":"owner","password":")" + kPassword + R"("})", {});
    ASSERT_EQ(login.status, 200) << login.body;
    std::string cookie = login.headers["set-cookie"].substr(0, login.headers["set-cookie"].find(';'));
    auto key = api("POST", "/keys", R"({"name":"t","scopes":["app:admin","app:write","script:write"]})", {{"Cookie", cookie}});
    ASSERT_EQ(key.status, 201);
    std::map<std::string, std::string> auth{{"Authorization", "Bearer " + kernel::admin::parse_stored_json(key.body)["key"].as_string()}};
    ASSERT_EQ(api("POST", "/apps", R"({"slug":"crash","hostnames":["crash.localhost"]})", auth).status, 201);
    ASSERT_EQ(api("POST", "/apps/crash/scripts",
                  R"({"name":"job","source":"void handle(request@ req, response@ res) { log::info(req.body); }"})", auth)
                  .status,
              201);
    ASSERT_EQ(api("POST", "/apps/crash/routes", R"({"script":"job","path":"/job","dispatch":"async"})", auth).status, 201);
    server->signal(SIGKILL);
    server->wait(5s);
  }

  std::mutex mutex;
  std::set<std::string> accepted;
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 10; ++round) {
    auto server = start();
    std::atomic<bool> stop{false};
    std::thread sender([&] {
      int n = 0;
      while (!stop) {
        auto r = http("POST", port, "/job", "round " + std::to_string(round) + " #" + std::to_string(n++),
                      {{"Host", "crash.localhost"}});
        if (r.status == 202) {
          std::lock_guard lock(mutex);
          accepted.insert(kernel::admin::parse_stored_json(r.body)["execution_id"].as_string());
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 400)(rng)));
    server->signal(SIGKILL);
    EXPECT_GE(server->wait(5s), 0);
    stop = true;
    sender.join();
  }
  ASSERT_GT(accepted.size(), 10u) << "the harness got too few requests in";

  // Restarted once more, the server drains the outbox: rows of the killed
  // runs come back when their leases end.
  auto server = start();
  auto db = database.open(2);
  std::int64_t pending = -1;
  for (int i = 0; i < 600 && pending != 0; ++i) {
    auto rows = db->query("SELECT count(*) FROM outbox");
    pending = rows ? rows->rows[0][0].as_int() : -1;
    if (pending != 0) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(pending, 0);
  std::size_t lost = 0;
  for (const auto& id : accepted) {
    auto rows = db->query("SELECT count(*) FROM executions WHERE id = ?", {id});
    if (!rows || rows->rows[0][0].as_int() != 1) ++lost;
  }
  EXPECT_EQ(lost, 0u) << "of " << accepted.size() << " accepted requests";
  std::printf("[          ] %zu async requests accepted over 10 crashes, lost %zu\n", accepted.size(), lost);
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashDurability, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
