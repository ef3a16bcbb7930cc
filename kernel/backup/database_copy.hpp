// The database in a backup, copied online:
//   SQLite      SQLite's backup API from a read-only connection that holds
//               one read transaction throughout (WAL lets it read one
//               consistent snapshot while the server writes), into a
//               single self-contained file (rollback journal, checked with
//               quick_check). It takes neither the serve lock nor any
//               write lock, and runs no migration. A server holding the
//               database exclusively makes that copy itself, on request
//               (snapshot_service.hpp).
//   PostgreSQL  pg_dump (custom format) of a snapshot this process exports
//               from a REPEATABLE READ transaction, in which it also reads
//               the schema versions and key ids: the manifest describes
//               exactly the dump.
// And back: a restore only ever fills an empty database.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernel/db/database.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::kernel::backup {

// What the snapshot holds, for the manifest.
struct DatabaseState {
  std::map<std::string, std::int64_t> schema;  // component -> highest applied version
  std::string active_key_id;
  std::vector<std::string> sealed_key_ids;
};

// The SQLite snapshot in two steps: the consistent copy of the pages
// (`held_here`: in the process that holds the database exclusively,
// snapshot_service.hpp), then the copy made a self-contained file, checked,
// and read for the manifest.
// `go_on`, when given, is asked between steps; the copy stops once it says no.
sdk::Result<void> copy_sqlite(const std::string& db_path, const std::string& dest_file, bool held_here,
                              const std::function<bool()>& go_on = {});
sdk::Result<DatabaseState> finish_sqlite_copy(const std::string& dest_file);
// Both, by this process, or by the running server that holds the database
// exclusively (snapshot_service.hpp).
sdk::Result<DatabaseState> snapshot_sqlite(const std::string& db_path, const std::string& dest_file);
// Whether the SQLite file holds no table (or does not exist).
sdk::Result<bool> sqlite_is_empty(const std::string& db_path);
// Copies the backup's file into `db_path` (which must be empty) and puts
// it in WAL mode, as PiCloud runs it.
sdk::Result<void> restore_sqlite(const std::string& backup_file, const std::string& db_path);

// `pg_dump`, or `pg_restore`: the newest under /usr/lib/postgresql/*/bin
// (Debian's postgresql-client), else the one on the PATH.
std::string postgres_tool(const std::string& name);
sdk::Result<DatabaseState> dump_postgres(db::Database& db, const std::string& dest_file);
// Whether the database holds no table outside PostgreSQL's own schemas.
sdk::Result<bool> postgres_is_empty(sdk::Transaction& tx);
sdk::Result<bool> postgres_is_empty(sdk::Database& db);
// pg_restore of the dump into the (empty) database, in one transaction,
// while `db` holds the migrations' lock so no node starting meanwhile
// creates tables of its own; fails (conflict) if the database is not empty.
sdk::Result<void> restore_postgres(db::Database& db, const std::string& dump_file);

}  // namespace picloud::kernel::backup
