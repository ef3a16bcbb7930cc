#include "kernel/db/sqlite_holder.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>

namespace picloud::kernel::db {
namespace {

// SQLite's lock bytes (os_unix.c, fixed by its file format): the pending
// byte at 1 GiB, the reserved byte after it, then the shared-lock range.
constexpr long long kPendingByte = 0x40000000;
constexpr long long kSharedFirst = kPendingByte + 2;
constexpr long long kSharedLast = kSharedFirst + 510 - 1;

// This process's pid as /proc numbers it: /proc may belong to another pid
// namespace than the process (unshare without remounting it), and
// /proc/locks speaks /proc's numbers.
long pid_in_proc() {
  char target[32] = {};
  ssize_t n = ::readlink("/proc/self", target, sizeof target - 1);
  if (n > 0) {
    try {
      return std::stol(std::string(target, static_cast<std::size_t>(n)));
    } catch (const std::exception&) {
    }
  }
  return ::getpid();
}

// Whether process `pid` has the file (device, inode) open. /proc/locks
// names the file system's own device, which is not always the one stat()
// reports (btrfs gives each subvolume a device of its own); the process's
// descriptors settle it, read with stat() through /proc, never opened.
// Unreadable descriptors (another user's process): the inode and SQLite's
// lock range matched already, so yes.
bool has_open(long pid, dev_t device, ino_t inode) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* fds = ::opendir(dir.c_str());
  if (!fds) return true;
  bool found = false;
  while (dirent* entry = ::readdir(fds)) {
    struct stat st {};
    if (entry->d_name[0] == '.') continue;
    if (::stat((dir + "/" + entry->d_name).c_str(), &st) == 0 && st.st_dev == device && st.st_ino == inode) {
      found = true;
      break;
    }
  }
  ::closedir(fds);
  return found;
}

// The name a process runs under, for messages ("" when unknown).
std::string program_of(long pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

struct InTheWay {
  long pid;
  bool exclusive;  // holds the file exclusively (else: has it locked)
};

// Read from /proc/locks, never by opening the file: closing any descriptor
// of a file drops every POSIX lock this process holds on it, SQLite's
// included (SQLite keeps its own descriptors open for that reason).
std::optional<InTheWay> in_the_way(dev_t device, ino_t inode, bool any_lock) {
  std::ifstream text("/proc/locks");
  const long self = pid_in_proc();
  for (const auto& lock : parse_proc_locks(text)) {
    // pid 0: /proc/locks lists no lock of a process outside /proc's pid
    // namespace, so there is none to see here.
    if (lock.inode != inode || lock.pid == self || lock.pid <= 0) continue;
    const bool exclusive = is_exclusive_hold(lock);
    const bool ours_to_see = exclusive || (any_lock && lock.last >= kPendingByte && lock.first <= kSharedLast);
    if (!ours_to_see) continue;
    if (makedev(lock.major, lock.minor) != device && !has_open(lock.pid, device, inode)) continue;
    return InTheWay{lock.pid, exclusive};
  }
  return std::nullopt;
}

std::string who(long pid) {
  std::string name = program_of(pid);
  return "process " + std::to_string(pid) + (name.empty() ? "" : " (" + name + ")");
}

}  // namespace

std::vector<ProcLock> parse_proc_locks(std::istream& text) {
  std::vector<ProcLock> out;
  std::string line;
  while (std::getline(text, line)) {
    // "1: POSIX  ADVISORY  WRITE 1234 fe:00:5678 1073741826 1073742335"
    // (a waiter's line has "->" after the number: it holds nothing).
    std::istringstream in(line);
    std::string number, kind, mode, access, where, first, last;
    ProcLock lock;
    if (!(in >> number >> kind) || kind != "POSIX") continue;
    if (!(in >> mode >> access >> lock.pid >> where >> first >> last)) continue;
    if (access != "WRITE" && access != "READ") continue;
    lock.write = access == "WRITE";
    if (std::sscanf(where.c_str(), "%x:%x:%ju", &lock.major, &lock.minor, &lock.inode) != 3) continue;
    try {
      lock.first = std::stoll(first);
      lock.last = last == "EOF" ? std::numeric_limits<long long>::max() : std::stoll(last);
    } catch (const std::exception&) {
      continue;
    }
    out.push_back(lock);
  }
  return out;
}

bool is_exclusive_hold(const ProcLock& lock) {
  return lock.write && lock.first == kSharedFirst && lock.last == kSharedLast;
}

sdk::Result<void> check_sqlite_openable(const std::string& path, bool exclusive) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};  // a new database: nobody has it yet
  std::optional<InTheWay> found;
  for (int attempt = 0; attempt < 50; ++attempt) {
    found = in_the_way(st.st_dev, st.st_ino, exclusive);
    if (!found) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (found->exclusive)
    return sdk::make_error(sdk::ErrorKind::unavailable, std::string(kHeldByAnotherProcess),
                           "the SQLite database " + path + " is held exclusively by " + who(found->pid) +
                               ": a PiCloud process run with [database] sqlite_locking = \"exclusive\" lets no other "
                               "process open it; stop that process first, or run it with sqlite_locking = \"shared\"");
  return sdk::make_error(sdk::ErrorKind::unavailable, std::string(kHeldByAnotherProcess),
                         "the SQLite database " + path + " is in use by " + who(found->pid) +
                             ", and [database] sqlite_locking = \"exclusive\" needs it to itself: close it there "
                             "first, or use sqlite_locking = \"shared\"");
}

}  // namespace picloud::kernel::db
