// The kernel's sdk::AccessControl: checks the user a script runs for against
// a declared capability, by the same rule the capability applies to admin
// routes (role in the run's app; the owner passes every level). A run without
// a principal acts as its app and passes.
//
// Roles are read from the database on every check: runs with a principal are
// few (started from the admin API), and a role taken away must stop the next
// call, not one a cache later.
#pragma once

#include "kernel/admin/capabilities.hpp"
#include "picloud/sdk/access.hpp"
#include "picloud/sdk/database.hpp"

namespace picloud::kernel::admin {

class RunAccess final : public sdk::AccessControl {
 public:
  RunAccess(const CapabilityRegistry& capabilities, sdk::Database& db) : capabilities_(capabilities), db_(db) {}
  sdk::Result<void> require(const sdk::CallContext& call, std::string_view capability) override;

 private:
  const CapabilityRegistry& capabilities_;
  sdk::Database& db_;
};

}  // namespace picloud::kernel::admin
