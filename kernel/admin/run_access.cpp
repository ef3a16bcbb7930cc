#include "kernel/admin/run_access.hpp"

namespace picloud::kernel::admin {

sdk::Result<void> RunAccess::require(const sdk::CallContext& call, std::string_view capability) {
  const CapabilityEntry* entry = capabilities_.find(capability);
  if (!entry)
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "capability '" + std::string(capability) + "' is not declared");
  if (call.principal.empty()) return {};
  const sdk::Capability& cap = entry->capability;
  auto rows = db_.query(
      "SELECT u.is_owner, m.role FROM users u "
      "LEFT JOIN app_members m ON m.user_id = u.id AND "
      "m.app_id = ? WHERE u.id = ?",
      {call.app_id, call.principal});
  if (!rows)
    return sdk::make_error(sdk::ErrorKind::unavailable, "the caller's role could not be read: " + rows.error().message);
  auto refuse = [&](const std::string& why) {
    return sdk::make_error(sdk::ErrorKind::forbidden, "'" + cap.name + "' (" + cap.description + ") " + why);
  };
  if (rows->empty()) return refuse("needs a user, and the run's user no longer exists");
  const auto& row = rows->rows[0];
  if (row[0].int_or(0) != 0) return {};  // the instance owner
  if (cap.access == sdk::Access::owner) return refuse("is for the instance owner only");
  if (!app_scoped(cap.access)) return {};  // signed_in
  Role role = row[1].is_string() ? parse_role(row[1].as_string()).value_or(Role::none) : Role::none;
  if (role < required_role(cap.access))
    return refuse("needs the role " + std::string(role_name(required_role(cap.access))) +
                  " in this app; the run's user is " +
                  (role == Role::none ? "not a member" : std::string(role_name(role))));
  return {};
}

}  // namespace picloud::kernel::admin
