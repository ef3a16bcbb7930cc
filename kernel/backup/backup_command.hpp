// `picloud backup DEST` and `picloud restore SRC` (docs/backup.md).
//
// A backup is a new directory: the database (a SQLite file or a pg_dump),
// the plugins' data directories (the files plugin's blobs), and
// manifest.json, written last, listing every file with its SHA-256. It is
// taken online and is consistent: the database is one snapshot, and every
// plugin file that snapshot names is in it (plugin_data.hpp). The master
// key is not in it.
//
// A restore fills an empty database and a fresh data directory from it:
// it checks every checksum and the schema versions first, refuses while a
// server serves the SQLite file, migrates a backup older than this
// PiCloud, and says whether the master key in use opens the restored
// sealed values.
#pragma once

#include <string>
#include <vector>

#include "kernel/config.hpp"
#include "kernel/settings.hpp"

namespace picloud::kernel::backup {

// Exit statuses: 0 done; 1 refused or failed (a backup leaves no directory
// behind; a restore names what it left); 2 bad usage;
// restore only: 3 restored, but the master key in use cannot open every
// sealed value (the message says which key is needed).
int run_backup(Config& config, Settings settings, const std::vector<std::string>& args);
int run_restore(Config& config, Settings settings, const std::vector<std::string>& args);

}  // namespace picloud::kernel::backup
