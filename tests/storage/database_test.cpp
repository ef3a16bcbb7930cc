// The kernel database layer on SQLite and PostgreSQL: the same statements,
// the same values, the same errors.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "kernel/db/database.hpp"
#include "picloud/sdk/json.hpp"
#include "support.hpp"

using namespace picloud;
using picloud::test::Backend;

class DatabaseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<test::TestDatabase>(GetParam());
    db_ = tdb_->open(4);
    std::string blob = db_->dialect() == sdk::Dialect::sqlite ? "BLOB" : "BYTEA";
    std::string real = db_->dialect() == sdk::Dialect::sqlite ? "REAL" : "DOUBLE PRECISION";
    ASSERT_TRUE(db_->execute("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, score " + real +
                             ", data " + blob + ", flag BOOLEAN)")
                    .ok());
  }
  std::unique_ptr<test::TestDatabase> tdb_;
  std::unique_ptr<kernel::db::Database> db_;
};

TEST_P(DatabaseTest, RoundTripsEveryValueType) {
  sdk::Bytes bytes{0, 1, 2, 255, '\\', 'x'};
  auto ins = db_->execute("INSERT INTO items (id, name, score, data, flag) VALUES (?, ?, ?, ?, ?)",
                          {std::int64_t{9007199254740993}, "héllo 'quoted' ?", 2.5, bytes, true});
  ASSERT_TRUE(ins.ok()) << ins.error().message;
  EXPECT_EQ(*ins, 1);
  ASSERT_TRUE(db_->execute("INSERT INTO items (id) VALUES (?)", {2}).ok());

  auto rows = db_->query("SELECT id, name, score, data, flag FROM items ORDER BY id DESC");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->columns, (std::vector<std::string>{"id", "name", "score", "data", "flag"}));
  const auto& r = rows->rows[0];
  EXPECT_EQ(r[0], sdk::Value(std::int64_t{9007199254740993}));
  EXPECT_EQ(r[1], sdk::Value("héllo 'quoted' ?"));
  EXPECT_EQ(r[2], sdk::Value(2.5));
  EXPECT_EQ(r[3], sdk::Value(bytes));
  // SQLite has no boolean type: booleans come back as 1/0 there.
  if (db_->dialect() == sdk::Dialect::sqlite) EXPECT_EQ(r[4], sdk::Value(1));
  else EXPECT_EQ(r[4], sdk::Value(true));
  for (int c = 1; c < 5; ++c) EXPECT_TRUE(rows->rows[1][c].is_null()) << c;
  EXPECT_EQ(rows->column("score"), 2);
}

TEST_P(DatabaseTest, NullParametersAndExpressionsKeepTheirTypes) {
  ASSERT_TRUE(db_->execute("INSERT INTO items (id, name) VALUES (?, ?)", {1, nullptr}).ok());
  auto rows = db_->query("SELECT count(*) AS n, max(id) AS m, 1.5 AS f, 'x' AS s FROM items WHERE name IS NULL");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(rows->rows[0][0], sdk::Value(1));
  EXPECT_EQ(rows->rows[0][1], sdk::Value(1));
  EXPECT_TRUE(rows->rows[0][2].is_float() || rows->rows[0][2].is_int());
  EXPECT_EQ(rows->rows[0][3], sdk::Value("x"));
}

TEST_P(DatabaseTest, PlaceholderCountMustMatchParameters) {
  auto r = db_->execute("INSERT INTO items (id, name) VALUES (?, ?)", {1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, sdk::ErrorKind::invalid_argument);
  EXPECT_NE(r.error().message.find("2 placeholders but 1"), std::string::npos);
  auto q = db_->query("SELECT '?' AS q, ? AS p", {"v"});
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->rows[0][0], sdk::Value("?"));
  EXPECT_EQ(q->rows[0][1], sdk::Value("v"));
}

TEST_P(DatabaseTest, ErrorsHaveKinds) {
  ASSERT_TRUE(db_->execute("INSERT INTO items (id) VALUES (?)", {1}).ok());
  auto dup = db_->execute("INSERT INTO items (id) VALUES (?)", {1});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind, sdk::ErrorKind::conflict) << dup.error().message;
  auto bad = db_->query("SELEKT nonsense");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find("SELEKT"), std::string::npos) << "no SQL in messages: " << bad.error().message;
  EXPECT_NE(bad.error().message.find("reference db-"), std::string::npos) << bad.error().message;
  // The connection is still usable after errors.
  EXPECT_TRUE(db_->query("SELECT 1").ok());
}

