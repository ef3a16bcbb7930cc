// Cron schedules: parsing errors, and a table of expected next fire times,
// daylight-saving changes included (computed by hand from the zones' rules).
#include "kernel/triggers/cron.hpp"

#include <date/date.h>
#include <gtest/gtest.h>

#include <sstream>

using picloud::kernel::triggers::CronSchedule;
using picloud::kernel::triggers::Seconds;

namespace {

Seconds utc(const std::string& text) {  // "2026-03-29 00:59:59"
  std::istringstream in(text);
  Seconds t;
  in >> date::parse("%F %T", t);
  EXPECT_FALSE(in.fail()) << text;
  return t;
}

std::string show(Seconds t) { return date::format("%F %T", t); }

}  // namespace

TEST(Cron, NextFireTimesTable) {
  struct Case {
    const char* expression;
    const char* zone;
    const char* after;     // UTC
    const char* expected;  // UTC
  };
  const Case cases[] = {
      {"* * * * * *", "UTC", "2026-01-01 00:00:00", "2026-01-01 00:00:01"},
      {"0 */5 * * * *", "UTC", "2026-01-01 00:02:30", "2026-01-01 00:05:00"},
      {"30 0 12 * * *", "UTC", "2026-01-01 12:00:30", "2026-01-02 12:00:30"},
      {"0 0 0 1 1 *", "UTC", "2026-06-15 00:00:00", "2027-01-01 00:00:00"},
      {"@hourly", "UTC", "2026-01-01 10:00:00", "2026-01-01 11:00:00"},
      {"@daily", "UTC", "2026-01-31 23:59:59", "2026-02-01 00:00:00"},
      {"0 0 9 * * MON-FRI", "UTC", "2026-11-20 09:00:00", "2026-11-23 09:00:00"},  // Friday -> Monday
      {"0 0 9 * * 7", "UTC", "2026-11-23 00:00:00", "2026-11-29 09:00:00"},        // 7 is Sunday
      {"0 0 0 29 2 *", "UTC", "2026-03-01 00:00:00", "2028-02-29 00:00:00"},       // leap day
      {"0 0 0 31 * *", "UTC", "2026-04-01 00:00:00", "2026-05-31 00:00:00"},       // April has 30 days
      {"0 0 0 13 * FRI", "UTC", "2026-11-01 00:00:00", "2026-11-06 00:00:00"},     // either day field matches
      {"0 15,45 8-10/2 * JAN,JUL ?", "UTC", "2026-01-01 08:45:00", "2026-01-01 10:15:00"},
      // Time zones: 09:00 in Tokyo (UTC+9, no DST) and New York (UTC-5 in winter).
      {"0 0 9 * * *", "Asia/Tokyo", "2026-01-01 00:00:00", "2026-01-02 00:00:00"},
      {"0 0 9 * * *", "America/New_York", "2026-01-01 00:00:00", "2026-01-01 14:00:00"},
      // Europe/Berlin springs forward on 2026-03-29 at 01:00 UTC (02:00 CET -> 03:00 CEST).
      {"0 0 9 * * *", "Europe/Berlin", "2026-03-28 09:00:00", "2026-03-29 07:00:00"},
      {"0 30 2 * * *", "Europe/Berlin", "2026-03-28 12:00:00", "2026-03-29 01:00:00"},  // skipped: right after the gap
      {"0 30 2 * * *", "Europe/Berlin", "2026-03-29 01:00:00", "2026-03-30 00:30:00"},  // and once only
      {"0 */30 * * * *", "Europe/Berlin", "2026-03-29 00:30:00", "2026-03-29 01:00:00"},  // 02:00 CET skipped -> 03:00 CEST
      // Europe/Berlin falls back on 2026-10-25 at 01:00 UTC (03:00 CEST -> 02:00 CET).
      {"0 30 2 * * *", "Europe/Berlin", "2026-10-24 12:00:00", "2026-10-25 00:30:00"},  // first 02:30
      {"0 30 2 * * *", "Europe/Berlin", "2026-10-25 00:30:00", "2026-10-26 01:30:00"},  // not the second one
      {"0 30 * * * *", "Europe/Berlin", "2026-10-25 00:30:00", "2026-10-25 01:30:00"},  // every hour: both passes
      {"0 */20 * * * *", "Europe/Berlin", "2026-10-25 00:40:00", "2026-10-25 01:00:00"},
      // America/New_York springs forward 2026-03-08 07:00 UTC, falls back 2026-11-01 06:00 UTC.
      {"0 0 2 * * *", "America/New_York", "2026-03-07 12:00:00", "2026-03-08 07:00:00"},
      {"0 0 1 * * *", "America/New_York", "2026-10-31 12:00:00", "2026-11-01 05:00:00"},
      {"0 0 1 * * *", "America/New_York", "2026-11-01 05:00:00", "2026-11-02 06:00:00"},
      // Lord Howe shifts by 30 minutes: 2026-04-05 02:00 local (+11) -> 01:30 (+10:30) at 15:00 UTC.
      {"0 45 1 * * *", "Australia/Lord_Howe", "2026-04-04 12:00:00", "2026-04-04 14:45:00"},
  };
  for (const auto& c : cases) {
    auto schedule = CronSchedule::parse(c.expression, c.zone);
    ASSERT_TRUE(schedule) << c.expression << ": " << schedule.error().message;
    EXPECT_EQ(show(schedule->next_after(utc(c.after))), c.expected)
        << c.expression << " in " << c.zone << " after " << c.after;
  }
}

