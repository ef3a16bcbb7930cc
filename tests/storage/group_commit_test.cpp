// Group commit on SQLite: what a commit waits for, and what a power loss
// would leave. A real SQLite file; the WAL flush is the real fdatasync,
// wrapped by the power-loss test to copy the WAL as each flush begins (the
// most a disk is sure to hold once that flush returned).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "kernel/db/database.hpp"
#include "kernel/db/deferred_acks.hpp"
#include "kernel/db/group_commit.hpp"
#include "kernel/dispatch/gate.hpp"
#include "support.hpp"

using namespace picloud;
using namespace std::chrono_literals;
using kernel::db::GroupCommit;

namespace {

// ---- GroupCommit alone, with a flush that takes a while ----

struct SlowFlush {
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  std::chrono::microseconds takes{2000};
  sdk::Result<void> operator()() {
    ++started;
    std::this_thread::sleep_for(takes);
    ++finished;
    return {};
  }
};

TEST(GroupCommit, ALoneCommitWaitsForOneFlushOfItsOwn) {
  SlowFlush flush;
  GroupCommit group([&] { return flush(); }, {});
  auto ticket = group.committed();
  EXPECT_EQ(flush.started, 0) << "nothing flushes before someone waits";
  ASSERT_TRUE(group.wait_durable(ticket).ok());
  EXPECT_EQ(flush.finished, 1);
  // Already durable: no second flush.
  ASSERT_TRUE(group.wait_durable(ticket).ok());
  EXPECT_EQ(flush.finished, 1);
}

TEST(GroupCommit, EveryWaiterReturnsAfterAFlushThatBeganAfterItsCommit) {
  SlowFlush flush;
  GroupCommit group([&] { return flush(); }, {});
  constexpr int kThreads = 16, kEach = 40;
  std::atomic<int> early{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        // Flushes that started before this point cannot cover the commit;
        // the one that does must be a later one, and finished on return.
        int started_before = flush.started.load();
        auto ticket = group.committed();
        ASSERT_TRUE(group.wait_durable(ticket).ok());
        if (flush.finished.load() <= started_before) ++early;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(early, 0);
  EXPECT_EQ(group.commits(), std::uint64_t{kThreads * kEach});
  // Shared: far fewer flushes than commits (16 waiters per 2 ms flush).
  EXPECT_LT(group.flushes(), group.commits() / 4) << group.flushes() << " flushes";
}

TEST(GroupCommit, AFailedFlushFailsItsCommitsAndEveryLaterOne) {
  std::atomic<int> calls{0};
  GroupCommit group(
      [&]() -> sdk::Result<void> {
        ++calls;
        return sdk::make_error(sdk::ErrorKind::internal, "fdatasync: Input/output error");
      },
      {});
  auto first = group.wait_durable(group.committed());
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().kind, sdk::ErrorKind::unavailable);
  EXPECT_NE(first.error().message.find("Input/output error"), std::string::npos) << first.error().message;
  EXPECT_NE(first.error().message.find("outcome of this write is unknown"), std::string::npos);
  auto later = group.wait_durable(group.committed());
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(calls, 1) << "no flush is tried after one failed: the page cache may have dropped the data";
}

TEST(GroupCommit, ALeaderWaitsForWritesUnderWayButNeverForALoneOne) {
  SlowFlush flush;
  flush.takes = 0us;
  GroupCommit group([&] { return flush(); }, {.max_wait = 300ms, .max_batch = 64});
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(group.wait_durable(group.committed()).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 150ms) << "a lone write waited for company";

  // A write under way: the leader waits for it, until it ends.
  group.write_began();
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    auto ticket = group.committed();
    group.write_ended();
    ASSERT_TRUE(group.wait_durable(ticket).ok());
  });
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(group.wait_durable(group.committed()).ok());
  auto waited = std::chrono::steady_clock::now() - start;
  writer.join();
  EXPECT_GE(waited, 40ms);
  EXPECT_LT(waited, 250ms) << "the leader waited past the write's end";
  EXPECT_EQ(flush.finished, 2) << "the second flush covered both commits";

  // One that never ends holds the leader for max_wait at most.
  group.write_began();
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(group.wait_durable(group.committed()).ok());
  waited = std::chrono::steady_clock::now() - start;
  group.write_ended();
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 2s);
}

