// The admin API under /api/v1/admin: identity (sign-in, sessions, API keys,
// users), apps with their hostnames and members, scripts, routes and
// execution logs; and the OpenAPI document at /api/v1/openapi.json.
//
// The kernel builds one AdminApi after the database is open, registers its
// routes before plugins configure (so theirs cannot shadow them), hands it
// the script engine once that exists, and uses its authorizer for every
// non-public route, plugins' included.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernel/admin/admin_hosts.hpp"
#include "kernel/admin/admin_views.hpp"
#include "kernel/admin/resource_kinds.hpp"
#include "kernel/admin/authorizer.hpp"
#include "kernel/admin/capabilities.hpp"
#include "kernel/admin/execution_log.hpp"
#include "kernel/admin/identity.hpp"
#include "kernel/admin/login_limiter.hpp"
#include "kernel/http/router.hpp"
#include "kernel/metrics.hpp"
#include "kernel/triggers/retry_policy.hpp"
#include "kernel/triggers/trigger_kinds.hpp"
#include "scripting/engine.hpp"

namespace picloud::kernel::triggers {
class DeadLetterStore;
}
namespace picloud::kernel::cluster {
class NodeRegistry;
}

namespace picloud::kernel::admin {

struct AdminSettings {
  IdentitySettings identity;
  LoginLimits login;
  ExecutionLogSettings executions;
  // The admin API's hostnames besides IP addresses (see admin_hosts.hpp).
  std::vector<std::string> hostnames = {"localhost"};
  bool ip_hosts = true;  // every IP address is an admin host too
  // When set, GET /metrics needs "Authorization: Bearer <this>".
  std::string metrics_token;
  int password_hash_concurrency = 2;
  triggers::RetryPolicy retry;  // defaults for triggers' deliveries
};

// A run started from the admin API (POST /apps/{app}/scripts/{script}/run):
// the script's handle() with `request`, on behalf of `principal`, through the
// data plane's gate and limits.
struct ManualRun {
  scripting::ScriptRef script;
  std::string principal;
  sdk::HttpRequest request;
};
struct ManualRunResult {
  bool admitted = false;       // false: too many runs at once
  ExecutionRecord record;      // as written to the execution log
  sdk::HttpResponse response;  // what the script answered, when it succeeded
};
using ScriptRunner = std::function<ManualRunResult(const ManualRun&)>;

inline constexpr std::string_view kAdminPrefix = "/api/v1/admin";
inline constexpr std::string_view kOpenApiPath = "/api/v1/openapi.json";

struct AdminContext;
class AppLifecycle;
class AccessCache;

class AdminApi {
 public:
  AdminApi(db::Database& db, AdminSettings settings, CapabilityRegistry& capabilities, MetricsRegistry& metrics);
  ~AdminApi();

  http::Authorizer& authorizer();
  Identity& identity();
  ExecutionLog& executions();

  // Registers the admin routes and the OpenAPI document.
  sdk::Result<void> register_routes(http::Router& router);
  // Scripts are validated on save by this engine (set once it is built).
  void set_engine(scripting::Engine* engine);
  // Trigger filters are validated by these kinds (set once plugins configured).
  void set_trigger_kinds(const triggers::TriggerKindRegistry* kinds);
  // Deleting an app also deletes the plugins' data of it through these hooks
  // (set once plugins have configured).
  void set_app_lifecycle(const AppLifecycle* lifecycle);
  // The plugins' resource kinds for deploy and export (set once plugins
  // have configured).
  void set_resource_kinds(const ResourceKindRegistry* kinds);
  // The loaded plugins and their dashboard views, for GET /plugins (set
  // once plugins have configured).
  void set_plugins(std::vector<InstalledPlugin> plugins, const AdminViews* views);
  // Dead letters are listed, replayed and resolved through this store.
  void set_dead_letters(triggers::DeadLetterStore* store);
  // Called after every change to hostnames, scripts or routes (the
  // dispatcher reloads its route table).
  void set_routing_listener(std::function<void()> listener);
  // Runs scripts for POST /apps/{app}/scripts/{script}/run (the dispatcher).
  void set_script_runner(ScriptRunner runner);
  // The hosts the admin API answers on; no app serves on them.
  const AdminHosts& hosts() const;
  // Hostnames an older version let apps take that are now the admin API's,
  // as {app slug, hostname}: they are ignored (the kernel warns at start-up).
  sdk::Result<std::vector<std::pair<std::string, std::string>>> reserved_app_hostnames();

  // Creates the first owner from PICLOUD_OWNER_USERNAME/PASSWORD when there
  // are no users yet; does nothing otherwise.
  sdk::Result<void> bootstrap_owner(const std::string& username, const std::string& password);

  void start();
  void stop();

  // Forgets remembered credential and membership checks; for whoever changes
  // identities in the database behind the API's back.
  void access_changed();
  // The memory of those checks (the kernel connects it to the other nodes).
  AccessCache& access_cache();
  // The database's nodes, for GET /nodes (set before start()).
  void set_nodes(const cluster::NodeRegistry* nodes);

  // Every admin route registered by the kernel, as "METHOD path".
  std::vector<std::string> kernel_routes() const;

 private:
  sdk::HttpResponse openapi_document() const;

  std::unique_ptr<AdminContext> ctx_;
};

}  // namespace picloud::kernel::admin
