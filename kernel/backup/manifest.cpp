#include "kernel/backup/manifest.hpp"

#include "kernel/json_text.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::backup {
namespace {

sdk::Error bad(const std::string& why) {
  return sdk::make_error(sdk::ErrorKind::invalid_argument, "the backup's manifest.json " + why);
}

// A path a restore may write under the target: relative, no '..', no
// empty or '.' segments.
bool safe_relative_path(const std::string& path) {
  if (path.empty() || path[0] == '/') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

std::int64_t Manifest::total_bytes() const {
  std::int64_t total = 0;
  for (const auto& f : files) total += f.size;
  return total;
}

std::string to_json(const Manifest& m) {
  sdk::Value schema = sdk::Value::object();
  for (const auto& [component, version] : m.schema) schema.set(component, version);
  sdk::Value keys = sdk::Value::array();
  for (const auto& id : m.sealed_key_ids) keys.push(id);
  sdk::Value contents = sdk::Value::array();
  for (const auto& f : m.files)
    contents.push(sdk::Value::object({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}}));
  sdk::Value root = sdk::Value::object({
      {"format", m.format},
      {"picloud_version", m.picloud_version},
      {"created_at", m.created_at},
      {"database", sdk::Value::object({{"kind", m.database_kind}, {"file", m.database_file}})},
      {"schema", schema},
      {"keyring", sdk::Value::object({{"active_key_id", m.active_key_id},
                                      {"sealed_key_ids", keys},
                                      {"note", "the master key is not in this backup: restore it from where you keep "
                                               "it (docs/keyring.md)"}})},
      {"total_bytes", m.total_bytes()},
      {"contents", contents},
  });
  return sdk::to_json(root) + "\n";
}

sdk::Result<Manifest> parse_manifest(const std::string& text) {
  auto parsed = parse_json(text, 16, JsonStrictness::stored);
  if (!parsed) return bad("is not valid JSON: " + parsed.error().message);
  const sdk::Value& v = *parsed;
  Manifest m;
  if (!v["format"].is_int()) return bad("has no format");
  m.format = static_cast<int>(v["format"].as_int());
  if (m.format > kManifestFormat)
    return bad("has format " + std::to_string(m.format) + "; this PiCloud reads format " +
               std::to_string(kManifestFormat) + " (restore with the version that made it, " +
               v["picloud_version"].string_or("?") + ", or later)");
  m.picloud_version = v["picloud_version"].string_or("");
  m.created_at = v["created_at"].string_or("");
  m.database_kind = v["database"]["kind"].string_or("");
  m.database_file = v["database"]["file"].string_or("");
  if (m.database_kind != "sqlite" && m.database_kind != "postgres") return bad("names no database kind");
  if (!safe_relative_path(m.database_file)) return bad("names no database file");
  if (v["schema"].is_object())
    for (const auto& [component, version] : v["schema"].as_object()) {
      if (!version.is_int()) return bad("has a schema version that is not a number: " + component);
      m.schema[component] = version.as_int();
    }
  m.active_key_id = v["keyring"]["active_key_id"].string_or("");
  if (v["keyring"]["sealed_key_ids"].is_array())
    for (const auto& id : v["keyring"]["sealed_key_ids"].as_array()) m.sealed_key_ids.push_back(id.string_or(""));
  if (!v["contents"].is_array()) return bad("lists no contents");
  for (const auto& f : v["contents"].as_array()) {
    ManifestFile file{f["path"].string_or(""), f["size"].int_or(-1), f["sha256"].string_or("")};
    if (!safe_relative_path(file.path) || file.size < 0 || file.sha256.size() != 64)
      return bad("lists a file badly: '" + file.path + "'");
    m.files.push_back(std::move(file));
  }
  return m;
}

}  // namespace picloud::kernel::backup
