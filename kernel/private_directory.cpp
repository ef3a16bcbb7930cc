#include "kernel/private_directory.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kernel/log.hpp"

namespace picloud::kernel {
namespace fs = std::filesystem;

sdk::Result<void> make_private_directory(const fs::path& dir, bool tighten) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    // Each missing level is made 0700, not just the last one.
    fs::path made;
    for (const auto& part : dir) {
      made /= part;
      if (fs::exists(made, ec)) continue;
      if (::mkdir(made.c_str(), 0700) != 0 && errno != EEXIST)
        return sdk::make_error(sdk::ErrorKind::unavailable,
                               "cannot create the data directory " + made.string() + ": " + std::strerror(errno));
    }
  } else if (tighten) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 077) != 0 && st.st_uid == ::geteuid()) {
      if (::chmod(dir.c_str(), 0700) == 0)
        write_log(LogLevel::warn, "kernel", "data directory was readable by others; now owner-only (0700)",
                  {{"path", dir.string()}});
    }
  }
  if (::access(dir.c_str(), W_OK) != 0)
    return sdk::make_error(sdk::ErrorKind::unavailable,
                           "the data directory " + dir.string() +
                               " is not writable: PiCloud needs to write the database, its WAL and lock files there");
  return {};
}

}  // namespace picloud::kernel
