#include "kernel/http/router.hpp"

#include <algorithm>
#include <cctype>

namespace picloud::kernel::http {
namespace {

bool valid_method(const std::string& m) {
  static const char* known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"};
  return std::any_of(std::begin(known), std::end(known), [&](const char* k) { return m == k; });
}

std::string shape(const RouteEntry& r) { return pattern_shape(r.segments); }

bool identifier(std::string_view s) {
  if (s.empty() || s.size() > 64 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// Higher is more specific. Compared lexicographically, segment by segment.
std::vector<int> specificity(const RouteEntry& r) {
  std::vector<int> score;
  for (const auto& seg : r.segments) score.push_back(seg.kind == RouteEntry::Segment::literal ? 3 : seg.kind == RouteEntry::Segment::param ? 2 : 1);
  score.push_back(0);
  return score;
}

}  // namespace

std::string_view kernel_path(std::string_view path) {
  for (std::string_view reserved : {"/api/v1/admin", "/api/v1/openapi.json", "/healthz", "/readyz", "/metrics"})
    if (path.substr(0, reserved.size()) == reserved && (path.size() == reserved.size() || path[reserved.size()] == '/'))
      return reserved;
  return {};
}

bool plugin_path(std::string_view path) {
  std::size_t start = path.find_first_not_of('/');
  if (start == std::string_view::npos) return false;
  std::string_view first = path.substr(start, path.find('/', start) - start);
  // The reserved prefix without its slashes.
  return first == sdk::kPluginRoutePrefix.substr(1, sdk::kPluginRoutePrefix.size() - 2);
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

sdk::Result<std::vector<PathSegment>> parse_path_pattern(std::string_view path) {
  std::vector<PathSegment> segments;
  auto bad = [&](const std::string& why) {
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "path '" + std::string(path) + "': " + why);
  };
  if (path.empty() || path[0] != '/') return bad("must start with '/'");
  auto parts = split_path(path);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto p = parts[i];
    if (p == "*") {
      if (i + 1 != parts.size()) return bad("'*' must be the last segment");
      segments.push_back({PathSegment::rest, ""});
    } else if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      auto name = p.substr(1, p.size() - 2);
      if (!identifier(name)) return bad("parameter '" + std::string(p) + "' must be {name} with letters, digits and '_'");
      for (const auto& s : segments)
        if (s.kind == PathSegment::param && s.text == name) return bad("parameter {" + std::string(name) + "} repeats");
      segments.push_back({PathSegment::param, std::string(name)});
    } else if (p.find_first_of("{}*") != std::string_view::npos) {
      return bad("bad segment '" + std::string(p) + "'");
    } else {
      segments.push_back({PathSegment::literal, std::string(p)});
    }
  }
  return segments;
}

std::string pattern_shape(const std::vector<PathSegment>& segments) {
  std::string s;
  for (const auto& seg : segments)
    s += seg.kind == PathSegment::literal ? "/" + seg.text : seg.kind == PathSegment::param ? "/{}" : "/*";
  return s.empty() ? "/" : s;
}

sdk::Result<void> Router::add(sdk::HttpRoute route, const std::string& owner) {
  auto entry = std::make_unique<RouteEntry>();
  for (auto& c : route.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!valid_method(route.method))
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "route " + route.path + ": unknown method '" + route.method + "'");
  if (route.capability.empty())
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "route " + route.path + " names no capability (use \"public\" for open routes)");
  if (!route.handler)
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "route " + route.path + " has no handler");
  auto segments = parse_path_pattern(route.path);
  if (!segments) return sdk::make_error(sdk::ErrorKind::invalid_argument, "route " + segments.error().message);
  entry->segments = std::move(*segments);
  entry->method = route.method;
  entry->path = route.path;
  entry->capability = route.capability;
  entry->owner = owner;
  entry->handler = std::move(route.handler);
  entry->spool_body = route.spool_body;
  entry->max_body_bytes = route.max_body_bytes;
  // A plugin's routes answer on the admin hosts only: on an app's host the
  // path is the app's. (A non-public route under the kernel's paths is held
  // to them by the authorizer already, so the hot path skips the check.)
  entry->admin_hosts_only = owner != "kernel" && route.hosts == sdk::RouteHosts::admin &&
                            (route.capability == sdk::kPublic || kernel_path(route.path).empty());
  has_admin_hosts_only_ = has_admin_hosts_only_ || entry->admin_hosts_only;
  for (const auto& existing : routes_) {
    bool methods_overlap = existing->method == entry->method || existing->method == "*" || entry->method == "*";
    if (methods_overlap && shape(*existing) == shape(*entry))
      return sdk::make_error(sdk::ErrorKind::conflict, "route " + entry->method + " " + entry->path + " of " + owner +
                                                           " conflicts with " + existing->method + " " + existing->path +
                                                           " of " + existing->owner);
  }
  attach_metrics(*entry, entry->path);
  routes_.push_back(std::move(entry));
  return {};
}

void Router::attach_metrics(RouteEntry& entry, const std::string& route_label) {
  Labels base{{"owner", entry.owner}, {"route", route_label}};
  const char* classes[] = {"2xx", "4xx", "5xx"};
  for (int i = 0; i < 3; ++i) {
    Labels labels = base;
    labels.emplace_back("status", classes[i]);
    entry.responses[i] = &metrics_.counter("picloud_http_requests_total", "HTTP requests answered, by route and status class", labels);
  }
  entry.latency = &metrics_.histogram("picloud_http_request_duration_seconds", "HTTP request latency by route", base);
}

void Router::set_fallback(sdk::HttpHandler handler, const std::string& owner) {
  fallback_ = std::make_unique<RouteEntry>();
  fallback_->method = "*";
  fallback_->path = "/*";
  fallback_->capability = std::string(sdk::kPublic);
  fallback_->owner = owner;
  fallback_->handler = std::move(handler);
  attach_metrics(*fallback_, "(apps)");
}

RouteMatch Router::match(std::string_view method, std::string_view path, bool admin_host) const {
  RouteMatch best;
  std::vector<int> best_score;
  auto parts = split_path(path);
  for (const auto& route : routes_) {
    if (route->admin_hosts_only && !admin_host) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    std::size_t i = 0;
    for (; i < route->segments.size() && ok; ++i) {
      const auto& seg = route->segments[i];
      if (seg.kind == RouteEntry::Segment::rest) {
        i = route->segments.size();
        break;
      }
      if (i >= parts.size()) ok = false;
      else if (seg.kind == RouteEntry::Segment::literal) ok = parts[i] == seg.text;
      else params[seg.text] = std::string(parts[i]);
    }
    bool prefix = !route->segments.empty() && route->segments.back().kind == RouteEntry::Segment::rest;
    if (!ok || (!prefix && parts.size() != route->segments.size())) continue;
    if (prefix && parts.size() < route->segments.size() - 1) continue;
    if (route->method != "*" && route->method != method && !(method == "HEAD" && route->method == "GET")) {
      best.allowed_methods.push_back(route->method);
      continue;
    }
    auto score = specificity(*route);
    if (!best.route || score > best_score) {
      best.route = route.get();
      best.params = std::move(params);
      best_score = std::move(score);
    }
  }
  if (!best.route && best.allowed_methods.empty() && fallback_) best.route = fallback_.get();
  return best;
}

}  // namespace picloud::kernel::http
