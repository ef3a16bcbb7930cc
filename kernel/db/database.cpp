#include "kernel/db/database.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>

#include "kernel/db/deferred_acks.hpp"
#include "kernel/db/sqlite_holder.hpp"

namespace picloud::kernel::db {

// A connection borrowed from the pool; returned (or dropped if broken) on destruction.
class Database::Lease {
 public:
  Lease(Database* owner, std::unique_ptr<Connection> conn) : owner_(owner), conn_(std::move(conn)) {}
  Lease(Lease&& other) noexcept = default;
  ~Lease() {
    if (conn_) owner_->release(std::move(conn_));
  }
  Connection* operator->() { return conn_.get(); }
  Connection& operator*() { return *conn_; }

 private:
  Database* owner_;
  std::unique_ptr<Connection> conn_;
};

namespace {

// BEGIN, COMMIT and ROLLBACK. On SQLite through the connection's cache of
// prepared statements: sqlite3_exec would parse them anew each time. (SQLite
// counts BEGIN IMMEDIATE as a write, so after a failed flush it is refused
// like any write; COMMIT and ROLLBACK never are.)
sdk::Result<void> control(Connection& conn, sdk::Dialect dialect, std::string_view sql) {
  if (dialect != sdk::Dialect::sqlite) return conn.execute_script(sql);
  auto r = conn.execute(sql, {});
  if (!r) return r.error();
  return {};
}

class ConnectionTransaction final : public sdk::Transaction {
 public:
  explicit ConnectionTransaction(Connection& conn) : conn_(conn) {}
  sdk::Result<sdk::Rows> query(std::string_view sql, const sdk::Params& params) override {
    return conn_.query(sql, params);
  }
  sdk::Result<std::int64_t> execute(std::string_view sql, const sdk::Params& params) override {
    return conn_.execute(sql, params);
  }
  Connection& connection() { return conn_; }
  sdk::Result<void> after_commit(std::function<void()> action) override {
    after_commit_.push_back(std::move(action));
    return {};
  }
  // The actions to run now that the transaction committed. A transaction
  // that ends otherwise drops them unrun (their destructors let a plugin
  // free what it gave).
  std::vector<std::function<void()>> take_after_commit() { return std::move(after_commit_); }

 private:
  Connection& conn_;
  std::vector<std::function<void()>> after_commit_;
};

}  // namespace

sdk::Result<std::unique_ptr<Database>> Database::open(const DatabaseUrl& url, const DatabaseOptions& options) {
  std::unique_ptr<Database> db(new Database(url, options));
  if (options.group_commit && url.dialect == sdk::Dialect::sqlite) {
    db->options_.connection.flush_each_commit = false;
    GroupCommit::Flush flush = [raw = db.get()] { return raw->wal_->flush(); };
    if (options.wrap_flush) flush = [wrap = options.wrap_flush, real = std::move(flush)] { return wrap(real); };
    db->group_ = std::make_unique<GroupCommit>(std::move(flush), options.group);
    db->options_.connection.refuse_writes = &db->group_->failed_flag();
  }
  // Another process holding the file exclusively would make SQLite wait out
  // its busy timeout and then say only "database is locked". Asked before
  // this process holds any lock of its own on the file.
  if (url.dialect == sdk::Dialect::sqlite)
    if (auto r = check_sqlite_openable(url.sqlite_path, options.connection.exclusive_locking); !r) return r.error();
  auto first = open_connection(url, db->options_.connection);
  if (!first) return first.error();
  if (db->group_) {
    std::string wal = (*first)->wal_path();
    if (wal.empty())
      return sdk::make_error(sdk::ErrorKind::unavailable,
                             "group commit needs SQLite's WAL mode, which " + url.sqlite_path +
                                 " did not enter (on a file system without shared memory?); set [database] "
                                 "group_commit = false");
    db->wal_ = std::make_unique<WalFlusher>(std::move(wal));
  }
  db->open_ = 1;
  db->idle_.push_back(std::move(*first));
  return db;
}

Database::~Database() = default;

std::size_t Database::connections_open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

sdk::Result<Database::Lease> Database::acquire(Use use) {
  std::unique_lock lock(mutex_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.acquire_timeout_ms);
  while (idle_.empty() && open_ >= static_cast<std::size_t>(options_.pool_size)) {
    if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= static_cast<std::size_t>(options_.pool_size))
      return sdk::make_error(sdk::ErrorKind::unavailable,
                             "no database connection free within " + std::to_string(options_.acquire_timeout_ms) +
                                 " ms (pool size " + std::to_string(options_.pool_size) + ")");
  }
  in_use_.fetch_add(1, std::memory_order_relaxed);
  // The most recently returned connection (its cache is the warmest), but a
  // write takes the write connection when it is idle, and a read leaves it
  // to writes while another is idle (an idle server keeps one connection).
  auto pick = idle_.end();
  if (!idle_.empty()) {
    pick = idle_.end() - 1;
    if (url_.dialect == sdk::Dialect::sqlite && write_connection_) {
      auto is_writer = [&](const std::unique_ptr<Connection>& c) { return c.get() == write_connection_; };
      auto writers = std::find_if(idle_.begin(), idle_.end(), is_writer);
      if (use == Use::write && writers != idle_.end()) pick = writers;
      else if (use == Use::read && pick == writers && idle_.size() > 1) --pick;
    }
  }
  if (pick != idle_.end()) {
    auto conn = std::move(*pick);
    idle_.erase(pick);
    if (use == Use::write) write_connection_ = conn.get();
    return Lease(this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  auto conn = open_connection(url_, options_.connection);
  if (!conn) {
    lock.lock();
    --open_;
    in_use_.fetch_sub(1, std::memory_order_relaxed);
    available_.notify_one();
    return conn.error();
  }
  if (use == Use::write) {
    lock.lock();
    write_connection_ = conn->get();
  }
  return Lease(this, std::move(*conn));
}

void Database::release(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard lock(mutex_);
    if (conn->healthy()) {
      idle_.push_back(std::move(conn));
    } else {
      if (conn.get() == write_connection_) write_connection_ = nullptr;
      --open_;  // dropped; the next acquire opens a fresh one
    }
    in_use_.fetch_sub(1, std::memory_order_relaxed);
  }
  available_.notify_one();
}

thread_local const Database* Database::holds_turn_ = nullptr;

namespace {
// Tells the core this thread is spinning (frees the pipeline for the other
// hyper-thread, saves power).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__ARM_ARCH) && __ARM_ARCH >= 7)
  asm volatile("yield");
#endif  // elsewhere (ARMv6 has no yield): a plain spin
}
constexpr int kTurnSpins = 256;
}  // namespace

