#include "kernel/backup/database_copy.hpp"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#include "kernel/backup/file_copy.hpp"
#include "kernel/backup/snapshot_service.hpp"
#include "kernel/db/sqlite_holder.hpp"

extern char** environ;

namespace picloud::kernel::backup {
namespace fs = std::filesystem;
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using Rows = std::vector<std::vector<std::string>>;
using Query = std::function<sdk::Result<Rows>(const std::string& sql)>;

constexpr int kPagesPerStep = 1024;

// The manifest's facts, read with the same statements on both databases.
sdk::Result<DatabaseState> read_state(const Query& query) {
  DatabaseState state;
  auto schema = query("SELECT component, max(version) FROM schema_migrations GROUP BY component");
  if (!schema)
    return make_error(ErrorKind::invalid_argument,
                      "the database has no PiCloud schema (" + schema.error().message + "): start PiCloud on it first");
  for (const auto& row : *schema) state.schema[row[0]] = std::stoll(row[1]);
  if (state.schema.count("kernel") && state.schema["kernel"] >= 7) {  // 0007 made the keyring's tables
    auto active = query("SELECT value FROM keyring_state WHERE name = 'active_key_id'");
    if (!active) return active.error();
    if (!active->empty()) state.active_key_id = (*active)[0][0];
    auto sealed = query("SELECT DISTINCT key_id FROM sealed_values ORDER BY key_id");
    if (!sealed) return sealed.error();
    for (const auto& row : *sealed) state.sealed_key_ids.push_back(row[0]);
  }
  return state;
}

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;

// `vfs`: null for SQLite's default; "unix-excl" inside a process that holds
// the database exclusively (snapshot_service.hpp).
sdk::Result<SqliteHandle> open_sqlite(const std::string& path, int flags, const char* vfs = nullptr) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, vfs);
  SqliteHandle db(raw);
  if (rc != SQLITE_OK)
    return make_error(ErrorKind::unavailable,
                      "cannot open SQLite database " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(raw, 10000);
  return db;
}

sdk::Result<Rows> sqlite_rows(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
    return make_error(ErrorKind::internal, sqlite3_errmsg(db));
  Rows rows;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      auto text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      row.emplace_back(text ? text : "");
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return make_error(ErrorKind::unavailable, sqlite3_errmsg(db));
  return rows;
}

sdk::Result<void> sqlite_exec(sqlite3* db, const std::string& sql) {
  if (auto r = sqlite_rows(db, sql); !r) return make_error(r.error().kind, sql + ": " + r.error().message);
  return {};
}

// Copies `from` into `to` page by page, printing progress (none when `what`
// is empty). Busy or locked steps are tried again (SQLite's advice for the
// backup API). Stops with an error once `go_on` (when given) says no.
sdk::Result<void> copy_pages(sqlite3* from, sqlite3* to, const std::string& what,
                             const std::function<bool()>& go_on = {}) {
  sqlite3_backup* backup = sqlite3_backup_init(to, "main", from, "main");
  if (!backup) return make_error(ErrorKind::unavailable, std::string("cannot start the copy: ") + sqlite3_errmsg(to));
  auto page_size = sqlite_rows(from, "PRAGMA page_size");
  const std::int64_t page = page_size && !page_size->empty() ? std::stoll((*page_size)[0][0]) : 4096;
  std::unique_ptr<Progress> progress;
  std::int64_t copied = 0;
  int rc;
  for (;;) {
    rc = sqlite3_backup_step(backup, kPagesPerStep);
    if (!progress && !what.empty()) progress = std::make_unique<Progress>(what, sqlite3_backup_pagecount(backup) * page);
    const std::int64_t now = std::int64_t{sqlite3_backup_pagecount(backup) - sqlite3_backup_remaining(backup)} * page;
    if (progress) progress->add(now - copied);
    copied = now;
    if (rc == SQLITE_DONE) break;
    if (go_on && !go_on()) {
      sqlite3_backup_finish(backup);
      return make_error(ErrorKind::unavailable, "the copy was stopped");
    }
    if (rc == SQLITE_OK) continue;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    break;
  }
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return make_error(ErrorKind::unavailable, std::string("copying the database failed: ") + sqlite3_errstr(rc));
  if (progress) progress->done();
  return {};
}

