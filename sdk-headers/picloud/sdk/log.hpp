// Structured logging for plugins. Each call writes one line with the level,
// the plugin's name, the current request id (when there is one) and fields.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace picloud::sdk {

enum class LogLevel { debug, info, warn, error };

using LogFields = std::vector<std::pair<std::string, std::string>>;

class Logger {
 public:
  virtual ~Logger() = default;
  virtual bool enabled(LogLevel level) const = 0;
  virtual void log(LogLevel level, std::string_view message, const LogFields& fields = {}) = 0;

  void debug(std::string_view m, const LogFields& f = {}) { log(LogLevel::debug, m, f); }
  void info(std::string_view m, const LogFields& f = {}) { log(LogLevel::info, m, f); }
  void warn(std::string_view m, const LogFields& f = {}) { log(LogLevel::warn, m, f); }
  void error(std::string_view m, const LogFields& f = {}) { log(LogLevel::error, m, f); }
};

}  // namespace picloud::sdk
