// SQL functions the kernel adds to every SQLite connection, so that SQL a
// plugin writes for both databases runs the same on each: PostgreSQL has
// these built in, SQLite does not.
//
//   picloud_regexp(pattern, options, text)  PostgreSQL's `text ~ pattern`
//     for the regular expressions of picloud/sdk/regex.hpp: 1 or 0; NULL when
//     an argument is NULL or `text` is not text; an SQL error naming what the
//     pattern or options do wrong. Compiled once per statement.
//
// Registering allocates nothing of PiCloud's; a function's state exists only
// while a statement that calls it runs.
#pragma once

struct sqlite3;

namespace picloud::kernel::db {

// SQLITE_OK, or SQLite's error code when a function could not be added.
int register_sqlite_functions(sqlite3* db);

}  // namespace picloud::kernel::db
