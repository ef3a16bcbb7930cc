#include "target_url.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <vector>

namespace picloud::http {

using sdk::ErrorKind;

namespace {

constexpr std::size_t kMaxUrlBytes = 16 * 1024;

sdk::Error invalid(std::string_view why) {
  return sdk::make_error(ErrorKind::invalid_argument, "invalid_url", "invalid URL: " + std::string(why));
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) { return is_digit(c) ? c - '0' : lower(c) - 'a' + 10; }

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    auto at = text.find(sep, start);
    parts.push_back(text.substr(start, at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// One part of an IPv4 host: 0x-prefixed hex, 0-prefixed octal, or decimal.
std::optional<std::uint64_t> ipv4_number(std::string_view part) {
  if (part.empty()) return std::nullopt;
  int base = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    base = 16;
    part.remove_prefix(2);
  } else if (part.size() >= 2 && part[0] == '0') {
    base = 8;
    part.remove_prefix(1);
  }
  std::uint64_t value = 0;
  for (char c : part) {
    int digit;
    if (base == 16 && is_hex(c)) digit = hex_value(c);
    else if (base == 10 && is_digit(c)) digit = c - '0';
    else if (base == 8 && c >= '0' && c <= '7') digit = c - '0';
    else return std::nullopt;
    value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(digit);
    if (value > 0xffffffffull) return value;  // too big whatever follows; stop before overflowing
  }
  return value;
}

bool ends_in_number(std::string_view last) {
  if (last.empty()) return false;
  bool digits = true;
  for (char c : last) digits = digits && is_digit(c);
  if (digits) return true;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
    for (char c : last.substr(2))
      if (!is_hex(c)) return false;
    return true;
  }
  return false;
}

bool has_scheme(std::string_view text) {
  if (text.empty() || !((text[0] >= 'a' && text[0] <= 'z') || (text[0] >= 'A' && text[0] <= 'Z'))) return false;
  for (std::size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (c == ':') return true;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return false;
}

sdk::Result<std::string> percent_decode_host(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2]))
      return invalid("bad percent-encoding in the host");
    out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
    i += 2;
  }
  return out;
}

sdk::Result<void> check_name(std::string_view host) {
  if (host.size() > 253) return invalid("the host name is longer than 253 characters");
  for (char c : host) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) return invalid("non-ASCII host names must be given in punycode (xn--...)");
    bool ok = (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_' || c == '.';
    if (!ok) return invalid(std::string("the host contains '") + c + "'");
  }
  for (auto label : split(host, '.')) {
    if (label.empty()) return invalid("the host has an empty label");
    if (label.size() > 63) return invalid("a label of the host is longer than 63 characters");
  }
  return {};
}

// Path and query as sent on the request line: printable ASCII, the bytes
// that may not stand there percent-encoded.
std::string encode_target(std::string_view raw) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || std::strchr("\"<>`{}\\", c)) {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string TargetUrl::authority() const {
  std::string out = literal && literal->v6 ? "[" + host + "]" : host;
  if (!default_port()) out += ":" + std::to_string(port);
  return out;
}

sdk::Result<std::optional<IpAddress>> parse_ipv4_host(std::string_view host) {
  auto parts = split(host, '.');
  if (parts.size() > 1 && parts.back().empty()) parts.pop_back();
  if (!ends_in_number(parts.back())) return std::optional<IpAddress>{};
  if (parts.size() > 4) return invalid("the host is not a valid IPv4 address (more than four parts)");
  std::vector<std::uint64_t> numbers;
  for (auto part : parts) {
    auto n = ipv4_number(part);
    if (!n) return invalid("the host is not a valid IPv4 address");
    numbers.push_back(*n);
  }
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i)
    if (numbers[i] > 255) return invalid("the host is not a valid IPv4 address (a part over 255)");
  std::uint64_t last_limit = 1ull << (8 * (5 - numbers.size()));
  if (numbers.back() >= last_limit) return invalid("the host is not a valid IPv4 address (out of range)");
  std::uint64_t value = numbers.back();
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) value += numbers[i] << (8 * (3 - i));
  return std::optional<IpAddress>{IpAddress::v4_from(static_cast<std::uint32_t>(value))};
}

