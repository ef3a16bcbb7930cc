#include "kernel/db/sqlite_holder.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace picloud::kernel::db {
namespace {

// SQLite's lock bytes (os_unix.c, fixed by its file format): the shared-lock
// range starts two bytes past the pending byte at 1 GiB.
constexpr long long kPendingByte = 0x40000000;
constexpr long long kSharedFirst = kPendingByte + 2;
constexpr long long kSharedLast = kSharedFirst + 510 - 1;

// Read from /proc/locks, never by opening the file: closing any descriptor
// of a file drops every POSIX lock this process holds on it, SQLite's
// included (SQLite keeps its own descriptors open for that reason).
std::optional<pid_t> write_lock_holder(dev_t device, ino_t inode) {
  std::ifstream locks("/proc/locks");
  std::string line;
  const pid_t self = ::getpid();
  while (std::getline(locks, line)) {
    // "1: POSIX  ADVISORY  WRITE 1234 fe:00:5678 1073741826 1073742335"
    // (a waiter's line has "->" after the number: it holds nothing).
    std::istringstream in(line);
    std::string number, kind, mode, access, where, first, last;
    long pid = 0;
    if (!(in >> number >> kind) || kind != "POSIX") continue;
    if (!(in >> mode >> access >> pid >> where >> first >> last) || access != "WRITE") continue;
    unsigned major_no = 0, minor_no = 0;
    std::uintmax_t ino = 0;
    if (std::sscanf(where.c_str(), "%x:%x:%ju", &major_no, &minor_no, &ino) != 3) continue;
    if (makedev(major_no, minor_no) != device || ino != inode || pid == self || pid <= 0) continue;
    try {
      const long long from = std::stoll(first);
      const long long to = last == "EOF" ? kSharedLast : std::stoll(last);
      if (from <= kSharedLast && to >= kSharedFirst) return static_cast<pid_t>(pid);
    } catch (const std::exception&) {
      continue;  // a line of another shape: not a lock on our range
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<pid_t> sqlite_exclusive_holder(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  std::optional<pid_t> holder;
  for (int attempt = 0; attempt < 50; ++attempt) {
    holder = write_lock_holder(st.st_dev, st.st_ino);
    if (!holder) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return holder;
}

sdk::Error held_exclusively(const std::string& path, pid_t holder) {
  return sdk::make_error(sdk::ErrorKind::unavailable, std::string(kHeldExclusively),
                         "the SQLite database " + path + " is held exclusively by process " + std::to_string(holder) +
                             " (a PiCloud server with [database] sqlite_locking = \"exclusive\" lets no other "
                             "process open it while it runs): stop that server first, or run it with "
                             "sqlite_locking = \"shared\"");
}

sdk::Result<void> check_not_held_exclusively(const std::string& path) {
  if (auto holder = sqlite_exclusive_holder(path)) return held_exclusively(path, *holder);
  return {};
}

}  // namespace picloud::kernel::db
