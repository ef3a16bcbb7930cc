#include "kernel/dispatch/route_table.hpp"

#include <algorithm>

namespace picloud::kernel::dispatch {
namespace {

// Segment by segment: literal 3, parameter 2, rest 1; then host-specific.
std::vector<int> specificity(const AppRoute& r) {
  std::vector<int> score;
  for (const auto& s : r.segments)
    score.push_back(s.kind == http::PathSegment::literal ? 3 : s.kind == http::PathSegment::param ? 2 : 1);
  score.push_back(0);
  score.push_back(r.host.empty() ? 0 : 1);
  return score;
}

bool path_matches(const AppRoute& r, const std::vector<std::string_view>& parts, std::map<std::string, std::string>& params) {
  const auto& segs = r.segments;
  bool prefix = !segs.empty() && segs.back().kind == http::PathSegment::rest;
  std::size_t fixed = prefix ? segs.size() - 1 : segs.size();
  if (prefix ? parts.size() < fixed : parts.size() != fixed) return false;
  for (std::size_t i = 0; i < fixed; ++i) {
    if (segs[i].kind == http::PathSegment::literal) {
      if (parts[i] != segs[i].text) return false;
    } else {
      params[segs[i].text] = std::string(parts[i]);
    }
  }
  return true;
}

}  // namespace

sdk::Result<std::shared_ptr<const RouteTable>> RouteTable::load(sdk::Database& db, std::int64_t version) {
  auto table = std::make_shared<RouteTable>();
  table->version_ = version;
  auto hosts = db.query("SELECT hostname, app_id FROM app_hostnames");
  if (!hosts) return hosts.error();
  for (const auto& row : hosts->rows) table->app_of_host_[row[0].as_string()] = row[1].as_string();
  auto cors = db.query("SELECT id, cors_origins FROM apps WHERE cors_origins <> ''");
  if (!cors) return cors.error();
  std::unordered_map<std::string, std::shared_ptr<const http::CorsOrigins>> cors_of_app;
  for (const auto& row : cors->rows)
    if (auto origins = http::CorsOrigins::from_stored(row[1].as_string())) cors_of_app[row[0].as_string()] = origins;
  for (const auto& [host, app] : table->app_of_host_)
    if (auto it = cors_of_app.find(app); it != cors_of_app.end()) table->cors_of_host_[host] = it->second;
  auto routes = db.query(
      "SELECT r.id, r.app_id, r.script_id, s.version, r.host, r.path, r.methods, r.dispatch "
      "FROM routes r JOIN scripts s ON s.id = r.script_id");
  if (!routes) return routes.error();
  for (const auto& row : routes->rows) {
    AppRoute r;
    r.id = row[0].as_string();
    r.app_id = row[1].as_string();
    r.script_id = row[2].as_string();
    r.script_version = row[3].as_int();
    r.host = row[4].as_string();
    r.path = row[5].as_string();
    auto segments = http::parse_path_pattern(r.path);
    if (!segments) continue;  // validated on save; a bad row cannot take the table down
    r.segments = std::move(*segments);
    std::string methods = row[6].as_string();
    for (std::size_t start = 0; start <= methods.size();) {
      auto end = methods.find(',', start);
      if (end == std::string::npos) end = methods.size();
      if (end > start) r.methods.push_back(methods.substr(start, end - start));
      start = end + 1;
    }
    r.async = row[7].as_string() == "async";
    table->routes_of_app_[r.app_id].push_back(std::move(r));
    ++table->route_count_;
  }
  return std::shared_ptr<const RouteTable>(std::move(table));
}

RouteMatch RouteTable::match(std::string_view host_header, std::string_view method, std::string_view path) const {
  RouteMatch out;
  std::string host = admin::host_of(host_header);
  auto app = app_of_host_.find(host);
  if (app == app_of_host_.end()) return out;
  out.app_id = app->second;
  out.outcome = RouteMatch::Outcome::no_route;
  auto routes = routes_of_app_.find(out.app_id);
  if (routes == routes_of_app_.end()) return out;
  auto parts = http::split_path(path);
  std::vector<int> best_score;
  for (const auto& r : routes->second) {
    if (!r.host.empty() && r.host != host) continue;
    std::map<std::string, std::string> params;
    if (!path_matches(r, parts, params)) continue;
    bool method_ok = r.methods.size() == 1 && r.methods[0] == "*";
    for (const auto& m : r.methods) method_ok = method_ok || m == method || (method == "HEAD" && m == "GET");
    if (!method_ok) {
      for (const auto& m : r.methods)
        if (std::find(out.allowed_methods.begin(), out.allowed_methods.end(), m) == out.allowed_methods.end())
          out.allowed_methods.push_back(m);
      continue;
    }
    auto score = specificity(r);
    if (!out.route || score > best_score) {
      out.route = &r;
      out.params = std::move(params);
      best_score = std::move(score);
    }
  }
  if (out.route) out.outcome = RouteMatch::Outcome::matched;
  else if (!out.allowed_methods.empty()) out.outcome = RouteMatch::Outcome::wrong_method;
  return out;
}

}  // namespace picloud::kernel::dispatch
