#include "kernel/admin/cors_origins.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include "kernel/admin/admin_hosts.hpp"
#include "kernel/admin/api_support.hpp"

namespace picloud::kernel::admin {
namespace {

sdk::Error bad(std::string_view given, const std::string& why) {
  return sdk::make_error(sdk::ErrorKind::invalid_argument, "'" + std::string(given) + "' " + why);
}

// The host as a browser serialises it, or empty when it is not one.
std::string canonical_host(std::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    std::string address(host.substr(1, host.size() - 2));
    in6_addr v6{};
    char text[INET6_ADDRSTRLEN] = {};
    if (inet_pton(AF_INET6, address.c_str(), &v6) != 1 || !inet_ntop(AF_INET6, &v6, text, sizeof text)) return {};
    return "[" + std::string(text) + "]";
  }
  std::string name = to_lower(host);
  if (!is_dns_name(name)) return {};
  if (is_ip_literal(name)) {
    // Only the dotted form: browsers turn 127.1 and 0x7f.0.0.1 into it
    // before sending Origin, so another spelling would never match.
    in_addr v4{};
    char text[INET_ADDRSTRLEN] = {};
    if (inet_pton(AF_INET, name.c_str(), &v4) != 1 || !inet_ntop(AF_INET, &v4, text, sizeof text) || name != text)
      return {};
  }
  return name;
}

}  // namespace

sdk::Result<std::string> canonical_origin(std::string_view given) {
  auto sep = given.find("://");
  if (sep == std::string_view::npos) return bad(given, "is not an origin: use scheme://host[:port], e.g. https://app.example.com");
  std::string scheme = to_lower(given.substr(0, sep));
  if (scheme != "http" && scheme != "https")  // picloud-lint: not a plugin name (the URL scheme)
    return bad(given, "has the scheme '" + scheme + "': only http and https pages make CORS requests");
  std::string_view rest = given.substr(sep + 3);
  if (auto extra = rest.find_first_of("/?#"); extra != std::string_view::npos)
    return bad(given, "has a path, query or fragment; an origin is only scheme://host[:port] (no trailing '/')");
  if (rest.find('@') != std::string_view::npos) return bad(given, "has user info; an origin is only scheme://host[:port]");
  // The port follows the host's last ':' (after the ']' of an IPv6 address).
  std::string_view host = rest, port;
  auto bracket = rest.rfind(']');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return bad(given, "has a bad port: use a number from 1 to 65535");
  }
  std::string canonical = canonical_host(host);
  if (canonical.empty())
    return bad(given, "has no valid host: use a DNS name, an IPv4 address a.b.c.d or a bracketed IPv6 address");
  std::string out = scheme + "://" + canonical;
  if (!port.empty()) {
    int number = std::stoi(std::string(port));
    if (number < 1 || number > 65535) return bad(given, "has a bad port: use a number from 1 to 65535");
    // A browser leaves out the scheme's default port.
    if (number != (scheme == "https" ? 443 : 80)) out += ":" + std::to_string(number);
  }
  return out;
}

sdk::Result<std::vector<std::string>> check_cors_origins(const std::vector<std::string>& given) {
  if (given.size() > kMaxCorsOrigins)
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "at most " + std::to_string(kMaxCorsOrigins) + " per app");
  std::vector<std::string> out;
  for (const auto& entry : given) {
    if (entry == "*") {
      if (given.size() > 1) return bad(entry, "allows any origin: it must be the only entry");
      return std::vector<std::string>{"*"};
    }
    auto origin = canonical_origin(entry);
    if (!origin) return origin.error();
    if (std::find(out.begin(), out.end(), *origin) != out.end())
      return bad(entry, "is listed twice" + (*origin == entry ? std::string() : " (as '" + *origin + "')"));
    out.push_back(std::move(*origin));
  }
  return out;
}

}  // namespace picloud::kernel::admin
