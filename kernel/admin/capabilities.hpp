// Who may do what: the seven API-key scopes, the per-app roles, and the
// registry of named capabilities every non-public route requires.
//
// A request is allowed when
//   - its user passes the capability's access level (the instance owner
//     passes every level; an app-scoped level needs that role or a higher one
//     in the app named by the route), and
//   - when it came with an API key, the key holds the capability's scope,
//   - and, for session-only capabilities, it came with a session cookie.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"

namespace picloud::kernel::admin {

// API-key scopes, as bits of a mask.
enum Scope : std::uint32_t {
  kAppRead = 1 << 0,
  kAppWrite = 1 << 1,
  kAppAdmin = 1 << 2,
  kScriptRead = 1 << 3,
  kScriptWrite = 1 << 4,
  kLogsRead = 1 << 5,
  kUsersAdmin = 1 << 6,
};
inline constexpr std::uint32_t kAllScopes = (1 << 7) - 1;

// "app:read" -> kAppRead; 0 when unknown.
std::uint32_t parse_scope(std::string_view name);
std::vector<std::string> scope_names(std::uint32_t mask);
// Every scope's name and what it allows, in a fixed order (for docs and errors).
const std::vector<std::pair<std::string, std::string>>& all_scopes();

// Per-app roles; higher includes lower.
enum class Role { none = 0, viewer = 1, editor = 2, admin = 3 };
std::optional<Role> parse_role(std::string_view name);
std::string_view role_name(Role role);

bool app_scoped(sdk::Access access);
// The role an app-scoped access level needs.
Role required_role(sdk::Access access);
std::string_view access_name(sdk::Access access);

struct CapabilityEntry {
  sdk::Capability capability;
  std::uint32_t scope = 0;  // 0: any key of the user
  bool session_only = false;  // API keys are refused (account management)
  std::string owner;        // "kernel" or the plugin that declared it
};

class CapabilityRegistry {
 public:
  // Registers the kernel's own capabilities.
  CapabilityRegistry();

  // Declares a plugin's capability: the name must be "<owner>.<name>", the
  // scope known, the name not taken.
  sdk::Result<void> declare(const sdk::Capability& capability, const std::string& owner);
  // Checks that a route may use `capability`: declared, owned by `owner` or
  // the kernel, and with an `{app}` parameter in `path` when app-scoped.
  sdk::Result<void> check_route(const std::string& capability, const std::string& path, const std::string& owner) const;
  const CapabilityEntry* find(std::string_view name) const;
  std::vector<CapabilityEntry> all() const;

 private:
  void kernel(std::string name, sdk::Access access, std::uint32_t scope, std::string description,
              bool session_only = false);
  mutable std::mutex mutex_;
  std::map<std::string, CapabilityEntry, std::less<>> entries_;
};

}  // namespace picloud::kernel::admin
