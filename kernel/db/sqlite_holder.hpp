// Who holds a SQLite database file exclusively.
//
// A server run with `[database] sqlite_locking = "exclusive"` opens its
// database through SQLite's "unix-excl" file system layer: the process takes
// one POSIX write lock on the file's shared-lock range for as long as it has
// the database open, and keeps the WAL's index in its own memory instead of
// the `-shm` file, so its connections take turns with no system call. No
// other process can read the file meanwhile; SQLite would make it wait out
// its busy timeout and then say only "database is locked". Every opener of
// PiCloud's asks here first and says who holds the file instead.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::db {

// The process holding a write lock on the shared-lock range of the SQLite
// database at `path`, or nothing (no lock, no such file, or this process:
// POSIX locks never conflict with their own process). SQLite's ordinary
// locking takes that lock only for moments (switching journal modes, the
// last connection's checkpoint on close), so a lock is reported only when
// it is still held after about half a second.
std::optional<pid_t> sqlite_exclusive_holder(const std::string& path);

// The error for a database another process holds exclusively (its code).
inline constexpr std::string_view kHeldExclusively = "held_exclusively";
sdk::Error held_exclusively(const std::string& path, pid_t holder);

// Nothing when the database at `path` may be opened by this process, the
// error above otherwise.
sdk::Result<void> check_not_held_exclusively(const std::string& path);

}  // namespace picloud::kernel::db
