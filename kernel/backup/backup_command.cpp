#include "kernel/backup/backup_command.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernel/backup/database_copy.hpp"
#include "kernel/backup/file_copy.hpp"
#include "kernel/backup/manifest.hpp"
#include "kernel/backup/plugin_data.hpp"
#include "kernel/cluster/node_registry.hpp"
#include "kernel/kernel.hpp"
#include "kernel/keyring/keyring.hpp"
#include "kernel/log.hpp"
#include "kernel/private_directory.hpp"
#include "kernel/version.hpp"

namespace picloud::kernel::backup {
namespace fs = std::filesystem;
namespace {

using sdk::ErrorKind;

int fail(const std::string& message, int code = 1) {
  write_log(LogLevel::error, "backup", message);
  return code;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string key_source(const Settings& settings) {
  return settings.keyring.key.empty() ? "the key file " + fs::absolute(settings.keyring.key_file).string()
                                      : "PICLOUD_KEYRING_KEY / [keyring] key";
}

// Flushes everything written to the file system `path` is on: the files,
// and the directories made for them.
void sync_file_system(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

sdk::Result<Manifest> take_backup(const Settings& settings, const std::string& dest) {
  Manifest manifest;
  manifest.picloud_version = PICLOUD_VERSION;
  manifest.created_at = utc_now();
  const bool sqlite = settings.database_url.dialect == sdk::Dialect::sqlite;
  manifest.database_kind = sqlite ? "sqlite" : "postgres";
  manifest.database_file = sqlite ? "database.sqlite" : "database.pgdump";
  const std::string db_file = dest + "/" + manifest.database_file;

  // Held from before the snapshot until the plugin files are copied.
  auto holds = PluginDataHolds::take(settings.data_dir);
  if (!holds) return holds.error();
  sdk::Result<DatabaseState> state = sdk::make_error(ErrorKind::internal, "no snapshot");
  if (sqlite) {
    state = snapshot_sqlite(settings.database_url.sqlite_path, db_file);
  } else {
    db::DatabaseOptions options = settings.database;
    options.pool_size = 1;
    auto db = db::Database::open(settings.database_url, options);
    if (!db) return sdk::make_error(db.error().kind, "database " + settings.database_url.display + ": " + db.error().message);
    state = dump_postgres(**db, db_file);
  }
  if (!state) return state.error();
  manifest.schema = state->schema;
  manifest.active_key_id = state->active_key_id;
  manifest.sealed_key_ids = state->sealed_key_ids;
  Progress quiet("checksum", 0);
  auto db_hash = hash_file(db_file, quiet);
  if (!db_hash) return db_hash.error();
  manifest.files.push_back({manifest.database_file, db_hash->size, db_hash->sha256});
  auto plugin_files = copy_plugin_data(settings.data_dir, dest);
  if (!plugin_files) return plugin_files.error();
  manifest.files.insert(manifest.files.end(), plugin_files->begin(), plugin_files->end());
  return manifest;
}

// Every file of the backup against the manifest, before anything is written.
sdk::Result<void> verify(const std::string& src, const Manifest& manifest) {
  bool has_database = false;
  Progress progress("verifying", manifest.total_bytes());
  for (const auto& f : manifest.files) {
    has_database = has_database || f.path == manifest.database_file;
    auto hashed = hash_file(src + "/" + f.path, progress);
    if (!hashed) return sdk::make_error(ErrorKind::invalid_argument, "the backup is incomplete: " + hashed.error().message);
    if (hashed->size != f.size || hashed->sha256 != f.sha256)
      return sdk::make_error(ErrorKind::invalid_argument,
                             "the backup is damaged: " + f.path + " does not match its checksum in manifest.json (" +
                                 std::to_string(hashed->size) + " bytes, SHA-256 " + hashed->sha256 + "; expected " +
                                 std::to_string(f.size) + " bytes, " + f.sha256 + ")");
  }
  if (!has_database) return sdk::make_error(ErrorKind::invalid_argument, "manifest.json does not list the database file");
  progress.done();
  return {};
}

// Whether the master key in use opens the restored sealed values: every
// key they are sealed under is held, and one value of each opens.
// Returns the warnings (empty: all is well).
std::vector<std::string> check_keyring(const Settings& settings, db::Database& db) {
  auto active = keyring::Keyring::database_active_id(db);
  if (!active) return {"cannot read the restored keyring: " + active.error().message};
  auto keys = keyring::load_keys(settings.keyring, db.dialect(), *active);
  if (!keys) return {keys.error().message};
  std::vector<std::string> warnings;
  if (!active->empty() && !keys->keys.count(*active))
    warnings.push_back("the restored database's active master key is " + *active + "; " + keys->source +
                       " does not hold it");
  auto ring = keyring::Keyring::open(*keys, db);
  if (!ring) return {ring.error().message};
  auto per_key = db.query("SELECT key_id, count(*) FROM sealed_values GROUP BY key_id ORDER BY key_id");
  if (!per_key) return {per_key.error().message};
  for (const auto& row : per_key->rows) {
    const std::string id = row[0].as_string();
    auto one = db.query("SELECT app_id, owner, name, envelope FROM sealed_values WHERE key_id = ? LIMIT 1", {id});
    if (!one || one->empty()) continue;
    const auto& v = one->rows[0];
    const std::string envelope = v[3].is_bytes() ? std::string(v[3].as_bytes().begin(), v[3].as_bytes().end())
                                                 : v[3].string_or("");
    auto opened = (*ring)->open_sealed(v[0].as_string(), v[1].as_string(), v[2].as_string(), envelope);
    if (!opened)
      warnings.push_back(std::to_string(row[1].as_int()) + " sealed value(s) are under master key " + id +
                         ", which " + keys->source + " cannot open: " + opened.error().message);
  }
  return warnings;
}

}  // namespace

int run_backup(Config&, Settings settings, const std::vector<std::string>& args) {
  if (args.size() != 2 || args[1].empty() || args[1].rfind("--", 0) == 0)
    return fail("usage: picloud backup DEST [--config FILE]", 2);
  const std::string dest = fs::absolute(args[1]).lexically_normal().string();
  std::error_code ec;
  if (fs::exists(dest, ec) && (!fs::is_directory(dest, ec) || !fs::is_empty(dest, ec)))
    return fail(dest + " exists and is not an empty directory: a backup goes into a new directory");
  const bool made = !fs::exists(dest, ec);
  if (auto r = make_private_directory(dest, false); !r) return fail(r.error().message);
  // An empty directory given: made owner-only like a new one, so nobody
  // else can swap the database or the manifest a restore will trust.
  if (struct stat st {}; !made && (::stat(dest.c_str(), &st) != 0 || st.st_uid != ::geteuid() ||
                                    ((st.st_mode & 077) != 0 && ::chmod(dest.c_str(), 0700) != 0)))
    return fail(dest + " belongs to another user or cannot be made owner-only (0700): a backup goes into a directory only "
                       "PiCloud's user can write");
  // Whoever could write it before may have put something in meanwhile.
  if (!made && !fs::is_empty(dest, ec))
    return fail(dest + " is no longer empty: something was put in it while it was made owner-only");
  std::printf("backing up %s and %s/plugins to %s\n", settings.database_url.display.c_str(), settings.data_dir.c_str(),
              dest.c_str());
  std::fflush(stdout);
  auto manifest = take_backup(settings, dest);
  if (manifest)
    if (auto w = write_file_atomically(dest + "/" + kManifestName, to_json(*manifest)); !w) manifest = w.error();
  if (!manifest) {
    // Nothing half-made is left to be taken for a backup.
    fs::remove_all(dest, ec);
    if (!made) fs::create_directory(dest, ec);
    return fail("backup failed: " + manifest.error().message);
  }
  sync_file_system(dest);
  std::printf("backup done: %s, %zu file(s), %s; schema",
              dest.c_str(), manifest->files.size(), human_bytes(manifest->total_bytes()).c_str());
  for (const auto& [component, version] : manifest->schema) std::printf(" %s %lld", component.c_str(), static_cast<long long>(version));
  std::printf("\n\n");
  std::vector<std::string> ids = manifest->sealed_key_ids;
  if (!manifest->active_key_id.empty() && std::find(ids.begin(), ids.end(), manifest->active_key_id) == ids.end())
    ids.push_back(manifest->active_key_id);
  std::printf(
      "REMINDER: the master key is NOT in this backup. Without it nobody can open the sealed values\n"
      "(apps' secrets and every other sealed value); everything else restores without it.\n"
      "This server's key comes from %s%s%s.\n"
      "Keep a copy of it somewhere safe, apart from the backup (docs/keyring.md).\n",
      key_source(settings).c_str(), ids.empty() ? "" : "; the backup needs key id(s) ", join(ids).c_str());
  return 0;
}

int run_restore(Config& config, Settings settings, const std::vector<std::string>& args) {
  if (args.size() != 2 || args[1].empty() || args[1].rfind("--", 0) == 0)
    return fail("usage: picloud restore SRC [--config FILE]", 2);
  const std::string src = fs::absolute(args[1]).lexically_normal().string();
  std::ifstream in(src + "/" + kManifestName, std::ios::binary);
  if (!in) return fail(src + " has no manifest.json: not a PiCloud backup, or one that did not finish");
  std::stringstream text;
  text << in.rdbuf();
  auto manifest = parse_manifest(text.str());
  if (!manifest) return fail(manifest.error().message);
  const bool sqlite = settings.database_url.dialect == sdk::Dialect::sqlite;
  if (manifest->database_kind != (sqlite ? "sqlite" : "postgres"))
    return fail("this backup is of a " + manifest->database_kind + " database; the config names " +
                    settings.database_url.display + ": restore into the same kind");
  std::printf("restoring the backup of %s (PiCloud %s) into %s and %s\n", manifest->created_at.c_str(),
              manifest->picloud_version.c_str(), settings.database_url.display.c_str(), settings.data_dir.c_str());
  std::fflush(stdout);
  if (auto r = verify(src, *manifest); !r) return fail(r.error().message);

  Settings kept = settings;
  Kernel kernel(config, std::move(settings));
  auto known = kernel.known_schema_versions();
  if (!known) return fail(known.error().message);
  for (const auto& [component, version] : manifest->schema) {
    auto it = known->find(component);
    if (it == known->end()) {
      write_log(LogLevel::warn, "backup", "the backup holds data of a plugin this config does not enable; it is restored but unused",
                {{"plugin", component}});
    } else if (version > it->second) {
      return fail("the backup's " + component + " schema is at version " + std::to_string(version) +
                  ", newer than this PiCloud knows (" + std::to_string(it->second) + "): restore it with PiCloud " +
                  manifest->picloud_version + " or later");
    }
  }

  const std::string db_file = src + "/" + manifest->database_file;
  std::unique_ptr<cluster::SqliteServeLock> serve_lock;  // held until the restore and its migrations are done
  if (sqlite) {
    const std::string& path = kept.database_url.sqlite_path;
    if (auto r = make_private_directory(fs::absolute(path).parent_path(), false); !r) return fail(r.error().message);
    auto lock = cluster::SqliteServeLock::take(path);
    if (!lock) return fail("cannot restore while a server runs: " + lock.error().message);
    serve_lock = std::move(*lock);
    auto empty = sqlite_is_empty(path);
    if (!empty) return fail(empty.error().message);
    if (!*empty) return fail("the database " + path + " is not empty: restore into a new database file");
    if (auto r = check_plugin_data_absent(kept.data_dir, manifest->files); !r) return fail(r.error().message);
    if (auto r = restore_sqlite(db_file, path); !r) return fail("restore failed: " + r.error().message);
  } else {
    db::DatabaseOptions options = kept.database;
    options.pool_size = 1;
    auto db = db::Database::open(kept.database_url, options);
    if (!db) return fail("database " + kept.database_url.display + ": " + db.error().message);
    auto empty = postgres_is_empty(**db);
    if (!empty) return fail(empty.error().message);
    if (!*empty)
      return fail("the database " + kept.database_url.display + " is not empty: restore into a new, empty database");
    if (auto r = check_plugin_data_absent(kept.data_dir, manifest->files); !r) return fail(r.error().message);
    // Checked again under the migrations' lock, which it holds throughout.
    if (auto r = restore_postgres(**db, db_file); !r)
      return fail((r.error().kind == ErrorKind::conflict ? "" : "restore failed: ") + r.error().message);
  }
  if (auto r = restore_plugin_data(src, kept.data_dir, manifest->files); !r)
    return fail("restore failed (the database is restored; empty the data directory's plugins/ and the database, "
                "then run it again): " + r.error().message);

  // A backup older than this PiCloud is brought up to date now, not at the
  // first start.
  auto migrated = kernel.migrate();
  if (!migrated) return fail("the restored database does not migrate: " + migrated.error().message);
  if (*migrated > 0) std::printf("%d migration(s) applied: the backup was older than this PiCloud\n", *migrated);
  sync_file_system(kept.data_dir);

  auto warnings = check_keyring(kept, *kernel.database());
  std::printf("restore done: %zu file(s), %s\n", manifest->files.size(), human_bytes(manifest->total_bytes()).c_str());
  if (warnings.empty()) {
    std::printf("the master key in use opens the restored sealed values\n");
    return 0;
  }
  std::fprintf(stderr, "\nWARNING: the master key in use cannot open the restored sealed values:\n");
  for (const auto& w : warnings) std::fprintf(stderr, "  - %s\n", w.c_str());
  std::fprintf(stderr,
               "Put the key the backup was made with (key id(s) %s) in place before starting PiCloud "
               "(docs/keyring.md).\n",
               join(manifest->sealed_key_ids.empty() ? std::vector<std::string>{manifest->active_key_id}
                                                     : manifest->sealed_key_ids)
                   .c_str());
  return 3;
}

}  // namespace picloud::kernel::backup
