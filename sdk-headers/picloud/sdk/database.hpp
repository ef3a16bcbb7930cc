// The database as a plugin sees it: statements with bound parameters, rows as
// SDK values, transactions. The kernel owns the connections, the pool and the
// dialect; a plugin never sees a driver type.
//
// Placeholders are written `?` in every dialect; the kernel rewrites them for
// PostgreSQL (`$1, $2, ...`), leaving `?` inside quoted literals and comments
// alone. Keep values out of SQL text: bind them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::sdk {

enum class Dialect { sqlite, postgres };

inline std::string_view to_string(Dialect d) { return d == Dialect::sqlite ? "sqlite" : "postgres"; }

// Query results: column names and rows of values. Integers come back as int,
// REAL/DOUBLE as float, TEXT as string, BLOB/bytea as bytes, NULL as null.
struct Rows {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;

  bool empty() const { return rows.empty(); }
  std::size_t size() const { return rows.size(); }
  // Index of a column by name, or -1.
  int column(std::string_view name) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (columns[i] == name) return static_cast<int>(i);
    return -1;
  }
};

using Params = std::vector<Value>;

// Statements run inside one transaction on one connection.
class Transaction {
 public:
  virtual ~Transaction() = default;
  virtual Result<Rows> query(std::string_view sql, const Params& params = {}) = 0;
  // Returns the number of rows affected.
  virtual Result<std::int64_t> execute(std::string_view sql, const Params& params = {}) = 0;
  // The C boundary's handle of this transaction: set on the transactions the
  // C++ SDK hands a plugin (ctx.database()), null on any other.
  virtual void* boundary_handle() const { return nullptr; }
  // Runs `action` once this transaction has committed durably, on the
  // committing thread after the connection went back to the pool; never
  // when it rolls back. For what must not happen unless the data is there
  // (a wake-up, a cache entry, follow-up work). `action` must not throw; it
  // may use the database, not this transaction.
  virtual Result<void> after_commit(std::function<void()> action) = 0;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Dialect dialect() const = 0;

  // One statement in its own implicit transaction.
  virtual Result<Rows> query(std::string_view sql, const Params& params = {}) = 0;
  virtual Result<std::int64_t> execute(std::string_view sql, const Params& params = {}) = 0;

  // Runs `body` in a write transaction (BEGIN IMMEDIATE on SQLite). The
  // transaction commits when `body` returns success and rolls back when it
  // returns an error or throws; the error is passed on.
  virtual Result<void> transaction(const std::function<Result<void>(Transaction&)>& body) = 0;
};

}  // namespace picloud::sdk
