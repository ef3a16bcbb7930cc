// Configuration: an INI file (optional) plus environment overrides.
//
// Every key `[section] key` can be overridden by PICLOUD_<SECTION>_<KEY>
// (upper case). Reads are recorded, so after start-up the kernel can warn
// about keys nobody read (typos, stale settings) by name.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/config.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::kernel {

using sdk::Result;

class Config {
 public:
  // Loads `path` (empty: no file, built-in defaults only) and the PICLOUD_*
  // variables of `environment` (NAME=value strings).
  static Result<Config> load(const std::string& path, const std::vector<std::string>& environment);

  const std::string& path() const { return path_; }

  // The raw value (environment wins over the file), marking the key as known.
  std::optional<std::string> raw(std::string_view section, std::string_view key) const;
  // Where a value came from, for error messages: "PICLOUD_SERVER_PORT" or "path".
  std::string origin(std::string_view section, std::string_view key) const;

  Result<std::string> get_string(std::string_view section, std::string_view key, std::string_view fallback);
  Result<std::int64_t> get_int(std::string_view section, std::string_view key, std::int64_t fallback,
                               std::int64_t min, std::int64_t max);
  Result<bool> get_bool(std::string_view section, std::string_view key, bool fallback);
  Result<std::string> get_choice(std::string_view section, std::string_view key, std::string_view fallback,
                                 const std::vector<std::string>& allowed);

  // "[section] key" for every key in the file or environment that was never read.
  std::vector<std::string> unread_keys(const std::set<std::string>& ignored_sections = {}) const;

 private:
  std::string path_;
  std::map<std::string, std::map<std::string, std::string>> file_;  // section -> key -> value
  std::map<std::string, std::string> env_;                          // PICLOUD_X_Y -> value
  mutable std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();
  mutable std::set<std::pair<std::string, std::string>> read_;
  mutable std::set<std::string> env_read_;
};

// One plugin's section, as the SDK presents it.
class PluginConfigSection final : public sdk::ConfigSection {
 public:
  PluginConfigSection(Config& config, std::string section) : config_(config), section_(std::move(section)) {}
  std::string_view name() const override { return section_; }
  bool has(std::string_view key) const override;
  Result<std::string> get_string(std::string_view key, std::string_view fallback) override;
  Result<std::int64_t> get_int(std::string_view key, std::int64_t fallback, std::int64_t min,
                               std::int64_t max) override;
  Result<bool> get_bool(std::string_view key, bool fallback) override;

 private:
  Config& config_;
  std::string section_;
};

}  // namespace picloud::kernel
