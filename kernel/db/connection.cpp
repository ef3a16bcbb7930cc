#include "kernel/db/connection.hpp"

namespace picloud::kernel::db {

sdk::Result<std::unique_ptr<Connection>> open_sqlite_connection(const DatabaseUrl&, const ConnectionOptions&);
sdk::Result<std::unique_ptr<Connection>> open_postgres_connection(const DatabaseUrl&, const ConnectionOptions&);

sdk::Result<std::unique_ptr<Connection>> open_connection(const DatabaseUrl& url, const ConnectionOptions& options) {
  return url.dialect == sdk::Dialect::sqlite ? open_sqlite_connection(url, options)
                                             : open_postgres_connection(url, options);
}

}  // namespace picloud::kernel::db
