#include "kernel/config.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>

namespace picloud::kernel {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string env_name(std::string_view section, std::string_view key) {
  return "PICLOUD_" + upper(section) + "_" + upper(key);
}

// Environment variables that are not config overrides.
bool is_reserved_env(std::string_view name) {
  return name == "PICLOUD_CONFIG" || name.rfind("PICLOUD_TEST_", 0) == 0;
}

sdk::Error invalid(const Config& c, std::string_view section, std::string_view key, std::string_view value,
                   std::string_view allowed) {
  return sdk::make_error(sdk::ErrorKind::invalid_argument,
                         "config: [" + std::string(section) + "] " + std::string(key) + " = '" + std::string(value) +
                             "' (from " + c.origin(section, key) + ") is not valid: expected " +
                             std::string(allowed));
}

}  // namespace

Result<Config> Config::load(const std::string& path, const std::vector<std::string>& environment) {
  Config config;
  config.path_ = path;
  if (!path.empty()) {
    std::ifstream probe(path);
    if (!probe) return sdk::make_error(sdk::ErrorKind::invalid_argument, "config: cannot read file " + path);
    try {
      Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini(new Poco::Util::IniFileConfiguration(path));
      Poco::Util::AbstractConfiguration::Keys sections;
      ini->keys(sections);
      for (const auto& section : sections) {
        Poco::Util::AbstractConfiguration::Keys keys;
        ini->keys(section, keys);
        auto& target = config.file_[lower(section)];
        for (const auto& key : keys) target[lower(key)] = ini->getRawString(section + "." + key);
      }
    } catch (const Poco::Exception& e) {
      return sdk::make_error(sdk::ErrorKind::invalid_argument, "config: cannot parse " + path + ": " + e.displayText());
    }
  }
  for (const auto& entry : environment) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || entry.rfind("PICLOUD_", 0) != 0) continue;
    std::string name = entry.substr(0, eq);
    if (is_reserved_env(name)) continue;
    config.env_[name] = entry.substr(eq + 1);
  }
  return config;
}

std::optional<std::string> Config::raw(std::string_view section, std::string_view key) const {
  std::string s = lower(section), k = lower(key), env = env_name(s, k);
  std::lock_guard lock(*mutex_);
  read_.emplace(s, k);
  env_read_.insert(env);
  if (auto it = env_.find(env); it != env_.end()) return it->second;
  if (auto sit = file_.find(s); sit != file_.end())
    if (auto kit = sit->second.find(k); kit != sit->second.end()) return kit->second;
  return std::nullopt;
}

std::string Config::origin(std::string_view section, std::string_view key) const {
  std::string env = env_name(section, key);
  if (env_.count(env)) return "environment " + env;
  return path_.empty() ? "defaults" : path_;
}

Result<std::string> Config::get_string(std::string_view section, std::string_view key, std::string_view fallback) {
  auto v = raw(section, key);
  return v ? *v : std::string(fallback);
}

Result<std::int64_t> Config::get_int(std::string_view section, std::string_view key, std::int64_t fallback,
                                     std::int64_t min, std::int64_t max) {
  auto v = raw(section, key);
  if (!v) return fallback;
  std::int64_t out = 0;
  const char* begin = v->data();
  const char* end = v->data() + v->size();
  auto [ptr, ec] = std::from_chars(begin, end, out);
  if (v->empty() || ec != std::errc() || ptr != end || out < min || out > max)
    return invalid(*this, section, key, *v,
                   "an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return out;
}

Result<bool> Config::get_bool(std::string_view section, std::string_view key, bool fallback) {
  auto v = raw(section, key);
  if (!v) return fallback;
  std::string l = lower(*v);
  if (l == "true" || l == "yes" || l == "on" || l == "1") return true;
  if (l == "false" || l == "no" || l == "off" || l == "0") return false;
  return invalid(*this, section, key, *v, "true or false");
}

Result<std::string> Config::get_choice(std::string_view section, std::string_view key, std::string_view fallback,
                                       const std::vector<std::string>& allowed) {
  auto v = raw(section, key);
  if (!v) return std::string(fallback);
  std::string l = lower(*v);
  if (std::find(allowed.begin(), allowed.end(), l) != allowed.end()) return l;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  return invalid(*this, section, key, *v, "one of: " + list);
}

std::vector<std::string> Config::unread_keys(const std::set<std::string>& ignored_sections) const {
  std::lock_guard lock(*mutex_);
  std::vector<std::string> out;
  for (const auto& [s, keys] : file_) {
    if (ignored_sections.count(s)) continue;
    for (const auto& [k, _] : keys)
      if (!read_.count({s, k})) out.push_back("[" + s + "] " + k + " (" + path_ + ")");
  }
  for (const auto& [name, _] : env_) {
    if (env_read_.count(name)) continue;
    bool ignored = false;
    for (const auto& s : ignored_sections)
      if (name.rfind("PICLOUD_" + upper(s) + "_", 0) == 0) ignored = true;
    if (!ignored) out.push_back(name + " (environment)");
  }
  return out;
}

bool PluginConfigSection::has(std::string_view key) const {
  return config_.raw(section_, key).has_value();
}
Result<std::string> PluginConfigSection::get_string(std::string_view key, std::string_view fallback) {
  return config_.get_string(section_, key, fallback);
}
Result<std::int64_t> PluginConfigSection::get_int(std::string_view key, std::int64_t fallback, std::int64_t min,
                                                  std::int64_t max) {
  return config_.get_int(section_, key, fallback, min, max);
}
Result<bool> PluginConfigSection::get_bool(std::string_view key, bool fallback) {
  return config_.get_bool(section_, key, fallback);
}

}  // namespace picloud::kernel
