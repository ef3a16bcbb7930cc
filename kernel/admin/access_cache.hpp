// A short-lived memory of credential and membership checks, so an API key
// in a busy loop does not cost database round trips on every request.
//
// Entries live at most `ttl_ms` (2 s by default). Any change on this node
// that could narrow someone's access — a revoked key, a sign-out, a new
// password, a deleted user, a changed membership, owner flag, app slug or a
// deleted app — clears the whole cache at once, so on this node it takes
// effect immediately; the other nodes sharing the database clear theirs
// when the broadcast (a cluster poke) reaches them, within the TTL at worst.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "kernel/admin/capabilities.hpp"
#include "kernel/admin/identity.hpp"

namespace picloud::kernel::admin {

class AccessCache {
 public:
  explicit AccessCache(std::int64_t ttl_ms = 2000) : ttl_ms_(ttl_ms) {}

  struct Membership {
    std::string app_id;  // empty: no such app
    Role role = Role::none;
  };

  // Read before looking something up in the database, and passed to
  // remember(): an answer read before an invalidate() is not kept.
  std::uint64_t generation();

  // `credential` is the raw Authorization or cookie value; `deadline_ms` is
  // when it stops being valid on its own (key expiry, session end).
  std::optional<Principal> principal(const std::string& credential, std::int64_t now_ms);
  void remember(const std::string& credential, const Principal& p, std::int64_t deadline_ms, std::int64_t now_ms,
                std::uint64_t generation);

  std::optional<Membership> membership(const std::string& user_id, const std::string& app_ref, std::int64_t now_ms);
  void remember(const std::string& user_id, const std::string& app_ref, const Membership& m, std::int64_t now_ms,
                std::uint64_t generation);

  // Forgets everything (after any change to identities or memberships) and
  // tells the other nodes.
  void invalidate();
  // Forgets everything, telling no one (another node's change).
  void forget();
  // Set once, before the cache is used.
  void set_broadcast(std::function<void()> broadcast) { broadcast_ = std::move(broadcast); }

 private:
  struct PrincipalEntry {
    Principal principal;
    std::int64_t until_ms;
  };
  struct MembershipEntry {
    Membership membership;
    std::int64_t until_ms;
  };
  static constexpr std::size_t kMaxEntries = 10'000;

  std::int64_t ttl_ms_;
  std::mutex mutex_;
  std::uint64_t generation_ = 0;
  std::function<void()> broadcast_;
  std::unordered_map<std::string, PrincipalEntry> principals_;
  std::unordered_map<std::string, MembershipEntry> memberships_;
};

}  // namespace picloud::kernel::admin