TEST_P(DatabaseTest, ErrorMessagesNeverCarryStatementsOrValues) {
  // PostgreSQL's own text quotes the SQL and, for a unique violation, the
  // duplicate value; callers pass messages on to scripts and admin clients.
  ASSERT_TRUE(db_->execute("CREATE UNIQUE INDEX items_name_unique ON items (name)").ok());
  ASSERT_TRUE(db_->execute("INSERT INTO items (id, name) VALUES (?, ?)", {1, "secret-value-42"}).ok());
  auto dup = db_->execute("INSERT INTO items (id, name) VALUES (?, ?)", {2, "secret-value-42"});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind, sdk::ErrorKind::conflict);
  EXPECT_EQ(dup.error().message.find("secret-value-42"), std::string::npos) << dup.error().message;
  EXPECT_EQ(dup.error().message.find("INSERT"), std::string::npos) << dup.error().message;
  // The constraint is named (schema, not data): callers tell conflicts apart by it.
  EXPECT_NE(dup.error().message.find(db_->dialect() == sdk::Dialect::sqlite ? "items.name" : "items_name_unique"),
            std::string::npos)
      << dup.error().message;

  auto typed = db_->query("SELECT CAST(? AS INTEGER) + id FROM items WHERE name = 'hidden-literal'", {"not a number"});
  if (!typed.ok()) {  // PostgreSQL refuses the cast; SQLite answers
    EXPECT_EQ(typed.error().message.find("hidden-literal"), std::string::npos) << typed.error().message;
    EXPECT_EQ(typed.error().message.find("not a number"), std::string::npos) << typed.error().message;
  }
}

TEST_P(DatabaseTest, TextWithNulIsRefusedAlikeOnBothDatabases) {
  // libpq would cut the text at the NUL; SQLite would keep it. Both refuse.
  auto r = db_->execute("INSERT INTO items (id, name) VALUES (?, ?)", {1, std::string("cut\0here", 8)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, sdk::ErrorKind::invalid_argument);
  EXPECT_NE(r.error().message.find("U+0000"), std::string::npos) << r.error().message;
  auto rows = db_->query("SELECT count(*) FROM items");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->rows[0][0], sdk::Value(0)) << "nothing was stored";
}

TEST_P(DatabaseTest, TransactionsCommitOrRollBack) {
  auto ok = db_->transaction([](sdk::Transaction& tx) -> sdk::Result<void> {
    if (auto r = tx.execute("INSERT INTO items (id) VALUES (?)", {1}); !r) return r.error();
    if (auto r = tx.execute("INSERT INTO items (id) VALUES (?)", {2}); !r) return r.error();
    return {};
  });
  ASSERT_TRUE(ok.ok()) << ok.error().message;

  auto failed = db_->transaction([](sdk::Transaction& tx) -> sdk::Result<void> {
    if (auto r = tx.execute("INSERT INTO items (id) VALUES (?)", {3}); !r) return r.error();
    return tx.execute("INSERT INTO items (id) VALUES (?)", {1}).error();  // duplicate
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().kind, sdk::ErrorKind::conflict);

  auto thrown = db_->transaction([](sdk::Transaction& tx) -> sdk::Result<void> {
    (void)tx.execute("INSERT INTO items (id) VALUES (?)", {4});
    throw std::runtime_error("body blew up");
  });
  ASSERT_FALSE(thrown.ok());
  EXPECT_NE(thrown.error().message.find("body blew up"), std::string::npos);

  auto count = db_->query("SELECT count(*) FROM items");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->rows[0][0], sdk::Value(2));  // 3 and 4 were rolled back
  EXPECT_EQ(db_->connections_in_use(), 0u);
}