TEST(GroupCommit, WhileCommitsKeepComingParkedAnswersArePacedButALoneWriteOrAWaitingThreadIsNot) {
  SlowFlush flush;
  flush.takes = 0us;
  GroupCommit group([&] { return flush(); }, {.interval = 300ms, .max_batch = 4});
  using Clock = std::chrono::steady_clock;
  // An answer parked until its commit is durable (no thread waits).
  auto park = [&](std::uint64_t ticket) {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    group.when_durable(ticket, [done] { done->set_value(); });
    return future;
  };
  auto timed = [&](auto&& body) {
    auto start = Clock::now();
    body();
    return Clock::now() - start;
  };
  // Lone writes one after another: each flush covers one commit, and none
  // waits for the interval.
  auto lone = timed([&] {
    for (int i = 0; i < 5; ++i) park(group.committed()).wait();
  });
  EXPECT_LT(lone, 150ms) << "lone writes were paced";
  EXPECT_EQ(flush.finished, 5);

  // Two commits share a flush: commits keep coming, so the next flush
  // begins no sooner than the interval after that one began.
  auto a = group.committed();
  auto b = group.committed();
  auto first = park(a), second = park(b);
  first.wait();
  second.wait();
  EXPECT_EQ(flush.finished, 6);
  auto paced = timed([&] { park(group.committed()).wait(); });
  EXPECT_GE(paced, 200ms) << "the flush after a shared one was not paced";
  EXPECT_LT(paced, 2s);
  EXPECT_EQ(flush.finished, 7);

  // That flush covered one commit: the next is not paced.
  EXPECT_LT(timed([&] { park(group.committed()).wait(); }), 150ms);

  // Paced again, but a thread blocked on a flush does not wait for the
  // interval, and the parked answer leaves with its flush.
  a = group.committed();
  b = group.committed();
  first = park(a);
  park(b).wait();
  auto parked = park(group.committed());
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(parked.wait_for(0ms), std::future_status::timeout) << "not paced";
  EXPECT_LT(timed([&] { ASSERT_TRUE(group.wait_durable(group.committed()).ok()); }), 150ms)
      << "a waiting thread waited for the interval";
  // (Its callback runs on the flushing thread just after the waiter woke.)
  EXPECT_EQ(parked.wait_for(100ms), std::future_status::ready) << "the parked answer missed the flush";

  // And max_batch commits end the wait: made before it began, or during it.
  a = group.committed();
  b = group.committed();
  first = park(a);
  park(b).wait();
  std::uint64_t last = 0;
  for (int i = 0; i < 4; ++i) last = group.committed();
  EXPECT_LT(timed([&] { park(last).wait(); }), 150ms) << "a full batch waited for the interval";
  a = group.committed();
  b = group.committed();
  first = park(a);
  park(b).wait();
  parked = park(group.committed());
  std::this_thread::sleep_for(20ms);
  ASSERT_EQ(parked.wait_for(0ms), std::future_status::timeout) << "not paced";
  auto filled = Clock::now();
  for (int i = 0; i < 3; ++i) group.committed();
  EXPECT_EQ(parked.wait_for(150ms), std::future_status::ready) << "a batch filled during the wait did not end it";
  EXPECT_LT(Clock::now() - filled, 150ms);

  // Pacing waits only while work that may commit is under way.
  std::atomic<bool> busy{false};
  group.pace_while([&] { return busy.load(); });
  auto shared_flush = [&] {
    a = group.committed();
    b = group.committed();
    first = park(a);
    park(b).wait();
  };
  shared_flush();
  EXPECT_LT(timed([&] { park(group.committed()).wait(); }), 150ms) << "paced with nothing under way";
  shared_flush();
  busy = true;
  auto start = Clock::now();
  parked = park(group.committed());
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(parked.wait_for(0ms), std::future_status::timeout) << "not paced while work was under way";
  busy = false;
  group.work_paused();
  EXPECT_EQ(parked.wait_for(100ms), std::future_status::ready) << "the pause did not end the wait";
  EXPECT_LT(Clock::now() - start, 250ms);
  group.pace_while(nullptr);
}

// when_durable: the callback form, for answers that wait without a thread.
// The group's own thread leads the flush when no waiter does.
TEST(GroupCommit, ACallbackRunsOnceAFlushThatBeganAfterItsCommitFinished) {
  SlowFlush flush;
  flush.takes = 20ms;
  GroupCommit group([&] { return flush(); }, {});
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<int> ran;
  auto note = [&](int which) {
    return [&, which] {
      std::lock_guard lock(mutex);
      ran.push_back(which);
      changed.notify_all();
    };
  };
  auto wait_for = [&](std::size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 5s, [&] { return ran.size() >= n; });
  };

  group.when_durable(group.committed(), note(1));
  ASSERT_TRUE(wait_for(1)) << "nobody flushed for the callback";
  EXPECT_EQ(flush.finished, 1);
  // Durable already: it runs at once, on this thread, with no flush.
  group.when_durable(1, note(2));
  EXPECT_EQ(ran.back(), 2);
  EXPECT_EQ(flush.started, 1);

  // Commits made while a flush runs wait for the next one, which covers
  // them all; a waiter's flush runs the callbacks it covers too.
  auto first = group.committed();
  group.when_durable(first, note(3));
  while (flush.started < 2) std::this_thread::sleep_for(1ms);
  const int before_second = flush.started;
  auto second = group.committed();
  auto third = group.committed();
  group.when_durable(second, note(4));
  group.when_durable(third, note(5));
  ASSERT_TRUE(wait_for(5));
  EXPECT_EQ(flush.started, before_second + 1) << "one flush covered the two commits made during the other";
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3, 4, 5}));
}

