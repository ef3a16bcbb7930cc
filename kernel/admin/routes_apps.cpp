// Apps, their hostnames, the origins that may call them from a browser
// (cors_origins.hpp) and their members.
//
// Who sets hostnames: the owner when creating an app, and the app's admins
// afterwards (PATCH). Any name may be taken but the admin API's own hosts
// (IP addresses and [admin] hostnames): those are refused with 400 for
// everyone, owners included, so no app can take the admin API's origin.
#include "kernel/admin/handlers.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <map>

#include "kernel/admin/cors_origins.hpp"
#include "kernel/admin/resource_rules.hpp"
#include "kernel/http/cors.hpp"

namespace picloud::kernel::admin {
namespace {

constexpr std::size_t kMaxHostnames = 32;

}  // namespace

void check_slug(const std::string& slug) {
  bool ok = !slug.empty() && slug.size() <= 63 && slug.front() != '-' && slug.back() != '-';
  for (char c : slug) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok)
    fail_field("slug", "use 1 to 63 lower-case letters, digits and '-', not starting or ending with '-'");
  if (looks_like_id(slug)) fail_field("slug", "must not look like an id");
}

namespace {

// A hostname an app may take: a DNS name (stored in lower case, without a
// trailing dot) that is none of the admin API's hosts (see admin_hosts.hpp).
std::string check_hostname(const AdminHosts& admin_hosts, const std::string& given) {
  std::string host = to_lower(given);
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (is_ip_literal(host)) {
    // First: "[::1]" is not a DNS name either, but the better reason is this
    // one. Without [admin] ip_hosts an IPv4 address is an ordinary host (a
    // Pi whose apps are reached by address on a LAN).
    if (auto why = admin_hosts.reserved(host); !why.empty()) fail_field("hostnames", "'" + given + "' " + why);
    // Only the dotted form a.b.c.d: browsers turn the others (127.1,
    // 0x7f.0.0.1, 2130706433) into it before sending Host, so two apps could
    // otherwise hold one address under two spellings.
    in_addr address{};
    char canonical[INET_ADDRSTRLEN] = {};
    if (inet_pton(AF_INET, host.c_str(), &address) == 1 &&
        inet_ntop(AF_INET, &address, canonical, sizeof canonical) != nullptr && host == canonical)
      return host;
    if (host.find(':') != std::string::npos)
      fail_field("hostnames", "'" + given + "' is an IPv6 address; an app is reached by a name or an IPv4 address");
    fail_field("hostnames", "'" + given + "' is not an IPv4 address in the form a.b.c.d (each 0-255, no leading zeros)");
  }
  if (!is_dns_name(host))
    fail_field("hostnames", "'" + given + "' is not a host name (DNS labels of letters, digits and '-', no port)");
  if (auto why = admin_hosts.reserved(host); !why.empty()) fail_field("hostnames", "'" + given + "' " + why);
  return host;
}

}  // namespace

std::vector<std::string> check_hostnames(const AdminHosts& admin_hosts, const std::vector<std::string>& given) {
  if (given.size() > kMaxHostnames) fail_field("hostnames", "at most " + std::to_string(kMaxHostnames) + " per app");
  std::vector<std::string> out;
  for (const auto& h : given) {
    auto host = check_hostname(admin_hosts, h);
    if (std::find(out.begin(), out.end(), host) != out.end()) fail_field("hostnames", "'" + host + "' is listed twice");
    out.push_back(host);
  }
  return out;
}

// The list as stored (http::CorsOrigins), or a 400 naming the bad entry.
std::string stored_cors_origins(const std::vector<std::string>& given) {
  auto origins = admin::check_cors_origins(given);
  if (!origins) fail_field("cors_origins", origins.error().message);
  return http::CorsOrigins::to_stored(*origins);
}

