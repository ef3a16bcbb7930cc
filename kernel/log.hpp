// Structured logs: one line per event on stderr, logfmt (default) or JSON,
// with time, level, component, the current request id and fields.
#pragma once

#include <string>
#include <string_view>

#include "picloud/sdk/log.hpp"

namespace picloud::kernel {

using sdk::LogFields;
using sdk::LogLevel;

enum class LogFormat { logfmt, json };

// Process-wide settings; set once at start-up, before threads start.
void set_log_level(LogLevel level);
void set_log_format(LogFormat format);
LogLevel log_level();

// The request being served on this thread, added to every line it logs.
class RequestIdScope {
 public:
  explicit RequestIdScope(std::string id);
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;

 private:
  std::string previous_;
};
const std::string& current_request_id();

void write_log(LogLevel level, std::string_view component, std::string_view message, const LogFields& fields = {});

// A logger bound to a component name ("kernel", "server", or a plugin's name).
class ComponentLogger final : public sdk::Logger {
 public:
  explicit ComponentLogger(std::string component) : component_(std::move(component)) {}
  bool enabled(LogLevel level) const override { return level >= log_level(); }
  void log(LogLevel level, std::string_view message, const LogFields& fields = {}) override {
    if (enabled(level)) write_log(level, component_, message, fields);
  }

 private:
  std::string component_;
};

}  // namespace picloud::kernel
