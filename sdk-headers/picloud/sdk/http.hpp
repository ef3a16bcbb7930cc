// HTTP routes a plugin registers with the kernel's router.
//
// Every route names the capability it requires. `kPublic` means anyone may
// call it; any other capability must be declared (by the kernel, or by the
// plugin with PluginContext::add_capability) and is checked by the kernel
// before the request body is read and before the handler runs:
//   401  no credentials, or bad, expired or revoked ones
//   403  signed in, but the role or the API key's scopes do not allow it
//   404  the app named by the route's `{app}` parameter does not exist, or the
//        caller is not a member of it (other apps' existence is not revealed)
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
  // The signed-in user's id once the route's capability
  // was checked (empty on public routes). For a route with an `{app}`
  // parameter, params["app"] then holds the app's id even when the caller
  // named the app by its slug.
  std::string principal;
  // On a RouteHosts::apps route: the app serving the request's Host.
  std::string app_id;

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

// Who may use a capability. The app-scoped levels need the route's
// path to have an `{app}` parameter; the instance owner passes every level.
enum class Access {
  signed_in,   // any signed-in user or API key
  app_viewer,  // a member of the app with at least this role
  app_editor,
  app_admin,
  owner,       // the instance owner only
};

// A capability a plugin declares for its admin routes. `scope` is
// the API-key scope it needs: one of app:read, app:write, app:admin,
// script:read, script:write, logs:read, users:admin — or empty when any key
// of the user will do. Names are "<plugin>.<name>".
struct Capability {
  std::string name;
  Access access = Access::owner;
  std::string scope;
  std::string description;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Where a route answers.
//   admin  on the admin API's hosts ([admin] hostnames and IP addresses);
//          on an app's host the path stays the app's (never shadowed).
//   apps   on every app's hosts, under the prefix reserved for plugins:
//          path "/x" answers at "/_picloud/<plugin>/x", with
//          HttpRequest::app_id the app of the Host header. Public only: the
//          plugin authenticates such requests itself (signed URLs, webhook
//          secrets, tokens). No app may route a path under "/_picloud/".
enum class RouteHosts { admin, apps };
inline constexpr std::string_view kPluginRoutePrefix = "/_picloud/";

struct HttpRoute {
  std::string method;  // GET, POST, ... or "*" for any
  // Exact path ("/a/b"), prefix ("/a/*"), or with parameters ("/a/{id}").
  std::string path;
  std::string capability;  // kPublic or a capability name
  HttpHandler handler;
  RouteHosts hosts = RouteHosts::admin;
};

}  // namespace picloud::sdk
