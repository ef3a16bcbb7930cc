// The plugin interface and the context it is handed.
//
// A plugin is a shared object exporting exactly one symbol, `picloud_plugin`
// (picloud.h's descriptor), declared with PICLOUD_PLUGIN(...) from
// picloud/sdk.hpp. Its lifecycle:
//   configure(ctx)  read config, register routes, provide services
//   start(ctx)      begin work (background tasks, connections)
//   stop()          called once at shutdown, in reverse dependency order
// Errors are returned as values. An exception escaping a call or a callback
// is caught by the SDK on the plugin's side of the boundary and becomes an
// internal error of that plugin; nothing is thrown across it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/abi.hpp"
#include "picloud/sdk/config.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"
#include "picloud/sdk/keyring.hpp"
#include "picloud/sdk/log.hpp"
#include "picloud/sdk/metrics.hpp"
#include "picloud/sdk/resources.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/services.hpp"
#include "picloud/sdk/tasks.hpp"

namespace picloud::sdk {

// TriggerKinds and EventSink are defined in triggers.hpp, AccessControl in
// access.hpp, Jobs in jobs.hpp.
class TriggerKinds;
class EventSink;
class AccessControl;
class Jobs;
class Cluster;
struct Event;

// An app as plugins see it.
struct AppInfo {
  std::string id;
  std::string slug;
  std::string name;
  std::vector<std::string> hostnames;
};

class PluginContext {
 public:
  virtual ~PluginContext() = default;
  virtual std::string_view plugin_name() const = 0;
  virtual ConfigSection& config() = 0;
  virtual Logger& logger() = 0;
  virtual Database& database() = 0;
  virtual ServiceRegistry& services() = 0;
  virtual BackgroundTasks& tasks() = 0;
  virtual Metrics& metrics() = 0;
  // Registers a route; a path already taken (by the kernel or another plugin)
  // is a conflict naming its owner. Only during configure().
  virtual Result<void> add_route(HttpRoute route) = 0;

  // Declares script functions and handle types (see script.hpp). Non-null;
  // declarations are accepted only during configure().
  virtual ScriptApi* script_api() = 0;
  // Declares trigger kinds (triggers.hpp). Non-null; only during
  // configure().
  virtual TriggerKinds* trigger_kinds() = 0;
  // Emits events of the kinds this plugin declared (triggers.hpp). Non-null
  // once the kernel routes events (always, in a running server).
  virtual EventSink* events() = 0;
  // Declares job kinds (configure() only) and queues jobs (from start()) in
  // the kernel's outbox (jobs.hpp). Non-null in a running server.
  virtual Jobs* jobs() { return nullptr; }
  // Messages between nodes (cluster.hpp). Non-null in a running server;
  // listen() only during configure().
  virtual Cluster* cluster() { return nullptr; }

  // Hears the events other plugins emit of trigger kind `source`, inside
  // the emitting transaction and before their triggers' rows are written:
  // what `observer` writes with `tx` commits or rolls back with the change,
  // and its error fails the emit. Only during configure().
  using EventObserver = std::function<Result<void>(Transaction& tx, std::string_view app_id, const Event& event)>;
  virtual Result<void> observe_events(std::string source, EventObserver observer) {
    (void)source, (void)observer;
    return make_error(ErrorKind::unavailable, "events cannot be observed in this process");
  }

  // Declares one of this plugin's views in the admin dashboard: a JSON
  // object with its id, title, icon, scope and sections (tables, forms)
  // naming this plugin's admin routes — or an ES module the plugin serves —
  // as docs/plugin-sdk.md ("Views in the dashboard") describes. Only during
  // configure(), after the routes it names.
  virtual Result<void> add_admin_view(Value view) {
    (void)view;
    return make_error(ErrorKind::unavailable, "admin views cannot be declared in this process");
  }

  // Declares a kind of resource for config as code (resources.hpp). Only
  // during configure(); a name declared already is a conflict.
  virtual Result<void> declare_resource_kind(ResourceKind kind) {
    (void)kind;
    return make_error(ErrorKind::unavailable, "resource kinds cannot be declared in this process");
  }

  // Declares a capability for this plugin's routes; the name must
  // start with "<plugin>.". Only during configure(), before the routes that
  // use it.
  virtual Result<void> add_capability(Capability capability) = 0;

  // Checks a script run's principal against a capability (access.hpp).
  // Non-null in a running server; usable from start().
  virtual AccessControl* access() = 0;

  // What the plugin does when an app is deleted: delete its data of the app
  // with `tx`, the transaction that deletes the app, so the app goes with
  // all its data or not at all. An error rolls the deletion back and is the
  // deleting admin's answer. Only during configure(); one hook per call.
  using AppDeletedHook = std::function<Result<void>(Transaction& tx, std::string_view app_id)>;
  virtual Result<void> on_app_deleted(AppDeletedHook hook) = 0;

  // The app with this id, slug or hostname (tried in that order);
  // not_found when there is none. Reads the database.
  virtual Result<AppInfo> find_app(std::string_view key) = 0;

  // The plugin's own data directory, <[server] data_dir>/plugins/<name>,
  // created (mode 0700) on the first call; absolute.
  virtual Result<std::string> data_dir() = 0;
  // The directory the plugin's .so was loaded from (files it ships);
  // absolute, valid for the process's life.
  virtual std::string_view install_dir() const = 0;

  // Values sealed under the kernel's master key, and signatures (keyring.hpp).
  // Non-null in a running server; usable from start() (and in configure()
  // for nothing but keeping the pointer).
  virtual Keyring* keyring() = 0;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual Result<void> configure(PluginContext& ctx) = 0;
  virtual Result<void> start(PluginContext& ctx) = 0;
  virtual void stop() = 0;
};

}  // namespace picloud::sdk
