// Cross-origin access (CORS) to apps' hosts: which pages of other origins may
// call an app from a browser and read its answers — a single-page app at
// https://myapp.example.com calling its API at https://api.example.com, a
// dev server on http://localhost:5173.
//
// An app lists the origins it trusts (its `cors_origins`, checked by the admin
// API and stored in the form browsers send in `Origin`), or "*" for any. The
// server asks a CorsLookup for that list only when a request carries an
// Origin header (a request without one costs nothing more), and never for
// the admin API's hosts or the kernel's paths (/api/v1/admin...), whose
// cross-origin rules are the admin API's own. For an app with a list:
//   - a preflight (OPTIONS with Origin and Access-Control-Request-Method) is
//     answered here and never reaches a script or plugin: 204 with the
//     grant for an allowed origin, 403 `cross_origin` without any CORS
//     header otherwise;
//   - every other answer — a script's, a plugin route's, and the kernel's
//     own errors (404, 401, 413, 503...) so that browser code can read why —
//     carries the grant for an allowed origin, and `Vary: Origin` always.
// An app with an empty list is left exactly as before: no header is added
// and its scripts may answer OPTIONS (and set CORS headers) themselves.
//
// Decisions, as an attacker would probe them:
//   - Credentials. A listed origin gets `Access-Control-Allow-Credentials:
//     true`: it is the app's own front end, and app routes may authenticate
//     with cookies their scripts set. The cookies are the app host's only:
//     the admin session lives on the admin API's hosts, which never get CORS
//     headers. "*" is answered with a literal `*`, never the caller's origin
//     echoed, and never with credentials, so browsers refuse to send cookies
//     or read credentialed answers for it. Matching is exact — no suffixes,
//     patterns or "null" — the usual ways a reflected-origin check is fooled.
//   - Methods. A preflight allows a fixed list, every method the router
//     knows. The preflight is not where access is decided: the real request
//     is still routed and authorised, and a method the path does not route
//     gets its 405 (readable, with the grant). Listing the path's own methods
//     would cost a route lookup per preflight and answer nothing better.
//   - Request headers. The ones asked for are echoed when each is a valid
//     token and not one a browser never lets a page set (Cookie, Host,
//     Sec-*, Proxy-*...); a bad name is left out, so the browser refuses the
//     request that needs it.
//   - Precedence. For an allowed origin the kernel's grant replaces the
//     Access-Control-* headers a handler set itself (the app's list is the
//     one policy), except that names a handler listed in
//     Access-Control-Expose-Headers are kept, after the kernel's. For any
//     other origin a handler's own headers stand, as without a list.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/http.hpp"

namespace picloud::kernel::http {

// What an allowed Origin earns.
struct CorsGrant {
  std::string allow_origin;  // the origin itself, or "*"
  bool credentials = false;  // never with "*"
};

// One app's list of allowed origins.
class CorsOrigins {
 public:
  // The stored form: "*" or canonical origins joined by commas; null for ""
  // (no cross-origin access).
  static std::shared_ptr<const CorsOrigins> from_stored(std::string_view stored);
  // The stored form of a checked list ("*" alone, or canonical origins).
  static std::string to_stored(const std::vector<std::string>& origins);
  // The list as the admin API shows it.
  static std::vector<std::string> listed(std::string_view stored);

  bool any() const { return any_; }
  // The grant for an Origin header, or nothing when the origin is not
  // allowed. Browsers send origins in canonical form, so the match is
  // exact.
  std::optional<CorsGrant> grant(std::string_view origin) const;

 private:
  bool any_ = false;
  std::vector<std::string> origins_;
};

// Where the server finds an app's list; the data plane implements it from
// its route table (so a change to an app applies with its routing).
class CorsLookup {
 public:
  virtual ~CorsLookup() = default;
  // The list of the app serving this Host header; null when no app serves
  // it or the app allows no other origin.
  virtual std::shared_ptr<const CorsOrigins> cors_origins(std::string_view host_header) const = 0;
};

// Whether a request is a CORS preflight (OPTIONS naming the method to come).
inline bool is_preflight(std::string_view method, std::string_view requested_method) {
  return method == "OPTIONS" && !requested_method.empty();
}

// The answer to an allowed preflight: 204 with the grant, the methods, the
// requested headers that may be sent (`requested_headers` as in
// Access-Control-Request-Headers) and how long a browser may keep it.
sdk::HttpResponse preflight_allowed(const CorsGrant& grant, std::string_view requested_headers);
// The answer to a preflight from an origin the app does not list: 403
// `cross_origin`, naming the origin, without CORS headers.
sdk::HttpResponse preflight_refused(std::string_view origin);

// Puts the grant on an answer (see "Precedence" above); with no grant only
// `Vary: Origin` is added, for caches.
void apply_cors(const CorsGrant* grant, sdk::HttpResponse& response);

// The headers a page may ask to send, from an Access-Control-Request-Headers
// value: the valid, permitted names, lower case, joined by ", ".
std::string allowed_request_headers(std::string_view requested);

}  // namespace picloud::kernel::http
