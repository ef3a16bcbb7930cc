#include "kernel/db/migrations.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace picloud::kernel::db {
namespace fs = std::filesystem;
using sdk::ErrorKind;

namespace {

std::string now_iso() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string sha256_hex(const std::string& data) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(data);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

}  // namespace

sdk::Result<std::vector<MigrationFile>> MigrationRunner::discover(const std::string& dir, sdk::Dialect dialect) {
  std::vector<MigrationFile> files;
  fs::path folder = fs::path(dir) / std::string(sdk::to_string(dialect));
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return files;
  static const std::regex pattern(R"(^(\d{4,})_([a-z0-9_]+)\.sql$)");
  std::map<int, std::string> seen;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string filename = entry.path().filename().string();
    if (entry.path().extension() != ".sql") continue;
    std::smatch m;
    if (!std::regex_match(filename, m, pattern))
      return sdk::make_error(ErrorKind::invalid_argument, "migration file " + entry.path().string() +
                                                              " is not named NNNN_name.sql (digits, underscore, "
                                                              "lower-case name)");
    MigrationFile f;
    f.version = std::stoi(m[1].str());
    f.name = m[2].str();
    f.path = entry.path().string();
    if (auto [it, inserted] = seen.emplace(f.version, f.path); !inserted)
      return sdk::make_error(ErrorKind::invalid_argument,
                             "migrations " + it->second + " and " + f.path + " have the same version");
    std::ifstream in(f.path, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    if (!in) return sdk::make_error(ErrorKind::unavailable, "cannot read migration file " + f.path);
    f.sql = buf.str();
    f.checksum = sha256_hex(f.sql);
    files.push_back(std::move(f));
  }
  if (ec) return sdk::make_error(ErrorKind::unavailable, "cannot list " + folder.string() + ": " + ec.message());
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  return files;
}

sdk::Result<void> MigrationRunner::ensure_table() {
  auto r = db_.execute(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
      " checksum TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))");
  if (!r) return r.error();
  return {};
}

sdk::Result<int> MigrationRunner::apply(const std::string& component, const std::vector<MigrationFile>& files,
                                        sdk::Logger& log) {
  if (auto r = ensure_table(); !r) return r.error();
  auto applied = db_.query("SELECT version, checksum FROM schema_migrations WHERE component = ?", {component});
  if (!applied) return applied.error();
  std::map<std::int64_t, std::string> done;
  for (const auto& row : applied->rows) done[row[0].as_int()] = row[1].as_string();
  // A newer PiCloud migrated this database: its schema may mean what this
  // node does not know (a rolling upgrade goes forward only; docs/cluster.md).
  std::int64_t known = 0;
  for (const auto& f : files) known = std::max<std::int64_t>(known, f.version);
  if (!done.empty() && done.rbegin()->first > known)
    return sdk::make_error(ErrorKind::conflict,
                           "the database's " + component + " schema is at version " +
                               std::to_string(done.rbegin()->first) + ", newer than this PiCloud knows (" +
                               std::to_string(known) + "): a newer version migrated it; run that version or a later one");
  for (const auto& f : files) {
    auto it = done.find(f.version);
    if (it != done.end() && it->second != f.checksum)
      return sdk::make_error(ErrorKind::conflict,
                             "migration " + f.path + " was changed after it was applied (checksum " +
                                 it->second.substr(0, 12) + "... recorded, " + f.checksum.substr(0, 12) +
                                 "... on disk); restore the file and add a new migration instead");
  }
  int count = 0;
  for (const auto& f : files) {
    if (done.count(f.version)) continue;
    bool ran = false;
    auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      if (db_.dialect() == sdk::Dialect::postgres) {
        // Serialises nodes migrating at once; released at commit.
        auto lock = tx.query("SELECT pg_advisory_xact_lock(hashtext('picloud.migrations'))");
        if (!lock) return lock.error();
        auto again = tx.query("SELECT 1 FROM schema_migrations WHERE component = ? AND version = ?",
                              {component, f.version});
        if (!again) return again.error();
        if (!again->empty()) return {};  // another node applied it meanwhile
      }
      if (auto s = Database::execute_script(tx, f.sql); !s) return s.error();
      auto ins = tx.execute(
          "INSERT INTO schema_migrations (component, version, name, checksum, applied_at) VALUES (?, ?, ?, ?, ?)",
          {component, f.version, f.name, f.checksum, now_iso()});
      if (!ins) return ins.error();
      ran = true;
      return {};
    });
    if (!r)
      return sdk::make_error(r.error().kind, "migration " + f.path + " failed and was rolled back: " +
                                                 r.error().message);
    if (ran) {
      ++count;
      log.info("migration applied", {{"component", component}, {"version", std::to_string(f.version)},
                                     {"file", f.path}});
    }
  }
  return count;
}

sdk::Result<std::vector<MigrationStatus>> MigrationRunner::status(const std::string& component,
                                                                  const std::vector<MigrationFile>& files) {
  if (auto r = ensure_table(); !r) return r.error();
  auto applied =
      db_.query("SELECT version, name, applied_at FROM schema_migrations WHERE component = ? ORDER BY version",
                {component});
  if (!applied) return applied.error();
  std::map<int, MigrationStatus> out;
  for (const auto& f : files) out[f.version] = MigrationStatus{component, f.version, f.name, false, ""};
  for (const auto& row : applied->rows) {
    int v = static_cast<int>(row[0].as_int());
    out[v] = MigrationStatus{component, v, row[1].as_string(), true, row[2].as_string()};
  }
  std::vector<MigrationStatus> list;
  for (auto& [_, s] : out) list.push_back(std::move(s));
  return list;
}

}  // namespace picloud::kernel::db