// A callback for a commit made while a waiter leads a flush, before the
// group's own thread exists: the flush running cannot cover it, and the
// waiter leaves after it; somebody must still flush for the callback.
TEST(GroupCommit, ACallbackForACommitMadeDuringAWaitersFlushIsNotForgotten) {
  SlowFlush flush;
  flush.takes = 100ms;
  GroupCommit group([&] { return flush(); }, {});
  std::thread waiter([&] { ASSERT_TRUE(group.wait_durable(group.committed()).ok()); });
  while (flush.started < 1) std::this_thread::sleep_for(1ms);
  std::promise<void> ran;
  group.when_durable(group.committed(), [&] { ran.set_value(); });
  waiter.join();
  EXPECT_EQ(ran.get_future().wait_for(5s), std::future_status::ready) << "no flush ever covered the callback";
  EXPECT_EQ(flush.finished, 2);
}

// flush_soon: a deferred commit's flush starts at once, with nobody waiting.
TEST(GroupCommit, AFlushAskedForSoonRunsWithoutAWaiter) {
  SlowFlush flush;
  GroupCommit group([&] { return flush(); }, {});
  auto ticket = group.committed();
  group.flush_soon(ticket);
  for (auto end = std::chrono::steady_clock::now() + 5s; flush.finished < 1 && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(flush.finished, 1);
  group.flush_soon(ticket);  // durable already: nothing more
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(flush.started, 1);
  ASSERT_TRUE(group.wait_durable(ticket).ok());
  EXPECT_EQ(flush.started, 1);
}

TEST(GroupCommit, ACallbackHearsOfAFailedFlushAndAStoppingGroupFlushesForItsCallbacks) {
  std::atomic<bool> fails{true};
  std::atomic<int> calls{0};
  {
    GroupCommit group(
        [&]() -> sdk::Result<void> {
          ++calls;
          if (fails) return sdk::make_error(sdk::ErrorKind::internal, "fdatasync: Input/output error");
          return {};
        },
        {});
    std::promise<void> ran;
    auto ticket = group.committed();
    group.when_durable(ticket, [&] { ran.set_value(); });
    ASSERT_EQ(ran.get_future().wait_for(5s), std::future_status::ready);
    EXPECT_FALSE(group.wait_durable(ticket).ok()) << "the callback ran; the waiter then hears the failure";
    int later = 0;
    group.when_durable(group.committed(), [&] { ++later; });
    EXPECT_EQ(later, 1) << "after a failure every callback runs at once";
    EXPECT_EQ(calls, 1);
  }
  fails = false;
  calls = 0;
  std::atomic<int> ran{0};
  {
    SlowFlush slow;
    slow.takes = 30ms;
    GroupCommit group([&] { return slow(); }, {});
    for (int i = 0; i < 3; ++i) group.when_durable(group.committed(), [&] { ++ran; });
  }  // destroyed at once: the callbacks still run first
  EXPECT_EQ(ran, 3);
}

// ---- Through the Database, on a real SQLite file ----

std::unique_ptr<kernel::db::Database> open_sqlite(const std::string& path, kernel::db::DatabaseOptions options) {
  auto url = kernel::db::parse_database_url("sqlite:" + path, 5);
  if (!url) throw std::runtime_error(url.error().message);
  auto db = kernel::db::Database::open(*url, options);
  if (!db) throw std::runtime_error(db.error().message);
  return std::move(*db);
}

std::int64_t synchronous_level(kernel::db::Database& db) {
  auto rows = db.query("PRAGMA synchronous");
  return rows ? rows->rows[0][0].as_int() : -1;
}

TEST(GroupCommitDatabase, CommitsWaitForASharedFlushAndOnlyWritesWait) {
  test::TempDir dir;
  kernel::db::DatabaseOptions options;
  options.pool_size = 4;
  std::atomic<int> flushes{0};
  options.wrap_flush = [&](const GroupCommit::Flush& real) {
    ++flushes;
    return real();
  };
  auto db = open_sqlite(dir.file("db.sqlite"), options);
  ASSERT_NE(db->group_commit(), nullptr);
  EXPECT_EQ(synchronous_level(*db), 1) << "connections commit with synchronous=NORMAL";

  ASSERT_TRUE(db->execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)").ok());
  EXPECT_EQ(flushes, 1) << "an autocommit statement that writes waits for a flush";
  ASSERT_TRUE(db->query("SELECT count(*) FROM t").ok());
  ASSERT_TRUE(db->query("WITH x AS (SELECT 1) SELECT * FROM x").ok());
  EXPECT_EQ(flushes, 1) << "reads do not";
  ASSERT_TRUE(db->query("WITH x AS (SELECT 7 AS id) INSERT INTO t (id) SELECT id FROM x RETURNING id").ok());
  EXPECT_EQ(flushes, 2) << "a WITH that inserts is a write";

  // A transaction's after-commit work runs once its commit is durable.
  int flushes_seen_by_action = -1;
  ASSERT_TRUE(db->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
                  if (auto r = tx.execute("INSERT INTO t (id, v) VALUES (1, 'a')", {}); !r) return r.error();
                  kernel::db::Database::after_commit(tx, [&] { flushes_seen_by_action = flushes.load(); });
                  return {};
                }).ok());
  EXPECT_EQ(flushes, 3);
  EXPECT_EQ(flushes_seen_by_action, 3);

  // A part that fails waits for nothing and leaves nothing.
  bool ran = false;
  auto failed = db->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    (void)tx.execute("INSERT INTO t (id, v) VALUES (2, 'b')", {});
    kernel::db::Database::after_commit(tx, [&] { ran = true; });
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "no");
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(ran);
  EXPECT_EQ(flushes, 3);
  EXPECT_EQ(db->query("SELECT count(*) FROM t WHERE id = 2")->rows[0][0].as_int(), 0);

  // Relaxed transactions (execution logs) acknowledge without a flush.
  ASSERT_TRUE(db->transaction(
                    [&](sdk::Transaction& tx) -> sdk::Result<void> {
                      return tx.execute("INSERT INTO t (id, v) VALUES (3, 'c')", {}).ok()
                                 ? sdk::Result<void>{}
                                 : sdk::make_error(sdk::ErrorKind::internal, "insert");
                    },
                    kernel::db::Durability::relaxed)
                  .ok());
  EXPECT_EQ(flushes, 3);
}

