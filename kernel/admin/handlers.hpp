// Internal to the admin API: the state its handlers share and the registrar
// they are added through. Each resource's handlers live in routes_<name>.cpp.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernel/admin/admin_api.hpp"
#include "kernel/admin/admin_views.hpp"
#include "kernel/admin/app_lifecycle.hpp"
#include "kernel/admin/resource_kinds.hpp"
#include "kernel/admin/api_support.hpp"

namespace picloud::kernel::admin {

struct AdminContext {
  AdminContext(db::Database& db, AdminSettings s, CapabilityRegistry& caps, MetricsRegistry& metrics)
      : db(db),
        metrics(metrics),
        settings(s),
        capabilities(caps),
        hosts(s.hostnames, s.ip_hosts),
        hasher(s.password_hash_concurrency),
        identity(db, hasher, s.identity, &cache),
        limiter(s.login),
        executions(db, s.executions, metrics),
        authorizer(identity, caps, db, cache, hosts) {}

  sdk::Database& db;
  MetricsRegistry& metrics;
  AdminSettings settings;
  CapabilityRegistry& capabilities;
  AdminHosts hosts;  // before the authorizer, which uses it
  PasswordHasher hasher;
  AccessCache cache;  // before identity and authorizer, which use it
  Identity identity;
  LoginLimiter limiter;
  ExecutionLog executions;
  AdminAuthorizer authorizer;
  scripting::Engine* engine = nullptr;
  const triggers::TriggerKindRegistry* trigger_kinds = nullptr;  // set once plugins have configured
  triggers::DeadLetterStore* dead_letters = nullptr;              // set once the database is migrated
  const AppLifecycle* app_lifecycle = nullptr;                    // set once plugins have configured
  const ResourceKindRegistry* resource_kinds = nullptr;           // likewise
  std::vector<InstalledPlugin> plugins;                           // likewise
  const AdminViews* views = nullptr;                              // likewise
  const cluster::NodeRegistry* nodes = nullptr;                   // set by the kernel
  http::Router* router = nullptr;
  std::vector<std::string> routes;  // "METHOD path" of every kernel admin route
  std::function<void()> routing_listener;  // this node's dispatcher, when there is one
  ScriptRunner script_runner;              // likewise
};

// Hostnames, scripts or routes change: the change's transaction also bumps
// the routing version every node watches (so no node can miss a committed
// change), and after the commit routing_changed() tells this node's
// dispatcher at once.
sdk::Result<void> bump_routing_version(sdk::Transaction& tx);
void routing_changed(AdminContext& ctx);

using AdminHandler = std::function<sdk::HttpResponse(const sdk::HttpRequest&)>;

// Adds kernel admin routes; turns ApiError and unexpected exceptions into
// the one error shape.
class Registrar {
 public:
  Registrar(AdminContext& ctx, http::Router& router) : ctx_(ctx), router_(router) {}
  // `path` is relative to /api/v1/admin.
  // `spooled_body_bytes` > 0: the body goes to a spool file as it arrives
  // (the handler gets it in HttpRequest::body_fd) and may be that large,
  // past [server] max_body_bytes, which bounds bodies held in memory.
  void add(const std::string& method, const std::string& path, const std::string& capability, AdminHandler handler,
           std::int64_t spooled_body_bytes = 0);
  void add_absolute(const std::string& method, const std::string& path, const std::string& capability,
                    AdminHandler handler, std::int64_t spooled_body_bytes = 0);
  sdk::Result<void> result() const { return result_; }

 private:
  AdminContext& ctx_;
  http::Router& router_;
  sdk::Result<void> result_;
};

void add_account_routes(AdminContext& ctx, Registrar& r);
void add_user_routes(AdminContext& ctx, Registrar& r);
void add_app_routes(AdminContext& ctx, Registrar& r);
void add_script_routes(AdminContext& ctx, Registrar& r);
void add_route_routes(AdminContext& ctx, Registrar& r);
void add_trigger_routes(AdminContext& ctx, Registrar& r);
void add_deploy_routes(AdminContext& ctx, Registrar& r);
void add_dead_letter_routes(AdminContext& ctx, Registrar& r);
void add_instance_routes(AdminContext& ctx, Registrar& r);

// An endpoint script of the app by id or name, as {id, name}: 404 when the
// app has none, 400 (field "script") when it is a module.
std::pair<std::string, std::string> resolve_endpoint_script(AdminContext& ctx, const std::string& app_id,
                                                            const std::string& ref);
void add_execution_routes(AdminContext& ctx, Registrar& r);

// Shared JSON shapes.
sdk::Value user_json(const User& user);
sdk::Value key_json(const ApiKey& key);  // never the secret
sdk::Value time_or_null(const std::optional<std::int64_t>& ms);

}  // namespace picloud::kernel::admin