namespace {

// The hostnames of a page of apps, in one query.
std::map<std::string, std::vector<std::string>> hostnames_of(AdminContext& ctx, const sdk::Rows& apps) {
  std::map<std::string, std::vector<std::string>> out;
  if (apps.empty()) return out;
  std::string sql = "SELECT app_id, hostname FROM app_hostnames WHERE app_id IN (";
  sdk::Params ids;
  for (const auto& row : apps.rows) {
    sql += ids.empty() ? "?" : ", ?";
    ids.push_back(row[0]);
  }
  auto rows = unwrap(ctx.db.query(sql + ") ORDER BY hostname", ids));
  for (const auto& row : rows.rows) out[row[0].as_string()].push_back(row[1].as_string());
  return out;
}

const char* kAppColumns = "id, slug, name, description, created_at, updated_at, cors_origins";

sdk::Value app_json(const std::vector<sdk::Value>& row, const std::vector<std::string>& hostnames, Role role) {
  sdk::Array hosts;
  for (const auto& h : hostnames) hosts.emplace_back(h);
  sdk::Array origins;
  for (auto& o : http::CorsOrigins::listed(row[6].as_string())) origins.emplace_back(std::move(o));
  return sdk::Value::object({{"id", row[0]},
                             {"slug", row[1]},
                             {"name", row[2]},
                             {"description", row[3]},
                             {"hostnames", std::move(hosts)},
                             {"cors_origins", std::move(origins)},
                             {"role", std::string(role_name(role))},
                             {"created_at", format_time(row[4].as_int())},
                             {"updated_at", format_time(row[5].as_int())}});
}

// The app and its hostnames in one round trip (one row per hostname).
sdk::Value load_app(AdminContext& ctx, const std::string& app_id, Role role) {
  auto rows = unwrap(ctx.db.query(
      "SELECT a.id, a.slug, a.name, a.description, a.created_at, a.updated_at, a.cors_origins, h.hostname "
      "FROM apps a LEFT JOIN app_hostnames h ON h.app_id = a.id WHERE a.id = ? ORDER BY h.hostname",
      {app_id}));
  if (rows.empty()) not_found("app", app_id);
  std::vector<std::string> hostnames;
  for (const auto& row : rows.rows)
    if (row[7].is_string()) hostnames.push_back(row[7].as_string());
  return app_json(rows.rows[0], hostnames, role);
}

}  // namespace

sdk::Result<void> insert_hostnames(sdk::Transaction& tx, const std::string& app_id, const std::vector<std::string>& hosts) {
  for (const auto& h : hosts) {
    auto r = tx.execute("INSERT INTO app_hostnames (hostname, app_id) VALUES (?, ?)", {h, app_id});
    if (!r && r.error().kind == sdk::ErrorKind::conflict)
      return sdk::make_error(sdk::ErrorKind::conflict, "the hostname '" + h + "' belongs to another app");
    if (!r) return r.error();
  }
  return {};
}

namespace {

sdk::Result<void> slug_conflict(const sdk::Error& e, const std::string& slug) {
  if (e.kind == sdk::ErrorKind::conflict && e.message.find("hostname") == std::string::npos)
    return sdk::make_error(sdk::ErrorKind::conflict, "the slug '" + slug + "' is taken");
  return e;
}

sdk::Value member_json(const std::vector<sdk::Value>& row) {
  return sdk::Value::object({{"user_id", row[0]}, {"username", row[1]}, {"role", row[2]},
                             {"created_at", format_time(row[3].as_int())}});
}

}  // namespace