TEST(Cron, ConsecutiveFiresAcrossAFallBackNeverRepeatOrGoBack) {
  auto schedule = CronSchedule::parse("0 */15 * * * *", "Europe/Berlin");
  ASSERT_TRUE(schedule);
  Seconds t = utc("2026-10-24 22:00:00");
  std::vector<std::string> fires;
  for (int i = 0; i < 16; ++i) {
    Seconds next = schedule->next_after(t);
    ASSERT_GT(next, t);
    EXPECT_EQ(next - t, std::chrono::minutes(15)) << "at " << show(t);
    t = next;
  }
}

TEST(Cron, BadExpressionsAreNamed) {
  struct Case {
    const char* expression;
    const char* zone;
    const char* message;
  };
  const Case cases[] = {
      {"* * * * *", "UTC", "has 6 fields"},
      {"* * * * * * *", "UTC", "has 6 fields"},
      {"", "UTC", "has 6 fields"},
      {"60 * * * * *", "UTC", "cron field 'second': 60 is out of range 0-59"},
      {"* 61 * * * *", "UTC", "cron field 'minute': 61 is out of range"},
      {"* * 24 * * *", "UTC", "cron field 'hour': 24 is out of range"},
      {"* * * 0 * *", "UTC", "cron field 'day-of-month': 0 is out of range"},
      {"* * * * 13 *", "UTC", "cron field 'month': 13 is out of range"},
      {"* * * * FOO *", "UTC", "'FOO' is not a number or a name"},
      {"* * * * * 8", "UTC", "cron field 'day-of-week': 8 is out of range"},
      {"* 10-5 * * * *", "UTC", "runs backwards"},
      {"*/0 * * * * *", "UTC", "step in '*/0' is out of range"},
      {"*/x * * * * *", "UTC", "is not a number"},
      {"1,,2 * * * * *", "UTC", "empty list item"},
      {"? * * * * *", "UTC", "'?' is not a number"},
      {"0 0 0 30 2 *", "UTC", "never fires"},
      {"@often", "UTC", "unknown cron macro"},
      {"0 0 * * * *", "Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"},
  };
  for (const auto& c : cases) {
    auto schedule = CronSchedule::parse(c.expression, c.zone);
    ASSERT_FALSE(schedule) << c.expression;
    EXPECT_NE(schedule.error().message.find(c.message), std::string::npos)
        << c.expression << ": " << schedule.error().message;
  }
  auto ok = CronSchedule::parse("  0 0 * * * *  ", "");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->time_zone(), "UTC");
  EXPECT_EQ(ok->expression(), "0 0 * * * *");
}
