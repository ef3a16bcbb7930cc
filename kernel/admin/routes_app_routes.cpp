// An app's HTTP routes: host (any or one of the app's hostnames), path
// pattern, methods, dispatch mode, and the endpoint script they run.
#include <algorithm>
#include <optional>

#include "kernel/admin/handlers.hpp"
#include "kernel/admin/resource_rules.hpp"
#include "kernel/http/router.hpp"

namespace picloud::kernel::admin {
namespace {

const char* kKnownMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

struct RouteRow {
  std::string id, app_id, script_id, script_name, host, path, shape, methods, dispatch;
  std::int64_t created_at = 0, updated_at = 0;
};

const char* kRouteSelect =
    "SELECT r.id, r.app_id, r.script_id, s.name, r.host, r.path, r.shape, r.methods, r.dispatch, r.created_at, "
    "r.updated_at FROM routes r JOIN scripts s ON s.id = r.script_id";

RouteRow route_from(const std::vector<sdk::Value>& row) {
  return RouteRow{row[0].as_string(), row[1].as_string(), row[2].as_string(), row[3].as_string(),
                  row[4].as_string(), row[5].as_string(), row[6].as_string(), row[7].as_string(),
                  row[8].as_string(), row[9].as_int(),    row[10].as_int()};
}

}  // namespace

std::vector<std::string> split_methods(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

namespace {

sdk::Value route_json(const RouteRow& r) {
  sdk::Array methods;
  for (auto& m : split_methods(r.methods)) methods.emplace_back(m);
  return sdk::Value::object({{"id", r.id},
                             {"app_id", r.app_id},
                             {"script_id", r.script_id},
                             {"script", r.script_name},
                             {"host", r.host.empty() ? sdk::Value() : sdk::Value(r.host)},
                             {"path", r.path},
                             {"methods", std::move(methods)},
                             {"dispatch", r.dispatch},
                             {"created_at", format_time(r.created_at)},
                             {"updated_at", format_time(r.updated_at)}});
}

RouteRow find_route(AdminContext& ctx, const std::string& app_id, const std::string& id) {
  auto rows = unwrap(ctx.db.query(std::string(kRouteSelect) + " WHERE r.app_id = ? AND r.id = ?", {app_id, id}));
  if (rows.empty()) not_found("route", id);
  return route_from(rows.rows[0]);
}

}  // namespace

std::string normalise_methods(const std::vector<std::string>& given) {
  if (given.empty()) fail_field("methods", "name at least one method, or \"*\" for any");
  std::vector<std::string> out;
  for (const auto& g : given) {
    std::string m = g;
    for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (m == "*") {
      if (given.size() != 1) fail_field("methods", "\"*\" (any method) cannot be combined with others");
      return "*";
    }
    if (std::none_of(std::begin(kKnownMethods), std::end(kKnownMethods), [&](const char* k) { return m == k; }))
      fail_field("methods", "unknown method '" + g + "'");
    if (std::find(out.begin(), out.end(), m) != out.end()) fail_field("methods", "'" + m + "' is listed twice");
    out.push_back(m);
  }
  std::string text;
  for (const auto& m : out) text += (text.empty() ? "" : ",") + m;
  return text;
}

bool methods_overlap(const std::string& a, const std::string& b) {
  if (a == "*" || b == "*") return true;
  auto left = split_methods(a), right = split_methods(b);
  for (const auto& m : left)
    if (std::find(right.begin(), right.end(), m) != right.end()) return true;
  return false;
}

std::string check_path(const std::string& path, std::string& shape) {
  if (path.size() > 1024) fail_field("path", "has at most 1024 characters");
  auto segments = http::parse_path_pattern(path);
  if (!segments) fail_field("path", segments.error().message);
  shape = http::pattern_shape(*segments);
  if (auto reserved = http::kernel_path(shape); !reserved.empty())
    fail_field("path", "'" + std::string(reserved) + "' is the kernel's; routes cannot use it");
  if (http::plugin_path(shape))
    fail_field("path", "'/_picloud/' is reserved for plugins' routes on app hosts; app routes cannot use it");
  return path;
}

namespace {

void check_host(AdminContext& ctx, const std::string& app_id, const std::string& host) {
  if (host.empty()) return;
  auto rows = unwrap(ctx.db.query("SELECT 1 FROM app_hostnames WHERE app_id = ? AND hostname = ?", {app_id, host}));
  if (rows.empty()) fail_field("host", "'" + host + "' is not one of this app's hostnames (add it to the app first)");
}

// Writes a route (insert or update) unless another route of the app already
// matches the same requests (409). The check runs inside the write
// transaction after the routing version is bumped: that row's lock
// (PostgreSQL) or the write lock (SQLite) orders concurrent route changes,
// so two of them cannot both pass the check.
void write_route(AdminContext& ctx, const RouteRow& r, std::string_view sql, const sdk::Params& params) {
  std::optional<std::vector<sdk::Value>> conflict;
  auto written = ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    if (auto bumped = bump_routing_version(tx); !bumped) return bumped;
    auto rows = tx.query("SELECT id, path, methods FROM routes WHERE app_id = ? AND host = ? AND shape = ? AND id <> ?",
                         {r.app_id, r.host, r.shape, r.id});
    if (!rows) return rows.error();
    for (const auto& row : rows->rows)
      if (methods_overlap(row[2].as_string(), r.methods)) {
        conflict = row;
        return sdk::make_error(sdk::ErrorKind::conflict, "route conflict");  // rolls back
      }
    auto w = tx.execute(sql, params);
    if (!w) return w.error();
    return {};
  });
  if (conflict)
    fail(409, "conflict",
         "route " + (*conflict)[0].as_string() + " (" + (*conflict)[2].as_string() + " " + (*conflict)[1].as_string() +
             ") already matches these requests",
         sdk::Value::object({{"route_id", (*conflict)[0]}}));
  unwrap(std::move(written));
}

// Reads the writable fields into `r`; on create every field is read.
void read_fields(AdminContext& ctx, Fields& f, RouteRow& r, bool create) {
  auto script = f.string("script", create);
  auto path = f.string("path", create);
  auto methods = f.strings("methods");
  bool host_given = f.has("host");
  auto host = f.string("host");
  auto dispatch = f.string("dispatch");
  f.finish();
  if (script) std::tie(r.script_id, r.script_name) = resolve_endpoint_script(ctx, r.app_id, *script);
  if (path) r.path = check_path(*path, r.shape);
  if (methods) r.methods = normalise_methods(*methods);
  else if (create) r.methods = "*";
  if (host_given) {
    r.host = host ? to_lower(*host) : "";
    check_host(ctx, r.app_id, r.host);
  }
  if (dispatch) {
    if (*dispatch != "sync" && *dispatch != "async") fail_field("dispatch", "must be sync or async");
    r.dispatch = *dispatch;
  } else if (create) {
    r.dispatch = "sync";
  }
}

}  // namespace

