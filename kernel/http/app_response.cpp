// The rules for scripts' responses, described in app_response.hpp.
#include "kernel/http/app_response.hpp"

#include <strings.h>

#include <algorithm>

#include "kernel/http/server.hpp"
#include "kernel/http/wire.hpp"
#include "kernel/log.hpp"

namespace picloud::kernel::http {
namespace {

// The admin API's session cookie; kernel/admin owns it (identity.hpp), the
// rule lives here so http needs nothing from admin.
constexpr std::string_view kSessionCookie = "picloud_session";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}
bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

sdk::HttpResponse refused(const std::string& why) {
  write_log(LogLevel::warn, "server", "script response refused", {{"reason", why}});
  return error_response(502, "script_error", why);
}

// Whether a Set-Cookie value sets the admin session cookie.
bool sets_admin_session(std::string_view set_cookie) {
  std::string_view pair = set_cookie.substr(0, set_cookie.find(';'));
  std::string_view name = pair.substr(0, pair.find('='));
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!name.empty() && blank(name.front())) name.remove_prefix(1);
  while (!name.empty() && blank(name.back())) name.remove_suffix(1);
  for (std::string_view prefix : {"__Host-", "__Secure-"})
    if (istarts_with(name, prefix)) name.remove_prefix(prefix.size());
  return iequals(name, kSessionCookie);
}

}  // namespace

sdk::HttpResponse app_response(sdk::HttpResponse response) {
  if (response.status < 200 || response.status > 599)
    return refused("the script answered with status " + std::to_string(response.status) +
                   "; a script's response has a status from 200 to 599");
  for (const auto& [name, value] : response.headers)
    if (!valid_header(name, value))
      return refused("the script set a header that is not a valid HTTP header (a name that is not a token, or a "
                     "line break or NUL in the value)");
  auto& headers = response.headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [](const auto& h) {
                                 return is_hop_by_hop(h.first) ||
                                        (iequals(h.first, "set-cookie") && sets_admin_session(h.second));
                               }),
                headers.end());
  return response;
}

}  // namespace picloud::kernel::http