// Script runs hold one of few gate slots; a run waiting for its flush lends
// its slot (blocking_wait.hpp) to another app's run, which commits meanwhile
// and shares the next flush. Held through the wait, two slots mean about one
// flush per run here (each run's commit comes while the previous flush runs).
TEST(GroupCommitDatabase, RunsWaitingForAFlushLendTheirGateSlotSoOthersJoinTheNextFlush) {
  test::TempDir dir;
  kernel::db::DatabaseOptions options;
  std::atomic<int> flushes{0};
  options.wrap_flush = [&](const GroupCommit::Flush& real) {
    ++flushes;
    std::this_thread::sleep_for(50ms);  // a slow disk: runs pile up behind it
    return real();
  };
  auto db = open_sqlite(dir.file("db.sqlite"), options);
  ASSERT_TRUE(db->execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").ok());
  flushes = 0;
  kernel::dispatch::ExecutionGate gate(kernel::dispatch::GateLimits{2, 64, 2, 64});
  constexpr int kRuns = 16;
  std::vector<std::thread> runs;
  std::atomic<int> committed{0};
  // Every run queued for the one slot before the first starts: a slow start
  // of a thread does not spread the commits out.
  ASSERT_TRUE(gate.enter("app", 0ms));
  ASSERT_TRUE(gate.enter("app", 0ms));
  for (int i = 0; i < kRuns; ++i)
    runs.emplace_back([&, i] {
      const std::string app = "app" + std::to_string(i);
      gate.enter_blocking(app);
      kernel::dispatch::ExecutionGate::Slot slot(gate, app, kernel::dispatch::ExecutionGate::Lending::allowed);
      auto r = db->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
        auto w = tx.execute("INSERT INTO t (id) VALUES (?)", {i});
        if (!w) return w.error();
        return {};
      });
      EXPECT_TRUE(r.ok()) << r.error().message;
      ++committed;
    });
  for (auto end = std::chrono::steady_clock::now() + 5s; gate.queued() < kRuns && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(gate.queued(), kRuns);
  gate.leave("app");
  gate.leave("app");
  for (auto& t : runs) t.join();
  EXPECT_EQ(committed, kRuns);
  EXPECT_EQ(db->query("SELECT count(*) FROM t")->rows[0][0].as_int(), kRuns);
  // Measured: held through the wait, 13 flushes for 16 runs; lent, 7.
  EXPECT_LE(flushes, 10) << "runs waiting for a flush kept their slots";
  EXPECT_EQ(gate.running(), 0);
}

