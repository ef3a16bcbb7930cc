// time:: — instants are int64 Unix milliseconds (UTC), so arithmetic is plain
// integer arithmetic; the helpers name the units and convert to and from
// ISO 8601 text.
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/Timestamp.h>

#include <chrono>
#include <regex>

#include "scripting/stdlib/stdlib.hpp"

namespace picloud::scripting {
namespace {

std::int64_t now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Accepts RFC 3339 / ISO 8601 date-times with an offset or Z (fractions
// optional), and plain dates (midnight UTC).
std::int64_t parse(const std::string& text) {
  if (text.size() > 64) throw ScriptException("time: cannot parse a date longer than 64 characters");
  // Poco's parser skips whatever is not a digit and ignores the literal
  // characters of its format ("not a date" parsed as year 0, "2026/01/31" as
  // a date), so the shape is checked here first. An offset is required:
  // ISO 8601 text without one is ambiguous.
  static const std::regex date_only(R"(\d{4}-\d{2}-\d{2})");
  static const std::regex date_time(
      R"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):?[0-5]\d))");
  int tz = 0;
  Poco::DateTime dt;
  bool ok = false;
  try {
    if (std::regex_match(text, date_only)) {
      ok = Poco::DateTimeParser::tryParse("%Y-%m-%d", text, dt, tz);
    } else if (std::regex_match(text, date_time)) {
      std::string normal = text;
      normal[10] = 'T';
      if (normal.back() == 'z') normal.back() = 'Z';
      ok = Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, normal, dt, tz) ||
           Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, normal, dt, tz);
    }
  } catch (const Poco::Exception&) {
    ok = false;
  }
  if (!ok) throw ScriptException("time: cannot parse \"" + text + "\" as ISO 8601 (e.g. 2026-01-31T12:00:00Z)");
  dt.makeUTC(tz);
  // Round down, also before 1970 (division truncates toward zero, which
  // turned 1969-12-31T23:59:59.9995Z into 0 rather than -1).
  std::int64_t us = dt.timestamp().epochMicroseconds();
  return us / 1000 - (us % 1000 < 0 ? 1 : 0);
}

std::string format(std::int64_t ms) {
  // Poco's range; beyond it the text would be wrong.
  if (ms < -62135596800000LL || ms > 253402300799999LL) throw ScriptException("time: instant out of range");
  Poco::Timestamp ts(static_cast<Poco::Timestamp::TimeVal>(ms) * 1000);
  return Poco::DateTimeFormatter::format(ts, "%Y-%m-%dT%H:%M:%S.%iZ");
}

// n units in milliseconds; an overflow (undefined behaviour, in practice a
// wrapped, wrong instant) throws instead.
std::int64_t scale(std::int64_t n, std::int64_t unit_ms, const char* name) {
  std::int64_t out = 0;
  if (__builtin_mul_overflow(n, unit_ms, &out))
    throw ScriptException(std::string("time: ") + name + "(" + std::to_string(n) + ") is out of range");
  return out;
}

std::int64_t seconds(std::int64_t n) { return scale(n, 1000, "seconds"); }
std::int64_t minutes(std::int64_t n) { return scale(n, 60'000, "minutes"); }
std::int64_t hours(std::int64_t n) { return scale(n, 3'600'000, "hours"); }
std::int64_t days(std::int64_t n) { return scale(n, 86'400'000, "days"); }

void fn(asIScriptEngine* e, const char* decl, const asSFuncPtr& f) {
  check_registration(e->RegisterGlobalFunction(decl, f, asCALL_GENERIC), decl);
}

}  // namespace

void register_time(asIScriptEngine* e) {
  check_registration(e->SetDefaultNamespace("time"), "namespace time");
  fn(e, "int64 now()", WRAP_FN(now));
  fn(e, "int64 parse(const string &in iso8601)", WRAP_FN(parse));
  fn(e, "string format(int64 unix_ms)", WRAP_FN(format));
  fn(e, "int64 seconds(int64 n)", WRAP_FN(seconds));
  fn(e, "int64 minutes(int64 n)", WRAP_FN(minutes));
  fn(e, "int64 hours(int64 n)", WRAP_FN(hours));
  fn(e, "int64 days(int64 n)", WRAP_FN(days));
  check_registration(e->SetDefaultNamespace(""), "namespace");
}

}  // namespace picloud::scripting
