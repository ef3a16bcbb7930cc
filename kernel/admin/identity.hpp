// Users, sessions and API keys in the kernel's database, and turning a
// request's credentials into a Principal.
//
//   session  a cookie with 32 random bytes; the database keeps only its
//            SHA-256. Ends at its absolute expiry or after the idle timeout,
//            whichever comes first. Over HTTPS the cookie is
//            "__Host-picloud_session" (Secure, Path=/, no Domain: no other
//            host, sibling subdomains included, can set or shadow it); over
//            plain HTTP it is "picloud_session" with Path=/api/v1/admin.
//            A request with more than one session cookie is refused: which
//            one the browser lists first is not the server's choice, and a
//            sibling host's script could have set the other.
//   API key  "pcl_<16 hex lookup>_<43 chars secret>", sent as
//            "Authorization: Bearer ..."; stored as the lookup part and the
//            SHA-256 of the secret (the secret is 256 random bits, so a slow
//            KDF would add nothing). Shown once, when created.
#pragma once

#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernel/admin/capabilities.hpp"
#include "kernel/admin/secrets.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/http.hpp"

namespace picloud::kernel::admin {

inline constexpr std::string_view kSessionCookie = "picloud_session";
inline constexpr std::string_view kSecureSessionCookie = "__Host-picloud_session";

// When the session cookie is the Secure one: auto_detect when the request
// came through a proxy that says "X-Forwarded-Proto: https" (PiCloud itself
// does not speak TLS), always, or never.
enum class CookieSecure { auto_detect, always, never };
inline constexpr std::string_view kKeyPrefix = "pcl_";

struct User {
  std::string id;
  std::string username;
  bool owner = false;
  std::int64_t created_at = 0;
};

struct Principal {
  User user;
  bool via_key = false;
  std::string key_id;                 // when via_key
  std::uint32_t scopes = kAllScopes;  // a session holds every scope
  std::string session_hash;           // when signed in with a session
};

struct ApiKey {
  std::string id;
  std::string name;
  std::string lookup;
  std::uint32_t scopes = 0;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> expires_at, revoked_at, last_used_at;
};

struct IdentitySettings {
  std::int64_t session_ttl_s = 7 * 24 * 3600;
  std::int64_t session_idle_s = 12 * 3600;
  CookieSecure cookie_secure = CookieSecure::auto_detect;
};

// The outcome of reading credentials: a principal, or why there is none.
struct Authentication {
  std::optional<Principal> principal;
  std::string failure;  // for the 401 message when there is no principal
  std::int64_t valid_until_ms = INT64_MAX;  // when the credential ends by itself
};

class AccessCache;

class Identity {
 public:
  // `cache` (optional) remembers successful checks briefly; every change here
  // that narrows access clears it.
  Identity(sdk::Database& db, PasswordHasher& hasher, IdentitySettings settings, AccessCache* cache = nullptr)
      : db_(db), hasher_(hasher), settings_(settings), cache_(cache) {}

  const IdentitySettings& settings() const { return settings_; }

  // Users. Names are lower-cased; both are checked (invalid_argument).
  static sdk::Result<std::string> normalise_username(std::string_view name);
  // The password policy (password_policy.hpp) for a password of `username`.
  static sdk::Result<void> check_password_rules(std::string_view password, std::string_view username);
  sdk::Result<User> create_user(std::string_view username, std::string_view password, bool owner);
  // By id or user name.
  sdk::Result<std::optional<User>> find_user(std::string_view id_or_name);
  sdk::Result<std::vector<User>> list_users(const std::string& after_id, int limit);
  // Sets a new password (held to the policy) and ends all the user's sessions
  // but `keep_session`.
  sdk::Result<void> set_password(const std::string& user_id, std::string_view password,
                                 const std::string& keep_session_hash = "");
  // Demotes an owner, or deletes a user, unless that leaves the instance
  // without an owner (then false, nothing changed). The owners are locked for
  // the check, so two owners demoting each other at once cannot both succeed.
  sdk::Result<bool> demote_owner(const std::string& user_id);
  sdk::Result<bool> delete_user_keeping_an_owner(const std::string& user_id);
  sdk::Result<std::int64_t> count_users();

  // Sign-in: the user when the password matches. An unknown name costs the
  // same time as a wrong password.
  sdk::Result<std::optional<User>> check_password(std::string_view username, std::string_view password);
  // Opens a session; returns the cookie token.
  sdk::Result<std::string> open_session(const std::string& user_id, const std::string& remote_address);
  sdk::Result<void> close_session(const std::string& session_hash);

  // API keys of one user.
  struct NewKey {
    ApiKey key;
    std::string token;  // the whole key, shown once
  };
  sdk::Result<NewKey> create_key(const std::string& user_id, std::string_view name, std::uint32_t scopes,
                                 std::optional<std::int64_t> expires_at);
  sdk::Result<std::vector<ApiKey>> list_keys(const std::string& user_id, const std::string& after_id, int limit);
  // False when the user has no such key; revoking twice keeps the first time.
  sdk::Result<bool> revoke_key(const std::string& user_id, const std::string& key_id);

  // Reads the Authorization header (an API key) or else the session cookie.
  sdk::Result<Authentication> authenticate(const sdk::HttpRequest& request);

  // The session cookie's name for this request (see the top of this file).
  std::string_view session_cookie_name(const sdk::HttpRequest& request) const;
  // The Set-Cookie value giving this request's client the session `token`
  // for `max_age_s` seconds; an empty token and 0 clear it.
  std::string session_set_cookie(const sdk::HttpRequest& request, std::string_view token, std::int64_t max_age_s) const;

  // Deletes expired sessions; returns how many.
  sdk::Result<std::int64_t> sweep_sessions();

 private:
  sdk::Result<Authentication> authenticate_key(std::string_view token);
  sdk::Result<Authentication> authenticate_session(std::string_view token);
  void access_changed();

  sdk::Database& db_;
  PasswordHasher& hasher_;
  IdentitySettings settings_;
  AccessCache* cache_;
};

// Every value of the cookie `name` in the request's Cookie headers, in order.
std::vector<std::string> cookie_values(const sdk::HttpRequest& request, std::string_view name);

}  // namespace picloud::kernel::admin