TEST_P(DatabaseTest, ConcurrentReadModifyWriteTransactionsLoseNothing) {
  ASSERT_TRUE(db_->execute("INSERT INTO items (id, score) VALUES (1, 0)").ok());
  constexpr int kThreads = 4, kIncrements = 25;
  // Read, then write: SQLite serialises writers with BEGIN IMMEDIATE (no
  // "database is locked" half-way); PostgreSQL needs the row lock.
  std::string read = "SELECT score FROM items WHERE id = 1";
  if (db_->dialect() == sdk::Dialect::postgres) read += " FOR UPDATE";
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        auto r = db_->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
          auto row = tx.query(read);
          if (!row) return row.error();
          double v = row->rows[0][0].as_number();
          auto w = tx.execute("UPDATE items SET score = ? WHERE id = 1", {v + 1});
          if (!w) return w.error();
          return {};
        });
        if (!r) ++failures;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto v = db_->query("SELECT score FROM items WHERE id = 1");
  EXPECT_EQ(v->rows[0][0].as_number(), kThreads * kIncrements);
}

TEST_P(DatabaseTest, CachedStatementsSurviveSchemaChangesAndEviction) {
  kernel::db::DatabaseOptions options;
  options.pool_size = 1;  // every statement below runs on the same connection
  auto db = kernel::db::Database::open(*kernel::db::parse_database_url(tdb_->url(), 5), options);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->execute("INSERT INTO items (id, name) VALUES (?, ?)", {1, "a"}).ok());
  auto before = (*db)->query("SELECT * FROM items WHERE id = ?", {1});
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->columns.size(), 5u);
  ASSERT_TRUE((*db)->execute("ALTER TABLE items ADD COLUMN extra TEXT").ok());
  auto after = (*db)->query("SELECT * FROM items WHERE id = ?", {1});
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->columns.size(), 6u);
  // More distinct statements than the per-connection cache holds.
  for (int i = 0; i < 150; ++i) {
    auto r = (*db)->query("SELECT ? + " + std::to_string(i) + " AS v", {1});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->rows[0][0].as_int(), 1 + i);
  }
  auto again = (*db)->query("SELECT name FROM items WHERE id = ?", {1});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rows[0][0], sdk::Value("a"));
}

TEST_P(DatabaseTest, PoolIsBoundedAndReportsExhaustion) {
  kernel::db::DatabaseOptions options;
  options.pool_size = 1;
  options.acquire_timeout_ms = 200;
  auto parsed = kernel::db::parse_database_url(tdb_->url(), 5);
  auto small = kernel::db::Database::open(*parsed, options);
  ASSERT_TRUE(small.ok());
  auto& db = **small;
  std::atomic<bool> inside{false}, release{false};
  std::thread holder([&] {
    (void)db.transaction([&](sdk::Transaction&) -> sdk::Result<void> {
      inside = true;
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return {};
    });
  });
  while (!inside) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(db.connections_in_use(), 1u);
  auto r = db.query("SELECT 1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, sdk::ErrorKind::unavailable);
  EXPECT_NE(r.error().message.find("pool size 1"), std::string::npos);
  release = true;
  holder.join();
  EXPECT_TRUE(db.query("SELECT 1").ok());
  EXPECT_TRUE(db.ping());
}

// A relaxed transaction commits without waiting for the disk, and only it:
// the connection goes back to the pool with full durability, also after a
// relaxed transaction that failed. (Without group commit, where SQLite's
// setting is what makes a commit durable; group_commit_test.cpp has the
// other case.)
TEST_P(DatabaseTest, RelaxedDurabilityAppliesToItsOwnTransactionOnly) {
  kernel::db::DatabaseOptions options;
  options.pool_size = 1;  // every statement below runs on the same connection
  options.group_commit = false;
  auto parsed = kernel::db::parse_database_url(tdb_->url(), 5);
  auto one = kernel::db::Database::open(*parsed, options);
  ASSERT_TRUE(one.ok());
  auto& db = **one;
  const bool sqlite = db.dialect() == sdk::Dialect::sqlite;
  auto setting = [&](sdk::Transaction& tx) {
    auto r = tx.query(sqlite ? "PRAGMA synchronous" : "SHOW synchronous_commit");
    EXPECT_TRUE(r.ok());
    return r.ok() && !r->empty() ? sdk::to_json(r->rows[0][0]) : std::string("?");
  };
  const std::string full = sqlite ? "2" : "\"on\"", relaxed = sqlite ? "1" : "\"off\"";
  std::string seen;
  for (bool fail : {false, true}) {
    auto r = db.transaction(
        [&](sdk::Transaction& tx) -> sdk::Result<void> {
          seen = setting(tx);
          if (auto w = tx.execute("INSERT INTO items (id) VALUES (?)", {fail ? 11 : 10}); !w) return w.error();
          if (fail) return sdk::make_error(sdk::ErrorKind::internal, "changed my mind");
          return {};
        },
        kernel::db::Durability::relaxed);
    EXPECT_EQ(r.ok(), !fail);
    EXPECT_EQ(seen, relaxed);
    ASSERT_TRUE(db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      seen = setting(tx);
      return {};
    }));
    EXPECT_EQ(seen, full) << "after a relaxed transaction that " << (fail ? "failed" : "committed");
  }
  auto rows = db.query("SELECT id FROM items ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->rows[0][0], sdk::Value(10));
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return test::backend_name(info.param); });

