#include "recent_counts.hpp"

#include <algorithm>
#include <charconv>

namespace picloud::pubsub {

RecentCounts::RecentCounts(std::int64_t unit_ms, std::size_t units) : unit_ms_(unit_ms), counts_(units, 0) {}

void RecentCounts::add(std::int64_t at_ms, std::int64_t count) {
  if (count <= 0 || at_ms < 0 || at_ms > 253'402'300'800'000) return;
  const std::int64_t unit = at_ms / unit_ms_;
  const auto n = static_cast<std::int64_t>(counts_.size());
  if (newest_ < 0) newest_ = unit;
  if (unit > newest_) {  // slide: the oldest units fall out
    const std::int64_t shift = std::min(unit - newest_, n);
    std::rotate(counts_.begin(), counts_.begin() + shift, counts_.end());
    std::fill(counts_.end() - shift, counts_.end(), 0);
    newest_ = unit;
  }
  const std::int64_t index = n - 1 - (newest_ - unit);
  if (index >= 0) counts_[static_cast<std::size_t>(index)] += count;
}

void RecentCounts::add(const RecentCounts& other) {
  if (other.newest_ < 0 || other.unit_ms_ != unit_ms_) return;
  const auto n = static_cast<std::int64_t>(other.counts_.size());
  for (std::int64_t i = 0; i < n; ++i)
    add((other.newest_ - (n - 1 - i)) * unit_ms_, other.counts_[static_cast<std::size_t>(i)]);
}

std::int64_t RecentCounts::sum(std::int64_t now_ms) const {
  if (newest_ < 0) return 0;
  const std::int64_t now = now_ms / unit_ms_;
  const auto n = static_cast<std::int64_t>(counts_.size());
  std::int64_t total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t unit = newest_ - (n - 1 - i);
    if (unit > now - n && unit <= now) total += counts_[static_cast<std::size_t>(i)];
  }
  return total;
}

std::string RecentCounts::encode() const {
  std::string out = "[" + std::to_string(newest_);
  for (auto c : counts_) out += "," + std::to_string(c);
  return out + "]";
}

RecentCounts RecentCounts::decode(std::string_view text, std::int64_t unit_ms, std::size_t units) {
  RecentCounts empty(unit_ms, units), out(unit_ms, units);
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return empty;
  std::vector<std::int64_t> numbers;
  const char* p = text.data() + 1;
  const char* end = text.data() + text.size() - 1;
  while (p < end) {
    std::int64_t v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc()) return empty;
    numbers.push_back(v);
    p = next;
    if (p < end && *p++ != ',') return empty;
  }
  // A newest unit before the epoch or past the year 10000 is damage.
  if (numbers.size() != units + 1 || numbers[0] < 0 || numbers[0] > 253'402'300'800'000 / unit_ms) return empty;
  out.newest_ = numbers[0];
  for (std::size_t i = 0; i < units; ++i) out.counts_[i] = std::max<std::int64_t>(0, numbers[i + 1]);
  return out;
}

}  // namespace picloud::pubsub
