#include "kernel/admin/identity.hpp"

#include "kernel/admin/access_cache.hpp"
#include "kernel/admin/admin_api.hpp"
#include "kernel/admin/password_policy.hpp"

namespace picloud::kernel::admin {
namespace {

constexpr std::size_t kLookupHexBytes = 8;   // 16 hex characters
constexpr std::size_t kSecretBytes = 32;     // 43 base64url characters
constexpr std::int64_t kTouchEveryMs = 60'000;  // last-seen / last-used resolution

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::int64_t> opt_int(const sdk::Value& v) {
  if (v.is_null()) return std::nullopt;
  return v.as_int();
}

User user_from(const std::vector<sdk::Value>& row) {
  return User{row[0].as_string(), row[1].as_string(), row[2].as_int() != 0, row[3].as_int()};
}

// The stored form: scope names separated by spaces.
std::uint32_t parse_scope_list(std::string_view text) {
  std::uint32_t mask = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    mask |= parse_scope(text.substr(start, end - start));
    start = end + 1;
  }
  return mask;
}

ApiKey key_from(const std::vector<sdk::Value>& row) {
  ApiKey k;
  k.id = row[0].as_string();
  k.name = row[1].as_string();
  k.lookup = row[2].as_string();
  k.scopes = parse_scope_list(row[3].as_string());
  k.created_at = row[4].as_int();
  k.expires_at = opt_int(row[5]);
  k.revoked_at = opt_int(row[6]);
  k.last_used_at = opt_int(row[7]);
  return k;
}

std::string join_scopes(std::uint32_t mask) {
  std::string out;
  for (const auto& s : scope_names(mask)) out += (out.empty() ? "" : " ") + s;
  return out;
}

const char* kUserColumns = "id, username, is_owner, created_at";
const char* kKeyColumns = "id, name, lookup, scopes, created_at, expires_at, revoked_at, last_used_at";

}  // namespace

sdk::Result<std::string> Identity::normalise_username(std::string_view name) {
  std::string lower;
  for (char c : name) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower.size() < 2 || lower.size() > 64)
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "a user name has 2 to 64 characters");
  for (char c : lower)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '@'))
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "a user name may contain letters, digits, '.', '_', '-' and '@' only");
  if (looks_like_id(lower))
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "a user name must not look like an id");
  return lower;
}

sdk::Result<void> Identity::check_password_rules(std::string_view password, std::string_view username) {
  return check_password_policy(password, username);
}

sdk::Result<User> Identity::create_user(std::string_view username, std::string_view password, bool owner) {
  auto name = normalise_username(username);
  if (!name) return name.error();
  if (auto r = check_password_rules(password, *name); !r) return r.error();
  auto hash = hasher_.hash(password);
  if (!hash) return hash.error();
  User user{new_id(), *name, owner, now_ms()};
  auto r = db_.execute(
      "INSERT INTO users (id, username, password_hash, is_owner, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
      {user.id, user.username, *hash, owner ? 1 : 0, user.created_at, user.created_at});
  if (!r) {
    if (r.error().kind == sdk::ErrorKind::conflict)
      return sdk::make_error(sdk::ErrorKind::conflict, "the user name '" + user.username + "' is taken");
    return r.error();
  }
  return user;
}

void Identity::access_changed() {
  if (cache_) cache_->invalidate();
}

sdk::Result<std::optional<User>> Identity::find_user(std::string_view id_or_name) {
  auto rows = db_.query(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ? OR username = ?",
                        {std::string(id_or_name), lower(id_or_name)});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<User>{};
  return std::optional<User>{user_from(rows->rows[0])};
}

sdk::Result<std::vector<User>> Identity::list_users(const std::string& after_id, int limit) {
  auto rows = db_.query(std::string("SELECT ") + kUserColumns + " FROM users WHERE id > ? ORDER BY id LIMIT ?",
                        {after_id, limit});
  if (!rows) return rows.error();
  std::vector<User> out;
  for (const auto& row : rows->rows) out.push_back(user_from(row));
  return out;
}

