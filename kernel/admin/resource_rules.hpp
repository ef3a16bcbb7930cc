// The rules the kernel's resources follow — apps, scripts, routes, triggers —
// shared by their own endpoints (routes_<name>.cpp, where each is defined)
// and by deploy, which checks a whole app at once. Each throws ApiError
// naming the field, as the endpoints answer it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kernel/admin/admin_hosts.hpp"
#include "kernel/admin/handlers.hpp"
#include "kernel/triggers/trigger_kinds.hpp"
#include "picloud/sdk/database.hpp"
#include "scripting/engine.hpp"

namespace picloud::kernel::admin {

// ---- apps (routes_apps.cpp) ----
void check_slug(const std::string& slug);
// Lower-cased, without a trailing dot; refuses the admin API's hosts, IP
// spellings other than a.b.c.d, duplicates and more than 32.
std::vector<std::string> check_hostnames(const AdminHosts& admin_hosts, const std::vector<std::string>& given);
// The origins in their stored form (http::CorsOrigins).
std::string stored_cors_origins(const std::vector<std::string>& given);
// Inserts hostnames; a name another app holds is a conflict naming it.
sdk::Result<void> insert_hostnames(sdk::Transaction& tx, const std::string& app_id, const std::vector<std::string>& hosts);

// ---- scripts (routes_scripts.cpp) ----
constexpr std::size_t kMaxSourceBytes = 512 * 1024;
scripting::Engine& engine(AdminContext& ctx);  // 503 while the engine is not up
void check_script_name(AdminContext& ctx, const std::string& name);
scripting::ScriptKind parse_kind(const std::string& kind);
sdk::Value diagnostics_json(const std::vector<scripting::Diagnostic>& list);
// Replaces the script's recorded imports.
sdk::Result<void> save_imports(sdk::Transaction& tx, const std::string& script_id, const std::string& app_id,
                               const std::vector<std::string>& imports);

// ---- routes (routes_app_routes.cpp) ----
// "GET,POST" or "*" from a list of methods.
std::string normalise_methods(const std::vector<std::string>& given);
std::vector<std::string> split_methods(const std::string& text);
bool methods_overlap(const std::string& a, const std::string& b);
// Checks a path pattern and sets `shape` (parameter names left out).
std::string check_path(const std::string& path, std::string& shape);

// ---- triggers (routes_triggers.cpp) ----
// The kind by name; 404 naming the kinds there are.
const triggers::RegisteredKind& find_kind(AdminContext& ctx, const std::string& name);
// A trigger's optional name: 1 to 64 letters, digits, '_', '-', '.'.
void check_trigger_name(const std::string& name);

}  // namespace picloud::kernel::admin
