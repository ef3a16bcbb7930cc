#include "kernel/http/cors.hpp"

#include <strings.h>

#include <cctype>

#include "kernel/http/server.hpp"
#include "kernel/http/wire.hpp"

namespace picloud::kernel::http {
namespace {

// Every method the router knows (router.cpp): see "Methods" in the header.
constexpr std::string_view kAllowMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
// What browser code may read of an answer beyond the safelisted headers:
// what the server and the plugins set (the request id to quote in a report,
// when to retry, where a created thing is, ranges and validators of files,
// an async run's id, the methods a 405 allows, how to authenticate).
constexpr std::string_view kExposeHeaders =
    "Content-Length, Content-Range, Content-Disposition, Accept-Ranges, ETag, Last-Modified, Location, "
    "Retry-After, Allow, WWW-Authenticate, X-Request-Id, X-Execution-Id";
constexpr std::string_view kMaxAge = "600";  // seconds; browsers cap it (Chromium at 7200)
constexpr std::string_view kPreflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool starts_with_name(std::string_view name, std::string_view prefix) {
  return name.size() >= prefix.size() && strncasecmp(name.data(), prefix.data(), prefix.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls `each` with every non-empty, trimmed item of a comma-separated list.
template <typename F>
void for_each_item(std::string_view list, F each) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = trim(list.substr(0, comma));
    if (!item.empty()) each(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// Headers a page can never set (the Fetch standard's forbidden request
// headers): asking to send one is not a request to honour.
bool forbidden_request_header(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "accept-charset", "accept-encoding", "access-control-request-headers", "access-control-request-method",
      "connection",     "content-length",  "cookie",                         "cookie2",
      "date",           "dnt",             "expect",                         "host",
      "keep-alive",     "origin",          "referer",                        "set-cookie",
      "te",             "trailer",         "transfer-encoding",              "upgrade",
      "via"};
  for (auto n : kNames)
    if (same_name(name, n)) return true;
  return starts_with_name(name, "proxy-") || starts_with_name(name, "sec-");
}

// The Access-Control-* headers the kernel's grant decides.
bool granted_header(std::string_view name) {
  for (std::string_view n : {"access-control-allow-origin", "access-control-allow-credentials",
                             "access-control-allow-methods", "access-control-allow-headers", "access-control-max-age"})
    if (same_name(name, n)) return true;
  return false;
}

// `Vary` with `Origin` in it, keeping what the handler varied on.
void vary_on_origin(sdk::HttpResponse& response) {
  for (auto& [name, value] : response.headers) {
    if (!same_name(name, "vary")) continue;
    bool covered = false;
    for_each_item(value, [&](std::string_view item) { covered = covered || item == "*" || same_name(item, "origin"); });
    if (!covered) value = trim(value).empty() ? std::string("Origin") : value + ", Origin";
    return;
  }
  response.headers.emplace_back("Vary", "Origin");
}

}  // namespace

std::shared_ptr<const CorsOrigins> CorsOrigins::from_stored(std::string_view stored) {
  if (stored.empty()) return nullptr;
  auto out = std::make_shared<CorsOrigins>();
  if (stored == "*") {
    out->any_ = true;
  } else {
    out->origins_ = listed(stored);
    if (out->origins_.empty()) return nullptr;
  }
  return out;
}

std::string CorsOrigins::to_stored(const std::vector<std::string>& origins) {
  std::string out;
  for (const auto& o : origins) out += (out.empty() ? "" : ",") + o;
  return out;
}

std::vector<std::string> CorsOrigins::listed(std::string_view stored) {
  std::vector<std::string> out;
  for_each_item(stored, [&](std::string_view item) { out.emplace_back(item); });
  return out;
}

std::optional<CorsGrant> CorsOrigins::grant(std::string_view origin) const {
  if (any_) return CorsGrant{"*", false};
  for (const auto& o : origins_)
    if (o == origin) return CorsGrant{o, true};
  return std::nullopt;
}

std::string allowed_request_headers(std::string_view requested) {
  std::string out;
  for_each_item(requested, [&](std::string_view item) {
    std::string name(item);
    if (!valid_header(name, "") || forbidden_request_header(name)) return;
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out += (out.empty() ? "" : ", ") + name;
  });
  return out;
}

sdk::HttpResponse preflight_allowed(const CorsGrant& grant, std::string_view requested_headers) {
  sdk::HttpResponse r{204, {}, ""};
  r.headers.emplace_back("Access-Control-Allow-Origin", grant.allow_origin);
  if (grant.credentials) r.headers.emplace_back("Access-Control-Allow-Credentials", "true");
  r.headers.emplace_back("Access-Control-Allow-Methods", std::string(kAllowMethods));
  if (auto headers = allowed_request_headers(requested_headers); !headers.empty())
    r.headers.emplace_back("Access-Control-Allow-Headers", std::move(headers));
  r.headers.emplace_back("Access-Control-Max-Age", std::string(kMaxAge));
  r.headers.emplace_back("Vary", std::string(kPreflightVary));
  return r;
}

sdk::HttpResponse preflight_refused(std::string_view origin) {
  auto r = error_response(403, "cross_origin",
                          "cross-origin request refused: '" + std::string(origin) +
                              "' is not one of this app's cors_origins");
  r.headers.emplace_back("Vary", std::string(kPreflightVary));
  return r;
}

void apply_cors(const CorsGrant* grant, sdk::HttpResponse& response) {
  if (grant) {
    std::string exposed(kExposeHeaders);
    std::erase_if(response.headers, [&](const auto& header) {
      const auto& [name, value] = header;
      if (same_name(name, "access-control-expose-headers")) {
        // The handler's own names, after the kernel's.
        for_each_item(value, [&](std::string_view item) { exposed += ", " + std::string(item); });
        return true;
      }
      return granted_header(name);
    });
    response.headers.emplace_back("Access-Control-Allow-Origin", grant->allow_origin);
    if (grant->credentials) response.headers.emplace_back("Access-Control-Allow-Credentials", "true");
    response.headers.emplace_back("Access-Control-Expose-Headers", std::move(exposed));
  }
  vary_on_origin(response);
}

}  // namespace picloud::kernel::http