// A child process, its output on ours; its exit status.
sdk::Result<void> run_tool(const std::vector<std::string>& args, const std::string& password) {
  pid_t pid = ::fork();
  if (pid < 0) return make_error(ErrorKind::unavailable, std::string("cannot start ") + args[0] + ": " + std::strerror(errno));
  if (pid == 0) {
    // The password goes in the environment, never on the command line
    // (where `ps` shows it).
    if (!password.empty()) ::setenv("PGPASSWORD", password.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "picloud: cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  const std::string tool = fs::path(args[0]).filename().string();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return make_error(ErrorKind::unavailable, tool + " could not be run: install Debian's postgresql-client");
  return make_error(ErrorKind::unavailable, tool + " failed (its messages are above)");
}

// The kernel's libpq keyword=value string without its password, and the
// password: the tools get the one as an argument, the other in PGPASSWORD.
std::string without_password(const std::string& conninfo, std::string& password) {
  std::string out;
  std::size_t i = 0;
  while (i < conninfo.size()) {
    while (i < conninfo.size() && conninfo[i] == ' ') ++i;
    std::size_t start = i;
    while (i < conninfo.size() && conninfo[i] != '=') ++i;
    const std::string key = conninfo.substr(start, i - start);
    ++i;  // '='
    std::string value;
    if (i < conninfo.size() && conninfo[i] == '\'') {
      for (++i; i < conninfo.size() && conninfo[i] != '\''; ++i) {
        if (conninfo[i] == '\\' && i + 1 < conninfo.size()) ++i;
        value += conninfo[i];
      }
      ++i;  // closing quote
    } else {
      while (i < conninfo.size() && conninfo[i] != ' ') value += conninfo[i++];
    }
    if (key.empty()) continue;
    if (key == "password") {
      password = value;
      continue;
    }
    std::string quoted = "'";
    for (char c : value) {
      if (c == '\'' || c == '\\') quoted += '\\';
      quoted += c;
    }
    out += (out.empty() ? "" : " ") + key + "=" + quoted + "'";
  }
  return out;
}

std::string conninfo_of(db::Database& db, std::string& password) {
  return without_password(db.url().postgres_connection, password);
}

Query transaction_query(sdk::Transaction& tx) {
  return [&tx](const std::string& sql) -> sdk::Result<Rows> {
    auto rows = tx.query(sql);
    if (!rows) return rows.error();
    Rows out;
    for (const auto& row : rows->rows) {
      std::vector<std::string> texts;
      for (const auto& v : row) texts.push_back(v.is_int() ? std::to_string(v.as_int()) : v.string_or(""));
      out.push_back(std::move(texts));
    }
    return out;
  };
}

}  // namespace

sdk::Result<void> copy_sqlite(const std::string& db_path, const std::string& dest_file, bool held_here,
                              const std::function<bool()>& go_on) {
  std::error_code ec;
  if (!fs::is_regular_file(db_path, ec)) return make_error(ErrorKind::not_found, "there is no database at " + db_path);
  // Held by this process through "unix-excl", the copy must go through the
  // same layer, and read-write: a read-only handle would take a POSIX read
  // lock of its own, which replaces this process's write lock, and its
  // unlock would then drop it.
  auto source = held_here ? open_sqlite(db_path, SQLITE_OPEN_READWRITE, "unix-excl")
                          : open_sqlite(db_path, SQLITE_OPEN_READONLY);
  if (!source) return source.error();
  // SQLite falls back to read-only by itself when it may not write the file.
  if (held_here && sqlite3_db_readonly(source->get(), "main") != 0)
    return make_error(ErrorKind::unavailable, "the database " + db_path + " opened read-only: this process may not write it");
  // One read transaction for the whole copy: every step reads the same
  // snapshot, so the server's commits meanwhile neither restart the copy
  // nor tear it. (The WAL cannot be checkpointed past it until it ends.)
  if (auto r = sqlite_exec(source->get(), "BEGIN"); !r) return r.error();
  if (auto r = sqlite_exec(source->get(), "SELECT count(*) FROM sqlite_master"); !r) return r.error();
  // Never through a symbolic link someone left where the copy goes.
  auto dest = open_sqlite(dest_file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW);
  if (!dest) return dest.error();
  if (auto r = copy_pages(source->get(), dest->get(), held_here ? "" : "database", go_on); !r) return r.error();
  (void)sqlite_exec(source->get(), "COMMIT");
  return {};
}

sdk::Result<DatabaseState> finish_sqlite_copy(const std::string& dest_file) {
  auto dest = open_sqlite(dest_file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW);
  if (!dest) return dest.error();
  // One file, readable alone: the copy keeps the source's WAL mode.
  if (auto r = sqlite_exec(dest->get(), "PRAGMA journal_mode = DELETE"); !r) return r.error();
  auto check = sqlite_rows(dest->get(), "PRAGMA quick_check");
  if (!check) return check.error();
  if (check->empty() || (*check)[0][0] != "ok")
    return make_error(ErrorKind::internal, "the copy of the database fails SQLite's quick_check: " +
                                               (check->empty() ? std::string("no answer") : (*check)[0][0]));
  sqlite3* raw = dest->get();
  return read_state([raw](const std::string& sql) { return sqlite_rows(raw, sql); });
}

sdk::Result<DatabaseState> snapshot_sqlite(const std::string& db_path, const std::string& dest_file) {
  auto openable = db::check_sqlite_openable(db_path, false);
  if (openable) {
    if (auto r = copy_sqlite(db_path, dest_file, false); !r) return r.error();
    return finish_sqlite_copy(dest_file);
  }
  // Held exclusively by a running server: it makes the copy, beside the
  // database, and this process takes it over. The server is the database
  // owner's process (checked on the socket), yet the file is checked too
  // before it is moved or opened: a regular file with one name, not a link
  // to something else this process (maybe root) would then rewrite.
  auto made = request_snapshot(db_path);
  if (!made)
    return make_error(ErrorKind::unavailable, "the server holding the SQLite database " + db_path +
                                                  " exclusively made no copy for the backup: " + made.error().message);
  std::error_code ec;
  struct stat st {};
  if (::lstat(made->c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
    fs::remove(*made, ec);
    return make_error(ErrorKind::internal, "the server's copy " + *made + " is not a plain file of its own");
  }
  fs::rename(*made, dest_file, ec);
  if (ec) {  // another file system: copied, then removed
    Progress progress("database", static_cast<std::int64_t>(st.st_size));
    auto copied = copy_file(*made, dest_file, progress);
    fs::remove(*made, ec);
    if (!copied) return copied.error();
  }
  return finish_sqlite_copy(dest_file);
}

sdk::Result<bool> sqlite_is_empty(const std::string& db_path) {
  std::error_code ec;
  if (!fs::exists(db_path, ec)) return true;
  auto db = open_sqlite(db_path, SQLITE_OPEN_READONLY);
  if (!db) return db.error();
  auto rows = sqlite_rows(db->get(), "SELECT count(*) FROM sqlite_master");
  if (!rows) return make_error(rows.error().kind, db_path + " is not a SQLite database: " + rows.error().message);
  return (*rows)[0][0] == "0";
}

sdk::Result<void> restore_sqlite(const std::string& backup_file, const std::string& db_path) {
  auto source = open_sqlite(backup_file, SQLITE_OPEN_READONLY);
  if (!source) return source.error();
  auto dest = open_sqlite(db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!dest) return dest.error();
  if (auto r = copy_pages(source->get(), dest->get(), "database"); !r) return r.error();
  if (auto r = sqlite_exec(dest->get(), "PRAGMA journal_mode = WAL"); !r) return r.error();
  return {};
}

std::string postgres_tool(const std::string& name) {
  std::string best;
  double best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path tool = entry.path() / "bin" / name;
    double version = std::atof(entry.path().filename().c_str());
    if (version > best_version && ::access(tool.c_str(), X_OK) == 0) {
      best = tool.string();
      best_version = version;
    }
  }
  if (!best.empty()) return best;
  if (const char* path = std::getenv("PATH")) {
    std::string dirs = path;
    for (std::size_t start = 0; start <= dirs.size();) {
      auto end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      const fs::path tool = fs::path(dirs.substr(start, end - start)) / name;
      if (end > start && ::access(tool.c_str(), X_OK) == 0) return tool.string();
      start = end + 1;
    }
  }
  return name;  // run_tool says it is missing
}

sdk::Result<DatabaseState> dump_postgres(db::Database& db, const std::string& dest_file) {
  sdk::Result<DatabaseState> state = make_error(ErrorKind::internal, "no dump");
  auto r = db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    // The snapshot pg_dump reads is this transaction's: what read_state
    // reads here is exactly what the dump holds.
    if (auto set = tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"); !set) return set.error();
    auto snapshot = tx.query("SELECT pg_export_snapshot()");
    if (!snapshot) return snapshot.error();
    state = read_state(transaction_query(tx));
    if (!state) return state.error();
    std::string password;
    const std::string conninfo = conninfo_of(db, password);
    std::printf("database: pg_dump of %s\n", db.url().display.c_str());
    std::fflush(stdout);
    return run_tool({postgres_tool("pg_dump"), "--format=custom", "--no-password",
                     "--snapshot=" + snapshot->rows[0][0].as_string(), "--file=" + dest_file, "--dbname=" + conninfo},
                    password);
  });
  if (!r) return r.error();
  std::error_code ec;
  std::printf("database: %s dumped\n", human_bytes(static_cast<std::int64_t>(fs::file_size(dest_file, ec))).c_str());
  return state;
}

