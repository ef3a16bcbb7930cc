#include "kernel/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

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

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The config file: `[section]` headers, `key = value` lines, and comment
// lines starting with ';' or '#'. Names are case-insensitive (kept lower
// case); values are taken as written, trimmed (a ';' inside one is part of
// it); a key given twice keeps its last value. Anything else is an error
// naming the line, so a typo stops start-up rather than being ignored.
//
// Hand-written rather than Poco::Util's IniFileConfiguration: that library
// brings Poco's XML library with it, close to 1 MB of memory at idle for a
// forty-line format.
sdk::Result<void> parse_ini(std::istream& in, const std::string& path,
                            std::map<std::string, std::map<std::string, std::string>>& out) {
  std::string line;
  std::string section;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string_view text = line;
    if (number == 1 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark
    text = trim(text);
    if (text.empty() || text[0] == ';' || text[0] == '#') continue;
    auto where = [&] { return "config: " + path + " line " + std::to_string(number) + ": "; };
    if (text[0] == '[') {
      auto close = text.find(']');
      if (close == std::string_view::npos)
        return sdk::make_error(sdk::ErrorKind::invalid_argument, where() + "a section header without its closing ]");
      std::string_view rest = trim(text.substr(close + 1));
      if (!rest.empty() && rest[0] != ';' && rest[0] != '#')
        return sdk::make_error(sdk::ErrorKind::invalid_argument, where() + "text after the section header");
      section = lower(trim(text.substr(1, close - 1)));
      if (section.empty()) return sdk::make_error(sdk::ErrorKind::invalid_argument, where() + "an empty section name");
      out[section];
      continue;
    }
    auto eq = text.find('=');
    if (eq == std::string_view::npos)
      return sdk::make_error(sdk::ErrorKind::invalid_argument, where() + "expected `key = value`, a [section] or a comment");
    std::string key = lower(trim(text.substr(0, eq)));
    if (key.empty()) return sdk::make_error(sdk::ErrorKind::invalid_argument, where() + "a value without a key");
    if (section.empty())
      return sdk::make_error(sdk::ErrorKind::invalid_argument, where() + "'" + key + "' is not under a [section]");
    out[section][key] = std::string(trim(text.substr(eq + 1)));
  }
  return {};
}

}  // namespace

Result<Config> Config::load(const std::string& path, const std::vector<std::string>& environment) {
  Config config;
  config.path_ = path;
  if (!path.empty()) {
    std::ifstream file(path);
    if (!file) return sdk::make_error(sdk::ErrorKind::invalid_argument, "config: cannot read file " + path);
    if (auto ok = parse_ini(file, path, config.file_); !ok) return ok.error();
    if (file.bad()) return sdk::make_error(sdk::ErrorKind::invalid_argument, "config: cannot read file " + path);
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
