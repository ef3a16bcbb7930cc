#include "kernel/admin/login_limiter.hpp"

#include <algorithm>

namespace picloud::kernel::admin {
namespace {
// Bounds memory under a flood of distinct names or addresses: past this many
// entries, the windows that have ended are dropped.
constexpr std::size_t kPruneAbove = 10'000;
}  // namespace

std::int64_t LoginLimiter::blocked(std::map<std::string, Window>& table, const std::string& key, int limit,
                                   std::int64_t now_ms) {
  auto it = table.find(key);
  if (it == table.end()) return 0;
  std::int64_t end = it->second.start_ms + limits_.window_s * 1000;
  if (end <= now_ms) {
    table.erase(it);
    return 0;
  }
  return it->second.failures >= limit ? (end - now_ms + 999) / 1000 : 0;
}

void LoginLimiter::count(std::map<std::string, Window>& table, const std::string& key, std::int64_t now_ms) {
  if (table.size() > kPruneAbove)
    for (auto it = table.begin(); it != table.end();)
      it = it->second.start_ms + limits_.window_s * 1000 <= now_ms ? table.erase(it) : std::next(it);
  auto& w = table[key];
  if (w.failures == 0 || w.start_ms + limits_.window_s * 1000 <= now_ms) w = Window{now_ms, 0};
  ++w.failures;
}

void LoginLimiter::uncount(std::map<std::string, Window>& table, const std::string& key) {
  auto it = table.find(key);
  if (it != table.end() && --it->second.failures <= 0) table.erase(it);
}

std::int64_t LoginLimiter::admit(const std::string& account, const std::string& address, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto wait = std::max(blocked(accounts_, account, limits_.per_account, now_ms),
                       blocked(addresses_, address, limits_.per_address, now_ms));
  if (wait > 0) return wait;
  count(accounts_, account, now_ms);
  count(addresses_, address, now_ms);
  return 0;
}

void LoginLimiter::succeeded(const std::string& account, const std::string& address) {
  std::lock_guard lock(mutex_);
  accounts_.erase(account);
  uncount(addresses_, address);
}

void LoginLimiter::withdrawn(const std::string& account, const std::string& address) {
  std::lock_guard lock(mutex_);
  uncount(accounts_, account);
  uncount(addresses_, address);
}

}  // namespace picloud::kernel::admin