// Writes go to one connection while it is idle, reads to the others: the
// connection that made every commit keeps its page cache. (A connection
// tells itself apart by last_insert_rowid(), which is its own.)
TEST(GroupCommitDatabase, WritesPreferOneConnectionAndReadsLeaveItToThem) {
  test::TempDir dir;
  kernel::db::DatabaseOptions options;
  options.pool_size = 3;
  auto db = open_sqlite(dir.file("db.sqlite"), options);
  ASSERT_TRUE(db->execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").ok());
  // A second connection, opened for a read while the writer's was busy.
  std::atomic<bool> inside{false}, done{false};
  std::thread writer([&] {
    EXPECT_TRUE(db->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
                    inside = true;
                    while (!done) std::this_thread::sleep_for(1ms);
                    auto w = tx.execute("INSERT INTO t (id) VALUES (100)", {});
                    if (!w) return w.error();
                    return {};
                  }).ok());
    inside = true;  // also when it failed before its body ran
  });
  for (auto end = std::chrono::steady_clock::now() + 5s; !inside && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(db->query("SELECT 1").ok());
  done = true;
  writer.join();
  ASSERT_EQ(db->connections_open(), 2u);

  std::int64_t last = 100;
  for (std::int64_t id = 1; id <= 5; ++id) {
    ASSERT_TRUE(db->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
                    auto mine = tx.query("SELECT last_insert_rowid()", {});
                    if (!mine) return mine.error();
                    EXPECT_EQ(mine->rows[0][0].as_int(), last) << "this write is not on the last write's connection";
                    auto w = tx.execute("INSERT INTO t (id) VALUES (?)", {id});
                    if (!w) return w.error();
                    return {};
                  }).ok());
    last = id;
    auto read = db->query("SELECT last_insert_rowid()");
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->rows[0][0].as_int(), 0) << "a read took the write connection while another was idle";
  }
  EXPECT_EQ(db->connections_open(), 2u);
}

TEST(GroupCommitDatabase, TurnedOffEveryCommitFlushesItself) {
  test::TempDir dir;
  kernel::db::DatabaseOptions options;
  options.group_commit = false;
  auto db = open_sqlite(dir.file("db.sqlite"), options);
  EXPECT_EQ(db->group_commit(), nullptr);
  EXPECT_EQ(synchronous_level(*db), 2) << "synchronous=FULL";
  // A relaxed transaction lowers it for itself only.
  ASSERT_TRUE(db->transaction([](sdk::Transaction&) -> sdk::Result<void> { return {}; },
                              kernel::db::Durability::relaxed)
                  .ok());
  EXPECT_EQ(synchronous_level(*db), 2);
}

