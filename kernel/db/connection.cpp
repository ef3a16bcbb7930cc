#include "kernel/db/connection.hpp"

#include <atomic>
#include <cstdio>

#include "kernel/log.hpp"

namespace picloud::kernel::db {

sdk::Result<std::unique_ptr<Connection>> open_sqlite_connection(const DatabaseUrl&, const ConnectionOptions&);
sdk::Result<std::unique_ptr<Connection>> open_postgres_connection(const DatabaseUrl&, const ConnectionOptions&);

sdk::Result<std::unique_ptr<Connection>> open_connection(const DatabaseUrl& url, const ConnectionOptions& options) {
  return url.dialect == sdk::Dialect::sqlite ? open_sqlite_connection(url, options)
                                             : open_postgres_connection(url, options);
}

sdk::Error statement_error(sdk::ErrorKind kind, std::string_view code, std::string_view constraint,
                           std::string_view detail, std::string_view sql) {
  static std::atomic<std::uint32_t> counter{0};
  char ref[16];
  std::snprintf(ref, sizeof ref, "db-%06x", ((counter.fetch_add(1, std::memory_order_relaxed) + 1) * 2654435761u) & 0xffffff);
  // A unique violation is an expected answer (a taken name, a lost race):
  // worth a debug line, not a warning.
  write_log(kind == sdk::ErrorKind::conflict ? LogLevel::debug : LogLevel::warn, "db", "statement failed",
            {{"reference", ref}, {"code", std::string(code)}, {"error", std::string(detail)},
             {"sql", std::string(sql.substr(0, 200))}});
  std::string message;
  if (kind == sdk::ErrorKind::conflict && !constraint.empty())
    message = "the value is already taken (unique constraint " + std::string(constraint) + ")";
  else if (kind == sdk::ErrorKind::unavailable)
    message = "the database is unavailable or busy (" + std::string(code) + ", reference " + ref + "); try again";
  else
    message = "the database refused the statement (" + std::string(code) + ", reference " + ref +
              "; the server log has the details)";
  return sdk::make_error(kind, std::move(message));
}

sdk::Result<void> check_storable_text(const sdk::Params& params) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].is_string() && params[i].as_string().find('\0') != std::string::npos)
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "text holds the NUL character (U+0000), which cannot be stored");
  }
  return {};
}

}  // namespace picloud::kernel::db
