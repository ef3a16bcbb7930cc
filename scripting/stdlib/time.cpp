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
  int tz = 0;
  Poco::DateTime dt;
  bool ok = false;
  try {
    if (text.size() == 10) {
      ok = Poco::DateTimeParser::tryParse("%Y-%m-%d", text, dt, tz);
    } else {
      std::string normal = text;
      if (normal.size() > 10 && (normal[10] == 't' || normal[10] == ' ')) normal[10] = 'T';
      if (!normal.empty() && normal.back() == 'z') normal.back() = 'Z';
      ok = Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, normal, dt, tz) ||
           Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, normal, dt, tz);
      // Poco accepts a missing offset; ISO 8601 text without one is ambiguous.
      static const std::regex has_offset(R"(.*(Z|[+-]\d\d:?\d\d)$)");
      ok = ok && std::regex_match(normal, has_offset);
    }
  } catch (const Poco::Exception&) {
    ok = false;
  }
  if (!ok) throw ScriptException("time: cannot parse \"" + text + "\" as ISO 8601 (e.g. 2026-01-31T12:00:00Z)");
  dt.makeUTC(tz);
  return dt.timestamp().epochMicroseconds() / 1000;
}

std::string format(std::int64_t ms) {
  // Poco's range; beyond it the text would be wrong.
  if (ms < -62135596800000LL || ms > 253402300799999LL) throw ScriptException("time: instant out of range");
  Poco::Timestamp ts(static_cast<Poco::Timestamp::TimeVal>(ms) * 1000);
  return Poco::DateTimeFormatter::format(ts, "%Y-%m-%dT%H:%M:%S.%iZ");
}

std::int64_t seconds(std::int64_t n) { return n * 1000; }
std::int64_t minutes(std::int64_t n) { return n * 60'000; }
std::int64_t hours(std::int64_t n) { return n * 3'600'000; }
std::int64_t days(std::int64_t n) { return n * 86'400'000; }

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
