// database.url: which database, where, and how to connect to it.
//
//   sqlite:./data/picloud.db      a file (relative to the working directory)
//   sqlite:///var/lib/picloud.db  an absolute path
//   postgresql://user:pass@host:5432/dbname?sslmode=require
#pragma once

#include <string>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::kernel::db {

struct DatabaseUrl {
  sdk::Dialect dialect = sdk::Dialect::sqlite;
  std::string sqlite_path;          // sqlite only
  std::string postgres_connection;  // libpq keyword=value string, postgres only
  std::string display;              // the URL with any password masked, for logs
};

// `connect_timeout_s` is added to a PostgreSQL connection unless the URL sets one.
sdk::Result<DatabaseUrl> parse_database_url(const std::string& url, int connect_timeout_s);

}  // namespace picloud::kernel::db
