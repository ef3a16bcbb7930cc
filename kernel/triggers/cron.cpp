#include "kernel/triggers/cron.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

namespace picloud::kernel::triggers {
namespace {

using LocalSeconds = date::local_seconds;

// Longest shift of local time across a zone's transitions worth looking back
// over (real zones shift by at most 2 hours; 3 leaves room).
constexpr std::chrono::hours kMaxShift{3};

struct Field {
  const char* name;
  int min, max;
  std::array<const char*, 12> names{};  // value `min + i` for names[i]
};

const Field kSecond{"second", 0, 59};
const Field kMinute{"minute", 0, 59};
const Field kHour{"hour", 0, 23};
const Field kDay{"day-of-month", 1, 31};
const Field kMonth{"month", 1, 12, {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}};
const Field kWeekday{"day-of-week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}};

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

sdk::Error field_error(const Field& f, const std::string& what) {
  return sdk::Error{sdk::ErrorKind::invalid_argument, "cron field '" + std::string(f.name) + "': " + what};
}

sdk::Result<int> parse_value(const Field& f, std::string_view text) {
  if (text.empty()) return field_error(f, "a value is missing");
  std::string name = upper(text);
  for (std::size_t i = 0; i < f.names.size() && f.names[i]; ++i)
    if (name == f.names[i]) return f.min + static_cast<int>(i);
  if (text.size() > 4 || !std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return field_error(f, "'" + std::string(text) + "' is not a number" + (f.names[0] ? " or a name" : ""));
  int v = std::stoi(std::string(text));
  if (v < f.min || v > f.max)
    return field_error(f, std::to_string(v) + " is out of range " + std::to_string(f.min) + "-" + std::to_string(f.max));
  return v;
}

// A field's matching values as a bit mask (bit v for value v).
sdk::Result<std::uint64_t> parse_field(const Field& f, std::string_view text, bool question_mark_allowed) {
  std::uint64_t mask = 0;
  std::size_t start = 0;
  for (;;) {
    auto comma = text.find(',', start);
    std::string_view part = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (part.empty()) return field_error(f, "an empty list item in '" + std::string(text) + "'");
    std::string_view base = part, step_text;
    if (auto slash = part.find('/'); slash != std::string_view::npos) {
      base = part.substr(0, slash);
      step_text = part.substr(slash + 1);
    }
    int lo = f.min, hi = f.max, step = 1;
    if (base == "*" || (base == "?" && question_mark_allowed)) {
      if (base == "?" && !step_text.empty()) return field_error(f, "'?' takes no step");
    } else if (auto dash = base.find('-'); dash != std::string_view::npos) {
      auto a = parse_value(f, base.substr(0, dash));
      if (!a) return a.error();
      auto b = parse_value(f, base.substr(dash + 1));
      if (!b) return b.error();
      lo = *a;
      hi = *b;
      if (lo > hi) return field_error(f, "the range '" + std::string(base) + "' runs backwards");
    } else {
      auto v = parse_value(f, base);
      if (!v) return v.error();
      lo = *v;
      hi = step_text.empty() ? *v : f.max;  // `a/n`: from a to the end, every n
    }
    if (part.find('/') != std::string_view::npos) {
      if (step_text.empty() || step_text.size() > 3 ||
          !std::all_of(step_text.begin(), step_text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return field_error(f, "the step in '" + std::string(part) + "' is not a number");
      step = std::stoi(std::string(step_text));
      if (step < 1 || step > f.max) return field_error(f, "the step in '" + std::string(part) + "' is out of range");
    }
    for (int v = lo; v <= hi; v += step) mask |= std::uint64_t{1} << v;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return mask;
}

std::string expand_macro(const std::string& text) {
  if (text == "@yearly" || text == "@annually") return "0 0 0 1 1 *";
  if (text == "@monthly") return "0 0 0 1 * *";
  if (text == "@weekly") return "0 0 0 * * 0";
  if (text == "@daily" || text == "@midnight") return "0 0 0 * * *";
  if (text == "@hourly") return "0 0 * * * *";
  return text;
}

}  // namespace

sdk::Result<CronSchedule> CronSchedule::parse(const std::string& expression, const std::string& time_zone) {
  CronSchedule s;
  std::string trimmed = expression;
  trimmed.erase(0, trimmed.find_first_not_of(" \t"));
  trimmed.erase(trimmed.find_last_not_of(" \t") + 1);
  s.expression_ = trimmed;
  std::istringstream words(expand_macro(trimmed));
  std::vector<std::string> fields;
  for (std::string w; words >> w;) fields.push_back(w);
  if (fields.size() != 6) {
    if (!trimmed.empty() && trimmed[0] == '@')
      return sdk::Error{sdk::ErrorKind::invalid_argument,
                        "unknown cron macro '" + trimmed + "' (@yearly, @monthly, @weekly, @daily, @hourly)"};
    return sdk::Error{sdk::ErrorKind::invalid_argument,
                      "a cron expression has 6 fields (second minute hour day-of-month month day-of-week), got " +
                          std::to_string(fields.size())};
  }
  auto second = parse_field(kSecond, fields[0], false);
  if (!second) return second.error();
  auto minute = parse_field(kMinute, fields[1], false);
  if (!minute) return minute.error();
  auto hour = parse_field(kHour, fields[2], false);
  if (!hour) return hour.error();
  auto day = parse_field(kDay, fields[3], true);
  if (!day) return day.error();
  auto month = parse_field(kMonth, fields[4], false);
  if (!month) return month.error();
  auto weekday = parse_field(kWeekday, fields[5], true);
  if (!weekday) return weekday.error();
  s.seconds_ = *second;
  s.minutes_ = *minute;
  s.hours_ = static_cast<std::uint32_t>(*hour);
  s.days_ = static_cast<std::uint32_t>(*day);
  s.months_ = static_cast<std::uint32_t>(*month);
  s.weekdays_ = static_cast<std::uint8_t>((*weekday & 0x7f) | ((*weekday >> 7) & 1));  // 7 is Sunday too
  s.days_restricted_ = fields[3] != "*" && fields[3] != "?";
  s.weekdays_restricted_ = fields[5] != "*" && fields[5] != "?";
  s.every_hour_ = fields[2] == "*";

  s.zone_name_ = time_zone.empty() ? "UTC" : time_zone;
  try {
    s.zone_ = date::locate_zone(s.zone_name_);
  } catch (const std::exception&) {
    return sdk::Error{sdk::ErrorKind::invalid_argument,
                      "unknown time zone '" + s.zone_name_ + "' (use an IANA name such as Europe/Berlin or UTC)"};
  }

  // February 30th and its kind: no match in the next 9 years (a leap day
  // can be 8 years away) means never.
  auto now = date::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::chrono::seconds probe = s.zone_->to_local(now).time_since_epoch();
  if (!s.next_local_match(probe, 9))
    return sdk::Error{sdk::ErrorKind::invalid_argument, "the cron expression '" + trimmed + "' never fires"};
  return s;
}

bool CronSchedule::day_matches(int year, unsigned month, unsigned day) const {
  bool by_day = (days_ >> day) & 1;
  unsigned weekday = date::weekday(date::year_month_day(date::year(year), date::month(month), date::day(day))).c_encoding();
  bool by_weekday = (weekdays_ >> weekday) & 1;
  if (days_restricted_ && weekdays_restricted_) return by_day || by_weekday;
  return by_day && by_weekday;
}

bool CronSchedule::next_local_match(std::chrono::seconds& local, int horizon_years) const {
  using namespace std::chrono;
  LocalSeconds t{local};
  const auto first_day = date::floor<date::days>(t);
  const int last_year = static_cast<int>(date::year_month_day(first_day).year()) + horizon_years;
  for (;;) {
    const auto day = date::floor<date::days>(t);
    const date::year_month_day ymd(day);
    const int year = static_cast<int>(ymd.year());
    if (year > last_year) return false;
    const unsigned month = static_cast<unsigned>(ymd.month());
    if (!((months_ >> month) & 1)) {
      t = LocalSeconds(date::local_days((date::year_month(ymd.year(), ymd.month()) + date::months(1)) / 1));
      continue;
    }
    if (!day_matches(year, month, static_cast<unsigned>(ymd.day()))) {
      t = day + date::days(1);
      continue;
    }
    const date::hh_mm_ss<seconds> tod(t - day);
    const auto h = static_cast<unsigned>(tod.hours().count());
    if (!((hours_ >> h) & 1)) {
      t = day + hours(h + 1);
      continue;
    }
    const auto m = static_cast<unsigned>(tod.minutes().count());
    if (!((minutes_ >> m) & 1)) {
      t = day + hours(h) + minutes(m + 1);
      continue;
    }
    const auto s = static_cast<unsigned>(tod.seconds().count());
    if (!((seconds_ >> s) & 1)) {
      t += seconds(1);
      continue;
    }
    local = t.time_since_epoch();
    return true;
  }
}

Seconds CronSchedule::next_after(Seconds after) const {
  using namespace std::chrono;
  // Near a transition, look back: a local time already passed may come round
  // again (the repeated hour of a fall-back change).
  const auto info = zone_->get_info(after);
  LocalSeconds from = zone_->to_local(after) + seconds(1);
  if (after - info.begin < kMaxShift || info.end - after < kMaxShift) from -= kMaxShift;

  std::optional<Seconds> best;
  LocalSeconds best_local;
  auto consider = [&](Seconds instant, LocalSeconds local) {
    if (instant > after && (!best || instant < *best)) {
      best = instant;
      best_local = local;
    }
  };
  for (seconds cursor = from.time_since_epoch();; cursor += seconds(1)) {
    if (!next_local_match(cursor, 10)) break;
    const LocalSeconds local{cursor};
    if (best && local > best_local + kMaxShift) break;  // later local times map to later instants
    const auto mapping = zone_->get_info(local);
    switch (mapping.result) {
      case date::local_info::unique:
        consider(Seconds(local.time_since_epoch() - mapping.first.offset), local);
        break;
      case date::local_info::nonexistent:
        consider(mapping.second.begin, local);  // skipped by a spring-forward change: fire right after it
        break;
      case date::local_info::ambiguous:
        consider(Seconds(local.time_since_epoch() - mapping.first.offset), local);
        if (every_hour_) consider(Seconds(local.time_since_epoch() - mapping.second.offset), local);
        break;
    }
  }
  return best.value_or(Seconds::max());
}

}  // namespace picloud::kernel::triggers
