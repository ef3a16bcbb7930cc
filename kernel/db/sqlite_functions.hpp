// SQL functions the kernel adds to every SQLite connection, so that SQL a
// plugin writes for both databases runs the same on each: PostgreSQL has
// these built in, SQLite does not.
//
//   picloud_regexp(pattern, options, text)  PostgreSQL's `text ~ pattern`
//     for the regular expressions of picloud/sdk/regex.hpp: 1 or 0; NULL when
//     an argument is NULL or `text` is not text; an SQL error naming what the
//     pattern or options do wrong. Compiled once per statement. A statement
//     spends at most regex::kTimeLimitMs in it, all its calls together, as
//     PostgreSQL's statement_timeout bounds its own: then the call fails
//     with regex::kTimeLimitError.
//
// Registering allocates nothing of PiCloud's; a function's state exists only
// while a statement that calls it runs, but for the connection's RegexClock.
#pragma once

#include <chrono>

struct sqlite3;

namespace picloud::kernel::db {

// When the statement running on a connection must be done with regular
// expressions: started by its first picloud_regexp call, restarted by the
// connection before each statement. Used by that connection's thread alone.
struct RegexClock {
  std::chrono::steady_clock::time_point deadline{};
  bool started = false;
  void restart() { started = false; }
};

// SQLITE_OK, or SQLite's error code when a function could not be added.
// `clock` must outlive the connection.
int register_sqlite_functions(sqlite3* db, RegexClock* clock);

}  // namespace picloud::kernel::db
