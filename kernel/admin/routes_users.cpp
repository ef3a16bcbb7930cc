// The instance's users; the owner's business only.
#include "kernel/admin/handlers.hpp"

namespace picloud::kernel::admin {
namespace {

User find_or_404(AdminContext& ctx, const std::string& name) {
  auto user = unwrap(ctx.identity.find_user(name));
  if (!user) not_found("user", name);
  return *user;
}

}  // namespace

void add_user_routes(AdminContext& ctx, Registrar& r) {
  r.add("GET", "/users", "instance.users", [&ctx](const sdk::HttpRequest& req) {
    auto page = read_page(query_params(req, {"limit", "cursor"}));
    auto users = unwrap(ctx.identity.list_users(page.after, page.limit));
    sdk::Array items;
    for (const auto& u : users) items.push_back(user_json(u));
    return page_response(std::move(items), page, users.size() == 0 ? std::string() : users.back().id);
  });

  r.add("POST", "/users", "instance.users", [&ctx](const sdk::HttpRequest& req) {
    auto body = json_body(req);
    Fields f(body);
    std::string username = *f.string("username", true);
    std::string password = *f.string("password", true);
    bool owner = f.boolean("owner").value_or(false);
    f.finish();
    if (auto n = Identity::normalise_username(username); !n) fail_field("username", n.error().message);
    if (auto p = Identity::check_password_rules(password, username); !p) fail_field("password", p.error().message);
    auto user = ctx.identity.create_user(username, password, owner);
    if (!user && user.error().kind == sdk::ErrorKind::conflict)
      fail(409, "conflict", user.error().message, sdk::Value::object({{"field", "username"}}));
    return json_response(201, user_json(unwrap(std::move(user))));
  });

  r.add("GET", "/users/{user}", "instance.users", [&ctx](const sdk::HttpRequest& req) {
    return json_response(200, user_json(find_or_404(ctx, req.params.at("user"))));
  });

  r.add("PATCH", "/users/{user}", "instance.users", [&ctx](const sdk::HttpRequest& req) {
    User user = find_or_404(ctx, req.params.at("user"));
    auto body = json_body(req);
    Fields f(body);
    auto password = f.string("password");
    auto owner = f.boolean("owner");
    f.finish();
    if (password) {
      if (auto p = Identity::check_password_rules(*password, user.username); !p)
        fail_field("password", p.error().message);
    }
    if (owner && *owner != user.owner) {
      if (*owner)
        unwrap(ctx.db.execute("UPDATE users SET is_owner = 1, updated_at = ? WHERE id = ?", {now_ms(), user.id}));
      else if (!unwrap(ctx.identity.demote_owner(user.id)))
        fail(409, "conflict", "'" + user.username + "' is the only owner; make someone else owner first");
      ctx.cache.invalidate();
      user.owner = *owner;
    }
    // A reset password ends the user's sessions (but the one making the
    // change, when owners reset their own).
    if (password) unwrap(ctx.identity.set_password(user.id, *password, current_access().principal.session_hash));
    return json_response(200, user_json(user));
  });

  // A user's API keys, for an owner cutting off an account without deleting
  // it: a password reset ends the user's sessions, not their keys.
  r.add("GET", "/users/{user}/keys", "instance.users", [&ctx](const sdk::HttpRequest& req) {
    User user = find_or_404(ctx, req.params.at("user"));
    auto page = read_page(query_params(req, {"limit", "cursor"}));
    auto keys = unwrap(ctx.identity.list_keys(user.id, page.after, page.limit));
    sdk::Array items;
    for (const auto& k : keys) items.push_back(key_json(k));
    return page_response(std::move(items), page, keys.size() == 0 ? std::string() : keys.back().id);
  });

  r.add("DELETE", "/users/{user}/keys/{key}", "instance.users", [&ctx](const sdk::HttpRequest& req) {
    User user = find_or_404(ctx, req.params.at("user"));
    const auto& id = req.params.at("key");
    if (!looks_like_id(id) || !unwrap(ctx.identity.revoke_key(user.id, id))) not_found("API key", id);
    return no_content();
  });

  r.add("DELETE", "/users/{user}", "instance.users", [&ctx](const sdk::HttpRequest& req) {
    User user = find_or_404(ctx, req.params.at("user"));
    if (user.id == current_access().principal.user.id) fail(409, "conflict", "you cannot delete yourself");
    if (!unwrap(ctx.identity.delete_user_keeping_an_owner(user.id)))
      fail(409, "conflict", "'" + user.username + "' is the only owner");
    return no_content();
  });
}

}  // namespace picloud::kernel::admin
