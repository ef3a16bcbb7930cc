#include "kernel/http/spool.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "kernel/private_directory.hpp"

namespace picloud::kernel::http {
namespace {

thread_local int t_last_error = 0;

// The free space is looked at when a body starts and then every this many
// bytes: often enough that the reserve holds, rarely enough to cost nothing.
constexpr std::int64_t kDiskCheckEvery = 16 << 20;

bool fail(int error) {
  t_last_error = error;
  return false;
}

}  // namespace

int Spool::last_error() { return t_last_error; }

bool Spool::charge(std::int64_t bytes, bool check_disk) {
  if (check_disk && options_.reserve_bytes > 0) {
    struct statvfs fs{};
    if (::statvfs(options_.dir.empty() ? "/tmp" : options_.dir.c_str(), &fs) == 0) {
      auto free = static_cast<std::int64_t>(fs.f_bavail) * static_cast<std::int64_t>(fs.f_frsize);
      if (free - bytes < options_.reserve_bytes) return fail(ENOSPC);
    }
  }
  if (options_.max_bytes > 0 && used_.fetch_add(bytes) + bytes > options_.max_bytes) {
    used_.fetch_sub(bytes);
    return fail(ENOSPC);
  }
  if (options_.max_bytes <= 0) used_.fetch_add(bytes);
  return true;
}

int Spool::open(std::int64_t expected) {
  // A declared length that cannot fit is refused before a byte is read.
  if (!charge(expected, true)) return -1;
  used_.fetch_sub(expected);
  std::string dir = options_.dir.empty() ? "/tmp" : options_.dir;
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  // The data directory is made when something first needs it (on
  // PostgreSQL with the master key given, maybe never before this).
  if (fd < 0 && errno == ENOENT && make_private_directory(dir, false))
    fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    std::string path = dir + "/.picloud-body-XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(path.c_str());
  }
  if (fd < 0) t_last_error = errno;
  return fd;
}

bool Spool::write(int fd, std::string_view data, std::int64_t written) {
  auto size = static_cast<std::int64_t>(data.size());
  bool check_disk = written / kDiskCheckEvery != (written + size) / kDiskCheckEvery;
  if (!charge(size, check_disk)) return false;
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The caller counts none of it as the body's: none of it stays charged.
      used_.fetch_sub(size);
      return fail(n < 0 ? errno : ENOSPC);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace picloud::kernel::http