// SQLite writes of one process take turns; a write started inside another
// write's transaction (a mistake) must fail like a busy database, not hang.
TEST(SqliteWriters, AWriteInsideAnotherWritesTransactionFailsInsteadOfHanging) {
  test::TempDir dir;
  auto parsed = kernel::db::parse_database_url("sqlite:" + dir.file("w.db"), 5);
  ASSERT_TRUE(parsed);
  kernel::db::DatabaseOptions options;
  options.pool_size = 2;
  options.connection.busy_timeout_ms = 200;
  auto db = kernel::db::Database::open(*parsed, options);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->execute("CREATE TABLE t (x INTEGER)"));
  auto t0 = std::chrono::steady_clock::now();
  auto outer = (*db)->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    if (auto r = tx.execute("INSERT INTO t VALUES (1)"); !r) return r.error();
    auto nested = (*db)->execute("INSERT INTO t VALUES (2)");  // not through tx
    EXPECT_FALSE(nested);
    if (!nested) EXPECT_EQ(nested.error().kind, sdk::ErrorKind::unavailable) << nested.error().message;
    return {};
  });
  EXPECT_TRUE(outer);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  auto rows = (*db)->query("SELECT count(*) FROM t");
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->rows[0][0].as_int(), 1);
}

// What SQLite says about a path it cannot open reaches the operator with the
// path, as an error rather than a crash or a half-open database.
TEST(SqliteOpen, APathThatCannotBeOpenedIsAClearError) {
  test::TempDir dir;
  for (const std::string& path : {dir.path(), dir.file("missing/dir/p.db")}) {
    auto parsed = kernel::db::parse_database_url("sqlite:" + path, 5);
    ASSERT_TRUE(parsed);
    auto db = kernel::db::Database::open(*parsed, kernel::db::DatabaseOptions{});
    ASSERT_FALSE(db) << path;
    EXPECT_EQ(db.error().kind, sdk::ErrorKind::unavailable) << db.error().message;
    EXPECT_NE(db.error().message.find("cannot open SQLite database " + path + ": unable to open database file"),
              std::string::npos)
        << db.error().message;
  }
}

// Many threads writing at once all get through (they queue in the process).
TEST(SqliteWriters, ABurstOfWritersAllCommit) {
  test::TempDir dir;
  auto parsed = kernel::db::parse_database_url("sqlite:" + dir.file("b.db"), 5);
  ASSERT_TRUE(parsed);
  kernel::db::DatabaseOptions options;
  options.pool_size = 8;
  options.connection.busy_timeout_ms = 1000;
  auto db = kernel::db::Database::open(*parsed, options);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->execute("CREATE TABLE t (x INTEGER)"));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (!(*db)->execute("INSERT INTO t VALUES (?)", {t * 100 + i})) ++failures;
        auto r = (*db)->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
          auto n = tx.query("SELECT count(*) FROM t");
          if (!n) return n.error();
          auto w = tx.execute("INSERT INTO t VALUES (?)", {-1});
          if (!w) return w.error();
          return {};
        });
        if (!r) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto rows = (*db)->query("SELECT count(*) FROM t");
  EXPECT_EQ(rows->rows[0][0].as_int(), 16 * 50 * 2);
}
