// Who else has a SQLite database file locked.
//
// A process run with `[database] sqlite_locking = "exclusive"` opens its
// database through SQLite's "unix-excl" file system layer: from its first
// read until its last connection closes it holds one POSIX write lock on
// the file's shared-lock range, and it keeps the WAL's index in its own
// memory instead of the `-shm` file, so its connections take turns with no
// system call. No other process can read the file meanwhile; SQLite would
// make it wait out its busy timeout and then say only "database is locked".
// Likewise such a process cannot start while another one reads the file.
// PiCloud's openers (Database::open, the backup's copy) ask here first,
// before their process holds any lock on the file, and name the process in
// the way instead.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::db {

// Nothing when this process may open the SQLite database at `path` — to
// hold it alone when `exclusive` — and otherwise an `unavailable` error
// with the code below naming the process in the way: one that holds the
// file exclusively, or (when `exclusive`) one that has it locked at all.
// Locks SQLite's ordinary locking takes for moments count only when still
// held after about half a second.
sdk::Result<void> check_sqlite_openable(const std::string& path, bool exclusive);

// The code of check_sqlite_openable()'s errors.
inline constexpr std::string_view kHeldByAnotherProcess = "held_by_another_process";

// One line of /proc/locks: a POSIX lock a process holds (waiters' lines,
// other kinds of lock and malformed lines are left out).
struct ProcLock {
  long pid = 0;  // as /proc numbers it
  bool write = false;
  unsigned major = 0, minor = 0;  // the file system's device, as the kernel sees it
  std::uintmax_t inode = 0;
  long long first = 0, last = 0;  // bytes locked; "EOF" reads as the largest offset
};
std::vector<ProcLock> parse_proc_locks(std::istream& text);

// Whether `lock` is what the "unix-excl" layer holds: a write lock on
// exactly SQLite's shared-lock range. SQLite's ordinary exclusive lock
// (taken for moments) covers the reserved byte before that range too.
bool is_exclusive_hold(const ProcLock& lock);

}  // namespace picloud::kernel::db