TEST(GroupCommitDatabase, AFailedFlushAcknowledgesNothingMoreAndReportsNotReady) {
  test::TempDir dir;
  kernel::db::DatabaseOptions options;
  std::atomic<bool> disk_fails{false};
  options.wrap_flush = [&](const GroupCommit::Flush& real) -> sdk::Result<void> {
    if (disk_fails) return sdk::make_error(sdk::ErrorKind::internal, "fdatasync: Input/output error");
    return real();
  };
  auto db = open_sqlite(dir.file("db.sqlite"), options);
  ASSERT_TRUE(db->execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").ok());
  EXPECT_TRUE(db->ping());
  disk_fails = true;
  auto write = db->execute("INSERT INTO t (id) VALUES (1)");
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().kind, sdk::ErrorKind::unavailable);
  bool announced = false;
  auto tx = db->transaction([&](sdk::Transaction& t) -> sdk::Result<void> {
    kernel::db::Database::after_commit(t, [&] { announced = true; });
    return t.execute("INSERT INTO t (id) VALUES (2)", {}).ok() ? sdk::Result<void>{}
                                                                : sdk::make_error(sdk::ErrorKind::internal, "insert");
  });
  EXPECT_FALSE(tx.ok());
  EXPECT_FALSE(announced) << "after-commit work announces only durable commits";
  EXPECT_FALSE(db->ping()) << "/readyz must report the database not ready";
  disk_fails = false;
  auto later = db->execute("INSERT INTO t (id) VALUES (3)");
  ASSERT_FALSE(later.ok()) << "still failed: only a restart recovers";
  EXPECT_NE(later.error().message.find("refuses writes"), std::string::npos) << later.error().message;
  EXPECT_FALSE(db->query("WITH x AS (SELECT 4 AS id) INSERT INTO t (id) SELECT id FROM x RETURNING id").ok());
  // Reads go on; the write whose flush failed may be there (its outcome is
  // unknown), none after it is.
  auto rows = db->query("SELECT id FROM t ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_LE(rows->size(), 1u);
  if (!rows->empty()) EXPECT_EQ(rows->rows[0][0].as_int(), 1);
}

// A run's database-only calls leave their commits to be acknowledged at
// its end (deferred_acks.hpp): inside the window a write returns before any
// flush covers it, its after-commit work waits for settle(), and settle()
// returns once one flush covered every deferred commit, then runs the work
// in commit order. Outside the window a write waits as before.
TEST(GroupCommitDatabase, WritesInsideADeferralWindowAreAcknowledgedTogetherWhenSettled) {
  test::TempDir dir;
  kernel::db::DatabaseOptions options;
  std::atomic<int> flushes{0};
  std::mutex disk;  // held: flushes wait
  options.wrap_flush = [&](const GroupCommit::Flush& real) {
    std::lock_guard wait_for_the_disk(disk);
    ++flushes;
    return real();
  };
  auto db = open_sqlite(dir.file("db.sqlite"), options);
  ASSERT_TRUE(db->execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").ok());
  auto insert = [&](int id, std::vector<int>* announced) {
    return db->transaction([&, id](sdk::Transaction& tx) -> sdk::Result<void> {
      if (auto r = tx.execute("INSERT INTO t (id) VALUES (?)", {id}); !r) return r.error();
      if (announced) kernel::db::Database::after_commit(tx, [announced, id] { announced->push_back(id); });
      return {};
    });
  };

  std::vector<int> announced;
  kernel::db::DeferredAcks acks;
  EXPECT_EQ(kernel::db::DeferredAcks::open_here(), nullptr);
  std::unique_lock hold(disk);  // the disk is slow: no flush ends meanwhile
  flushes = 0;
  acks.open_window();
  acks.open_window();  // nested database-only calls
  EXPECT_EQ(kernel::db::DeferredAcks::open_here(), &acks);
  ASSERT_TRUE(insert(1, &announced).ok()) << "returns without its flush";
  acks.close_window();
  EXPECT_EQ(kernel::db::DeferredAcks::open_here(), &acks) << "still inside the outer call";
  ASSERT_TRUE(insert(2, &announced).ok());
  ASSERT_TRUE(db->execute("INSERT INTO t (id) VALUES (3)").ok()) << "an autocommit write defers too";
  acks.close_window();
  EXPECT_EQ(kernel::db::DeferredAcks::open_here(), nullptr);
  EXPECT_TRUE(announced.empty()) << "after-commit work waits for durability";
  EXPECT_TRUE(acks.pending());
  EXPECT_EQ(db->query("SELECT count(*) FROM t")->rows[0][0].as_int(), 3) << "committed, visible";
  hold.unlock();

  ASSERT_TRUE(acks.settle().ok());
  EXPECT_EQ(announced, (std::vector<int>{1, 2}));
  EXPECT_FALSE(acks.pending());
  EXPECT_GE(flushes, 1) << "the flush was asked for at the first commit";
  EXPECT_LE(flushes, 3);
  const int settled_after = flushes;
  ASSERT_TRUE(acks.settle().ok());
  EXPECT_EQ(flushes, settled_after) << "nothing pending: no flush";

  // Outside the window, each commit waits for its own.
  ASSERT_TRUE(insert(4, &announced).ok());
  EXPECT_EQ(flushes, settled_after + 1);
  EXPECT_EQ(announced.back(), 4);

  // A failed part defers nothing and announces nothing.
  acks.open_window();
  auto failed = db->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    (void)tx.execute("INSERT INTO t (id) VALUES (5)", {});
    kernel::db::Database::after_commit(tx, [&] { announced.push_back(5); });
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "no");
  });
  acks.close_window();
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(acks.pending());
  ASSERT_TRUE(acks.settle().ok());
  EXPECT_EQ(announced.back(), 4);

  // A run writing in a loop waits every so often, as each write used to:
  // with the disk held, its 32nd commit does not return.
  hold.lock();
  std::atomic<int> done{0};
  std::thread writer([&] {
    acks.open_window();
    for (int i = 0; i < 40; ++i) {
      EXPECT_TRUE(insert(100 + i, &announced).ok());
      ++done;
    }
    acks.close_window();
  });
  for (auto end = std::chrono::steady_clock::now() + 20s; done < 31 && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(done, 31) << "a looping writer did not wait for the disk";
  hold.unlock();
  writer.join();
  ASSERT_TRUE(acks.settle().ok());
  EXPECT_EQ(announced.size(), 43u);

  // Reads inside the window wait for nothing and defer nothing.
  acks.open_window();
  ASSERT_TRUE(db->query("SELECT count(*) FROM t").ok());
  acks.close_window();
  EXPECT_FALSE(acks.pending());
}

