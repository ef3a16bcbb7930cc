#include "kernel/admin/request_origin.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "kernel/admin/api_support.hpp"

namespace picloud::kernel::admin {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The scheme the client used, when a proxy in front says so (its first
// value: a chain of proxies appends theirs).
std::string forwarded_scheme(const sdk::HttpRequest& request) {
  std::string_view proto = request.header("x-forwarded-proto");
  return to_lower(trim(proto.substr(0, proto.find(','))));
}

// Whether `origin` ("scheme://host[:port]") names the origin this request
// was sent to. Without X-Forwarded-Proto the scheme cannot be known (a TLS
// proxy may not say), so the Origin's own scheme is taken, and its default
// port is the one a Host header without a port means.
bool same_origin(std::string_view origin, const sdk::HttpRequest& request) {
  try {
    Poco::URI from{std::string(origin)};
    std::string scheme = to_lower(from.getScheme());
    if (scheme != "http" && scheme != "https") return false;  // picloud-lint: not a plugin name (the URL scheme)
    if (!from.getUserInfo().empty() || !from.getPath().empty() || !from.getQuery().empty() ||
        !from.getFragment().empty() || from.getHost().empty())
      return false;
    std::string known = forwarded_scheme(request);
    if (!known.empty() && known != scheme) return false;
    std::string_view host = trim(request.header("host"));
    if (host.empty()) return false;
    Poco::URI to{scheme + "://" + std::string(host)};
    if (!to.getUserInfo().empty() || !to.getPath().empty()) return false;
    return to_lower(from.getHost()) == to_lower(to.getHost()) && from.getPort() == to.getPort();
  } catch (const Poco::Exception&) {
    return false;  // a malformed Origin or Host never matches
  }
}

std::string own_origin(const sdk::HttpRequest& request, std::string_view origin) {
  std::string scheme = forwarded_scheme(request);
  if (scheme.empty()) scheme = to_lower(origin.substr(0, origin.find(':')));
  if (scheme != "https") scheme = "http";  // picloud-lint: not a plugin name (the URL scheme)
  return scheme + "://" + std::string(trim(request.header("host")));
}

}  // namespace

bool changes_state(std::string_view method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

std::optional<std::string> foreign_origin(const sdk::HttpRequest& request) {
  std::string site = to_lower(trim(request.header("sec-fetch-site")));
  std::string_view origin = trim(request.header("origin"));
  if (site == "cross-site")
    return "cross-site request refused: the request was started by a page of another site" +
           (origin.empty() ? std::string() : " ('" + std::string(origin) + "')") +
           "; the admin API only takes requests that change something from its own pages or from tools";
  if (!origin.empty()) {
    if (same_origin(origin, request)) return std::nullopt;
    return "cross-origin request refused: the request was started by a page of '" + std::string(origin) +
           "', not of this server's own origin '" + own_origin(request, origin) + "'";
  }
  if (site == "same-site")
    return "cross-origin request refused: the request was started by a page of another origin on the same site "
           "(Sec-Fetch-Site: same-site) and names no Origin";
  return std::nullopt;
}

}  // namespace picloud::kernel::admin
