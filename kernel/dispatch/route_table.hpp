// Which app and route a request belongs to, answered from memory.
//
// A RouteTable is an immutable snapshot of every app's hostnames and routes
// (with their scripts' current versions) and the origins each app lets call
// it from a browser (http/cors.hpp), loaded from the database in one go. The dispatcher swaps in a new snapshot when routing changes: at once
// for changes made on this node, and within the poll interval for changes
// another node made (it watches kernel_state.routing_version).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kernel/admin/admin_hosts.hpp"
#include "kernel/http/cors.hpp"
#include "kernel/http/router.hpp"
#include "picloud/sdk/database.hpp"

namespace picloud::kernel::dispatch {

struct AppRoute {
  std::string id;
  std::string app_id;
  std::string script_id;
  std::int64_t script_version = 0;
  std::string host;                  // empty: any of the app's hostnames
  std::string path;
  std::vector<http::PathSegment> segments;
  std::vector<std::string> methods;  // upper case; {"*"} for any
  bool async = false;
};

struct RouteMatch {
  enum class Outcome { matched, no_app, no_route, wrong_method } outcome = Outcome::no_app;
  std::string app_id;
  const AppRoute* route = nullptr;
  std::map<std::string, std::string> params;
  std::vector<std::string> allowed_methods;  // wrong_method: what the path allows
};

class RouteTable {
 public:
  static sdk::Result<std::shared_ptr<const RouteTable>> load(sdk::Database& db, std::int64_t version);
  std::int64_t version() const { return version_; }
  std::size_t route_count() const { return route_count_; }

  // `host` as in the Host header (any case, port allowed).
  RouteMatch match(std::string_view host, std::string_view method, std::string_view path) const;
  bool has_host(std::string_view host_header) const { return app_of_host_.count(admin::host_of(host_header)) > 0; }
  // The id of the app serving a Host header, or empty.
  std::string app_of(std::string_view host_header) const {
    auto it = app_of_host_.find(admin::host_of(host_header));
    return it == app_of_host_.end() ? std::string() : it->second;
  }
  // The allowed origins of the app serving a Host header; null when no app
  // serves it or the app allows none.
  std::shared_ptr<const http::CorsOrigins> cors_origins(std::string_view host_header) const {
    if (cors_of_host_.empty()) return nullptr;
    auto it = cors_of_host_.find(admin::host_of(host_header));
    return it == cors_of_host_.end() ? nullptr : it->second;
  }

 private:
  std::int64_t version_ = 0;
  std::size_t route_count_ = 0;
  std::unordered_map<std::string, std::string> app_of_host_;
  std::unordered_map<std::string, std::vector<AppRoute>> routes_of_app_;
  // Only the hosts of apps with a list (one list shared by an app's hosts).
  std::unordered_map<std::string, std::shared_ptr<const http::CorsOrigins>> cors_of_host_;
};


}  // namespace picloud::kernel::dispatch