TEST(GroupCommitDatabase, ASettleWhoseFlushFailsFailsAndAnnouncesNothing) {
  test::TempDir dir;
  kernel::db::DatabaseOptions options;
  std::atomic<bool> disk_fails{false};
  options.wrap_flush = [&](const GroupCommit::Flush& real) -> sdk::Result<void> {
    if (disk_fails) return sdk::make_error(sdk::ErrorKind::internal, "fdatasync: Input/output error");
    return real();
  };
  auto db = open_sqlite(dir.file("db.sqlite"), options);
  ASSERT_TRUE(db->execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").ok());
  bool announced = false;
  kernel::db::DeferredAcks acks;
  disk_fails = true;  // from the deferred commit's own flush on
  acks.open_window();
  ASSERT_TRUE(db->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
                  kernel::db::Database::after_commit(tx, [&] { announced = true; });
                  return tx.execute("INSERT INTO t (id) VALUES (1)", {}).ok()
                             ? sdk::Result<void>{}
                             : sdk::make_error(sdk::ErrorKind::internal, "insert");
                }).ok());
  acks.close_window();
  auto settled = acks.settle();
  ASSERT_FALSE(settled.ok());
  EXPECT_EQ(settled.error().kind, sdk::ErrorKind::unavailable);
  EXPECT_FALSE(announced);
  // Failed for good: a script that caught the error must not get a 200.
  EXPECT_TRUE(acks.pending());
  auto again = acks.settle();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, settled.error().message);
}