std::unique_lock<std::timed_mutex> Database::writer_turn(std::string_view sql) {
  if (url_.dialect != sdk::Dialect::sqlite) return {};
  auto start = sql.find_first_not_of(" \t\r\n(");
  std::string head;
  for (std::size_t i = start; i != std::string_view::npos && i < sql.size() && head.size() < 8 && std::isalpha(static_cast<unsigned char>(sql[i])); ++i)
    head.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
  bool reads = head == "SELECT" || head == "WITH" || head == "PRAGMA" || head == "EXPLAIN" || head == "VALUES";
  if (reads) return {};
  std::unique_lock<std::timed_mutex> turn(writer_, std::defer_lock);
  // A thread that already has its turn (a write inside its own transaction)
  // does not wait for itself; SQLite's busy handling answers it.
  if (holds_turn_ == this) return turn;
  // A turn is held for one short transaction (tens of microseconds): a
  // writer that finds it taken first spins a little (a few microseconds),
  // since going to sleep and being woken costs two context switches. On
  // one core the holder cannot run meanwhile: no spinning there.
  if (spin_for_turn_)
    for (int spin = 0; spin < kTurnSpins; ++spin) {
      if (turn.try_lock()) return turn;
      cpu_relax();
    }
  (void)turn.try_lock_for(std::chrono::milliseconds(options_.connection.busy_timeout_ms));
  return turn;
}

sdk::Result<void> Database::run_autocommit(std::string_view sql, const std::function<sdk::Result<void>(Connection&)>& run) {
  auto turn = writer_turn(sql);  // UPDATE ... RETURNING is a query too
  auto lease = acquire(turn.owns_lock() ? Use::write : Use::read);
  if (!lease) return lease.error();
  if (auto r = run(**lease); !r || !group_) return r;
  if (!(*lease)->last_statement_wrote()) return {};
  // A write is acknowledged once durable; the flush is waited for with the
  // writer's turn and the connection given back.
  if (turn.owns_lock()) turn.unlock();
  { auto given_back = std::move(*lease); }
  if (auto* deferred = DeferredAcks::open_here()) return deferred->defer(*group_, group_->committed(), {});
  return group_->wait_durable(group_->committed());
}

sdk::Result<sdk::Rows> Database::query(std::string_view sql, const sdk::Params& params) {
  sdk::Rows rows;
  auto r = run_autocommit(sql, [&](Connection& conn) -> sdk::Result<void> {
    auto q = conn.query(sql, params);
    if (!q) return q.error();
    rows = std::move(*q);
    return {};
  });
  if (!r) return r.error();
  return rows;
}

sdk::Result<std::int64_t> Database::execute(std::string_view sql, const sdk::Params& params) {
  std::int64_t changed = 0;
  auto r = run_autocommit(sql, [&](Connection& conn) -> sdk::Result<void> {
    auto e = conn.execute(sql, params);
    if (!e) return e.error();
    changed = *e;
    return {};
  });
  if (!r) return r.error();
  return changed;
}

sdk::Result<void> Database::transaction(const std::function<sdk::Result<void>(sdk::Transaction&)>& body) {
  return transaction(body, Durability::full);
}

