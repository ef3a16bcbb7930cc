// Free space a write must leave on the disk that holds the data directory
// (the database's disk too, on SQLite), so that stored files cannot fill it.
#pragma once

#include <sys/statvfs.h>

#include <cstdint>
#include <string>

#include "picloud/sdk/error.hpp"

namespace picloud::files {

// storage_full (unavailable) when writing `more` bytes under `dir` would
// leave less than `reserve` bytes free; nothing when the disk cannot be
// asked (the write then finds out for itself).
inline sdk::Result<void> check_room(const std::string& dir, std::int64_t more, std::int64_t reserve) {
  if (reserve <= 0 && more <= 0) return {};
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return {};
  const auto free_bytes = static_cast<std::int64_t>(fs.f_bavail) * static_cast<std::int64_t>(fs.f_frsize);
  if (free_bytes - more < reserve)
    return sdk::make_error(sdk::ErrorKind::unavailable, "storage_full",
                           "the disk is too full to store the file: " + std::to_string(free_bytes) +
                               " bytes free, and [files] reserve_bytes keeps " + std::to_string(reserve));
  return {};
}

}  // namespace picloud::files
