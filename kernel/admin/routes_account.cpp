// Sign-in and the signed-in user's own things: session, password, API keys.
#include "kernel/admin/handlers.hpp"
#include "kernel/admin/request_origin.hpp"

namespace picloud::kernel::admin {
namespace {

std::string session_cookie(const AdminContext& ctx, const sdk::HttpRequest& req, const std::string& token,
                           std::int64_t max_age_s) {
  return ctx.identity.session_set_cookie(req, token, max_age_s);
}

sdk::HttpResponse rate_limited(std::int64_t seconds) {
  auto r = error_body(429, "rate_limited",
                      "too many failed sign-ins; try again in " + std::to_string(seconds) + " seconds",
                      sdk::Value::object({{"retry_after_s", seconds}}));
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

// Too many password checks waiting already (see PasswordHasher): the
// admitted attempt is withdrawn, so it does not count against the limits.
sdk::HttpResponse too_busy(AdminContext& ctx, const std::string& account, const std::string& address) {
  ctx.limiter.withdrawn(account, address);
  auto r = error_body(503, "busy", "too many sign-ins are being checked at once; try again in a moment",
                      sdk::Value::object({{"retry_after_s", 1}}));
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

}  // namespace

sdk::Value user_json(const User& user) {
  return sdk::Value::object(
      {{"id", user.id}, {"username", user.username}, {"owner", user.owner}, {"created_at", format_time(user.created_at)}});
}

sdk::Value key_json(const ApiKey& k) {
  std::int64_t now = now_ms();
  std::string status = k.revoked_at ? "revoked" : (k.expires_at && *k.expires_at <= now) ? "expired" : "active";
  sdk::Array scopes;
  for (auto& s : scope_names(k.scopes)) scopes.emplace_back(s);
  return sdk::Value::object({{"id", k.id},
                             {"name", k.name},
                             {"prefix", std::string(kKeyPrefix) + k.lookup},
                             {"scopes", std::move(scopes)},
                             {"status", status},
                             {"created_at", format_time(k.created_at)},
                             {"expires_at", time_or_null(k.expires_at)},
                             {"revoked_at", time_or_null(k.revoked_at)},
                             {"last_used_at", time_or_null(k.last_used_at)}});
}

sdk::Value time_or_null(const std::optional<std::int64_t>& ms) {
  return ms ? sdk::Value(format_time(*ms)) : sdk::Value();
}

void add_account_routes(AdminContext& ctx, Registrar& r) {
  r.add("POST", "/login", std::string(sdk::kPublic), [&ctx](const sdk::HttpRequest& req) {
    // Login CSRF: another origin's page must not sign the browser in (to an
    // account of the attacker's) any more than it may act with its session.
    if (auto why = foreign_origin(req)) fail(403, "cross_origin", *why);
    auto body = json_body(req);
    Fields f(body);
    std::string username = *f.string("username", true);
    std::string password = *f.string("password", true);
    f.finish();
    std::string account = to_lower(username);
    std::int64_t now = now_ms();
    if (auto wait = ctx.limiter.admit(account, req.remote_address, now); wait > 0) return rate_limited(wait);
    std::optional<User> user;
    try {
      user = unwrap(ctx.identity.check_password(username, password));
    } catch (const PasswordCheckBusy&) {
      return too_busy(ctx, account, req.remote_address);
    }
    if (!user) return error_body(401, "unauthorized", "wrong user name or password");
    ctx.limiter.succeeded(account, req.remote_address);
    unwrap(ctx.identity.sweep_sessions());
    std::string token = unwrap(ctx.identity.open_session(user->id, req.remote_address));
    std::int64_t ttl = ctx.settings.identity.session_ttl_s;
    auto res = json_response(200, sdk::Value::object({{"user", user_json(*user)},
                                                      {"expires_at", format_time(now + ttl * 1000)},
                                                      {"idle_timeout_s", ctx.settings.identity.session_idle_s}}));
    res.headers.emplace_back("Set-Cookie", session_cookie(ctx, req, token, ttl));
    res.headers.emplace_back("Cache-Control", "no-store");
    return res;
  });

  r.add("POST", "/logout", "account.session", [&ctx](const sdk::HttpRequest& req) {
    unwrap(ctx.identity.close_session(current_access().principal.session_hash));
    auto res = no_content();
    res.headers.emplace_back("Set-Cookie", session_cookie(ctx, req, "", 0));
    return res;
  });

  r.add("GET", "/me", "account.read", [](const sdk::HttpRequest&) {
    const auto& p = current_access().principal;
    sdk::Array scopes;
    for (auto& s : scope_names(p.scopes)) scopes.emplace_back(s);
    return json_response(200, sdk::Value::object({{"user", user_json(p.user)},
                                                  {"auth", p.via_key ? "api_key" : "session"},
                                                  {"key_id", p.via_key ? sdk::Value(p.key_id) : sdk::Value()},
                                                  {"scopes", std::move(scopes)}}));
  });

  r.add("PUT", "/me/password", "account.password", [&ctx](const sdk::HttpRequest& req) {
    auto body = json_body(req);
    Fields f(body);
    std::string current = *f.string("current_password", true);
    std::string next = *f.string("new_password", true);
    f.finish();
    const auto& p = current_access().principal;
    if (auto rules = Identity::check_password_rules(next, p.user.username); !rules)
      fail_field("new_password", rules.error().message);
    if (auto wait = ctx.limiter.admit(p.user.username, req.remote_address, now_ms()); wait > 0) return rate_limited(wait);
    std::optional<User> user;
    try {
      user = unwrap(ctx.identity.check_password(p.user.username, current));
    } catch (const PasswordCheckBusy&) {
      return too_busy(ctx, p.user.username, req.remote_address);
    }
    if (!user) fail(403, "forbidden", "the current password is wrong");
    ctx.limiter.succeeded(p.user.username, req.remote_address);
    // Other sessions end: whoever else knew the old password is signed out.
    unwrap(ctx.identity.set_password(p.user.id, next, p.session_hash));
    return no_content();
  });

  r.add("GET", "/keys", "account.keys", [&ctx](const sdk::HttpRequest& req) {
    auto page = read_page(query_params(req, {"limit", "cursor"}));
    auto keys = unwrap(ctx.identity.list_keys(current_access().principal.user.id, page.after, page.limit));
    sdk::Array items;
    for (const auto& k : keys) items.push_back(key_json(k));
    return page_response(std::move(items), page, keys.size() == 0 ? std::string() : keys.back().id);
  });

  r.add("POST", "/keys", "account.keys", [&ctx](const sdk::HttpRequest& req) {
    auto body = json_body(req);
    Fields f(body);
    std::string name = *f.string("name", true);
    auto scope_list = *f.strings("scopes", true);
    auto days = f.integer("expires_in_days");
    f.finish();
    if (name.empty() || name.size() > 100) fail_field("name", "must have 1 to 100 characters");
    std::uint32_t scopes = 0;
    if (scope_list.empty()) fail_field("scopes", "name at least one scope");
    for (const auto& s : scope_list) {
      auto bit = parse_scope(s);
      if (!bit) {
        std::string known;
        for (const auto& [n, _] : all_scopes()) known += (known.empty() ? "" : ", ") + n;
        fail_field("scopes", "unknown scope '" + s + "' (known: " + known + ")");
      }
      if (scopes & bit) fail_field("scopes", "'" + s + "' is listed twice");
      scopes |= bit;
    }
    std::optional<std::int64_t> expires;
    if (days) {
      if (*days < 1 || *days > 3650) fail_field("expires_in_days", "must be from 1 to 3650");
      expires = now_ms() + *days * 24 * 3600 * 1000;
    }
    auto made = unwrap(ctx.identity.create_key(current_access().principal.user.id, name, scopes, expires));
    sdk::Value out = key_json(made.key);
    out.as_object()["key"] = made.token;
    auto res = json_response(201, out);
    res.headers.emplace_back("Cache-Control", "no-store");
    return res;
  });

  r.add("DELETE", "/keys/{key}", "account.keys", [&ctx](const sdk::HttpRequest& req) {
    const auto& id = req.params.at("key");
    if (!looks_like_id(id) || !unwrap(ctx.identity.revoke_key(current_access().principal.user.id, id)))
      not_found("API key", id);
    return no_content();
  });
}

}  // namespace picloud::kernel::admin
