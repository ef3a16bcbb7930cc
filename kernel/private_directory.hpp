// Directories PiCloud makes for its data: owner-only.
#pragma once

#include <filesystem>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel {

// What PiCloud writes to disk is the operator's alone: password hashes, the
// apps' data and, later, keys. A directory it makes is 0700 and a database
// file 0600 (SQLite gives the WAL and shared-memory files the database
// file's mode). The data directory and database file of an older start,
// readable by others, are tightened and the change logged.
sdk::Result<void> make_private_directory(const std::filesystem::path& dir, bool tighten);

}  // namespace picloud::kernel
