#include "kernel/admin/admin_hosts.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace picloud::kernel::admin {
namespace {

bool is_ipv6(std::string_view text) {
  if (text.empty() || text.size() > 45) return false;
  in6_addr addr{};
  return ::inet_pton(AF_INET6, std::string(text).c_str(), &addr) == 1;
}

// The URL Standard's "ends in a number": the last label is all digits, or
// 0x followed by hex digits. Such a host is parsed as an IPv4 address.
bool ends_in_a_number(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  auto dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (std::all_of(last.begin(), last.end(), [](unsigned char c) { return std::isdigit(c); })) return true;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X'))
    return std::all_of(last.begin() + 2, last.end(), [](unsigned char c) { return std::isxdigit(c); });
  return false;
}

}  // namespace

std::string host_of(std::string_view header) {
  if (!header.empty() && header.front() == '[') {  // [v6]:port
    auto close = header.find(']');
    header = header.substr(0, close == std::string_view::npos ? header.size() : close + 1);
  } else if (auto colon = header.rfind(':'); colon != std::string_view::npos) {
    header = header.substr(0, colon);
  }
  std::string out;
  for (char c : header) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (!out.empty() && out.back() == '.') out.pop_back();  // "example.com." is example.com
  return out;
}

bool is_ip_literal(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return is_ipv6(host.substr(1, host.size() - 2));
  if (host.find(':') != std::string_view::npos) return is_ipv6(host);
  return ends_in_a_number(host);
}

bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label < 1 || label > 63 || host[i - label] == '-' || host[i - 1] == '-') return false;
      label = 0;
    } else {
      char c = host[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
      ++label;
    }
  }
  return true;
}

sdk::Result<std::vector<std::string>> AdminHosts::parse(std::string_view list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    std::string_view item = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? list.size() + 1 : comma + 1;
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
    if (item.empty()) continue;
    std::string name = host_of(item);
    // host_of drops a ":port"; a configured name has none.
    if (item.find(':') != std::string_view::npos || !is_dns_name(name))
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "'" + std::string(item) + "' is not a host name (DNS labels of letters, digits and '-', no port)");
    if (is_ip_literal(name))
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "'" + std::string(item) + "' is an IP address; the admin API answers on every IP address anyway");
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

bool AdminHosts::serves(std::string_view host_header) const {
  if (host_header.empty()) return true;  // no name was asked for: not a browser's request for an app
  std::string host = host_of(host_header);
  if (ip_hosts_ && is_ip_literal(host)) return true;
  return std::find(names_.begin(), names_.end(), host) != names_.end();
}

std::string AdminHosts::reserved(std::string_view hostname) const {
  if (ip_hosts_ && is_ip_literal(hostname))
    return "is an IP address; the admin API answers on every IP address, so no app may take one";
  if (std::find(names_.begin(), names_.end(), hostname) != names_.end())
    return "is one of the admin API's hostnames ([admin] hostnames), so no app may take it";
  return {};
}

}  // namespace picloud::kernel::admin
