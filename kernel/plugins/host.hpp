// The plugin host: loads the enabled plugins, orders them by dependency,
// hands each its context, and drives configure → start → stop.
//
// A failure in any plugin's configure or start (an error value or a throw)
// stops start-up with a message naming the plugin; the plugins already
// started are stopped again in reverse order, so there is never a
// half-started server.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernel/triggers/event_router.hpp"
#include "kernel/triggers/trigger_kinds.hpp"
#include "kernel/admin/capabilities.hpp"
#include "kernel/config.hpp"
#include "kernel/http/router.hpp"
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
};

// Services provided by plugins, by name.
class ServiceDirectory {
 public:
  sdk::Result<void> provide(const std::string& owner, std::string_view name, std::uint32_t version,
                            std::shared_ptr<void> service);
  std::shared_ptr<void> find(std::string_view name, std::uint32_t min_version) const;

 private:
  struct Entry {
    std::uint32_t version;
    std::shared_ptr<void> service;
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
  // Where plugins' events go (ctx.events()); set before configure_all.
  void set_event_router(triggers::EventRouter* router) { event_router_ = router; }
  // How plugins check a run's principal (ctx.access()); set before configure_all.
  void set_access_control(sdk::AccessControl* access) { access_ = access; }

 private:
  class Context;
  struct Instance;

  Config& config_;
  http::Router& router_;
  admin::CapabilityRegistry& capabilities_;
  MetricsRegistry& metrics_;
  ServiceDirectory services_;
  scripting::Declarations declarations_;
  triggers::TriggerKindRegistry trigger_kinds_;
  triggers::EventRouter* event_router_ = nullptr;
  sdk::AccessControl* access_ = nullptr;
  std::vector<LoadedPlugin> loaded_;
  std::vector<std::unique_ptr<Instance>> instances_;  // parallel to loaded_
  std::atomic<std::size_t> started_{0};
};

}  // namespace picloud::kernel::plugins
