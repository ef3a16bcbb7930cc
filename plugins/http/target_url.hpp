// A script's URL, parsed the one way the plugin connects by.
//
// The guard must judge the host the connection will really go to, so this
// parser decides it, strictly, and nothing parses the URL again: every
// spelling of an IPv4 address that URL parsers and inet_aton accept
// (2130706433, 0x7f.1, 0177.0.0.1, 127.1, a trailing dot, percent-encoded
// digits) becomes the dotted quad; IPv6 literals lose their zone id
// ([fe80::1%25eth0] is fe80::1, judged as link-local); host names are
// lower-cased and lose a trailing dot. What cannot be read one way only is
// refused: user info (send an Authorization header instead), backslashes
// and control characters, non-ASCII names (give them in punycode), a port
// outside 1-65535.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <picloud/sdk/error.hpp>

#include "address_guard.hpp"

namespace picloud::http {

struct TargetUrl {
  bool https = false;
  std::string host;                  // lower case; an address in canonical text
  std::optional<IpAddress> literal;  // set when the host is an address
  int port = 0;
  std::string target = "/";          // path and query, printable ASCII only

  std::string scheme() const { return https ? "https" : "http"; }
  bool default_port() const { return port == (https ? 443 : 80); }
  // "host", "host:8080", "[::1]:8080": the Host header.
  std::string authority() const;
  // "https://host:8080": what decides whether a redirect stays on the origin.
  std::string origin() const { return scheme() + "://" + authority(); }
  std::string text() const { return origin() + target; }
};

// invalid_argument for what is not a URL; forbidden (blocked) for a scheme
// other than http and https.
sdk::Result<TargetUrl> parse_url(std::string_view text);

// A redirect's Location, absolute or relative to `base`.
sdk::Result<TargetUrl> resolve_location(const TargetUrl& base, std::string_view location);

// The IPv4 address a host spells, by the URL standard's rules, if the host
// is meant as one (its last label is a number); an error if it is meant as
// one and is not valid; nullopt for a name.
sdk::Result<std::optional<IpAddress>> parse_ipv4_host(std::string_view host);

}  // namespace picloud::http
