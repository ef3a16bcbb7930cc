// manifest.json: what a backup directory holds, written last, so a backup
// without one is unfinished. It names the PiCloud that made it, the
// database's kind and schema version of each component (from
// schema_migrations, in the snapshot itself), the master key ids the
// database's sealed values need (ids only: a key id reveals nothing about
// the key), and its contents: every file with its size and SHA-256.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::backup {

inline constexpr int kManifestFormat = 1;
inline constexpr const char* kManifestName = "manifest.json";

struct ManifestFile {
  std::string path;  // relative to the backup directory, '/'-separated
  std::int64_t size = 0;
  std::string sha256;
};

struct Manifest {
  int format = kManifestFormat;
  std::string picloud_version;
  std::string created_at;       // RFC 3339, UTC
  std::string database_kind;    // "sqlite" or "postgres"
  std::string database_file;    // "database.sqlite" or "database.pgdump"
  std::map<std::string, std::int64_t> schema;  // component -> highest applied version
  std::string active_key_id;                   // keyring_state's, empty when never started
  std::vector<std::string> sealed_key_ids;     // the keys sealed values are under
  std::vector<ManifestFile> files;
  std::int64_t total_bytes() const;
};

std::string to_json(const Manifest& manifest);
// invalid_argument naming what is wrong: not JSON, a newer format, a path
// that leaves the backup directory.
sdk::Result<Manifest> parse_manifest(const std::string& text);

}  // namespace picloud::kernel::backup
