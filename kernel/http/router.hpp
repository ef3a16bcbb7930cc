// The kernel's one router for its own and plugins' HTTP routes.
//
// Patterns: exact ("/a/b"), parameters ("/a/{id}"), prefix ("/a/*"). The most
// specific route wins: a literal segment beats a parameter, a parameter beats
// a prefix, a longer prefix beats a shorter one. Two routes with the same
// shape and an overlapping method conflict, and the second is refused
// naming the owner of the first.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/metrics.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"

namespace picloud::kernel::http {

struct PathSegment {
  enum Kind { literal, param, rest } kind;
  std::string text;  // literal text or parameter name
};

// Whether `path` is one of the kernel's own paths (/api/v1/admin and below,
// /api/v1/openapi.json, /metrics and below, answered on the admin API's
// hosts only; /healthz and /readyz, answered on every host): app routes may
// not claim them and scripts never see requests for them, on any host.
// Returns the reserved prefix, or empty.
std::string_view kernel_path(std::string_view path);

// Whether `path` lies under the prefix reserved for plugins' app-host
// routes ("/_picloud/...", judged by segments as routes are matched): the
// dispatcher serves it from the plugins' routes, never from an app's.
bool plugin_path(std::string_view path);

// The non-empty segments of a path ("/a//b/" → a, b).
std::vector<std::string_view> split_path(std::string_view path);

// Parses a route pattern ("/a/{id}/*"); the error names the bad segment.
// Parameter names are identifiers and may not repeat.
sdk::Result<std::vector<PathSegment>> parse_path_pattern(std::string_view path);
// The pattern with parameter names erased ("/a/{}/*"): two patterns with the
// same shape match the same paths.
std::string pattern_shape(const std::vector<PathSegment>& segments);

struct RouteEntry {
  std::string method;  // upper case or "*"
  std::string path;
  std::string capability;
  std::string owner;  // "kernel" or the plugin's name
  sdk::HttpHandler handler;
  // A plugin's route (sdk::RouteHosts::admin): matched only on the admin
  // API's hosts (public ones, and all outside the kernel's paths; the
  // authorizer holds the others to those hosts).
  bool admin_hosts_only = false;
  // Request bodies: spooled to a file as they arrive (else in memory), and
  // the largest taken (0: the server's limit).
  bool spool_body = false;
  std::int64_t max_body_bytes = 0;
  // Per-route metrics, created once at registration so the hot path does no lookups.
  CounterMetric* responses[3] = {};  // 2xx/3xx, 4xx, 5xx
  HistogramMetric* latency = nullptr;

  using Segment = PathSegment;
  std::vector<Segment> segments;
};

struct RouteMatch {
  const RouteEntry* route = nullptr;
  std::map<std::string, std::string> params;
  std::vector<std::string> allowed_methods;  // when the path matched but the method did not
};

class Router {
 public:
  explicit Router(MetricsRegistry& metrics) : metrics_(metrics) {}

  sdk::Result<void> add(sdk::HttpRoute route, const std::string& owner);
  // The route for requests no route's path matches (the data plane). A path
  // that matched with another method still answers 405.
  void set_fallback(sdk::HttpHandler handler, const std::string& owner);
  // `admin_host`: whether the request's Host is one of the admin API's
  // (routes bound to those hosts are skipped otherwise).
  RouteMatch match(std::string_view method, std::string_view path, bool admin_host = true) const;
  // Whether any route answers on the admin hosts only (then match() needs
  // to know the host).
  bool has_admin_hosts_only_routes() const { return has_admin_hosts_only_; }
  // Every route, in registration order (for the OpenAPI document and checks).
  std::vector<const RouteEntry*> routes() const {
    std::vector<const RouteEntry*> out;
    for (const auto& r : routes_) out.push_back(r.get());
    return out;
  }

 private:
  // Per-route metrics, created once at registration so the hot path does no lookups.
  void attach_metrics(RouteEntry& entry, const std::string& route_label);

  MetricsRegistry& metrics_;
  std::vector<std::unique_ptr<RouteEntry>> routes_;
  std::unique_ptr<RouteEntry> fallback_;
  bool has_admin_hosts_only_ = false;
};

}  // namespace picloud::kernel::http
