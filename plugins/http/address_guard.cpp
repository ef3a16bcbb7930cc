#include "address_guard.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace picloud::http {

using sdk::ErrorKind;

IpAddress IpAddress::v4_from(std::uint32_t host_order) {
  IpAddress a;
  a.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

std::uint32_t IpAddress::v4_value() const {
  return std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 | std::uint32_t{bytes[2]} << 8 | bytes[3];
}

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN + 1];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) return a;
  return std::nullopt;
}

std::string to_string(const IpAddress& address) {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), buf, sizeof buf)) return "?";
  return buf;
}

bool Cidr::contains(const IpAddress& address) const {
  if (address.v6 != base.v6) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (!std::equal(base.bytes.begin(), base.bytes.begin() + full, address.bytes.begin())) return false;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (base.bytes[full] & mask) == (address.bytes[full] & mask);
}

sdk::Result<Cidr> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  auto address = parse_ip(text.substr(0, slash));
  if (!address)
    return sdk::make_error(ErrorKind::invalid_argument,
                           "'" + std::string(text) + "' is not an address or CIDR (like 10.0.0.0/8 or fd00::/8)");
  int bits = address->v6 ? 128 : 32;
  int prefix = bits;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 || prefix > bits)
      return sdk::make_error(ErrorKind::invalid_argument, "'" + std::string(text) + "' has a bad prefix length (0-" +
                                                              std::to_string(bits) + ")");
  }
  // Keep only the network part, so "10.1.2.3/8" means 10.0.0.0/8.
  Cidr cidr{*address, prefix};
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(prefix - i * 8, 0, 8);
    cidr.base.bytes[i] &= static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return cidr;
}

namespace {

bool in_v4(std::uint32_t a, std::uint32_t net, int prefix) {
  std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (a & mask) == net;
}

AddressCategory classify_v4(std::uint32_t a) {
  using C = AddressCategory;
  if (in_v4(a, 0x00000000, 8)) return C::unspecified;
  if (in_v4(a, 0x0a000000, 8)) return C::private_network;
  if (in_v4(a, 0x64400000, 10)) return C::shared_address;
  if (in_v4(a, 0x7f000000, 8)) return C::loopback;
  if (in_v4(a, 0xa9fe0000, 16)) return C::link_local;
  if (in_v4(a, 0xac100000, 12)) return C::private_network;
  if (in_v4(a, 0xc0000000, 24)) return C::protocol_assignment;
  if (in_v4(a, 0xc0000200, 24)) return C::documentation;
  if (in_v4(a, 0xc0586300, 24)) return C::reserved;  // the retired 6to4 relay anycast
  if (in_v4(a, 0xc0a80000, 16)) return C::private_network;
  if (in_v4(a, 0xc6120000, 15)) return C::benchmarking;
  if (in_v4(a, 0xc6336400, 24)) return C::documentation;
  if (in_v4(a, 0xcb007100, 24)) return C::documentation;
  if (in_v4(a, 0xe0000000, 4)) return C::multicast;
  if (a == 0xffffffff) return C::broadcast;
  if (in_v4(a, 0xf0000000, 4)) return C::reserved;
  return C::public_address;
}

bool starts_with(const IpAddress& a, std::initializer_list<std::uint8_t> prefix_bytes) {
  return std::equal(prefix_bytes.begin(), prefix_bytes.end(), a.bytes.begin());
}

bool all_zero(const IpAddress& a, int from, int to) {
  return std::all_of(a.bytes.begin() + from, a.bytes.begin() + to, [](std::uint8_t b) { return b == 0; });
}

IpAddress v4_at(const IpAddress& a, int offset) {
  IpAddress v4;
  std::copy(a.bytes.begin() + offset, a.bytes.begin() + offset + 4, v4.bytes.begin());
  return v4;
}

// The IPv4 address an IPv6 address stands for, when it embeds one that the
// network would reach: IPv4-mapped ::ffff:a.b.c.d, IPv4-translated
// ::ffff:0:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d and
// 6to4 2002:aabb:ccdd::.
std::optional<IpAddress> embedded_v4(const IpAddress& a) {
  if (!a.v6) return std::nullopt;
  if (all_zero(a, 0, 10) && a.bytes[10] == 0xff && a.bytes[11] == 0xff) return v4_at(a, 12);
  if (all_zero(a, 0, 8) && a.bytes[8] == 0xff && a.bytes[9] == 0xff && a.bytes[10] == 0 && a.bytes[11] == 0)
    return v4_at(a, 12);
  if (all_zero(a, 0, 12)) {
    IpAddress v4 = v4_at(a, 12);
    if (v4.v4_value() > 1) return v4;  // :: and ::1 are IPv6's own
  }
  if (starts_with(a, {0x00, 0x64, 0xff, 0x9b}) && all_zero(a, 4, 12)) return v4_at(a, 12);
  if (starts_with(a, {0x20, 0x02})) return v4_at(a, 2);
  return std::nullopt;
}

AddressCategory classify_v6(const IpAddress& a) {
  using C = AddressCategory;
  if (all_zero(a, 0, 16)) return C::unspecified;
  if (all_zero(a, 0, 15) && a.bytes[15] == 1) return C::loopback;
  if (auto v4 = embedded_v4(a)) return classify_v4(v4->v4_value());
  if (a.bytes[0] == 0xff) return C::multicast;
  if ((a.bytes[0] & 0xfe) == 0xfc) return C::unique_local;
  if (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80) return C::link_local;
  if (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0xc0) return C::site_local;
  if (starts_with(a, {0x20, 0x01, 0x0d, 0xb8}) || (a.bytes[0] == 0x3f && a.bytes[1] == 0xff && (a.bytes[2] & 0xf0) == 0))
    return C::documentation;  // 2001:db8::/32, 3fff::/20
  if (starts_with(a, {0x20, 0x01, 0x00, 0x02, 0x00, 0x00})) return C::benchmarking;
  // Teredo (2001::/32) hides an IPv4 address; ORCHID and other IETF
  // assignments in 2001::/23 are not reachable destinations.
  if (starts_with(a, {0x20, 0x01}) && a.bytes[2] < 0x02) return C::reserved;
  // Only 2000::/3 is global unicast; the rest (NAT64 local-use
  // 64:ff9b:1::/48, discard-only 100::/64, ...) is not a destination.
  if ((a.bytes[0] & 0xe0) != 0x20) return C::reserved;
  return C::public_address;
}

bool any_contains(const std::vector<Cidr>& list, const IpAddress& a, const std::optional<IpAddress>& v4) {
  for (const auto& c : list)
    if (c.contains(a) || (v4 && c.contains(*v4))) return true;
  return false;
}

bool any_host(const std::vector<std::string>& patterns, std::string_view host) {
  for (const auto& p : patterns)
    if (host_matches(p, host)) return true;
  return false;
}

}  // namespace

