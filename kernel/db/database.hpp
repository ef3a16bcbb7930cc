// The kernel's database: a bounded pool of connections behind the SDK's
// Database interface. Plugins and kernel components share it.
//
// The pool is hand-written (small): connections need per-dialect set-up
// (SQLite pragmas) when opened, which Poco's SessionPool cannot run.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kernel/db/connection.hpp"
#include "kernel/db/group_commit.hpp"
#include "kernel/db/url.hpp"
#include "picloud/sdk/database.hpp"

namespace picloud::kernel::db {

// How a transaction's commit reaches the disk.
enum class Durability {
  // The commit is on disk before it returns (SQLite synchronous=FULL,
  // PostgreSQL synchronous_commit on): survives a power cut.
  full,
  // The commit survives a crash of the process but may be lost with the last
  // moments before a power cut or an OS crash (SQLite synchronous=NORMAL in
  // WAL mode, PostgreSQL synchronous_commit off). Never corrupts; for
  // best-effort records such as execution logs, where an fsync per batch
  // would cost the hot path more than the record is worth.
  relaxed,
};

struct DatabaseOptions {
  int pool_size = 8;
  int acquire_timeout_ms = 10000;
  // SQLite: commits share WAL flushes (group_commit.hpp) instead of one
  // flush each. Same durability; PostgreSQL groups its own commits, so
  // there it changes nothing.
  bool group_commit = true;
  GroupCommit::Options group;
  ConnectionOptions connection;
  // Tests: replaces the flush group commit runs; it is given the real one.
  std::function<sdk::Result<void>(const GroupCommit::Flush& flush)> wrap_flush;
};

class Database final : public sdk::Database {
 public:
  // Opens the first connection at once, so a bad URL, an unreachable server
  // or an unusable file is reported at start-up.
  static sdk::Result<std::unique_ptr<Database>> open(const DatabaseUrl& url, const DatabaseOptions& options);
  ~Database() override;

  sdk::Dialect dialect() const override { return url_.dialect; }
  const DatabaseUrl& url() const { return url_; }

  sdk::Result<sdk::Rows> query(std::string_view sql, const sdk::Params& params = {}) override;
  sdk::Result<std::int64_t> execute(std::string_view sql, const sdk::Params& params = {}) override;
  sdk::Result<void> transaction(const std::function<sdk::Result<void>(sdk::Transaction&)>& body) override;
  sdk::Result<void> transaction(const std::function<sdk::Result<void>(sdk::Transaction&)>& body, Durability durability);
  // Several statements without parameters (a migration file), run inside a
  // transaction. `tx` must be the one this class passed to a transaction() body.
  static sdk::Result<void> execute_script(sdk::Transaction& tx, std::string_view sql);
  // Runs `action` once `tx` (a transaction of this class) has committed (and,
  // unless the transaction is relaxed, once the commit is durable), on
  // the committing thread after its connection went back to the pool; never
  // when it rolls back. For wake-ups that must not come before the rows they
  // announce are visible.
  static void after_commit(sdk::Transaction& tx, std::function<void()> action);

  // Answers whether a trivial statement runs (for /readyz).
  bool ping();
  std::size_t connections_in_use() const { return in_use_.load(std::memory_order_relaxed); }
  std::size_t connections_open() const;
  // Group commit on this database, or null (PostgreSQL, or turned off).
  const GroupCommit* group_commit() const { return group_.get(); }
  GroupCommit* group_commit() { return group_.get(); }
  // The WAL file group commit flushes (empty without group commit).
  std::string wal_path() const { return wal_ ? wal_->path() : std::string(); }

 private:
  class Lease;
  Database(DatabaseUrl url, DatabaseOptions options) : url_(std::move(url)), options_(options) {}
  // What a connection is borrowed for. SQLite: writes made with the
  // writer's turn all go to one connection (the last that wrote, when it is
  // idle), and reads to the others while any is idle. A connection's page
  // cache is dropped whenever another connection committed since it last
  // read; the connection that made every commit keeps its cache, so writes
  // find their pages in memory instead of reading them again each time.
  enum class Use { read, write };
  sdk::Result<Lease> acquire(Use use = Use::read);
  // transaction() up to the commit; the committed transaction's after-commit
  // work goes to `after_commit`, to run once the connection is released, and
  // its group-commit ticket (0: none to wait for) to `ticket`.
  sdk::Result<void> transaction_holding(const std::function<sdk::Result<void>(sdk::Transaction&)>& body,
                                        Durability durability, std::vector<std::function<void()>>& after_commit,
                                        std::uint64_t& ticket);
  // Runs one statement outside a transaction (SQLite commits it at once)
  // and, under group commit, returns once it is durable if it wrote.
  sdk::Result<void> run_autocommit(std::string_view sql, const std::function<sdk::Result<void>(Connection&)>& run);
  void release(std::unique_ptr<Connection> conn);

  // SQLite: writes from this process take turns here instead of racing for
  // the file lock (whose busy handler polls with growing sleeps and can
  // starve a writer past the busy timeout under load). A writer that waits
  // longer than the busy timeout — say, a write started inside another
  // write's transaction — goes on without its turn and meets SQLite's own
  // busy handling, so a mistake there is an error, never a deadlock.
  std::unique_lock<std::timed_mutex> writer_turn(std::string_view sql);

  DatabaseUrl url_;
  DatabaseOptions options_;
  std::unique_ptr<WalFlusher> wal_;
  std::unique_ptr<GroupCommit> group_;
  std::timed_mutex writer_;
  static thread_local const Database* holds_turn_;  // the database whose turn this thread holds
  const bool spin_for_turn_ = std::thread::hardware_concurrency() > 1;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  const Connection* write_connection_ = nullptr;  // the one writes prefer (guarded by mutex_)
  std::size_t open_ = 0;
  std::atomic<std::size_t> in_use_{0};
};

}  // namespace picloud::kernel::db
