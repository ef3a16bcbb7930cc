// Request bodies on disk, for routes that spool them: each an unlinked,
// owner-only file in one directory, written as the body arrives. The disk
// is shared (the SQLite database and the key file live there too), so the
// spool keeps a reserve of free space untouched and, optionally, a budget
// for all bodies at once; past either, a body is refused (ENOSPC, which the
// server answers 507) rather than filling the disk.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace picloud::kernel::http {

struct SpoolOptions {
  std::string dir;                         // empty: the system's temporary directory
  std::int64_t max_bytes = 0;              // all bodies at once; 0: no budget
  std::int64_t reserve_bytes = 512 << 20;  // free space left alone
};

class Spool {
 public:
  explicit Spool(SpoolOptions options) : options_(std::move(options)) {}

  // A new file for a body of `expected` bytes (0: not known yet), or -1
  // with last_error() set (ENOSPC when the body cannot fit).
  int open(std::int64_t expected);
  // Appends `data` to a body that has `written` bytes so far, charging the
  // budget; false with last_error() set.
  bool write(int fd, std::string_view data, std::int64_t written);
  // A body's bytes leave the budget (its file is closed).
  void release(std::int64_t bytes) { used_.fetch_sub(bytes); }
  // errno of this thread's last failure.
  static int last_error();
  std::int64_t used() const { return used_.load(); }

 private:
  // Whether `bytes` more fit under the budget (charged when they do) and
  // leave the reserve free.
  bool charge(std::int64_t bytes, bool check_disk);

  SpoolOptions options_;
  std::atomic<std::int64_t> used_{0};
};

}  // namespace picloud::kernel::http