void add_route_routes(AdminContext& ctx, Registrar& r) {
  r.add("GET", "/apps/{app}/routes", "route.read", [&ctx](const sdk::HttpRequest& req) {
    auto query = query_params(req, {"limit", "cursor", "script"});
    auto page = read_page(query);
    std::string sql = std::string(kRouteSelect) + " WHERE r.app_id = ? AND r.id > ?";
    sdk::Params params{current_access().app_id, page.after};
    if (auto s = query.find("script"); s != query.end()) {
      sql += " AND (s.id = ? OR s.name = ?)";
      params.push_back(s->second);
      params.push_back(s->second);
    }
    sql += " ORDER BY r.id LIMIT ?";
    params.emplace_back(std::int64_t{page.limit});
    auto rows = unwrap(ctx.db.query(sql, params));
    sdk::Array items;
    for (const auto& row : rows.rows) items.push_back(route_json(route_from(row)));
    return page_response(std::move(items), page, rows.size() == 0 ? std::string() : rows.rows.back()[0].as_string());
  });

  r.add("POST", "/apps/{app}/routes", "route.write", [&ctx](const sdk::HttpRequest& req) {
    auto body = json_body(req);
    Fields f(body);
    RouteRow route;
    route.id = new_id();
    route.app_id = current_access().app_id;
    read_fields(ctx, f, route, true);
    route.created_at = route.updated_at = now_ms();
    write_route(ctx, route,
                "INSERT INTO routes (id, app_id, script_id, host, path, shape, methods, dispatch, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                {route.id, route.app_id, route.script_id, route.host, route.path, route.shape, route.methods,
                 route.dispatch, route.created_at, route.updated_at});
    routing_changed(ctx);
    return json_response(201, route_json(route));
  });

  r.add("GET", "/apps/{app}/routes/{route}", "route.read", [&ctx](const sdk::HttpRequest& req) {
    return json_response(200, route_json(find_route(ctx, current_access().app_id, req.params.at("route"))));
  });

  r.add("PATCH", "/apps/{app}/routes/{route}", "route.write", [&ctx](const sdk::HttpRequest& req) {
    RouteRow route = find_route(ctx, current_access().app_id, req.params.at("route"));
    auto body = json_body(req);
    Fields f(body);
    read_fields(ctx, f, route, false);
    route.updated_at = now_ms();
    write_route(ctx, route,
                "UPDATE routes SET script_id = ?, host = ?, path = ?, shape = ?, methods = ?, dispatch = ?, "
                "updated_at = ? WHERE id = ?",
                {route.script_id, route.host, route.path, route.shape, route.methods, route.dispatch,
                 route.updated_at, route.id});
    routing_changed(ctx);
    return json_response(200, route_json(route));
  });

  r.add("DELETE", "/apps/{app}/routes/{route}", "route.write", [&ctx](const sdk::HttpRequest& req) {
    std::int64_t n = 0;
    unwrap(ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      auto d = tx.execute("DELETE FROM routes WHERE app_id = ? AND id = ?",
                          {current_access().app_id, req.params.at("route")});
      if (!d) return d.error();
      n = *d;
      return n == 0 ? sdk::Result<void>() : bump_routing_version(tx);
    }));
    if (n == 0) not_found("route", req.params.at("route"));
    routing_changed(ctx);
    return no_content();
  });
}

}  // namespace picloud::kernel::admin
