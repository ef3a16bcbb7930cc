// HTTP routes a plugin registers with the kernel's router.
//
// Every route names the capability it requires. `kPublic` means anyone may
// call it; any other capability is checked by the kernel's authorizer before
// the handler runs (401 without credentials, 403 without the capability).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace picloud::sdk {

inline constexpr std::string_view kPublic = "public";

struct HttpRequest {
  std::string method;  // upper case
  std::string path;    // decoded path, without the query string
  std::string query;   // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case
  std::map<std::string, std::string> params;  // path parameters matched by the route
  std::string body;
  std::string remote_address;
  std::string request_id;

  // First header with this (lower case) name, or empty.
  std::string_view header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return {};
  }
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static HttpResponse text(int status, std::string body) {
    return HttpResponse{status, {{"content-type", "text/plain; charset=utf-8"}}, std::move(body)};
  }
  static HttpResponse json(int status, std::string body) {
    return HttpResponse{status, {{"content-type", "application/json"}}, std::move(body)};
  }
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpRoute {
  std::string method;  // GET, POST, ... or "*" for any
  // Exact path ("/a/b"), prefix ("/a/*"), or with parameters ("/a/{id}").
  std::string path;
  std::string capability;  // kPublic or a capability name
  HttpHandler handler;
};

}  // namespace picloud::sdk