sdk::Result<void> Identity::set_password(const std::string& user_id, std::string_view password,
                                         const std::string& keep_session_hash) {
  auto named = db_.query("SELECT username FROM users WHERE id = ?", {user_id});
  if (!named) return named.error();
  if (named->empty()) return sdk::make_error(sdk::ErrorKind::not_found, "no such user");
  if (auto r = check_password_rules(password, named->rows[0][0].as_string()); !r) return r.error();
  auto hash = hasher_.hash(password);
  if (!hash) return hash.error();
  auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto n = tx.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", {*hash, now_ms(), user_id});
    if (!n) return n.error();
    if (*n == 0) return sdk::make_error(sdk::ErrorKind::not_found, "no such user");
    auto d = tx.execute("DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?", {user_id, keep_session_hash});
    if (!d) return d.error();
    return {};
  });
  access_changed();
  return r;
}

namespace {

// Runs `change` unless `user_id` is the only owner; see demote_owner().
sdk::Result<bool> unless_last_owner(sdk::Database& db, const std::string& user_id, const std::string& change,
                                    const sdk::Params& params) {
  bool changed = false;
  auto r = db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    // SQLite's write transaction already excludes every other writer.
    auto owners = tx.query(db.dialect() == sdk::Dialect::postgres
                               ? "SELECT id FROM users WHERE is_owner = 1 FOR UPDATE"
                               : "SELECT id FROM users WHERE is_owner = 1");
    if (!owners) return owners.error();
    bool others = false, is_owner = false;
    for (const auto& row : owners->rows) (row[0].as_string() == user_id ? is_owner : others) = true;
    if (is_owner && !others) return {};
    auto u = tx.execute(change, params);
    if (!u) return u.error();
    changed = true;
    return {};
  });
  if (!r) return r.error();
  return changed;
}

}  // namespace

sdk::Result<bool> Identity::demote_owner(const std::string& user_id) {
  auto r = unless_last_owner(db_, user_id, "UPDATE users SET is_owner = 0, updated_at = ? WHERE id = ?", {now_ms(), user_id});
  access_changed();
  return r;
}

sdk::Result<bool> Identity::delete_user_keeping_an_owner(const std::string& user_id) {
  auto r = unless_last_owner(db_, user_id, "DELETE FROM users WHERE id = ?", {user_id});
  access_changed();
  return r;
}

sdk::Result<std::int64_t> Identity::count_users() {
  auto rows = db_.query("SELECT count(*) FROM users");
  if (!rows) return rows.error();
  return rows->rows[0][0].as_int();
}

sdk::Result<std::optional<User>> Identity::check_password(std::string_view username, std::string_view password) {
  auto rows = db_.query(std::string("SELECT ") + kUserColumns + ", password_hash FROM users WHERE username = ?",
                        {lower(username)});
  if (!rows) return rows.error();
  if (rows->empty() || password.size() > 1024) {
    hasher_.waste_one_verification(password.substr(0, 1024));
    return std::optional<User>{};
  }
  const auto& row = rows->rows[0];
  if (!hasher_.verify(password, row[4].as_string())) return std::optional<User>{};
  return std::optional<User>{user_from(row)};
}

sdk::Result<std::string> Identity::open_session(const std::string& user_id, const std::string& remote_address) {
  std::string token = random_token(32);
  std::int64_t now = now_ms();
  auto r = db_.execute(
      "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, remote_address) "
      "VALUES (?, ?, ?, ?, ?, ?)",
      {sha256_hex(token), user_id, now, now, now + settings_.session_ttl_s * 1000, remote_address});
  if (!r) return r.error();
  return token;
}

sdk::Result<void> Identity::close_session(const std::string& session_hash) {
  auto r = db_.execute("DELETE FROM sessions WHERE token_hash = ?", {session_hash});
  access_changed();
  if (!r) return r.error();
  return {};
}

sdk::Result<Identity::NewKey> Identity::create_key(const std::string& user_id, std::string_view name,
                                                   std::uint32_t scopes, std::optional<std::int64_t> expires_at) {
  NewKey out;
  out.key.id = new_id();
  out.key.name = std::string(name);
  out.key.lookup = random_hex(kLookupHexBytes);
  out.key.scopes = scopes;
  out.key.created_at = now_ms();
  out.key.expires_at = expires_at;
  std::string secret = random_token(kSecretBytes);
  out.token = std::string(kKeyPrefix) + out.key.lookup + "_" + secret;
  auto r = db_.execute(
      "INSERT INTO api_keys (id, user_id, name, lookup, secret_hash, scopes, created_at, expires_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {out.key.id, user_id, out.key.name, out.key.lookup, sha256_hex(secret), join_scopes(scopes), out.key.created_at,
       expires_at ? sdk::Value(*expires_at) : sdk::Value()});
  if (!r) return r.error();
  return out;
}