void add_app_routes(AdminContext& ctx, Registrar& r) {
  r.add("GET", "/apps", "app.list", [&ctx](const sdk::HttpRequest& req) {
    auto page = read_page(query_params(req, {"limit", "cursor"}));
    const auto& user = current_access().principal.user;
    sdk::Rows rows;
    if (user.owner) {
      rows = unwrap(ctx.db.query(std::string("SELECT ") + kAppColumns + ", 'admin' FROM apps WHERE id > ? ORDER BY id LIMIT ?",
                                 {page.after, page.limit}));
    } else {
      rows = unwrap(ctx.db.query(
          "SELECT a.id, a.slug, a.name, a.description, a.created_at, a.updated_at, a.cors_origins, m.role FROM apps a "
          "JOIN app_members m ON m.app_id = a.id AND m.user_id = ? WHERE a.id > ? ORDER BY a.id LIMIT ?",
          {user.id, page.after, page.limit}));
    }
    auto hostnames = hostnames_of(ctx, rows);
    sdk::Array items;
    for (const auto& row : rows.rows)
      items.push_back(app_json(row, hostnames[row[0].as_string()], parse_role(row[7].as_string()).value_or(Role::none)));
    return page_response(std::move(items), page, rows.size() == 0 ? std::string() : rows.rows.back()[0].as_string());
  });

  r.add("POST", "/apps", "app.create", [&ctx](const sdk::HttpRequest& req) {
    auto body = json_body(req);
    Fields f(body);
    std::string slug = *f.string("slug", true);
    auto name = f.string("name");
    std::string description = f.string("description").value_or("");
    auto hosts = check_hostnames(ctx.hosts, f.strings("hostnames").value_or(std::vector<std::string>{}));
    std::string cors = stored_cors_origins(f.strings("cors_origins").value_or(std::vector<std::string>{}));
    f.finish();
    check_slug(slug);
    if (name && (name->empty() || name->size() > 200)) fail_field("name", "must have 1 to 200 characters");
    if (description.size() > 2000) fail_field("description", "has at most 2000 characters");
    std::string id = new_id();
    std::int64_t now = now_ms();
    unwrap(ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      auto ins = tx.execute(
          "INSERT INTO apps (id, slug, name, description, created_at, updated_at, cors_origins) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)",
          {id, slug, name.value_or(slug), description, now, now, cors});
      if (!ins) return slug_conflict(ins.error(), slug);
      if (auto h = insert_hostnames(tx, id, hosts); !h) return h;
      return hosts.empty() ? sdk::Result<void>() : bump_routing_version(tx);
    }));
    ctx.cache.invalidate();  // "no such app" may have been remembered
    // The origins travel with the route table; without a hostname no
    // request can reach the app yet.
    if (!hosts.empty()) routing_changed(ctx);
    return json_response(201, load_app(ctx, id, Role::admin));
  });

  r.add("GET", "/apps/{app}", "app.read", [&ctx](const sdk::HttpRequest&) {
    return json_response(200, load_app(ctx, current_access().app_id, current_access().role));
  });

  r.add("PATCH", "/apps/{app}", "app.update", [&ctx](const sdk::HttpRequest& req) {
    const std::string& app_id = current_access().app_id;
    auto body = json_body(req);
    Fields f(body);
    auto slug = f.string("slug");
    auto name = f.string("name");
    auto description = f.string("description");
    auto hosts_given = f.strings("hostnames");
    auto cors_given = f.strings("cors_origins");
    f.finish();
    if (slug) check_slug(*slug);
    if (name && (name->empty() || name->size() > 200)) fail_field("name", "must have 1 to 200 characters");
    if (description && description->size() > 2000) fail_field("description", "has at most 2000 characters");
    std::optional<std::vector<std::string>> hosts;
    if (hosts_given) hosts = check_hostnames(ctx.hosts, *hosts_given);
    std::optional<std::string> cors;
    if (cors_given) cors = stored_cors_origins(*cors_given);
    unwrap(ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      auto set = [&](const char* column, const std::string& value) -> sdk::Result<void> {
        auto u = tx.execute(std::string("UPDATE apps SET ") + column + " = ?, updated_at = ? WHERE id = ?",
                            {value, now_ms(), app_id});
        if (!u) return slug ? slug_conflict(u.error(), *slug) : sdk::Result<void>(u.error());
        return {};
      };
      if (slug) if (auto s = set("slug", *slug); !s) return s;
      if (name) if (auto s = set("name", *name); !s) return s;
      if (description) if (auto s = set("description", *description); !s) return s;
      if (cors) {
        // Applied by the server from the route table: reloaded with it, on
        // every node.
        if (auto s = set("cors_origins", *cors); !s) return s;
        if (!hosts) return bump_routing_version(tx);
      }
      if (hosts) {
        // A hostname a route is bound to cannot go away under it.
        auto used = tx.query("SELECT DISTINCT host FROM routes WHERE app_id = ? AND host <> ''", {app_id});
        if (!used) return used.error();
        for (const auto& row : used->rows)
          if (std::find(hosts->begin(), hosts->end(), row[0].as_string()) == hosts->end())
            return sdk::make_error(sdk::ErrorKind::conflict,
                                   "the hostname '" + row[0].as_string() + "' is used by routes of this app");
        auto d = tx.execute("DELETE FROM app_hostnames WHERE app_id = ?", {app_id});
        if (!d) return d.error();
        if (auto ins = insert_hostnames(tx, app_id, *hosts); !ins) return ins;
        auto u = tx.execute("UPDATE apps SET updated_at = ? WHERE id = ?", {now_ms(), app_id});
        if (!u) return u.error();
        return bump_routing_version(tx);
      }
      return {};
    }));
    if (slug) ctx.cache.invalidate();  // memberships are remembered by slug too
    if (hosts || cors) routing_changed(ctx);
    return json_response(200, load_app(ctx, app_id, current_access().role));
  });

  r.add("DELETE", "/apps/{app}", "app.delete", [&ctx](const sdk::HttpRequest&) {
    const std::string app_id = current_access().app_id;
    auto scripts = unwrap(ctx.db.query("SELECT id FROM scripts WHERE app_id = ?", {app_id}));
    // Hostnames, members, scripts, imports and routes go with the app.
    unwrap(ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      // Queued async work of the app goes with it.
      if (auto o = tx.execute("DELETE FROM outbox WHERE app_id = ?", {app_id}); !o) return o.error();
      // And the plugins' data of it, or nothing at all.
      if (ctx.app_lifecycle)
        if (auto p = ctx.app_lifecycle->app_deleted(tx, app_id); !p) return p.error();
      if (auto a = tx.execute("DELETE FROM apps WHERE id = ?", {app_id}); !a) return a.error();
      return bump_routing_version(tx);
    }));
    ctx.cache.invalidate();
    routing_changed(ctx);
    unwrap(ctx.executions.forget_app(app_id));
    if (ctx.engine)
      for (const auto& row : scripts.rows) ctx.engine->forget_script(app_id, row[0].as_string());
    return no_content();
  });

  r.add("GET", "/apps/{app}/members", "app.members.read", [&ctx](const sdk::HttpRequest& req) {
    auto page = read_page(query_params(req, {"limit", "cursor"}));
    auto rows = unwrap(ctx.db.query(
        "SELECT u.id, u.username, m.role, m.created_at FROM app_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.app_id = ? AND u.id > ? ORDER BY u.id LIMIT ?",
        {current_access().app_id, page.after, page.limit}));
    sdk::Array items;
    for (const auto& row : rows.rows) items.push_back(member_json(row));
    return page_response(std::move(items), page, rows.size() == 0 ? std::string() : rows.rows.back()[0].as_string());
  });

  r.add("PUT", "/apps/{app}/members/{user}", "app.members.manage", [&ctx](const sdk::HttpRequest& req) {
    auto body = json_body(req);
    Fields f(body);
    std::string role_text = *f.string("role", true);
    f.finish();
    auto role = parse_role(role_text);
    if (!role) fail_field("role", "must be viewer, editor or admin");
    auto user = unwrap(ctx.identity.find_user(req.params.at("user")));
    if (!user) not_found("user", req.params.at("user"));
    const std::string& app_id = current_access().app_id;
    auto updated = unwrap(ctx.db.execute("UPDATE app_members SET role = ? WHERE app_id = ? AND user_id = ?",
                                         {role_text, app_id, user->id}));
    int status = 200;
    if (updated == 0) {
      unwrap(ctx.db.execute("INSERT INTO app_members (app_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
                            {app_id, user->id, role_text, now_ms()}));
      status = 201;
    }
    ctx.cache.invalidate();
    auto rows = unwrap(ctx.db.query(
        "SELECT u.id, u.username, m.role, m.created_at FROM app_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.app_id = ? AND m.user_id = ?",
        {app_id, user->id}));
    return json_response(status, member_json(rows.rows.at(0)));
  });

  r.add("DELETE", "/apps/{app}/members/{user}", "app.members.manage", [&ctx](const sdk::HttpRequest& req) {
    auto user = unwrap(ctx.identity.find_user(req.params.at("user")));
    if (!user) not_found("user", req.params.at("user"));
    auto n = unwrap(ctx.db.execute("DELETE FROM app_members WHERE app_id = ? AND user_id = ?",
                                   {current_access().app_id, user->id}));
    ctx.cache.invalidate();
    if (n == 0) not_found("member", req.params.at("user"));
    return no_content();
  });
}

}  // namespace picloud::kernel::admin
