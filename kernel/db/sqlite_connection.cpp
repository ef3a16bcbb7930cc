// SQLite connections, opened and run through SQLite's own API.
#include <sqlite3.h>

#include <list>
#include <unordered_map>

#include "kernel/db/connection.hpp"
#include "kernel/db/group_commit.hpp"
#include "kernel/db/sql.hpp"
#include "kernel/db/sqlite_functions.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/regex.hpp"

namespace picloud::kernel::db {
namespace {

using sdk::ErrorKind;

sdk::ErrorKind kind_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) ? ErrorKind::conflict
                                                                                  : ErrorKind::invalid_argument;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN: return ErrorKind::unavailable;
    default: return ErrorKind::internal;
  }
}

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(sqlite3* db, std::unique_ptr<RegexClock> regex_clock)
      : db_(db), regex_clock_(std::move(regex_clock)) {}

  ~SqliteConnection() override {
    for (auto& [_, entry] : cache_) sqlite3_finalize(entry.stmt);
    sqlite3_close(db_);
  }

  sdk::Result<sdk::Rows> query(std::string_view sql, const sdk::Params& params) override {
    sdk::Rows out;
    auto r = run(sql, params, &out);
    if (!r) return r.error();
    return out;
  }

  sdk::Result<std::int64_t> execute(std::string_view sql, const sdk::Params& params) override {
    auto r = run(sql, params, nullptr);
    if (!r) return r.error();
    return static_cast<std::int64_t>(sqlite3_changes(db_));
  }

  sdk::Result<void> execute_script(std::string_view sql) override {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return {};
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return sdk::make_error(kind_of(rc), text);
  }

  bool healthy() const override { return healthy_; }
  void mark_broken() override { healthy_ = false; }
  bool last_statement_wrote() const override { return last_wrote_; }
  std::string wal_path() override {
    auto mode = query("PRAGMA journal_mode", {});
    if (!mode || mode->empty() || mode->rows[0][0].string_or("") != "wal") return {};
    const char* wal = sqlite3_filename_wal(sqlite3_db_filename(db_, "main"));
    return wal ? wal : "";
  }
  void refuse_writes_while(const std::atomic<bool>* flag) { refuse_writes_ = flag; }

 private:
  struct CacheEntry {
    sqlite3_stmt* stmt;
    std::list<std::string>::iterator lru;
  };
  static constexpr std::size_t kCacheSize = 64;

  sdk::Error fail(int rc, std::string_view sql) {
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) healthy_ = false;
    std::string detail = sqlite3_errmsg(db_);
    // Our regular expression function ran out of time: the caller's to tell
    // apart (PostgreSQL's statement_timeout shows as its code, 57014).
    if (detail == sdk::regex::kTimeLimitError)
      return sdk::make_error(sdk::ErrorKind::invalid_argument, sdk::regex::kTimeLimitCode, detail);
    // "UNIQUE constraint failed: app_hostnames.hostname" or "...: index 'x'".
    std::string constraint;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
      if (auto colon = detail.find(": "); colon != std::string::npos) constraint = detail.substr(colon + 2);
    return statement_error(kind_of(rc), "SQLite " + std::string(sqlite3_errstr(rc)), constraint, detail, sql);
  }

  // A prepared statement for `sql`, from the cache or newly prepared.
  sdk::Result<sqlite3_stmt*> prepare(std::string_view sql) {
    std::string key(sql);
    if (auto it = cache_.find(key); it != cache_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.stmt;
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, key.data(), static_cast<int>(key.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return fail(rc, sql);
    if (!stmt) return sdk::make_error(ErrorKind::invalid_argument, "empty SQL statement");
    if (cache_.size() >= kCacheSize) {
      auto victim = cache_.find(lru_.back());
      sqlite3_finalize(victim->second.stmt);
      cache_.erase(victim);
      lru_.pop_back();
    }
    lru_.push_front(key);
    cache_.emplace(std::move(key), CacheEntry{stmt, lru_.begin()});
    return stmt;
  }

  int bind(sqlite3_stmt* stmt, int index, const sdk::Value& v) {
    switch (v.type()) {
      case sdk::ValueType::null: return sqlite3_bind_null(stmt, index);
      case sdk::ValueType::boolean: return sqlite3_bind_int64(stmt, index, v.as_bool() ? 1 : 0);
      case sdk::ValueType::integer: return sqlite3_bind_int64(stmt, index, v.as_int());
      case sdk::ValueType::number: return sqlite3_bind_double(stmt, index, v.as_float());
      case sdk::ValueType::string:
        return sqlite3_bind_text64(stmt, index, v.as_string().data(), v.as_string().size(), SQLITE_TRANSIENT,
                                   SQLITE_UTF8);
      case sdk::ValueType::bytes:
        return sqlite3_bind_blob64(stmt, index, v.as_bytes().data(), v.as_bytes().size(), SQLITE_TRANSIENT);
      case sdk::ValueType::array:
      case sdk::ValueType::object: {
        std::string text = sdk::to_json(v);
        return sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      }
    }
    return SQLITE_MISUSE;
  }

  static sdk::Value column_value(sqlite3_stmt* stmt, int i) {
    switch (sqlite3_column_type(stmt, i)) {
      case SQLITE_INTEGER: return sdk::Value(static_cast<std::int64_t>(sqlite3_column_int64(stmt, i)));
      case SQLITE_FLOAT: return sdk::Value(sqlite3_column_double(stmt, i));
      case SQLITE_TEXT:
        return sdk::Value(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)),
                                      static_cast<std::size_t>(sqlite3_column_bytes(stmt, i))));
      case SQLITE_BLOB: {
        auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, i));
        return sdk::Value(sdk::Bytes(p, p + sqlite3_column_bytes(stmt, i)));
      }
      default: return sdk::Value();
    }
  }

  sdk::Result<void> run(std::string_view sql, const sdk::Params& params, sdk::Rows* out) {
    if (auto counted = check_parameter_count(count_placeholders(sql), params.size()); !counted) return counted;
    if (auto text_ok = check_storable_text(params); !text_ok) return text_ok;
    auto prepared = prepare(sql);
    if (!prepared) return prepared.error();
    sqlite3_stmt* stmt = *prepared;
    // Asked of the statement, not guessed from its first word: a WITH may
    // end in an INSERT.
    last_wrote_ = sqlite3_stmt_readonly(stmt) == 0;
    if (last_wrote_ && refuse_writes_ && refuse_writes_->load(std::memory_order_acquire)) return writes_refused();
    struct Reset {  // leave the cached statement reusable whatever happens
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{stmt};
    for (std::size_t i = 0; i < params.size(); ++i) {
      int rc = bind(stmt, static_cast<int>(i + 1), params[i]);
      if (rc != SQLITE_OK) return fail(rc, sql);
    }
    int columns = -1;
    regex_clock_->restart();  // a statement of its own: its own time for regular expressions
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE && rc != SQLITE_ROW) return fail(sqlite3_extended_errcode(db_), sql);
      if (out && columns < 0) {
        // Read after the first step: a schema change re-prepares the
        // statement there, and `SELECT *` may then have other columns.
        columns = sqlite3_column_count(stmt);
        for (int i = 0; i < columns; ++i) out->columns.emplace_back(sqlite3_column_name(stmt, i));
      }
      if (rc == SQLITE_DONE) return {};
      if (!out) continue;
      auto& row = out->rows.emplace_back();
      row.reserve(static_cast<std::size_t>(columns));
      for (int i = 0; i < columns; ++i) row.push_back(column_value(stmt, i));
    }
  }

  sqlite3* db_;
  std::unique_ptr<RegexClock> regex_clock_;  // picloud_regexp's, for this connection
  bool healthy_ = true;
  bool last_wrote_ = false;
  const std::atomic<bool>* refuse_writes_ = nullptr;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::list<std::string> lru_;
};

}  // namespace

