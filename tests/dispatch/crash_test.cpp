// Crash durability of async routes: a server taking async requests is
// killed with SIGKILL at random moments, ten times, and restarted; every
// request that was answered 202 must have run at least once in the end.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "support.hpp"
#include "kernel/admin/api_support.hpp"
#include "picloud/sdk/json.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

const std::string kPassword = "crash test password";

// A picloud process on a test database, restarted at will, with an owner
// API key for the admin API.
class CrashHarness {
 public:
  CrashHarness(Backend backend, const std::string& plugins, const std::map<std::string, std::string>& extra_env = {})
      : database_(backend), port_(free_port()) {
    env_ = {
        {"PICLOUD_SERVER_PORT", std::to_string(port_)},
        {"PICLOUD_DATABASE_URL", database_.url()},
        {"PICLOUD_DATABASE_MIGRATIONS_PATH", source_dir() + "/migrations"},
        {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()},
        {"PICLOUD_PLUGINS_ENABLED", plugins},
        {"PICLOUD_OWNER_USERNAME", "owner"},
        {"PICLOUD_OWNER_PASSWORD", kPassword},
        {"PICLOUD_LOG_LEVEL", "error"},
        {"PICLOUD_DISPATCH_POLL_INTERVAL_MS", "50"},
        {"PICLOUD_DISPATCH_LEASE_GRACE_MS", "300"},
        {"PICLOUD_SCRIPTING_TIMEOUT_MS", "1000"},
        {"PICLOUD_KEYRING_KEY", kKeyringKey},
    };
    for (const auto& [k, v] : extra_env) env_[k] = v;
  }
  int port() const { return port_; }
  TestDatabase& database() { return database_; }

  std::unique_ptr<Process> start() {
    auto p = std::make_unique<Process>(Process::Options{{picloud_binary(), "serve"}, env_, dir_.path(), false});
    EXPECT_TRUE(wait_for_status(port_, "/readyz", 200, 20s)) << p->err();
    return p;
  }
  // Signs the owner in once and keeps an API key.
  HttpResult api(const std::string& method, const std::string& path, const std::string& body) {
    if (auth_.empty()) {
      auto login = call("POST", "/login", R"({"username":"owner","password":")" + kPassword + R"("})");
      EXPECT_EQ(login.status, 200) << login.body;
      std::string cookie = login.headers["set-cookie"].substr(0, login.headers["set-cookie"].find(';'));
      auth_["Cookie"] = cookie;
      auto key = call("POST", "/keys", R"({"name":"t","scopes":["app:admin","app:write","script:write"]})");
      EXPECT_EQ(key.status, 201);
      auth_.clear();
      auth_["Authorization"] = "Bearer " + kernel::admin::parse_stored_json(key.body)["key"].as_string();
    }
    return call(method, path, body);
  }
  // Once killed, restarted and drained: waits for an empty outbox.
  bool drained(sdk::Database& db) {
    std::int64_t pending = -1;
    for (int i = 0; i < 600 && pending != 0; ++i) {
      auto rows = db.query("SELECT count(*) FROM outbox");
      pending = rows ? rows->rows[0][0].as_int() : -1;
      if (pending != 0) std::this_thread::sleep_for(50ms);
    }
    return pending == 0;
  }

 private:
  HttpResult call(const std::string& method, const std::string& path, const std::string& body) {
    auto h = auth_;
    h["Content-Type"] = "application/json";
    return http(method, port_, "/api/v1/admin" + path, body, h);
  }
  TestDatabase database_;
  TempDir dir_;
  int port_;
  std::map<std::string, std::string> env_;
  std::map<std::string, std::string> auth_;
};

class CrashDurability : public ::testing::TestWithParam<Backend> {};

