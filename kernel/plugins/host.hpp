// The plugin host: loads the enabled plugins, orders them by dependency,
// hands each its context, and drives configure → start → stop.
//
// Plugins are driven through their C descriptor (picloud.h) and reach the
// kernel through the host table (host_api.hpp) over their Context.
//
// A failure in any plugin's init, configure or start stops start-up with a message naming the plugin; the plugins already
// started are stopped again in reverse order, so there is never a
// half-started server.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernel/cluster/notifier.hpp"
#include "kernel/dispatch/jobs.hpp"
#include "kernel/triggers/event_router.hpp"
#include "kernel/triggers/trigger_kinds.hpp"
#include "kernel/admin/admin_views.hpp"
#include "kernel/admin/resource_kinds.hpp"
#include "kernel/admin/app_lifecycle.hpp"
#include "kernel/admin/capabilities.hpp"
#include "kernel/config.hpp"
#include "kernel/http/router.hpp"
#include "kernel/keyring/keyring.hpp"
#include "kernel/metrics.hpp"
#include "kernel/plugins/loader.hpp"
#include "picloud/sdk/access.hpp"
#include "picloud/sdk/plugin.hpp"
#include "scripting/declarations.hpp"

namespace picloud::kernel::plugins {

struct PluginSettings {
  bool enable_all = false;            // enabled = *
  std::vector<std::string> enabled;   // names, when not all
  std::vector<std::string> search_path;
  // Names a plugin may not take: the kernel's own config sections.
  std::vector<std::string> reserved_names;
  // [server] data_dir: plugins' data directories go under <data_dir>/plugins.
  std::string data_dir = "./data";
};

// Services provided by plugins, by name.
class ServiceDirectory {
 public:
  // `table` is the provider's C table, alive for the process's life.
  sdk::Result<void> provide(const std::string& owner, std::string_view name, std::uint32_t version,
                            std::size_t table_size, const void* table);
  const void* find(std::string_view name, std::uint32_t min_version, std::size_t min_size) const;

 private:
  struct Entry {
    std::uint32_t version;
    std::size_t table_size;
    const void* table;
    std::string owner;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

class PluginHost {
 public:
  PluginHost(Config& config, http::Router& router, admin::CapabilityRegistry& capabilities, MetricsRegistry& metrics);
  ~PluginHost();

  // Finds, loads, checks and orders the enabled plugins.
  sdk::Result<void> load(const PluginSettings& settings);
  // Loaded plugins in start (dependency) order.
  const std::vector<LoadedPlugin>& plugins() const { return loaded_; }

  sdk::Result<void> configure_all(sdk::Database& database);
  sdk::Result<void> start_all();
  // Stops started plugins in reverse order: each one's background tasks are
  // stopped and joined first, then its stop() runs.
  void stop_all();
  bool all_started() const { return started_.load() == loaded_.size(); }
  // What the plugins declared to scripts (during configure).
  scripting::Declarations& declarations() { return declarations_; }
  // The trigger kinds the plugins declared (during configure).
  const triggers::TriggerKindRegistry& trigger_kinds() const { return trigger_kinds_; }
  // The job kinds the plugins declared (during configure).
  const dispatch::JobKindRegistry& job_kinds() const { return job_kinds_; }
  // Where plugins' jobs go (ctx.jobs()); set before configure_all.
  void set_job_queue(dispatch::JobQueue* queue) { job_queue_ = queue; }
  // How plugins message other nodes (ctx.cluster()); set before configure_all.
  void set_notifier(cluster::Notifier* notifier) { notifier_ = notifier; }
  // Where plugins' events go (ctx.events()); set before configure_all.
  void set_event_router(triggers::EventRouter* router) { event_router_ = router; }
  // How plugins check a run's principal (ctx.access()); set before configure_all.
  void set_access_control(sdk::AccessControl* access) { access_ = access; }
  // The keyring plugins seal values with (ctx.keyring()); set before configure_all.
  void set_keyring(keyring::Keyring* keyring, keyring::Vault* vault) {
    keyring_ = keyring;
    vault_ = vault;
  }
  // What the plugins do when an app is deleted (registered during configure).
  const admin::AppLifecycle& app_lifecycle() const { return app_lifecycle_; }
  // The plugins' routes on app hosts (sdk::RouteHosts::apps), at their full
  // paths under /_picloud/<plugin>/; the dispatcher serves them.
  const http::Router& app_host_routes() const { return app_host_routes_; }
  // The views the plugins declared for the dashboard (during configure).
  const admin::AdminViews& admin_views() const { return admin_views_; }
  // The resource kinds the plugins declared for config as code.
  const admin::ResourceKindRegistry& resource_kinds() const { return resource_kinds_; }
  // The loaded plugins as GET /api/v1/admin/plugins lists them.
  std::vector<admin::InstalledPlugin> installed() const;

 private:
  class Context;
  struct Instance;

  Config& config_;
  http::Router& router_;
  http::Router app_host_routes_;
  std::string data_dir_;
  admin::CapabilityRegistry& capabilities_;
  MetricsRegistry& metrics_;
  ServiceDirectory services_;
  scripting::Declarations declarations_;
  triggers::TriggerKindRegistry trigger_kinds_;
  dispatch::JobKindRegistry job_kinds_;
  dispatch::JobQueue* job_queue_ = nullptr;
  admin::AppLifecycle app_lifecycle_;
  admin::AdminViews admin_views_;
  admin::ResourceKindRegistry resource_kinds_;
  triggers::EventRouter* event_router_ = nullptr;
  cluster::Notifier* notifier_ = nullptr;
  sdk::AccessControl* access_ = nullptr;
  keyring::Keyring* keyring_ = nullptr;
  keyring::Vault* vault_ = nullptr;
  std::vector<LoadedPlugin> loaded_;
  std::vector<std::unique_ptr<Instance>> instances_;  // parallel to loaded_
  std::atomic<std::size_t> started_{0};
};

}  // namespace picloud::kernel::plugins
