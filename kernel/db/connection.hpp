// One open database connection and how statements run on it.
//
// SQLite connections are opened with SQLite's own API; PostgreSQL ones by
// Poco::Data's connector inside picloud_postgres.so (postgres_driver.hpp).
// Statements run through the native handle on both. That
// gives exact value types per row (Poco's RecordSet types SQLite expression
// columns as text), exact error codes (unique violation vs busy), bound
// parameters without Poco's `$N` text scan, and a per-connection cache of
// prepared statements.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "kernel/db/url.hpp"
#include "picloud/sdk/database.hpp"

namespace picloud::kernel::db {

struct ConnectionOptions {
  int busy_timeout_ms = 5000;  // SQLite: how long a writer waits for the lock
  // SQLite: each COMMIT flushes the WAL itself (synchronous=FULL). False
  // under group commit, where the Database flushes for many (NORMAL).
  bool flush_each_commit = true;
  // SQLite: PRAGMA wal_autocheckpoint (-1: SQLite's default, 1000 pages).
  // Tests turn checkpoints off to see exactly what the WAL holds.
  int wal_autocheckpoint_pages = -1;
  // SQLite: while this is true, a statement that would write is refused
  // before it runs (group commit sets it once a flush failed).
  const std::atomic<bool>* refuse_writes = nullptr;
  // SQLite: open through the "unix-excl" layer ([database] sqlite_locking =
  // "exclusive", sqlite_holder.hpp): the process holds the file alone and
  // its connections take turns in memory, with no lock system calls and no
  // `-shm` file. Other processes cannot open the database meanwhile
  // (Database::open asks first who holds it: sqlite_holder.hpp).
  bool exclusive_locking = false;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual sdk::Result<sdk::Rows> query(std::string_view sql, const sdk::Params& params) = 0;
  virtual sdk::Result<std::int64_t> execute(std::string_view sql, const sdk::Params& params) = 0;
  // Several statements separated by ';', no parameters (migration files).
  virtual sdk::Result<void> execute_script(std::string_view sql) = 0;
  // False once the connection is known to be broken; the pool drops it.
  virtual bool healthy() const = 0;
  // Makes healthy() false: the connection's state is no longer what the pool
  // hands out (a setting could not be put back).
  virtual void mark_broken() = 0;
  // SQLite: whether the last statement run by query()/execute() could change
  // the database (sqlite3_stmt_readonly). Group commit waits for the flush
  // of an autocommit statement only when it did.
  virtual bool last_statement_wrote() const { return true; }
  // SQLite: the WAL file as SQLite names it (symbolic links in the database
  // path resolved); empty when the connection is not in WAL mode.
  virtual std::string wal_path() { return {}; }
};

sdk::Result<std::unique_ptr<Connection>> open_connection(const DatabaseUrl& url, const ConnectionOptions& options);

// What a failed statement may tell its caller. A database's own message can
// quote the SQL and the values bound into it (PostgreSQL's does), and callers
// pass error messages on to scripts and admin clients. So the full text goes
// to the server log under a short reference, and the caller learns the kind,
// the database's error code, the violated constraint's name (schema, not
// data: callers tell constraints apart by it) and the reference.
sdk::Error statement_error(sdk::ErrorKind kind, std::string_view code, std::string_view constraint,
                           std::string_view detail, std::string_view sql);

// Text parameters may not hold U+0000: PostgreSQL cannot store it (and libpq
// would cut the text there), so neither database accepts it.
sdk::Result<void> check_storable_text(const sdk::Params& params);

}  // namespace picloud::kernel::db