sdk::Result<TargetUrl> parse_url(std::string_view text) {
  if (text.size() > kMaxUrlBytes) return invalid("longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return invalid("it contains a control character");
  }
  if (!has_scheme(text)) return invalid("it needs a scheme, as in https://example.com/");
  auto colon = text.find(':');
  std::string scheme;
  for (char c : text.substr(0, colon)) scheme.push_back(lower(c));
  if (scheme != "http" && scheme != "https") return blocked("scheme '" + scheme + "' is not allowed (http and https are)");
  TargetUrl url;
  url.https = scheme == "https";
  std::string_view rest = text.substr(colon + 1);
  if (!rest.starts_with("//")) return invalid("it needs // after the scheme");
  rest.remove_prefix(2);
  auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view after = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);

  if (authority.find('@') != std::string_view::npos)
    return invalid("user and password in the URL are not supported; send an Authorization header");
  if (authority.find_first_of("\\ ") != std::string_view::npos) return invalid("the host contains a space or backslash");

  std::string_view port_text;
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid("an IPv6 address without its closing ]");
    std::string_view inside = authority.substr(1, close - 1);
    // A zone id ("%25eth0") only scopes a link-local address to an
    // interface; the address alone is what the guard judges.
    inside = inside.substr(0, inside.find('%'));
    auto address = inside.find(':') == std::string_view::npos ? std::nullopt : parse_ip(inside);
    if (!address || !address->v6) return invalid("the host is not a valid IPv6 address");
    url.literal = address;
    url.host = to_string(*address);
    std::string_view tail = authority.substr(close + 1);
    if (!tail.empty() && tail[0] != ':') return invalid("unexpected text after the IPv6 address");
    if (!tail.empty()) port_text = tail.substr(1);
  } else {
    auto port_at = authority.find(':');
    std::string_view host_text = authority.substr(0, port_at);
    if (port_at != std::string_view::npos) {
      port_text = authority.substr(port_at + 1);
      if (port_text.find(':') != std::string_view::npos) return invalid("IPv6 addresses must be in brackets");
    }
    auto decoded = percent_decode_host(host_text);
    if (!decoded) return decoded.error();
    std::string host;
    for (char c : *decoded) host.push_back(lower(c));
    if (host.size() > 1 && host.back() == '.') host.pop_back();
    if (host.empty() || host == ".") return invalid("it has no host");
    auto ipv4 = parse_ipv4_host(host);
    if (!ipv4) return ipv4.error();
    if (*ipv4) {
      url.literal = **ipv4;
      url.host = to_string(**ipv4);
    } else {
      if (auto ok = check_name(host); !ok) return ok.error();
      url.host = std::move(host);
    }
  }

  url.port = url.https ? 443 : 80;
  if (!port_text.empty()) {
    int port = 0;
    for (char c : port_text) {
      if (!is_digit(c) || port > 65535) return invalid("the port must be a number from 1 to 65535");
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return invalid("the port must be a number from 1 to 65535");
    url.port = port;
  }

  std::string_view target = after.substr(0, after.find('#'));
  url.target = encode_target(target);
  if (url.target.empty() || url.target[0] != '/') url.target.insert(0, "/");
  // Encoding triples every byte it escapes: the cap holds for the URL as it
  // is sent, so that what was accepted is what would be accepted again.
  if (url.text().size() > kMaxUrlBytes)
    return invalid("longer than " + std::to_string(kMaxUrlBytes) + " bytes once encoded");
  return url;
}

sdk::Result<TargetUrl> resolve_location(const TargetUrl& base, std::string_view location) {
  while (!location.empty() && (location.front() == ' ' || location.front() == '\t')) location.remove_prefix(1);
  while (!location.empty() && (location.back() == ' ' || location.back() == '\t')) location.remove_suffix(1);
  if (location.empty()) return invalid("the redirect has an empty Location");
  if (has_scheme(location)) return parse_url(location);
  if (location.starts_with("//")) return parse_url(base.scheme() + ":" + std::string(location));
  std::string_view path = std::string_view(base.target).substr(0, base.target.find('?'));
  if (location.starts_with("/")) return parse_url(base.origin() + std::string(location));
  if (location.starts_with("?")) return parse_url(base.origin() + std::string(path) + std::string(location));
  if (location.starts_with("#")) return parse_url(base.text());
  std::string_view directory = path.substr(0, path.rfind('/') + 1);
  return parse_url(base.origin() + std::string(directory) + std::string(location));
}

}  // namespace picloud::http
