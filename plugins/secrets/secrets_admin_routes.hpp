// The secrets admin API under /api/v1/admin/apps/{app}/secrets: list names
// (secrets.list), set and delete (secrets.write), and read one value back
// (secrets.read: the app's admins and the owner only; every read is logged
// with who read which name, never the value).
#pragma once

#include "picloud/sdk/plugin.hpp"
#include "secrets_store.hpp"

namespace picloud::secrets {

inline constexpr const char* kListCapability = "secrets.list";
inline constexpr const char* kWriteCapability = "secrets.write";
inline constexpr const char* kReadCapability = "secrets.read";

// The plugin's view in the admin dashboard, as JSON (declared with
// sdk::add_admin_view_json), over the routes add_admin_routes registered.
std::string_view admin_view_json();

sdk::Result<void> add_admin_routes(sdk::PluginContext& ctx, SecretStore& store);

}  // namespace picloud::secrets
