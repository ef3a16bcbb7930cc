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
#include "kernel/admin/admin_hosts.hpp"
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
  // Routes that need credentials answer 404 on a host that is not one of
  // `hosts`: the admin session must never be honoured on an origin whose
  // pages an app could serve.
  AdminAuthorizer(Identity& identity, const CapabilityRegistry& capabilities, sdk::Database& db, AccessCache& cache,
                  const AdminHosts& hosts)
      : identity_(identity), capabilities_(capabilities), db_(db), cache_(cache), hosts_(hosts) {}
  std::optional<sdk::HttpResponse> check(sdk::HttpRequest& request, const std::string& capability) override;
  bool admin_host(std::string_view host_header) const override { return hosts_.serves(host_header); }
  std::any take_state() override;
  void restore_state(std::any state) override;

 private:
  Identity& identity_;
  const CapabilityRegistry& capabilities_;
  sdk::Database& db_;
  AccessCache& cache_;
  const AdminHosts& hosts_;
};

// The 404 of an admin route asked for on a host that is not the admin API's.
sdk::HttpResponse not_an_admin_host(const sdk::HttpRequest& request, bool ip_hosts);

}  // namespace picloud::kernel::admin
