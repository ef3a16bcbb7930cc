// Which Host headers the admin API answers on, and which hostnames apps may
// therefore never take.
//
// The admin API (sign-in, the session cookie, /api/v1/openapi.json and
// /metrics) answers only on its own hosts: the names in `[admin] hostnames`
// (default `localhost`), any IP address (`127.0.0.1`, `[::1]`, with or
// without a port) and a request without a Host header. An app never serves
// on those hosts, even if an old database row names one as the app's (such
// rows are ignored and reported at start-up): otherwise an app admin could
// take the admin API's origin and serve a fake sign-in page there.
//
// With `[admin] ip_hosts = false` IP addresses are ordinary hosts: the admin
// API answers only on its names, and an app may take an IP address (a Pi on
// a LAN whose apps are reached by address, or a benchmark's URL contract).
//
// An IP address is recognised as a browser's URL parser would: bracketed
// IPv6, or a name whose last label is a number (`127.1`, `0x7f.0.0.1`,
// `2130706433` are all 127.0.0.1 to a browser).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/error.hpp"

namespace picloud::kernel::admin {

// The host of a Host header: lower case, without the port and a trailing dot
// ("Example.COM.:8080" → "example.com"); IPv6 keeps its brackets ("[::1]").
std::string host_of(std::string_view host_header);

// Whether a host (as host_of gives it, or an unbracketed IPv6 address) is an
// IP address to a browser.
bool is_ip_literal(std::string_view host);

// Whether a name is made of DNS labels: letters, digits and '-', 1 to 63 per
// label, not starting or ending with '-', 253 in all.
bool is_dns_name(std::string_view host);

class AdminHosts {
 public:
  // `names`: host names (lower case, no port); the default is {"localhost"}.
  explicit AdminHosts(std::vector<std::string> names = {"localhost"}, bool ip_hosts = true)
      : names_(std::move(names)), ip_hosts_(ip_hosts) {}

  // Reads `[admin] hostnames` ("a.example, localhost"): the names checked
  // and normalised; the error says which entry is wrong and why.
  static sdk::Result<std::vector<std::string>> parse(std::string_view list);

  // Whether the admin API answers a request with this Host header.
  bool serves(std::string_view host_header) const;

  // Why an app may not take this hostname (already lower case, without a
  // trailing dot), or empty when it may.
  std::string reserved(std::string_view hostname) const;

  // Whether every IP address is an admin host ([admin] ip_hosts).
  bool ip_hosts() const { return ip_hosts_; }

  const std::vector<std::string>& names() const { return names_; }

 private:
  std::vector<std::string> names_;
  bool ip_hosts_;  // every IP address is an admin host
};

}  // namespace picloud::kernel::admin
