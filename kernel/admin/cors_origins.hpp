// An app's `cors_origins`: the origins whose pages may call the app from a
// browser (applied by the server, http/cors.hpp). Each entry is checked and
// turned into the exact form a browser sends in its Origin header, so that
// the server's match can be a plain comparison: "HTTPS://App.Example.com:443"
// is stored as "https://app.example.com".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::admin {

constexpr std::size_t kMaxCorsOrigins = 32;

// One origin, `scheme://host[:port]`: http or https; a host that is a DNS
// name, an IPv4 address a.b.c.d or a bracketed IPv6 address; a port from 1 to
// 65535. Canonical: lower case, the scheme's default port left out, IPv6 in
// its shortest form. No user info, path (not even "/"), query or fragment.
// The error says what is wrong with the entry, quoting it.
sdk::Result<std::string> canonical_origin(std::string_view given);

// A whole list: at most kMaxCorsOrigins origins, each once (after
// canonicalisation), or the single entry "*" (any origin, never with
// credentials). The error names the first bad entry.
sdk::Result<std::vector<std::string>> check_cors_origins(const std::vector<std::string>& given);

}  // namespace picloud::kernel::admin
