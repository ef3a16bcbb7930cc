#include "kernel/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "picloud/sdk/json.hpp"

namespace picloud::kernel {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};
std::atomic<LogFormat> g_format{LogFormat::logfmt};
thread_local std::string t_request_id;

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buf;
}

// logfmt: bare when the value is a plain token, quoted and escaped otherwise.
void append_logfmt(std::string& out, std::string_view key, std::string_view value) {
  out += ' ';
  out += key;
  out += '=';
  bool plain = !value.empty();
  for (char c : value)
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) plain = false;
  if (plain) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
void set_log_format(LogFormat format) { g_format = format; }
LogLevel log_level() { return g_level.load(std::memory_order_relaxed); }

RequestIdScope::RequestIdScope(std::string id) : previous_(std::move(t_request_id)) { t_request_id = std::move(id); }
RequestIdScope::~RequestIdScope() { t_request_id = std::move(previous_); }
const std::string& current_request_id() { return t_request_id; }

void write_log(LogLevel level, std::string_view component, std::string_view message, const LogFields& fields) {
  if (level < log_level()) return;
  std::string line;
  line.reserve(160);
  if (g_format.load(std::memory_order_relaxed) == LogFormat::json) {
    sdk::Object obj{{"ts", timestamp()},
                    {"level", std::string(level_name(level))},
                    {"component", std::string(component)},
                    {"msg", std::string(message)}};
    if (!t_request_id.empty()) obj["request_id"] = t_request_id;
    for (const auto& [k, v] : fields) obj[k] = v;
    line = sdk::to_json(sdk::Value(std::move(obj)));
  } else {
    line = "ts=" + timestamp();
    append_logfmt(line, "level", level_name(level));
    append_logfmt(line, "component", component);
    append_logfmt(line, "msg", message);
    if (!t_request_id.empty()) append_logfmt(line, "request_id", t_request_id);
    for (const auto& [k, v] : fields) append_logfmt(line, k, v);
  }
  line += '\n';
  // One write per line: lines from different threads never interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace picloud::kernel