sdk::Result<void> Database::transaction(const std::function<sdk::Result<void>(sdk::Transaction&)>& body,
                                        Durability durability) {
  // After-commit work runs once the connection is back in the pool and the
  // writer's turn is released: it may use the database, and a slow action
  // holds up no other writer.
  std::vector<std::function<void()>> after_commit;
  std::uint64_t ticket = 0;
  auto outcome = transaction_holding(body, durability, after_commit, ticket);
  if (!outcome) return outcome;
  // Acknowledged (returned, and announced by after-commit work) only once
  // durable. Relaxed transactions take no ticket: they never waited for a
  // flush of their own.
  if (ticket != 0) {
    // Inside a run's database-only call: the run acknowledges it later.
    if (auto* deferred = DeferredAcks::open_here()) return deferred->defer(*group_, ticket, std::move(after_commit));
    if (auto durable = group_->wait_durable(ticket); !durable) return durable;
  }
  for (auto& action : after_commit) action();
  return outcome;
}

sdk::Result<void> Database::transaction_holding(const std::function<sdk::Result<void>(sdk::Transaction&)>& body,
                                                Durability durability,
                                                std::vector<std::function<void()>>& after_commit,
                                                std::uint64_t& ticket) {
  // Counted from before its turn: a leader with max_wait waits for the
  // writers queued behind the current one too.
  struct Writing {
    GroupCommit* group;
    explicit Writing(GroupCommit* g) : group(g) {
      if (group) group->write_began();
    }
    ~Writing() {
      if (group) group->write_ended();
    }
  } writing(group_ && options_.group.max_wait.count() > 0 ? group_.get() : nullptr);
  auto turn = writer_turn("BEGIN");
  struct Holding {
    const Database* previous;
    explicit Holding(const Database* db, bool held) : previous(holds_turn_) {
      if (held) holds_turn_ = db;
    }
    ~Holding() { holds_turn_ = previous; }
  } holding(this, turn.owns_lock());
  auto lease = acquire(turn.owns_lock() ? Use::write : Use::read);
  if (!lease) return lease.error();
  Connection& conn = **lease;
  // SQLite: take the write lock up front, so a read-then-write transaction
  // cannot fail half-way because another connection committed meanwhile.
  const bool sqlite = dialect() == sdk::Dialect::sqlite;
  const bool relaxed = durability == Durability::relaxed;
  // SQLite's setting is the connection's (and cannot change inside a
  // transaction): lowered around this one and put back before the
  // connection returns to the pool. PostgreSQL's is the transaction's own.
  // Under group commit the connection flushes nothing itself anyway; a
  // relaxed transaction just takes no ticket.
  const bool lower_sync = relaxed && sqlite && !group_;
  if (lower_sync) {
    if (auto r = conn.execute_script("PRAGMA synchronous = NORMAL"); !r) return r.error();
  }
  struct RestoreSync {
    Connection* conn;
    ~RestoreSync() {
      // FULL: the level every SQLite connection is opened with.
      if (conn && !conn->execute_script("PRAGMA synchronous = FULL")) conn->mark_broken();
    }
  } restore{lower_sync ? &conn : nullptr};
  if (group_ && group_->failed()) return writes_refused();
  auto begun = control(conn, dialect(), sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!begun) return begun.error();
  if (relaxed && !sqlite) {
    if (auto r = conn.execute_script("SET LOCAL synchronous_commit = off"); !r) {
      (void)control(conn, dialect(), "ROLLBACK");
      return r.error();
    }
  }
  ConnectionTransaction tx(conn);
  sdk::Result<void> outcome;
  try {
    outcome = body(tx);
  } catch (const std::exception& e) {
    outcome = sdk::make_error(sdk::ErrorKind::internal, std::string("transaction body threw: ") + e.what());
  } catch (...) {
    outcome = sdk::make_error(sdk::ErrorKind::internal, "transaction body threw");
  }
  // A flush that failed while this transaction ran: it may not commit.
  if (outcome && group_ && group_->failed()) outcome = writes_refused();
  if (outcome) {
    auto committed = control(conn, dialect(), "COMMIT");
    if (committed) {
      after_commit = tx.take_after_commit();
      if (group_ && !relaxed) ticket = group_->committed();
      return {};
    }
    outcome = committed;
  }
  (void)control(conn, dialect(), "ROLLBACK");
  return outcome;
}

sdk::Result<void> Database::execute_script(sdk::Transaction& tx, std::string_view sql) {
  return static_cast<ConnectionTransaction&>(tx).connection().execute_script(sql);
}

void Database::after_commit(sdk::Transaction& tx, std::function<void()> action) {
  if (auto* ours = dynamic_cast<ConnectionTransaction*>(&tx)) {
    (void)ours->after_commit(std::move(action));
  } else {
    action();  // not a transaction of ours: nothing to wait for
  }
}

bool Database::ping() {
  // A failed flush acknowledges nothing more: not ready until a restart.
  if (group_ && group_->failed()) return false;
  auto r = query("SELECT 1");
  return r.ok() && r->size() == 1;
}

}  // namespace picloud::kernel::db