sdk::Result<bool> postgres_is_empty(sdk::Transaction& tx) {
  auto rows = tx.query(
      "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
      "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'");
  if (!rows) return rows.error();
  return rows->rows[0][0].as_int() == 0;
}

sdk::Result<bool> postgres_is_empty(sdk::Database& db) {
  sdk::Result<bool> empty = false;
  auto r = db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    empty = postgres_is_empty(tx);
    return {};
  });
  if (!r) return r.error();
  return empty;
}

sdk::Result<void> restore_postgres(db::Database& db, const std::string& dump_file) {
  return db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    // The lock the migration runner takes: a node starting now waits
    // until the restored tables are there, then finds them migrated.
    if (auto lock = tx.query("SELECT pg_advisory_xact_lock(hashtext('picloud.migrations'))"); !lock) return lock.error();
    auto empty = postgres_is_empty(tx);
    if (!empty) return empty.error();
    if (!*empty)
      return make_error(ErrorKind::conflict, "the database " + db.url().display +
                                                 " is not empty: restore into a new, empty database");
    std::string password;
    const std::string conninfo = conninfo_of(db, password);
    std::printf("database: pg_restore into %s\n", db.url().display.c_str());
    std::fflush(stdout);
    // No owners or grants: the tables belong to the user PiCloud connects as.
    return run_tool({postgres_tool("pg_restore"), "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
                     "--no-password", "--dbname=" + conninfo, dump_file},
                    password);
  });
}

}  // namespace picloud::kernel::backup
