// The kernel's authorizer: reads the request's credentials, resolves the app
// an app-scoped route names, and checks the route's capability (role, scope,
// session-only). On success the request carries the principal's user id and
// the app's canonical id, and kernel handlers can read the whole Principal
// through current_access().
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "kernel/admin/access_cache.hpp"
#include "kernel/admin/capabilities.hpp"
#include "kernel/admin/identity.hpp"
#include "kernel/http/server.hpp"

namespace picloud::kernel::admin {

// What the check established, for the handler that runs next on this thread.
struct Access {
  Principal principal;
  std::string app_id;   // app-scoped routes
  Role role = Role::none;  // the principal's role in that app (owner: admin)
};

// The Access of the request this thread is serving (valid inside a handler of
// a route that required a capability).
const Access& current_access();

class AdminAuthorizer final : public http::Authorizer {
 public:
  AdminAuthorizer(Identity& identity, const CapabilityRegistry& capabilities, sdk::Database& db, AccessCache& cache)
      : identity_(identity), capabilities_(capabilities), db_(db), cache_(cache) {}
  std::optional<sdk::HttpResponse> check(sdk::HttpRequest& request, const std::string& capability) override;

  // Whether a Host header names one of the apps' hostnames. Routes that need
  // credentials answer 404 there: an app's pages must never share an origin
  // with an API that honours the admin session cookie.
  std::function<bool(std::string_view host)> app_host;

 private:
  Identity& identity_;
  const CapabilityRegistry& capabilities_;
  sdk::Database& db_;
  AccessCache& cache_;
};

}  // namespace picloud::kernel::admin
