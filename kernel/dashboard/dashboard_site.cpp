#include "kernel/dashboard/dashboard_site.hpp"

#include <cstdint>
#include <cstdio>
#include <optional>

#include "kernel/admin/api_support.hpp"

namespace picloud::kernel::dashboard {

namespace {

// 'self' only: no inline script or style, no eval, no third-party origin,
// no framing, no <base> or form posts elsewhere. Styles the page sets from
// script (element.style, constructable stylesheets) are not inline styles.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

std::string content_type_of(std::string_view path) {
  auto dot = path.rfind('.');
  std::string_view ext = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A strong validator (FNV-1a 64), computed once. Files outside
// assets/ (the page) are hashed whole; assets by name and size, which is
// enough since Vite names them by their content's hash — and reading them
// would make their pages (and their neighbours', by fault-around) resident
// in an idle server.
std::string etag_of(std::string_view path, std::string_view data) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view bytes) {
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  };
  if (!path.starts_with("assets/")) {
    mix(data);
  } else {
    mix(path);
    mix(std::to_string(data.size()));
  }
  char out[24];
  std::snprintf(out, sizeof out, "\"%016llx\"", static_cast<unsigned long long>(h));
  return out;
}

// Whether Accept-Encoding admits gzip: named with a q above 0, or covered
// by "*" when gzip is not named at all ("*, gzip;q=0" refuses it).
bool accepts_gzip(std::string_view accept) {
  std::optional<bool> named, wildcard;
  std::size_t at = 0;
  while (at < accept.size()) {
    std::size_t end = accept.find(',', at);
    if (end == std::string_view::npos) end = accept.size();
    std::string_view item = trim(accept.substr(at, end - at));
    std::string_view name = trim(item.substr(0, item.find(';')));
    bool allowed = true;
    if (auto q = item.find("q="); q != std::string_view::npos) {
      std::string_view value = trim(item.substr(q + 2));
      allowed = !(value.empty() || value.find_first_not_of("0.") == std::string_view::npos);
    }
    if (admin::to_lower(name) == "gzip") named = allowed;
    if (name == "*") wildcard = allowed;
    at = end + 1;
  }
  return named ? *named : wildcard.value_or(false);
}

// Whether an If-None-Match list names `etag` (weakly compared, or "*").
bool matches_etag(std::string_view header, std::string_view etag) {
  std::size_t at = 0;
  while (at < header.size()) {
    std::size_t end = header.find(',', at);
    if (end == std::string_view::npos) end = header.size();
    std::string_view tag = trim(header.substr(at, end - at));
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    at = end + 1;
  }
  return false;
}

sdk::HttpResponse plain(int status, std::string text) {
  auto r = sdk::HttpResponse::text(status, std::move(text));
  add_security_headers(r);
  r.headers.emplace_back("cache-control", "no-store");
  return r;
}

}  // namespace

bool dashboard_path(std::string_view path) {
  return path.substr(0, kDashboardPrefix.size()) == kDashboardPrefix &&
         (path.size() == kDashboardPrefix.size() || path[kDashboardPrefix.size()] == '/');
}

void add_security_headers(sdk::HttpResponse& response) {
  response.headers.emplace_back("content-security-policy", std::string(kContentSecurityPolicy));
  response.headers.emplace_back("x-content-type-options", "nosniff");
  response.headers.emplace_back("x-frame-options", "DENY");
  response.headers.emplace_back("referrer-policy", "no-referrer");
  response.headers.emplace_back("cross-origin-opener-policy", "same-origin");
}

void DashboardSite::index_files() const {
  for (const auto& f : source_) {
    std::string etag = etag_of(f.path, f.data);
    std::string gzip_etag = etag;
    gzip_etag.insert(gzip_etag.size() - 1, "-gz");
    files_.emplace(f.path, Entry{&f, content_type_of(f.path), std::move(etag), std::move(gzip_etag)});
  }
  if (auto it = files_.find("index.html"); it != files_.end()) index_ = &it->second;
}

sdk::HttpResponse DashboardSite::serve(const sdk::HttpRequest& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    auto r = plain(405, "the dashboard answers GET and HEAD only\n");
    r.headers.emplace_back("allow", "GET, HEAD");
    return r;
  }
  std::call_once(indexed_, [this] { index_files(); });
  if (!index_)
    return plain(404,
                 "The dashboard is not part of this build of PiCloud: it is built from dashboard/ (Node) "
                 "before the kernel; `./dev build` does both. The admin API at /api/v1/admin works without it.\n");
  // "/admin" itself: the app's relative URLs need the trailing slash.
  if (request.path == kDashboardPrefix) {
    auto r = plain(308, "");
    r.headers.emplace_back("location", std::string(kDashboardPrefix) + "/" + (request.query.empty() ? "" : "?" + request.query));
    return r;
  }
  std::string_view rel = std::string_view(request.path).substr(kDashboardPrefix.size() + 1);
  if (auto it = files_.find(rel); it != files_.end()) return reply(it->second, request, rel.starts_with("assets/"));
  // A missing file (a stale hashed name after an upgrade) is a 404, not the
  // app's page: a script tag must not receive HTML.
  std::string_view last = rel.substr(rel.rfind('/') == std::string_view::npos ? 0 : rel.rfind('/') + 1);
  if (last.find('.') != std::string_view::npos) return plain(404, "no such dashboard file\n");
  return reply(*index_, request, false);
}

sdk::HttpResponse DashboardSite::reply(const Entry& entry, const sdk::HttpRequest& request, bool immutable) const {
  sdk::HttpResponse r;
  add_security_headers(r);
  r.headers.emplace_back("content-type", entry.content_type);
  r.headers.emplace_back("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  const bool has_gzip = !entry.file->gzip.empty();
  const bool gzip = has_gzip && accepts_gzip(request.header("accept-encoding"));
  // Each representation has its own validator.
  const std::string& etag = gzip ? entry.gzip_etag : entry.etag;
  r.headers.emplace_back("etag", etag);
  if (has_gzip) r.headers.emplace_back("vary", "Accept-Encoding");
  if (matches_etag(request.header("if-none-match"), etag)) {
    r.status = 304;
    return r;
  }
  if (gzip) r.headers.emplace_back("content-encoding", "gzip");
  r.body.assign(gzip ? entry.file->gzip : entry.file->data);
  return r;
}

}  // namespace picloud::kernel::dashboard