AddressCategory classify(const IpAddress& address) {
  return address.v6 ? classify_v6(address) : classify_v4(address.v4_value());
}

std::string_view describe(AddressCategory category) {
  using C = AddressCategory;
  switch (category) {
    case C::public_address: return "public address";
    case C::loopback: return "loopback address";
    case C::unspecified: return "unspecified address";
    case C::private_network: return "private address";
    case C::shared_address: return "shared (carrier-grade NAT) address";
    case C::link_local: return "link-local address";
    case C::protocol_assignment: return "IETF protocol address";
    case C::documentation: return "documentation address";
    case C::benchmarking: return "benchmarking address";
    case C::multicast: return "multicast address";
    case C::reserved: return "reserved address";
    case C::broadcast: return "broadcast address";
    case C::unique_local: return "unique local address";
    case C::site_local: return "site-local address";
  }
  return "reserved address";
}

bool host_matches(std::string_view pattern, std::string_view host) {
  if (pattern.starts_with("*.")) {
    std::string_view suffix = pattern.substr(1);  // ".example.com"
    return host.size() > suffix.size() && host.ends_with(suffix);
  }
  return pattern == host;
}

sdk::Error blocked(std::string_view reason) {
  return sdk::make_error(ErrorKind::forbidden, "blocked", "blocked: " + std::string(reason));
}

sdk::Result<void> AddressGuard::check_host(std::string_view host, int port) const {
  const auto& r = rules_;
  bool port_allowed = r.allow_ports.empty() || std::find(r.allow_ports.begin(), r.allow_ports.end(), port) != r.allow_ports.end();
  if (!port_allowed || std::find(r.deny_ports.begin(), r.deny_ports.end(), port) != r.deny_ports.end())
    return blocked("port " + std::to_string(port) + " is not allowed");
  if (any_host(r.deny_hosts, host)) return blocked("denied host");
  return {};
}

sdk::Result<void> AddressGuard::check_address(std::string_view host, const IpAddress& address) const {
  auto v4 = embedded_v4(address);
  if (any_contains(rules_.deny_cidrs, address, v4)) return blocked("denied address");
  if (rules_.allow_private || any_contains(rules_.allow_cidrs, address, v4) || any_host(rules_.allow_hosts, host))
    return {};
  auto category = classify(address);
  if (category != AddressCategory::public_address) return blocked(describe(category));
  if (is_local(address) || (v4 && is_local(*v4))) return blocked("address of this machine");
  return {};
}

void AddressGuard::set_local_addresses(std::vector<IpAddress> addresses) {
  std::lock_guard lock(local_mutex_);
  local_ = std::move(addresses);
}

void AddressGuard::refresh_local_addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return;  // keep what we had
  std::vector<IpAddress> found;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    IpAddress a;
    if (i->ifa_addr->sa_family == AF_INET) {
      std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      a.v6 = true;
      std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    found.push_back(a);
  }
  ::freeifaddrs(list);
  set_local_addresses(std::move(found));
}

bool AddressGuard::is_local(const IpAddress& address) const {
  std::lock_guard lock(local_mutex_);
  return std::find(local_.begin(), local_.end(), address) != local_.end();
}

}  // namespace picloud::http