// SQLite puts the WAL beside the database file's real path: a symbolic link
// to the file must not make the flush look for a WAL that never exists (and
// flush nothing). A path never seen is an error, not "nothing to flush".
TEST(GroupCommitDatabase, TheWalFlushedIsTheOneSqliteWritesThroughASymbolicLink) {
  test::TempDir dir;
  std::filesystem::create_directory(dir.file("real"));
  std::filesystem::create_directory(dir.file("link"));
  { std::ofstream(dir.file("real/db.sqlite")); }  // an empty file is a new database to SQLite
  std::filesystem::create_symlink(dir.file("real/db.sqlite"), dir.file("link/db.sqlite"));
  auto db = open_sqlite(dir.file("link/db.sqlite"), {});
  EXPECT_EQ(std::filesystem::path(db->wal_path()).filename(), "db.sqlite-wal");
  EXPECT_EQ(std::filesystem::canonical(std::filesystem::path(db->wal_path()).parent_path()),
            std::filesystem::canonical(dir.file("real")));
  ASSERT_TRUE(db->execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").ok());
  ASSERT_TRUE(db->execute("INSERT INTO t (id) VALUES (1)").ok());
  EXPECT_TRUE(std::filesystem::exists(dir.file("real/db.sqlite-wal")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("link/db.sqlite-wal")));

  kernel::db::WalFlusher nowhere(dir.file("link/never-there-wal"));
  auto flushed = nowhere.flush();
  ASSERT_FALSE(flushed.ok());
  EXPECT_NE(flushed.error().message.find("never-there-wal"), std::string::npos) << flushed.error().message;
}

// A power loss, played back: 8 threads commit rows (some of their
// transactions fail on purpose, some collide on a key) while every flush
// copies the WAL as it begins. A commit acknowledged while copy k was the
// newest finished flush must be in the database the disk would hold after
// a power cut right then: the database file (no checkpoint runs here, so
// it never changes) with copy k as its WAL. Failed parts must be in none.
// `exclusive`: [database] sqlite_locking = "exclusive" (the WAL's index in
// the process's memory, no -shm file).
void every_acknowledged_commit_survives_a_power_loss(bool exclusive) {
  test::TempDir dir;
  const std::string path = dir.file("db.sqlite");
  std::mutex mutex;
  std::vector<std::shared_ptr<const std::string>> durable;  // the WAL as each finished flush began
  kernel::db::DatabaseOptions options;
  options.pool_size = 8;
  options.connection.exclusive_locking = exclusive;
  options.connection.wal_autocheckpoint_pages = 0;
  options.wrap_flush = [&](const GroupCommit::Flush& real) -> sdk::Result<void> {
    auto wal = std::make_shared<const std::string>(test::read_file(path + "-wal"));
    auto r = real();
    if (r) {
      std::lock_guard lock(mutex);
      durable.push_back(std::move(wal));
    }
    return r;
  };
  auto db = open_sqlite(path, options);
  ASSERT_TRUE(db->execute("CREATE TABLE t (id INTEGER PRIMARY KEY, thread INTEGER, payload TEXT)").ok());

  constexpr int kThreads = 8, kEach = 60;
  std::map<std::int64_t, std::size_t> acknowledged;  // id -> copies finished when it was acknowledged
  std::set<std::int64_t> failed;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::int64_t id = t * 1000 + i;
        bool fail_on_purpose = i % 4 == 3;
        bool collide = i % 10 == 9;  // reuses an id another thread may have written
        std::int64_t key = collide ? ((t + 1) % kThreads) * 1000 : id;
        // The copies finished when the commit was announced: read at once
        // in the after-commit action (which runs when it is acknowledged).
        std::size_t copies_then = 0;
        auto r = db->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
          auto ins = tx.execute("INSERT INTO t (id, thread, payload) VALUES (?, ?, ?)",
                                {key, t, std::string(300 + i, static_cast<char>('a' + t))});
          if (!ins) return ins.error();
          if (fail_on_purpose) return sdk::make_error(sdk::ErrorKind::invalid_argument, "failed on purpose");
          kernel::db::Database::after_commit(tx, [&] {
            std::lock_guard lock(mutex);
            copies_then = durable.size();
          });
          return {};
        });
        std::lock_guard lock(mutex);
        if (r) acknowledged[key] = copies_then;
        else if (fail_on_purpose && !collide) failed.insert(key);
      }
    });
  for (auto& th : threads) th.join();
  ASSERT_GT(acknowledged.size(), 200u);
  ASSERT_GT(failed.size(), 50u);
  // The database file as a power cut would find it: checkpoints are off, so
  // it holds what SQLite wrote when it was opened (the switch to WAL mode,
  // flushed then) and nothing since.
  // (Reading it here closes a descriptor of the file, which drops this
  // process's locks on it, the exclusive one included: harmless now that
  // every write is done, and closing the database first would checkpoint.)
  const std::string main_file = test::read_file(path);

  std::map<std::size_t, std::vector<std::int64_t>> by_copy;
  for (auto [id, copies] : acknowledged) {
    ASSERT_GT(copies, 0u) << "id " << id << " acknowledged before any flush finished";
    by_copy[copies - 1].push_back(id);
  }
  std::size_t first_rows = 0, last_rows = 0, lost = 0, leaked = 0;
  for (const auto& [copy, ids] : by_copy) {
    test::TempDir image;
    { std::ofstream(image.file("db.sqlite"), std::ios::binary) << main_file; }
    { std::ofstream(image.file("db.sqlite-wal"), std::ios::binary) << *durable[copy]; }
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(image.file("db.sqlite").c_str(), &raw), SQLITE_OK);
    std::set<std::int64_t> present;
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT id FROM t", -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    while (sqlite3_step(stmt) == SQLITE_ROW) present.insert(sqlite3_column_int64(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
    for (auto id : ids) lost += present.count(id) ? 0 : 1;
    for (auto id : failed) leaked += present.count(id);
    if (copy == by_copy.begin()->first) first_rows = present.size();
    last_rows = present.size();
  }
  EXPECT_EQ(lost, 0u) << "of " << acknowledged.size() << " acknowledged commits";
  EXPECT_EQ(leaked, 0u);
  // The images are truly partial (so a commit acknowledged too early would
  // show up missing): the first holds fewer rows than the last.
  EXPECT_LT(first_rows, last_rows);
  std::printf("[          ] %zu commits acknowledged, %zu failed, %zu flushes, %zu power-loss images checked\n",
              acknowledged.size(), failed.size(), durable.size(), by_copy.size());
  EXPECT_EQ(std::filesystem::exists(path + "-shm"), !exclusive);
}

TEST(GroupCommitDatabase, EveryAcknowledgedCommitSurvivesAPowerLossAtTheMomentItWasAcknowledged) {
  every_acknowledged_commit_survives_a_power_loss(false);
}

TEST(GroupCommitDatabase, HeldExclusivelyEveryAcknowledgedCommitSurvivesAPowerLoss) {
  every_acknowledged_commit_survives_a_power_loss(true);
}

}  // namespace
