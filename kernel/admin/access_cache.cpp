#include "kernel/admin/access_cache.hpp"

#include <algorithm>

namespace picloud::kernel::admin {

std::optional<Principal> AccessCache::principal(const std::string& credential, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto it = principals_.find(credential);
  if (it == principals_.end()) return std::nullopt;
  if (it->second.until_ms <= now_ms) {
    principals_.erase(it);
    return std::nullopt;
  }
  return it->second.principal;
}

std::uint64_t AccessCache::generation() {
  std::lock_guard lock(mutex_);
  return generation_;
}

void AccessCache::remember(const std::string& credential, const Principal& p, std::int64_t deadline_ms,
                           std::int64_t now_ms, std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  if (generation != generation_) return;
  if (principals_.size() >= kMaxEntries) principals_.clear();
  principals_[credential] = PrincipalEntry{p, std::min(now_ms + ttl_ms_, deadline_ms)};
}

std::optional<AccessCache::Membership> AccessCache::membership(const std::string& user_id, const std::string& app_ref,
                                                               std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto it = memberships_.find(user_id + '\n' + app_ref);
  if (it == memberships_.end()) return std::nullopt;
  if (it->second.until_ms <= now_ms) {
    memberships_.erase(it);
    return std::nullopt;
  }
  return it->second.membership;
}

void AccessCache::remember(const std::string& user_id, const std::string& app_ref, const Membership& m,
                           std::int64_t now_ms, std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  if (generation != generation_) return;
  if (memberships_.size() >= kMaxEntries) memberships_.clear();
  memberships_[user_id + '\n' + app_ref] = MembershipEntry{m, now_ms + ttl_ms_};
}

void AccessCache::invalidate() {
  forget();
  if (broadcast_) broadcast_();
}

void AccessCache::forget() {
  std::lock_guard lock(mutex_);
  ++generation_;
  principals_.clear();
  memberships_.clear();
}

}  // namespace picloud::kernel::admin