TEST_P(CrashDurability, EveryAcceptedAsyncRequestRunsAtLeastOnce) {
  CrashHarness harness(GetParam(), "");
  const int port = harness.port();
  auto start = [&] { return harness.start(); };

  {  // The app, its script and an async route.
    auto server = start();
    ASSERT_EQ(harness.api("POST", "/apps", R"({"slug":"crash","hostnames":["crash.localhost"]})").status, 201);
    ASSERT_EQ(harness.api("POST", "/apps/crash/scripts",
                          R"({"name":"job","source":"void handle(request@ req, response@ res) { log::info(req.body); }"})")
                  .status,
              201);
    ASSERT_EQ(harness.api("POST", "/apps/crash/routes", R"({"script":"job","path":"/job","dispatch":"async"})").status, 201);
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
  auto db = harness.database().open(2);
  EXPECT_TRUE(harness.drained(*db));
  std::size_t lost = 0;
  for (const auto& id : accepted) {
    auto rows = db->query("SELECT count(*) FROM executions WHERE id = ?", {id});
    if (!rows || rows->rows[0][0].as_int() != 1) ++lost;
  }
  EXPECT_EQ(lost, 0u) << "of " << accepted.size() << " accepted requests";
  std::printf("[          ] %zu async requests accepted over 10 crashes, lost %zu\n", accepted.size(), lost);
}

// Trigger events: a route writes items through the t_events plugin (items
// and their events in one transaction) while the server is killed at random
// moments. Every item that committed must have had its handler run at least
// once in the end (duplicates are allowed and counted).
TEST_P(CrashDurability, EveryCommittedEventRunsItsHandlerAtLeastOnce) {
  CrashHarness harness(GetParam(), "t_events");
  const int port = harness.port();
  {
    auto server = harness.start();
    ASSERT_EQ(harness.api("POST", "/apps", R"({"slug":"events","hostnames":["events.localhost"]})").status, 201);
    ASSERT_EQ(harness.api("POST", "/apps/events/scripts",
                          R"({"name":"burst","source":"void handle(request@ req, response@ res) { res.text(\"\" + t_events::write_many(\"c\", req.query.get_string(\"p\"), 10)); }"})")
                  .status,
              201);
    ASSERT_EQ(harness.api("POST", "/apps/events/scripts",
                          R"({"name":"handler","source":"void on_event(event@ e) { t_events::seen(e.data.get_string(\"key\")); }"})")
                  .status,
              201);
    ASSERT_EQ(harness.api("POST", "/apps/events/routes", R"({"script":"burst","path":"/burst"})").status, 201);
    auto t = harness.api("POST", "/apps/events/triggers/t_events", R"({"script":"handler","filter":{"collection":"c"}})");
    ASSERT_EQ(t.status, 201) << t.body;
    server->signal(SIGKILL);
    server->wait(5s);
  }
  std::atomic<int> answered{0};
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 8; ++round) {
    auto server = harness.start();
    std::atomic<bool> stop{false};
    std::thread sender([&] {
      for (int n = 0; !stop; ++n) {
        auto r = http("GET", port, "/burst?p=r" + std::to_string(round) + "n" + std::to_string(n) + "i",
                      "", {{"Host", "events.localhost"}});
        if (r.status == 200) ++answered;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 500)(rng)));
    server->signal(SIGKILL);
    EXPECT_GE(server->wait(5s), 0);
    stop = true;
    sender.join();
  }
  ASSERT_GT(answered.load(), 5) << "the harness got too few bursts in";

  auto server = harness.start();
  auto db = harness.database().open(2);
  EXPECT_TRUE(harness.drained(*db));
  // The database is the truth: every committed item, answered or not.
  auto committed = db->query("SELECT count(*) FROM t_events_items");
  auto lost = db->query(
      "SELECT count(*) FROM t_events_items i WHERE NOT EXISTS (SELECT 1 FROM t_events_seen s WHERE s.item_key = i.item_key)");
  auto runs = db->query("SELECT count(*), count(DISTINCT item_key) FROM t_events_seen");
  ASSERT_TRUE(committed && lost && runs);
  EXPECT_GT(committed->rows[0][0].as_int(), 50);
  EXPECT_EQ(lost->rows[0][0].as_int(), 0) << "of " << committed->rows[0][0].as_int() << " committed events";
  std::printf("[          ] %lld events committed over 8 crashes, lost %lld, handler runs %lld (%lld duplicates)\n",
              static_cast<long long>(committed->rows[0][0].as_int()), static_cast<long long>(lost->rows[0][0].as_int()),
              static_cast<long long>(runs->rows[0][0].as_int()),
              static_cast<long long>(runs->rows[0][0].as_int() - runs->rows[0][1].as_int()));
}

// Pub/sub: a route publishes batches of five messages to a topic with three
// subscribers while the server is killed at random moments. Every message
// of every answered publish must reach every subscriber at least once in
// the end, under one message id (duplicates are allowed and counted).
TEST_P(CrashDurability, EveryCommittedMessageReachesEverySubscriberAtLeastOnce) {
  CrashHarness harness(GetParam(), "pubsub,t_events");
  const int port = harness.port();
  const std::vector<std::string> labels = {"a", "b", "c"};
  {
    auto server = harness.start();
    ASSERT_EQ(harness.api("POST", "/apps", R"({"slug":"pubs","hostnames":["pubs.localhost"]})").status, 201);
    const std::string burst = R"(
void handle(request@ req, response@ res) {
  string p = req.query.get_string("p");
  json batch = json::array();
  for (int i = 0; i < 5; i++) {
    json m = {{"k", p + "#" + i}};
    batch.push(m);
  }
  res.json(pubsub::publish_many("burst.x", batch));
})";
    ASSERT_EQ(harness.api("POST", "/apps/pubs/scripts", sdk::to_json(sdk::Value::object({{"name", "burst"}, {"source", burst}})))
                  .status,
              201);
    ASSERT_EQ(harness.api("POST", "/apps/pubs/routes", R"({"script":"burst","path":"/burst"})").status, 201);
    for (const auto& label : labels) {
      std::string handler = "void on_event(event@ e) { t_events::seen(\"" + label +
                            "|\" + e.data[\"message\"].get_string(\"k\") + \"|\" + e.data.get_string(\"message_id\")); }";
      ASSERT_EQ(harness.api("POST", "/apps/pubs/scripts", sdk::to_json(sdk::Value::object({{"name", label}, {"source", handler}})))
                    .status,
                201);
      auto t = harness.api("POST", "/apps/pubs/triggers/pubsub", R"({"script":")" + label + R"(","filter":{"topic":"burst.*"}})");
      ASSERT_EQ(t.status, 201) << t.body;
    }
    server->signal(SIGKILL);
    server->wait(5s);
  }
  std::mutex mutex;
  std::vector<std::string> acknowledged;  // message keys of answered publishes
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 8; ++round) {
    auto server = harness.start();
    std::atomic<bool> stop{false};
    std::thread sender([&] {
      for (int n = 0; !stop; ++n) {
        std::string p = "r" + std::to_string(round) + "n" + std::to_string(n);
        auto r = http("GET", port, "/burst?p=" + p, "", {{"Host", "pubs.localhost"}});
        if (r.status == 200 && r.body == "3") {
          std::lock_guard lock(mutex);
          for (int i = 0; i < 5; ++i) acknowledged.push_back(p + "#" + std::to_string(i));
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 500)(rng)));
    server->signal(SIGKILL);
    EXPECT_GE(server->wait(5s), 0);
    stop = true;
    sender.join();
  }
  ASSERT_GT(acknowledged.size(), 25u) << "the harness got too few publishes in";

  auto server = harness.start();
  auto db = harness.database().open(2);
  EXPECT_TRUE(harness.drained(*db));
  auto rows = db->query("SELECT item_key FROM t_events_seen");
  ASSERT_TRUE(rows);
  std::map<std::string, std::set<std::string>> ids_of;  // message key -> message ids seen
  std::set<std::string> reached;                        // "<label>|<key>"
  for (const auto& row : rows->rows) {
    const std::string item = row[0].as_string();
    const auto first = item.find('|'), last = item.rfind('|');
    const std::string key = item.substr(first + 1, last - first - 1);
    reached.insert(item.substr(0, last));
    ids_of[key].insert(item.substr(last + 1));
  }
  std::size_t lost = 0, split = 0;
  for (const auto& key : acknowledged) {
    for (const auto& label : labels) lost += reached.count(label + "|" + key) ? 0 : 1;
    split += ids_of[key].size() == 1 ? 0 : 1;
  }
  EXPECT_EQ(lost, 0u) << "deliveries lost, of " << acknowledged.size() * labels.size();
  EXPECT_EQ(split, 0u) << "messages seen under more than one id";
  std::printf("[          ] %zu messages acknowledged over 8 crashes (%zu deliveries), lost %zu; handler runs %zu "
              "(%zu duplicates)\n",
              acknowledged.size(), acknowledged.size() * labels.size(), lost, rows->size(),
              rows->size() - reached.size());
}

// Concurrent writers, some of whose transactions fail, while the server is
// killed at random moments (on SQLite with group commit, many commits share
// one flush). A kill keeps the page cache, so this proves the process's
// crash safety, not the flush: the power-loss replay in
// storage/group_commit_test.cpp checks that. Every answered write must be there after
// the restarts, no failed one may be, a five-item transaction is all there
// or not at all, and every committed item's trigger ran; in a last round
// without a crash, exactly the answered items are there and each trigger
// ran exactly once.
// `exclusive`: SQLite opened with [database] sqlite_locking = "exclusive",
// where this process cannot read the database while the server runs.
void concurrent_writers_lose_nothing(Backend backend, bool exclusive) {
  CrashHarness harness(backend, "t_events",
                       exclusive ? std::map<std::string, std::string>{{"PICLOUD_DATABASE_SQLITE_LOCKING", "exclusive"}}
                                 : std::map<std::string, std::string>{});
  const int port = harness.port();
  {
    auto server = harness.start();
    ASSERT_EQ(harness.api("POST", "/apps", R"({"slug":"w","hostnames":["w.localhost"]})").status, 201);
    const std::string one = R"(void handle(request@ req, response@ res) {
  res.text("" + t_events::write("c", req.query.get_string("k"), "insert", req.query.get_string("f") == "1"));
})";
    const std::string five =
        R"(void handle(request@ req, response@ res) { res.text("" + t_events::write_many("c", req.query.get_string("p"), 5)); })";
    const std::string handler = R"(void on_event(event@ e) { t_events::seen(e.data.get_string("key")); })";
    for (const auto& [name, source] : std::vector<std::pair<std::string, std::string>>{
             {"one", one}, {"five", five}, {"handler", handler}})
      ASSERT_EQ(harness.api("POST", "/apps/w/scripts", sdk::to_json(sdk::Value::object({{"name", name}, {"source", source}})))
                    .status,
                201);
    ASSERT_EQ(harness.api("POST", "/apps/w/routes", R"({"script":"one","path":"/one"})").status, 201);
    ASSERT_EQ(harness.api("POST", "/apps/w/routes", R"({"script":"five","path":"/five"})").status, 201);
    ASSERT_EQ(harness.api("POST", "/apps/w/triggers/t_events", R"({"script":"handler","filter":{"collection":"c"}})").status,
              201);
    server->signal(SIGKILL);
    server->wait(5s);
  }
  std::mutex mutex;
  std::set<std::string> answered, failed, last_round_answered;
  std::mt19937 rng(std::random_device{}());
  constexpr int kCrashRounds = 4, kWriters = 8;
  for (int round = 0; round <= kCrashRounds; ++round) {
    const bool crash = round < kCrashRounds;
    auto server = harness.start();
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w)
      writers.emplace_back([&, w] {
        for (int n = 0; !stop && (crash || n < 40); ++n) {
          std::string key = "r" + std::to_string(round) + "w" + std::to_string(w) + "n" + std::to_string(n);
          if (n % 5 == 4) {  // five items in one transaction
            auto r = http("GET", port, "/five?p=" + key + "i", "", {{"Host", "w.localhost"}});
            std::lock_guard lock(mutex);
            if (r.status == 200)
              for (int i = 0; i < 5; ++i) {
                answered.insert(key + "i" + std::to_string(i));
                if (!crash) last_round_answered.insert(key + "i" + std::to_string(i));
              }
            continue;
          }
          bool fail = n % 3 == 2;
          auto r = http("GET", port, "/one?k=" + key + "&f=" + (fail ? "1" : "0"), "", {{"Host", "w.localhost"}});
          std::lock_guard lock(mutex);
          if (fail) {
            EXPECT_NE(r.status, 200) << "a failed transaction was answered as done";
            failed.insert(key);
          } else if (r.status == 200) {
            answered.insert(key);
            if (!crash) last_round_answered.insert(key);
          }
        }
      });
    if (crash) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(150, 500)(rng)));
      server->signal(SIGKILL);
      EXPECT_GE(server->wait(5s), 0);
      stop = true;
    }
    for (auto& t : writers) t.join();
    if (!crash && !exclusive) {
      auto db = harness.database().open(2);
      EXPECT_TRUE(harness.drained(*db));
    }
    // Held exclusively, the database is read between runs of the server
    // until the outbox is empty.
    for (int attempt = 0; !crash && exclusive; ++attempt) {
      ASSERT_LT(attempt, 60) << "the outbox did not drain";
      server->signal(SIGTERM);
      ASSERT_EQ(server->wait(20s), 0);
      {
        auto db = harness.database().open(2);
        auto rows = db->query("SELECT count(*) FROM outbox");
        ASSERT_TRUE(rows.ok());
        if (rows->rows[0][0].as_int() == 0) break;
      }
      server = harness.start();
      std::this_thread::sleep_for(500ms);
    }
  }
  ASSERT_GT(answered.size(), 100u) << "the harness got too few writes in";

  auto db = harness.database().open(2);
  auto keys_of = [&](const std::string& sql) {
    std::multiset<std::string> out;
    auto rows = db->query(sql);
    EXPECT_TRUE(rows.ok());
    if (rows)
      for (const auto& row : rows->rows) out.insert(row[0].as_string());
    return out;
  };
  auto items = keys_of("SELECT item_key FROM t_events_items");
  auto seen = keys_of("SELECT item_key FROM t_events_seen");
  std::size_t lost = 0, leaked = 0, partial = 0, unseen = 0;
  for (const auto& key : answered) lost += items.count(key) ? 0 : 1;
  for (const auto& key : failed) leaked += items.count(key);
  std::map<std::string, int> per_transaction;  // five-item transactions: prefix -> items
  for (const auto& key : items) {
    if (items.count(key) != 1) ++partial;  // written twice?
    if (!seen.count(key)) ++unseen;
    if (auto i = key.rfind('i'); i != std::string::npos) ++per_transaction[key.substr(0, i)];
  }
  for (const auto& [prefix, count] : per_transaction) partial += count == 5 ? 0 : 1;
  EXPECT_EQ(lost, 0u) << "of " << answered.size() << " answered writes";
  EXPECT_EQ(leaked, 0u) << "of " << failed.size() << " failed writes";
  EXPECT_EQ(partial, 0u);
  EXPECT_EQ(unseen, 0u) << "committed items whose trigger never ran";
  // The round without a crash: exactly what was answered, each seen once.
  std::size_t last_round_items = 0;
  for (const auto& key : items)
    if (key.rfind("r" + std::to_string(kCrashRounds) + "w", 0) == 0) {
      ++last_round_items;
      EXPECT_TRUE(last_round_answered.count(key)) << key << " committed but not answered";
      EXPECT_EQ(seen.count(key), 1u) << key;
    }
  EXPECT_EQ(last_round_items, last_round_answered.size());
  std::printf("[          ] %zu writes answered over %d crashes and a clean round, %zu failed on purpose; lost %zu, "
              "leaked %zu, partial %zu, trigger runs %zu for %zu items\n",
              answered.size(), kCrashRounds, failed.size(), lost, leaked, partial, seen.size(), items.size());
}

TEST_P(CrashDurability, ConcurrentWritersSomeFailingLoseNothingAndLeaveNoPart) {
  concurrent_writers_lose_nothing(GetParam(), false);
}

TEST(CrashDurabilitySqliteExclusive, ConcurrentWritersSomeFailingLoseNothingAndLeaveNoPart) {
  concurrent_writers_lose_nothing(Backend::sqlite, true);
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashDurability, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