sdk::Result<std::vector<ApiKey>> Identity::list_keys(const std::string& user_id, const std::string& after_id,
                                                     int limit) {
  auto rows = db_.query(std::string("SELECT ") + kKeyColumns +
                            " FROM api_keys WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?",
                        {user_id, after_id, limit});
  if (!rows) return rows.error();
  std::vector<ApiKey> out;
  for (const auto& row : rows->rows) out.push_back(key_from(row));
  return out;
}

sdk::Result<bool> Identity::revoke_key(const std::string& user_id, const std::string& key_id) {
  auto rows = db_.query("SELECT revoked_at FROM api_keys WHERE id = ? AND user_id = ?", {key_id, user_id});
  if (!rows) return rows.error();
  if (rows->empty()) return false;
  auto r = db_.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", {now_ms(), key_id});
  access_changed();
  if (!r) return r.error();
  return true;
}

sdk::Result<Authentication> Identity::authenticate(const sdk::HttpRequest& request) {
  auto authorization = request.header("authorization");
  std::string token;
  bool key = !authorization.empty();
  if (key) {
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.size() <= kBearer.size() || lower(authorization.substr(0, kBearer.size())) != "bearer ")
      return Authentication{std::nullopt, "the Authorization header must be 'Bearer <API key>'"};
    token = std::string(authorization.substr(kBearer.size()));
  } else {
    // Over HTTPS only the __Host- cookie counts: a plain one may have been
    // set by any sibling host (Domain=...), so it is ignored rather than
    // allowed to refuse the request. Over plain HTTP the session is the
    // plain cookie, and a __Host- one beside it counts as a second.
    std::string_view name = session_cookie_name(request);
    auto tokens = cookie_values(request, name);
    std::size_t count = tokens.size();
    if (name == kSessionCookie) count += cookie_values(request, kSecureSessionCookie).size();
    if (count > 1)
      return Authentication{std::nullopt, "the request carries " + std::to_string(count) +
                                              " session cookies and only one can be honoured; sign out (or clear "
                                              "this site's cookies) and sign in again"};
    if (count == 1 && tokens.size() == 1 && tokens[0].size() <= 128) token = tokens[0];
    if (token.empty())
      return Authentication{std::nullopt, "sign in, or send an API key as 'Authorization: Bearer <key>'"};
  }
  // Tagged, so a key and a session token can never be taken for each other.
  std::string credential = (key ? "k:" : "s:") + token;
  std::int64_t now = now_ms();
  if (cache_)
    if (auto hit = cache_->principal(credential, now)) return Authentication{std::move(*hit), ""};
  std::uint64_t generation = cache_ ? cache_->generation() : 0;
  auto auth = key ? authenticate_key(token) : authenticate_session(token);
  if (auth && auth->principal && cache_) cache_->remember(credential, *auth->principal, auth->valid_until_ms, now, generation);
  return auth;
}

sdk::Result<Authentication> Identity::authenticate_key(std::string_view token) {
  const Authentication invalid{std::nullopt, "the API key is not valid"};
  if (token.size() < kKeyPrefix.size() + 2 * kLookupHexBytes + 1 || token.substr(0, kKeyPrefix.size()) != kKeyPrefix)
    return invalid;
  std::string_view lookup = token.substr(kKeyPrefix.size(), 2 * kLookupHexBytes);
  if (token[kKeyPrefix.size() + lookup.size()] != '_') return invalid;
  std::string_view secret = token.substr(kKeyPrefix.size() + lookup.size() + 1);
  auto rows = db_.query(
      "SELECT k.id, k.secret_hash, k.scopes, k.expires_at, k.revoked_at, k.last_used_at, "
      "u.id, u.username, u.is_owner, u.created_at FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.lookup = ?",
      {std::string(lookup)});
  if (!rows) return rows.error();
  if (rows->empty()) return invalid;
  const auto& row = rows->rows[0];
  if (!constant_time_equal(sha256_hex(secret), row[1].as_string())) return invalid;
  std::int64_t now = now_ms();
  if (!row[4].is_null()) return Authentication{std::nullopt, "the API key was revoked"};
  if (!row[3].is_null() && row[3].as_int() <= now) return Authentication{std::nullopt, "the API key has expired"};
  Principal p;
  p.user = User{row[6].as_string(), row[7].as_string(), row[8].as_int() != 0, row[9].as_int()};
  p.via_key = true;
  p.key_id = row[0].as_string();
  p.scopes = parse_scope_list(row[2].as_string());
  // last_used_at to the minute: a key in a hot loop does not write per request.
  if (row[5].is_null() || now - row[5].as_int() >= kTouchEveryMs) {
    auto r = db_.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", {now, p.key_id});
    if (!r) return r.error();
  }
  return Authentication{std::move(p), "", row[3].is_null() ? INT64_MAX : row[3].as_int()};
}

