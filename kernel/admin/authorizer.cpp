#include "kernel/admin/authorizer.hpp"

#include "kernel/admin/api_support.hpp"
#include "kernel/admin/request_origin.hpp"
#include "kernel/log.hpp"

namespace picloud::kernel::admin {
namespace {

thread_local Access t_access;

sdk::HttpResponse unauthorized(const std::string& message) {
  auto r = error_body(401, "unauthorized", message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"picloud\"");
  return r;
}

sdk::HttpResponse forbidden(const std::string& message) { return error_body(403, "forbidden", message); }

}  // namespace

const Access& current_access() { return t_access; }

std::any AdminAuthorizer::take_state() {
  std::any state = std::move(t_access);
  t_access = Access{};
  return state;
}

void AdminAuthorizer::restore_state(std::any state) {
  auto* access = std::any_cast<Access>(&state);
  t_access = access ? std::move(*access) : Access{};
}

sdk::HttpResponse not_an_admin_host(const sdk::HttpRequest& request, bool ip_hosts) {
  return error_body(404, "not_found",
                    "no route for " + request.method + " " + request.path + " on the host '" +
                        host_of(request.header("host")) +
                        "': the admin API answers only on its own hostnames ([admin] hostnames)" +
                        (ip_hosts ? " and IP addresses" : ""));
}

std::optional<sdk::HttpResponse> AdminAuthorizer::check(sdk::HttpRequest& request, const std::string& capability) {
  t_access = Access{};
  if (!hosts_.serves(request.header("host"))) return not_an_admin_host(request, hosts_.ip_hosts());
  const CapabilityEntry* entry = capabilities_.find(capability);
  if (!entry) {
    write_log(LogLevel::error, "auth", "route requires an undeclared capability", {{"capability", capability}});
    return error_body(500, "internal", "internal error");
  }
  // A change relying on the session cookie must come from the API's own
  // pages (see request_origin.hpp); checked first, so a forged request does
  // not even keep the session alive.
  if (request.header("authorization").empty() && changes_state(request.method))
    if (auto why = foreign_origin(request)) return error_body(403, "cross_origin", *why);
  auto auth = identity_.authenticate(request);
  if (!auth) {
    write_log(LogLevel::warn, "auth", "credentials could not be checked", {{"error", auth.error().message}});
    return error_body(503, "unavailable", "credentials could not be checked: the database is unavailable");
  }
  if (!auth->principal) return unauthorized(auth->failure);
  Principal& p = *auth->principal;

  const auto& cap = entry->capability;
  if (entry->session_only && p.via_key)
    return forbidden("'" + cap.name + "' needs a signed-in session; API keys cannot " + cap.description);
  if (p.via_key && entry->scope && !(p.scopes & entry->scope))
    return forbidden("the API key lacks the scope '" + cap.scope + "' needed to " + cap.description);

  Access access;
  if (cap.access == sdk::Access::owner && !p.user.owner)
    return forbidden("only the instance owner may " + cap.description);
  if (app_scoped(cap.access)) {
    auto named = request.params.find("app");
    if (named == request.params.end()) return error_body(500, "internal", "internal error");
    std::int64_t now = now_ms();
    auto known = cache_.membership(p.user.id, named->second, now);
    if (!known) {
      std::uint64_t generation = cache_.generation();
      auto rows = db_.query(
          "SELECT a.id, m.role FROM apps a LEFT JOIN app_members m ON m.app_id = a.id AND m.user_id = ? "
          "WHERE a.id = ? OR a.slug = ?",
          {p.user.id, named->second, named->second});
      if (!rows) return error_body(503, "unavailable", "the database is unavailable: " + rows.error().message);
      AccessCache::Membership m;
      if (!rows->empty()) {
        m.app_id = rows->rows[0][0].as_string();
        if (rows->rows[0][1].is_string()) m.role = parse_role(rows->rows[0][1].as_string()).value_or(Role::none);
      }
      cache_.remember(p.user.id, named->second, m, now, generation);
      known = m;
    }
    Role role = known->app_id.empty() ? Role::none : p.user.owner ? Role::admin : known->role;
    // Another app's existence is not revealed: not a member reads as missing.
    if (role == Role::none) return error_body(404, "not_found", "app '" + named->second + "' not found");
    if (role < required_role(cap.access))
      return forbidden("your role in this app is " + std::string(role_name(role)) + "; to " + cap.description +
                       " you need " + std::string(role_name(required_role(cap.access))));
    access.app_id = known->app_id;
    access.role = role;
    named->second = access.app_id;
  }
  request.principal = p.user.id;
  access.principal = std::move(p);
  t_access = std::move(access);
  return std::nullopt;
}

}  // namespace picloud::kernel::admin
