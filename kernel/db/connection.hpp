// One open database connection and how statements run on it.
//
// Poco::Data opens and owns the connection (its SQLite and PostgreSQL
// connectors); statements run through the native handle underneath. That
// gives exact value types per row (Poco's RecordSet types SQLite expression
// columns as text), exact error codes (unique violation vs busy), bound
// parameters without Poco's `$N` text scan, and a per-connection cache of
// prepared statements.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "kernel/db/url.hpp"
#include "picloud/sdk/database.hpp"

namespace picloud::kernel::db {

struct ConnectionOptions {
  int busy_timeout_ms = 5000;  // SQLite: how long a writer waits for the lock
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