sdk::Result<Authentication> Identity::authenticate_session(std::string_view token) {
  std::string hash = sha256_hex(token);
  auto rows = db_.query(
      "SELECT s.expires_at, s.last_seen_at, u.id, u.username, u.is_owner, u.created_at "
      "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
      {hash});
  if (!rows) return rows.error();
  if (rows->empty()) return Authentication{std::nullopt, "the session is not valid (signed out or expired); sign in again"};
  const auto& row = rows->rows[0];
  std::int64_t now = now_ms();
  std::int64_t last_seen = row[1].as_int();
  if (row[0].as_int() <= now || last_seen + settings_.session_idle_s * 1000 <= now) {
    if (auto r = close_session(hash); !r) return r.error();
    return Authentication{std::nullopt, "the session has expired; sign in again"};
  }
  if (now - last_seen >= kTouchEveryMs) {
    auto r = db_.execute("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", {now, hash});
    if (!r) return r.error();
  }
  Principal p;
  p.user = User{row[2].as_string(), row[3].as_string(), row[4].as_int() != 0, row[5].as_int()};
  p.session_hash = hash;
  std::int64_t seen = now - last_seen >= kTouchEveryMs ? now : last_seen;
  return Authentication{std::move(p), "", std::min(row[0].as_int(), seen + settings_.session_idle_s * 1000)};
}

sdk::Result<std::int64_t> Identity::sweep_sessions() {
  std::int64_t now = now_ms();
  return db_.execute("DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?",
                     {now, now - settings_.session_idle_s * 1000});
}

std::vector<std::string> cookie_values(const sdk::HttpRequest& request, std::string_view name) {
  // Cookie: a=1; picloud_session=xyz; b=2 — in one header or several.
  std::vector<std::string> out;
  for (const auto& [header_name, value] : request.headers) {
    if (header_name != "cookie") continue;
    std::string_view header = value;
    while (!header.empty()) {
      auto semi = header.find(';');
      std::string_view pair = header.substr(0, semi);
      header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      auto eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view key = pair.substr(0, eq);
      while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
      if (key != name) continue;
      std::string_view v = pair.substr(eq + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
      out.emplace_back(v);
    }
  }
  return out;
}

std::string_view Identity::session_cookie_name(const sdk::HttpRequest& request) const {
  bool secure = settings_.cookie_secure == CookieSecure::always ||
                (settings_.cookie_secure == CookieSecure::auto_detect &&
                 lower(request.header("x-forwarded-proto")) == "https");
  return secure ? kSecureSessionCookie : kSessionCookie;
}

std::string Identity::session_set_cookie(const sdk::HttpRequest& request, std::string_view token,
                                         std::int64_t max_age_s) const {
  // SameSite=Strict: the admin API is called by its own pages, never reached
  // signed-in from a link on another site.
  std::string_view name = session_cookie_name(request);
  std::string cookie = std::string(name) + "=" + std::string(token);
  if (name == kSecureSessionCookie) {
    // The __Host- prefix makes browsers insist on Secure, Path=/ and no
    // Domain. Path=/ is safe: an app never serves on the admin API's hosts.
    cookie += "; Path=/; Max-Age=" + std::to_string(max_age_s) + "; HttpOnly; Secure; SameSite=Strict";
  } else {
    // Plain HTTP: Path limits the cookie to the admin API.
    cookie += "; Path=" + std::string(kAdminPrefix) + "; Max-Age=" + std::to_string(max_age_s) +
              "; HttpOnly; SameSite=Strict";
  }
  return cookie;
}

}  // namespace picloud::kernel::admin
