// The kv admin API, under /api/v1/admin/apps/{app}/kv (the kernel checks the
// capability and resolves {app} to the app's id before a handler runs):
//
//   GET    /kv                             collections with their live key
//   counts   kv.read GET    /kv/{collection}                entries with
//   values, in key order         kv.read GET    /kv/{collection}/entry?key=K
//   one entry                                 kv.read PUT
//   /kv/{collection}/entry?key=K    {"value", "ttl_seconds"?, "version"?}
//   kv.write DELETE /kv/{collection}/entry?key=K    204, or 404 when there is
//   no such key     kv.write
//
// The key travels in the query string because keys may hold '/'. Writes fire
// kv triggers like a script's writes do.
#pragma once

#include "kv_store.hpp"
#include "picloud/sdk/plugin.hpp"

namespace picloud::kv {

inline constexpr const char* kReadCapability = "kv.read";
inline constexpr const char* kWriteCapability = "kv.write";

// Declares kv.read and kv.write and adds the routes.
// The plugin's view in the admin dashboard, as JSON (declared with
// sdk::add_admin_view_json), over the routes add_admin_routes registered.
std::string_view admin_view_json();

sdk::Result<void> add_admin_routes(sdk::PluginContext& ctx, KvStore& store, std::int64_t max_value_bytes);

}  // namespace picloud::kv
