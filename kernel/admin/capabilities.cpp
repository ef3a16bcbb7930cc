#include "kernel/admin/capabilities.hpp"

namespace picloud::kernel::admin {

const std::vector<std::pair<std::string, std::string>>& all_scopes() {
  static const std::vector<std::pair<std::string, std::string>> scopes{
      {"app:read", "see apps, their hostnames, members and routes"},
      {"app:write", "change apps' settings and routes"},
      {"app:admin", "create and delete apps, manage their members"},
      {"script:read", "read scripts"},
      {"script:write", "create, change and delete scripts"},
      {"logs:read", "read execution logs"},
      {"users:admin", "manage the instance's users"},
  };
  return scopes;
}

std::uint32_t parse_scope(std::string_view name) {
  const auto& scopes = all_scopes();
  for (std::size_t i = 0; i < scopes.size(); ++i)
    if (scopes[i].first == name) return 1u << i;
  return 0;
}

std::vector<std::string> scope_names(std::uint32_t mask) {
  std::vector<std::string> out;
  const auto& scopes = all_scopes();
  for (std::size_t i = 0; i < scopes.size(); ++i)
    if (mask & (1u << i)) out.push_back(scopes[i].first);
  return out;
}

std::optional<Role> parse_role(std::string_view name) {
  if (name == "viewer") return Role::viewer;
  if (name == "editor") return Role::editor;
  if (name == "admin") return Role::admin;
  return std::nullopt;
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::viewer: return "viewer";
    case Role::editor: return "editor";
    case Role::admin: return "admin";
    case Role::none: break;
  }
  return "none";
}

bool app_scoped(sdk::Access access) {
  return access == sdk::Access::app_viewer || access == sdk::Access::app_editor || access == sdk::Access::app_admin;
}

Role required_role(sdk::Access access) {
  switch (access) {
    case sdk::Access::app_viewer: return Role::viewer;
    case sdk::Access::app_editor: return Role::editor;
    case sdk::Access::app_admin: return Role::admin;
    default: return Role::none;
  }
}

std::string_view access_name(sdk::Access access) {
  switch (access) {
    case sdk::Access::signed_in: return "signed in";
    case sdk::Access::app_viewer: return "app viewer";
    case sdk::Access::app_editor: return "app editor";
    case sdk::Access::app_admin: return "app admin";
    case sdk::Access::owner: return "owner";
  }
  return "owner";
}

void CapabilityRegistry::kernel(std::string name, sdk::Access access, std::uint32_t scope, std::string description,
                                bool session_only) {
  CapabilityEntry e;
  e.capability = sdk::Capability{name, access, scope ? scope_names(scope)[0] : "", std::move(description)};
  e.scope = scope;
  e.session_only = session_only;
  e.owner = "kernel";
  entries_.emplace(std::move(name), std::move(e));
}

