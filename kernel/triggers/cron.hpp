// Cron schedules: six fields (second minute hour day-of-month month
// day-of-week) evaluated in an IANA time zone.
//
//   field         values         names
//   second        0-59
//   minute        0-59
//   hour          0-23
//   day of month  1-31           ? (same as *)
//   month         1-12           JAN-DEC
//   day of week   0-7 (0, 7 Sun) SUN-SAT, ? (same as *)
//
// Each field is `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`,
// or a comma-separated list of those. As in classic cron, when both day
// fields are restricted a day matches either. `@yearly`, `@monthly`,
// `@weekly`, `@daily` and `@hourly` are accepted (at second 0).
//
// Daylight-saving changes, in the schedule's zone:
//   - a local time skipped by a spring-forward change fires at the first
//     instant after the gap (02:30 on a day that jumps from 02:00 to 03:00
//     fires at 03:00);
//   - a local time that occurs twice (fall back) fires once, at its first
//     occurrence — unless the hour field is `*`: then the schedule follows
//     the clock through both passes (an every-5-minutes job keeps running
//     during the repeated hour).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "picloud/sdk/error.hpp"

namespace date {
class time_zone;
}

namespace picloud::kernel::triggers {

using Seconds = std::chrono::sys_seconds;

class CronSchedule {
 public:
  // Parses and validates; errors name the field and what is wrong, an
  // unknown time zone, or a schedule that can never fire (`0 0 0 31 2 *`).
  static sdk::Result<CronSchedule> parse(const std::string& expression, const std::string& time_zone);

  // The first fire time strictly after `after`.
  Seconds next_after(Seconds after) const;

  const std::string& expression() const { return expression_; }
  const std::string& time_zone() const { return zone_name_; }

 private:
  CronSchedule() = default;

  // The first local time at or after `from` whose fields all match, within
  // `horizon` years; nothing beyond.
  bool next_local_match(std::chrono::seconds& local, int horizon_years) const;
  bool day_matches(int year, unsigned month, unsigned day) const;

  std::string expression_;
  std::string zone_name_;
  const date::time_zone* zone_ = nullptr;
  std::uint64_t seconds_ = 0, minutes_ = 0;  // bit i: value i matches
  std::uint32_t hours_ = 0, days_ = 0, months_ = 0;
  std::uint8_t weekdays_ = 0;  // bit 0 = Sunday
  bool days_restricted_ = false, weekdays_restricted_ = false, every_hour_ = false;
};

}  // namespace picloud::kernel::triggers
