// Counts per time unit over a sliding window, stored in one text field: the
// publishes of the last 60 minutes per minute, of the last 24 hours per
// hour. A topic's recent counts are one row however long it lives, so
// nothing has to be swept bucket by bucket.
//
// Text form: "[newest_unit, c0, c1, ..., cN-1]", counts oldest first, the
// last one the newest unit's (units are ms since the epoch / unit_ms).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace picloud::pubsub {

class RecentCounts {
 public:
  RecentCounts(std::int64_t unit_ms, std::size_t units);

  // Counts `count` at `at_ms`; a time older than the window (relative to
  // its newest unit) is dropped.
  void add(std::int64_t at_ms, std::int64_t count);
  // Everything `other` holds (same unit and size).
  void add(const RecentCounts& other);
  // The counts of the units in the window that ends at `now_ms`.
  std::int64_t sum(std::int64_t now_ms) const;

  std::string encode() const;
  // Text from encode(); anything else (empty, damaged) reads as no counts.
  static RecentCounts decode(std::string_view text, std::int64_t unit_ms, std::size_t units);

 private:
  std::int64_t unit_ms_;
  std::int64_t newest_ = -1;  // the newest slot's unit; -1: empty
  std::vector<std::int64_t> counts_;
};

// The two windows the admin views show: empty, or as stored.
inline RecentCounts last_hour_by_minute(std::string_view stored = {}) {
  return RecentCounts::decode(stored, 60'000, 60);
}
inline RecentCounts last_day_by_hour(std::string_view stored = {}) {
  return RecentCounts::decode(stored, 3'600'000, 24);
}

}  // namespace picloud::pubsub