sdk::Result<std::unique_ptr<Connection>> open_sqlite_connection(const DatabaseUrl& url,
                                                                const ConnectionOptions& options) {
  static const bool registered = [] {
    // Debian's SQLite counts every allocation under one process-wide mutex
    // (SQLITE_DEFAULT_MEMSTATUS), which made concurrent connections take
    // turns on each malloc; nothing reads those counts. Only possible
    // before SQLite initialises (the first connection does that).
    // SQLITE_MISUSE: initialised already (by another user in this process);
    // everything still works, only that mutex stays.
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)registered;
  // Opened with SQLite's own call rather than Poco::Data's SQLite connector:
  // every statement already runs on the native handle, and not mapping
  // libPocoData and libPocoDataSQLite keeps 1.6 MiB out of an idle server.
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(url.sqlite_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                           options.exclusive_locking ? "unix-excl" : nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);  // a handle comes back even on failure (or null, which is fine)
    return sdk::make_error(ErrorKind::unavailable, "cannot open SQLite database " + url.sqlite_path + ": " + why);
  }
  sqlite3_extended_result_codes(db, 1);
  auto regex_clock = std::make_unique<RegexClock>();
  if (rc = register_sqlite_functions(db, regex_clock.get()); rc != SQLITE_OK) {
    std::string why = sqlite3_errmsg(db);
    sqlite3_close(db);
    return sdk::make_error(ErrorKind::internal, "cannot add PiCloud's SQL functions to " + url.sqlite_path + ": " + why);
  }
  auto conn = std::make_unique<SqliteConnection>(db, std::move(regex_clock));
  conn->refuse_writes_while(options.refuse_writes);
  // synchronous=FULL: each commit flushes the WAL before it returns, so a
  // commit that acknowledges work survives a power loss. NORMAL with group
  // commit: the Database flushes the WAL once for many commits before any of
  // them is acknowledged (group_commit.hpp); SQLite still flushes the WAL
  // header and around checkpoints, so a power loss never corrupts.
  std::string pragmas = "PRAGMA busy_timeout = " + std::to_string(options.busy_timeout_ms) +
                        "; PRAGMA foreign_keys = ON; PRAGMA synchronous = " +
                        (options.flush_each_commit ? "FULL" : "NORMAL") + ";";
  if (options.wal_autocheckpoint_pages >= 0)
    pragmas += " PRAGMA wal_autocheckpoint = " + std::to_string(options.wal_autocheckpoint_pages) + ";";
  auto r = conn->execute_script(pragmas);
  if (!r) return r.error();
  auto mode = conn->query("PRAGMA journal_mode = WAL", {});
  if (!mode) return mode.error();
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace picloud::kernel::db