CapabilityRegistry::CapabilityRegistry() {
  using sdk::Access;
  kernel("account.read", Access::signed_in, 0, "see who you are signed in as");
  kernel("account.session", Access::signed_in, 0, "end your session", true);
  kernel("account.password", Access::signed_in, 0, "change your password", true);
  kernel("account.keys", Access::signed_in, 0, "create, list and revoke your API keys", true);
  kernel("script_api.read", Access::signed_in, 0, "read the script API reference");
  kernel("instance.plugins", Access::signed_in, 0, "see the loaded plugins, their versions and dashboard views");
  kernel("instance.trigger_kinds", Access::signed_in, 0, "see the trigger kinds and their filters");
  kernel("instance.metrics", Access::owner, 0, "read the current metrics");
  kernel("instance.nodes", Access::owner, 0, "see the nodes serving this database and whether each is alive");
  kernel("instance.users", Access::owner, kUsersAdmin, "manage users");
  kernel("app.list", Access::signed_in, kAppRead, "list the apps you are a member of");
  kernel("app.create", Access::owner, kAppAdmin, "create apps");
  kernel("app.read", Access::app_viewer, kAppRead, "see an app");
  kernel("app.update", Access::app_admin, kAppWrite, "change an app's name, slug, description and hostnames");
  kernel("app.delete", Access::app_admin, kAppAdmin, "delete an app and everything it owns");
  kernel("app.deploy", Access::app_admin, kAppAdmin,
         "deploy an app from a description of all of it (scripts, routes, triggers, hostnames)");
  kernel("app.export", Access::app_viewer, kScriptRead, "export all of an app's configuration and scripts");
  kernel("app.members.read", Access::app_viewer, kAppRead, "see an app's members");
  kernel("app.members.manage", Access::app_admin, kAppAdmin, "add, change and remove an app's members");
  kernel("script.read", Access::app_viewer, kScriptRead, "read an app's scripts");
  kernel("script.write", Access::app_editor, kScriptWrite, "create, change and delete an app's scripts");
  // A viewer may run scripts: the services a run calls check the user's own
  // capabilities (a viewer's run reads but cannot write). A key needs
  // script:write, since a run can change data.
  kernel("script.run", Access::app_viewer, kScriptWrite, "run an app's scripts on your own behalf");
  kernel("route.read", Access::app_viewer, kAppRead, "see an app's routes");
  kernel("route.write", Access::app_editor, kAppWrite, "create, change and delete an app's routes");
  kernel("trigger.read", Access::app_viewer, kAppRead, "see an app's triggers");
  kernel("trigger.write", Access::app_editor, kAppWrite, "create, change and delete an app's triggers");
  kernel("dead_letter.read", Access::app_viewer, kAppRead, "see an app's dead letters");
  kernel("dead_letter.write", Access::app_editor, kAppWrite, "replay and resolve an app's dead letters");
  kernel("execution.read", Access::app_viewer, kLogsRead, "read an app's execution logs");
}

sdk::Result<void> CapabilityRegistry::declare(const sdk::Capability& capability, const std::string& owner) {
  const std::string prefix = owner + ".";
  const auto& name = capability.name;
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0)
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "capability '" + name + "' must be named '" + prefix + "<name>'");
  for (char c : name.substr(prefix.size()))
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "capability '" + name + "': use lower-case letters, digits, '_' and '.'");
  std::uint32_t scope = 0;
  if (!capability.scope.empty()) {
    scope = parse_scope(capability.scope);
    if (scope == 0) {
      std::string known;
      for (const auto& [s, _] : all_scopes()) known += (known.empty() ? "" : ", ") + s;
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "capability '" + name + "': unknown scope '" + capability.scope + "' (known: " + known + ")");
    }
  }
  if (static_cast<int>(capability.access) < 0 || static_cast<int>(capability.access) > static_cast<int>(sdk::Access::owner))
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "capability '" + name + "': unknown access level");
  std::lock_guard lock(mutex_);
  if (entries_.count(name))
    return sdk::make_error(sdk::ErrorKind::conflict, "capability '" + name + "' is already declared");
  entries_.emplace(name, CapabilityEntry{capability, scope, false, owner});
  return {};
}

sdk::Result<void> CapabilityRegistry::check_route(const std::string& capability, const std::string& path,
                                                  const std::string& owner) const {
  if (capability == sdk::kPublic) return {};
  const CapabilityEntry* entry = find(capability);
  if (!entry)
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "route " + path + " requires the capability '" + capability +
                               "', which is not declared (declare it with add_capability first)");
  if (entry->owner != "kernel" && entry->owner != owner)
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "route " + path + " requires the capability '" + capability + "' of " + entry->owner);
  if (app_scoped(entry->capability.access) && path.find("/{app}") == std::string::npos)
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "route " + path + " requires the app-scoped capability '" + capability +
                               "' but has no {app} path parameter");
  return {};
}

const CapabilityEntry* CapabilityRegistry::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<CapabilityEntry> CapabilityRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<CapabilityEntry> out;
  for (const auto& [_, e] : entries_) out.push_back(e);
  return out;
}

}  // namespace picloud::kernel::admin
