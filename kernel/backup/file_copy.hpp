// Files copied and checked for backups: every byte a backup writes or a
// restore reads is hashed (SHA-256) on the way, so the manifest's checksums
// describe exactly what was written, and a restore refuses a backup that
// changed since.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::backup {

// Progress of a long copy on standard output: a line at most once a second
// (and one at the end), so a cron mail stays short and a terminal shows life.
class Progress {
 public:
  Progress(std::string what, std::int64_t total_bytes);
  void add(std::int64_t bytes);
  void done();

 private:
  void print();
  std::string what_;
  std::int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point last_;
};

struct CopiedFile {
  std::int64_t size = 0;
  std::string sha256;  // hex
};

// Copies `from` to the new file `to` (mode 0600, never replacing one),
// flushed to disk. not_found when `from` does not exist (it went meanwhile).
sdk::Result<CopiedFile> copy_file(const std::string& from, const std::string& to, Progress& progress);
// The SHA-256 (hex) and size of a file.
sdk::Result<CopiedFile> hash_file(const std::string& path, Progress& progress);
// Makes the entries of a directory durable (after creating or renaming files in it).
sdk::Result<void> fsync_directory(const std::string& path);
// Writes a new file (mode 0600) with `content` atomically: a temporary file,
// flushed, renamed into place.
sdk::Result<void> write_file_atomically(const std::string& path, const std::string& content);

std::string human_bytes(std::int64_t bytes);

}  // namespace picloud::kernel::backup
