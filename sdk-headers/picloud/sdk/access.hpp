// Whether the principal a script runs for may use a capability.
//
// A script runs either as its app (a public route, a trigger, a cron tick:
// CallContext::principal is empty) or on behalf of a signed-in user (for
// example a run started from the admin API). Service plugins check the
// capability that guards an operation before doing it:
//
//   if (auto ok = ctx.access()->require(call, "kv.write"); !ok) return ok.error();
//
// The rule is the one the capability applies to admin routes: the user's
// role in call.app_id must be at least the capability's access level (the
// instance owner passes every level). Anonymous runs act as the app and
// pass: isolation between apps comes from call.app_id, not from this check.
#pragma once

#include <string_view>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/script.hpp"

namespace picloud::sdk {

class AccessControl {
 public:
  virtual ~AccessControl() = default;
  // OK, or forbidden naming the capability and the role it needs;
  // invalid_argument for a capability nobody declared; unavailable when the
  // user's role could not be read.
  virtual Result<void> require(const CallContext& call, std::string_view capability) = 0;
};

}  // namespace picloud::sdk
