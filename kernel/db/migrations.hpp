// The migration runner.
//
// Files live in <dir>/<dialect>/NNNN_name.sql and are applied in version
// order, each in its own transaction together with its row in
// schema_migrations(component, version, name, checksum, applied_at). An
// applied file whose checksum changed refuses start-up; a failing file rolls
// back and names itself and the database's error. On PostgreSQL a transaction
// advisory lock keeps two nodes starting at once from applying a file twice.
#pragma once

#include <string>
#include <vector>

#include "kernel/db/database.hpp"
#include "picloud/sdk/log.hpp"

namespace picloud::kernel::db {

struct MigrationFile {
  int version = 0;
  std::string name;  // without the number and extension
  std::string path;
  std::string sql;
  std::string checksum;  // sha256 of the file, hex
};

struct MigrationStatus {
  std::string component;
  int version = 0;
  std::string name;
  bool applied = false;
  std::string applied_at;
};

class MigrationRunner {
 public:
  explicit MigrationRunner(Database& db) : db_(db) {}

  // Reads <dir>/<dialect>/*.sql for the database's dialect. A missing
  // directory means no migrations; a badly named file is an error.
  sdk::Result<std::vector<MigrationFile>> discover(const std::string& dir) const { return discover(dir, db_.dialect()); }
  // The same without a database (a restore checks a backup before it opens one).
  static sdk::Result<std::vector<MigrationFile>> discover(const std::string& dir, sdk::Dialect dialect);

  // Checks applied files' checksums, then applies the pending ones in order.
  // Returns how many were applied.
  sdk::Result<int> apply(const std::string& component, const std::vector<MigrationFile>& files,
                         sdk::Logger& log);

  // Every known file and every applied row for `component`.
  sdk::Result<std::vector<MigrationStatus>> status(const std::string& component,
                                                   const std::vector<MigrationFile>& files);

 private:
  sdk::Result<void> ensure_table();
  Database& db_;
};

}  // namespace picloud::kernel::db
