// The SSRF guard's judgement of one destination: may a script's request
// connect to this address (and this host name, and this port)?
//
// By default only public unicast addresses are allowed. Everything that
// reaches the machine itself, its local networks or a cloud's metadata
// service is refused: loopback, unspecified, RFC 1918, CGNAT, link-local
// (169.254.169.254 among them), IETF protocol assignments, documentation
// and benchmarking ranges, multicast, reserved and broadcast, IPv6 unique
// local and site-local. IPv6 forms that carry an IPv4 address (mapped,
// compatible, NAT64, 6to4) are judged by the IPv4 address inside them.
//
// Operators widen or narrow that in [http] config: deny_cidrs and
// deny_hosts always refuse; allow_cidrs and allow_hosts let a named internal
// service through; allow_private (development only) lets every address
// through that no deny list names.
//
// The machine's own addresses are refused too, whatever their category (a
// server's public address reaches its own services over loopback, past any
// firewall in front of it): the guard reads them from the interfaces at
// start-up and whenever refresh_local_addresses() is called.
//
// A refusal names the category ("blocked: private address"), never the
// address: a script must not learn what an internal name resolves to.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <picloud/sdk/error.hpp>

namespace picloud::http {

// An IPv4 or IPv6 address in network byte order (IPv4 in the first four
// bytes of `bytes`).
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4_from(std::uint32_t host_order);
  std::uint32_t v4_value() const;  // host order; IPv4 only
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// Canonical text only: dotted quad, or RFC 4291 IPv6 (no brackets, no zone).
// The URL parser (target_url.hpp) turns the other spellings into these.
std::optional<IpAddress> parse_ip(std::string_view text);
std::string to_string(const IpAddress& address);

struct Cidr {
  IpAddress base;
  int prefix = 0;
  bool contains(const IpAddress& address) const;
};
// "10.0.0.0/8", "fd00::/8", or a lone address (a /32 or /128).
sdk::Result<Cidr> parse_cidr(std::string_view text);

// Why an address is refused by default; public means it is not.
enum class AddressCategory {
  public_address,
  loopback,
  unspecified,
  private_network,   // RFC 1918
  shared_address,    // 100.64.0.0/10, carrier-grade NAT
  link_local,        // 169.254.0.0/16 (cloud metadata), fe80::/10
  protocol_assignment,  // 192.0.0.0/24
  documentation,     // 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20
  benchmarking,      // 198.18.0.0/15, 2001:2::/48
  multicast,
  reserved,          // 240/4, and IPv6 outside the global unicast space
  broadcast,
  unique_local,      // fc00::/7
  site_local,        // fec0::/10, deprecated
};

AddressCategory classify(const IpAddress& address);
// "private address", "loopback address", ... as refusals say it.
std::string_view describe(AddressCategory category);

struct GuardRules {
  bool allow_private = false;              // development only
  std::vector<Cidr> allow_cidrs;
  std::vector<Cidr> deny_cidrs;
  std::vector<std::string> allow_hosts;    // "api.internal" or "*.internal", lower case
  std::vector<std::string> deny_hosts;
  std::vector<int> allow_ports;            // empty: any
  std::vector<int> deny_ports;
};

class AddressGuard {
 public:
  explicit AddressGuard(GuardRules rules) : rules_(std::move(rules)) {}
  AddressGuard(AddressGuard&& other) noexcept : rules_(std::move(other.rules_)), local_(std::move(other.local_)) {}

  // Reads the addresses of this machine's interfaces (getifaddrs).
  void refresh_local_addresses();
  void set_local_addresses(std::vector<IpAddress> addresses);

  // Before anything is resolved: the host name (lower case, no trailing
  // dot) and the port. Literal addresses are judged by check_address.
  sdk::Result<void> check_host(std::string_view host, int port) const;
  // Every address the host resolved to, before connecting to it.
  sdk::Result<void> check_address(std::string_view host, const IpAddress& address) const;

  const GuardRules& rules() const { return rules_; }

 private:
  bool is_local(const IpAddress& address) const;

  GuardRules rules_;
  mutable std::mutex local_mutex_;
  std::vector<IpAddress> local_;
};

// Whether `host` matches a pattern of allow_hosts/deny_hosts: equal, or
// "*.example.com" for any name under example.com (not example.com itself).
bool host_matches(std::string_view pattern, std::string_view host);

// The error every refusal carries: forbidden, code "blocked".
sdk::Error blocked(std::string_view reason);

}  // namespace picloud::http
