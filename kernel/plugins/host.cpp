#include "kernel/plugins/host.hpp"

#include <exception>
#include <filesystem>

#include "kernel/admin/admin_hosts.hpp"
#include "kernel/log.hpp"
#include "kernel/private_directory.hpp"
#include "kernel/plugins/host_api.hpp"
#include "picloud/sdk/c_values.hpp"
#include "picloud/sdk/cluster.hpp"
#include "kernel/plugins/order.hpp"
#include "kernel/plugins/tasks.hpp"
#include "kernel/triggers/kernel_kinds.hpp"

namespace picloud::kernel::plugins {
using sdk::ErrorKind;

sdk::Result<void> ServiceDirectory::provide(const std::string& owner, std::string_view name, std::uint32_t version,
                                            std::size_t table_size, const void* table) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = entries_.try_emplace(std::string(name), Entry{version, table_size, table, owner});
  if (!inserted)
    return sdk::make_error(ErrorKind::conflict, "service '" + std::string(name) + "' is already provided by " + it->second.owner);
  return {};
}

const void* ServiceDirectory::find(std::string_view name, std::uint32_t min_version, std::size_t min_size) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.version < min_version || it->second.table_size < min_size) return nullptr;
  return it->second.table;
}

namespace {

class PluginServices final : public sdk::ServiceRegistry {
 public:
  PluginServices(ServiceDirectory& directory, const LoadedPlugin& plugin) : directory_(directory), plugin_(plugin) {}
  using sdk::ServiceRegistry::provide;
  sdk::Result<void> provide(std::string_view name, std::uint32_t version, std::size_t table_size,
                            const void* table) override {
    bool declared = false;
    for (const auto& p : plugin_.provides) declared = declared || p == name;
    if (!declared)
      return sdk::make_error(ErrorKind::invalid_argument, "plugin '" + plugin_.name + "' provides service '" +
                                                              std::string(name) + "' without declaring it in its descriptor");
    return directory_.provide(plugin_.name, name, version, table_size, table);
  }
  const void* find(std::string_view name, std::uint32_t min_version, std::size_t min_size) const override {
    return directory_.find(name, min_version, min_size);
  }

 private:
  ServiceDirectory& directory_;
  const LoadedPlugin& plugin_;
};

// Calls one of a plugin's entry points; its error comes back as a Result.
template <typename F>
sdk::Result<void> call_plugin(F&& entry) {
  sdk::c::Answer answer;
  return answer.take_void(entry(answer.out()));
}

}  // namespace

// The keyring for one plugin: its name is the purpose its values are sealed
// for and the owner of its rows.
class PluginKeyring final : public sdk::Keyring {
 public:
  PluginKeyring(const std::string& plugin, keyring::Keyring& keyring, keyring::Vault& vault)
      : plugin_(plugin), keyring_(keyring), vault_(vault) {}
  sdk::Result<void> put(sdk::Transaction* tx, std::string_view app, std::string_view name,
                        std::string_view value) override {
    if (auto ok = check_name(name); !ok) return ok;
    return vault_.put(tx, plugin_, app, name, value);
  }
  sdk::Result<std::optional<std::string>> get(sdk::Transaction* tx, std::string_view app,
                                              std::string_view name) override {
    if (auto ok = check_name(name); !ok) return ok.error();
    return vault_.get(tx, plugin_, app, name);
  }
  sdk::Result<bool> remove(sdk::Transaction* tx, std::string_view app, std::string_view name) override {
    if (auto ok = check_name(name); !ok) return ok.error();
    return vault_.remove(tx, plugin_, app, name);
  }
  sdk::Result<std::vector<Entry>> list(std::string_view app, std::string_view after, std::int64_t limit) override {
    if (limit < 1 || limit > 1000)
      return sdk::make_error(ErrorKind::invalid_argument, "the limit must be from 1 to 1000");
    auto entries = vault_.list(plugin_, app, after, limit);
    if (!entries) return entries.error();
    std::vector<Entry> out;
    for (auto& e : *entries) out.push_back({std::move(e.name), e.updated_at});
    return out;
  }
  sdk::Result<std::string> sign(std::string_view app, std::string_view data) override {
    return keyring_.sign(app, plugin_, data);
  }
  bool verify(std::string_view app, std::string_view data, std::string_view signature) override {
    return keyring_.verify(app, plugin_, data, signature);
  }

 private:
  static sdk::Result<void> check_name(std::string_view name) {
    if (name.empty() || name.size() > 256 || name.find('\0') != std::string_view::npos)
      return sdk::make_error(ErrorKind::invalid_argument, "a sealed value's name is 1 to 256 bytes without U+0000");
    return {};
  }
  const std::string& plugin_;
  keyring::Keyring& keyring_;
  keyring::Vault& vault_;
};

// Cluster messages on channels named after the plugin ("<plugin>.<name>").
class PluginCluster final : public sdk::Cluster {
 public:
  PluginCluster(const std::string& plugin, cluster::Notifier& notifier, const bool& configuring)
      : plugin_(plugin), notifier_(notifier), configuring_(configuring) {}
  sdk::Result<void> notify(sdk::Transaction* tx, std::string_view channel, std::string_view payload) override {
    if (auto ok = check(channel); !ok) return ok;
    return notifier_.notify(tx, plugin_ + "." + std::string(channel), payload);
  }
  sdk::Result<void> listen(std::string channel, std::function<void(std::string_view)> fn) override {
    if (!configuring_)
      return sdk::make_error(ErrorKind::invalid_argument, "plugin '" + plugin_ + "' may listen only in configure()");
    if (auto ok = check(channel); !ok) return ok;
    if (!fn) return sdk::make_error(ErrorKind::invalid_argument, "plugin '" + plugin_ + "' gave an empty listener");
    return notifier_.listen(plugin_ + "." + channel, std::move(fn));
  }

 private:
  sdk::Result<void> check(std::string_view channel) const {
    bool ok = !channel.empty() && channel.size() <= 32;
    for (char c : channel) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (!ok)
      return sdk::make_error(ErrorKind::invalid_argument,
                             "plugin '" + plugin_ + "': '" + std::string(channel) + "' is not a channel name ([a-z0-9_]{1,32})");
    return {};
  }
  const std::string& plugin_;
  cluster::Notifier& notifier_;
  const bool& configuring_;
};

class PluginHost::Context final : public sdk::PluginContext {
  // Declarations land in the host's registry under the plugin's name.
  class Kinds final : public sdk::TriggerKinds {
   public:
    Kinds(Context& ctx) : ctx_(ctx) {}
    sdk::Result<void> declare(sdk::TriggerKind kind) override {
      if (!ctx_.configuring_)
        return sdk::make_error(ErrorKind::invalid_argument,
                               "plugin '" + ctx_.plugin_.name + "' may declare trigger kinds only in configure()");
      return ctx_.host_.trigger_kinds_.declare(std::move(kind), ctx_.plugin_.name);
    }

   private:
    Context& ctx_;
  };
  // Job kinds land in the host's registry; jobs go to the host's queue.
  class Jobs final : public sdk::Jobs {
   public:
    Jobs(Context& ctx) : ctx_(ctx) {}
    sdk::Result<void> declare(sdk::JobKind kind) override {
      if (!ctx_.configuring_)
        return sdk::make_error(ErrorKind::invalid_argument,
                               "plugin '" + ctx_.plugin_.name + "' may declare job kinds only in configure()");
      return ctx_.host_.job_kinds_.declare(std::move(kind), ctx_.plugin_.name);
    }
    sdk::Result<std::string> enqueue(sdk::Transaction& tx, std::string_view app_id, std::string_view kind,
                                     const sdk::Value& payload, std::int64_t delay_ms) override {
      if (!ctx_.host_.job_queue_) return sdk::make_error(ErrorKind::unavailable, "jobs are not run in this process");
      return ctx_.host_.job_queue_->enqueue(tx, ctx_.plugin_.name, app_id, kind, payload, delay_ms);
    }

   private:
    Context& ctx_;
  };

 public:
  Context(PluginHost& host, const LoadedPlugin& plugin, sdk::Database& database)
      : host_(host),
        plugin_(plugin),
        config_(host.config_, plugin.name),
        logger_(plugin.name),
        database_(database),
        services_(host.services_, plugin),
        tasks_(plugin.name, &database),
        metrics_(host.metrics_, plugin.name),
        trigger_kinds_(*this),
        jobs_(*this),
        events_(host.event_router_ ? host.event_router_->sink_for(plugin.name, database) : nullptr) {
    std::error_code ec;
    auto dir = std::filesystem::absolute(plugin.directory, ec);
    install_dir_ = (ec ? std::filesystem::path(plugin.directory) : dir).lexically_normal().string();
    if (host.keyring_ && host.vault_)
      keyring_ = std::make_unique<PluginKeyring>(plugin_.name, *host.keyring_, *host.vault_);
    if (host.notifier_) cluster_ = std::make_unique<PluginCluster>(plugin_.name, *host.notifier_, configuring_);
  }

  std::string_view plugin_name() const override { return plugin_.name; }
  sdk::ConfigSection& config() override { return config_; }
  sdk::Logger& logger() override { return logger_; }
  sdk::Database& database() override { return database_; }
  sdk::ServiceRegistry& services() override { return services_; }
  sdk::BackgroundTasks& tasks() override { return tasks_; }
  sdk::Metrics& metrics() override { return metrics_; }
  sdk::Result<void> add_route(sdk::HttpRoute route) override {
    if (!configuring_)
      return sdk::make_error(ErrorKind::invalid_argument, "plugin '" + plugin_.name + "' may add routes only in configure()");
    const std::string prefix(sdk::kPluginRoutePrefix);
    if (route.hosts == sdk::RouteHosts::apps) {
      // Served by the dispatcher on app hosts, under the plugin's own prefix.
      if (route.capability != sdk::kPublic)
        return sdk::make_error(ErrorKind::invalid_argument,
                               "plugin '" + plugin_.name + "': the app-host route " + route.path +
                                   " must be public (it authenticates its requests itself); it asks for '" +
                                   route.capability + "'");
      if (route.path.empty() || route.path[0] != '/')
        return sdk::make_error(ErrorKind::invalid_argument,
                               "plugin '" + plugin_.name + "': the app-host route path '" + route.path + "' must start with '/'");
      route.path = prefix + plugin_.name + (route.path == "/" ? "" : route.path);
      return host_.app_host_routes_.add(std::move(route), plugin_.name);
    }
    if (http::plugin_path(route.path))
      return sdk::make_error(ErrorKind::invalid_argument,
                             "plugin '" + plugin_.name + "': " + route.path + " is under " + prefix +
                                 ", which is served on app hosts: declare the route with RouteHosts::apps");
    if (auto r = host_.capabilities_.check_route(route.capability, route.path, plugin_.name); !r)
      return sdk::make_error(r.error().kind, "plugin '" + plugin_.name + "': " + r.error().message);
    return host_.router_.add(std::move(route), plugin_.name);
  }

  sdk::Result<sdk::AppInfo> find_app(std::string_view key) override {
    std::string wanted(key);
    auto rows = database_.query("SELECT id, slug, name FROM apps WHERE id = ? OR slug = ? ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END",
                                {wanted, wanted, wanted});
    if (!rows) return rows.error();
    if (rows->empty()) {
      rows = database_.query(
          "SELECT a.id, a.slug, a.name FROM apps a JOIN app_hostnames h ON h.app_id = a.id WHERE h.hostname = ?",
          {admin::host_of(key)});
      if (!rows) return rows.error();
    }
    if (rows->empty()) return sdk::make_error(ErrorKind::not_found, "app '" + wanted + "' not found");
    const auto& row = rows->rows[0];
    sdk::AppInfo app{row[0].as_string(), row[1].as_string(), row[2].as_string(), {}};
    auto hosts = database_.query("SELECT hostname FROM app_hostnames WHERE app_id = ? ORDER BY hostname", {app.id});
    if (!hosts) return hosts.error();
    for (const auto& h : hosts->rows) app.hostnames.push_back(h[0].as_string());
    return app;
  }

  sdk::Result<std::string> data_dir() override {
    std::filesystem::path dir = std::filesystem::absolute(host_.data_dir_) / "plugins" / plugin_.name;
    dir = dir.lexically_normal();
    if (auto r = make_private_directory(dir, true); !r) return r.error();
    return dir.string();
  }

  std::string_view install_dir() const override { return install_dir_; }
  // Made with the context (configure_all runs after set_keyring), so
  // request threads only ever read it.
  sdk::Keyring* keyring() override { return keyring_.get(); }
  sdk::Result<void> on_app_deleted(AppDeletedHook hook) override {
    if (!configuring_)
      return sdk::make_error(ErrorKind::invalid_argument,
                             "plugin '" + plugin_.name + "' may register app hooks only in configure()");
    if (!hook) return sdk::make_error(ErrorKind::invalid_argument, "plugin '" + plugin_.name + "' gave an empty app hook");
    host_.app_lifecycle_.on_deleted(plugin_.name, std::move(hook));
    return {};
  }
  sdk::Result<void> add_capability(sdk::Capability capability) override {
    if (!configuring_)
      return sdk::make_error(ErrorKind::invalid_argument,
                             "plugin '" + plugin_.name + "' may declare capabilities only in configure()");
    return host_.capabilities_.declare(capability, plugin_.name);
  }
  sdk::ScriptApi* script_api() override { return &host_.declarations_.api_for(plugin_.name); }
  sdk::TriggerKinds* trigger_kinds() override { return &trigger_kinds_; }
  sdk::Jobs* jobs() override { return &jobs_; }
  sdk::Cluster* cluster() override { return cluster_.get(); }
  sdk::Result<void> observe_events(std::string source, EventObserver observer) override {
    if (!configuring_)
      return sdk::make_error(ErrorKind::invalid_argument,
                             "plugin '" + plugin_.name + "' may observe events only in configure()");
    if (!observer)
      return sdk::make_error(ErrorKind::invalid_argument, "plugin '" + plugin_.name + "' gave an empty event observer");
    if (!host_.event_router_) return sdk::make_error(ErrorKind::unavailable, "events are not routed in this process");
    host_.event_router_->observe(std::move(source), plugin_.name, std::move(observer));
    return {};
  }
  sdk::Result<void> declare_resource_kind(sdk::ResourceKind kind) override {
    if (!configuring_)
      return sdk::make_error(ErrorKind::invalid_argument,
                             "plugin '" + plugin_.name + "' may declare resource kinds only in configure()");
    return host_.resource_kinds_.declare(plugin_.name, std::move(kind));
  }
  sdk::Result<void> add_admin_view(sdk::Value view) override {
    if (!configuring_)
      return sdk::make_error(ErrorKind::invalid_argument,
                             "plugin '" + plugin_.name + "' may declare admin views only in configure()");
    return host_.admin_views_.add(plugin_.name, view);
  }
  sdk::EventSink* events() override { return events_.get(); }
  sdk::AccessControl* access() override { return host_.access_; }

  bool configuring_ = false;
  TaskGroup& task_group() { return tasks_; }

 private:
  PluginHost& host_;
  const LoadedPlugin& plugin_;
  PluginConfigSection config_;
  ComponentLogger logger_;
  sdk::Database& database_;
  PluginServices services_;
  TaskGroup tasks_;
  PluginMetrics metrics_;
  Kinds trigger_kinds_;
  Jobs jobs_;
  std::unique_ptr<sdk::EventSink> events_;
  std::string install_dir_;
  std::unique_ptr<PluginKeyring> keyring_;
  std::unique_ptr<PluginCluster> cluster_;
};

struct PluginHost::Instance {
  const LoadedPlugin* plugin = nullptr;
  void* state = nullptr;  // the plugin's, from its init()
  std::unique_ptr<Context> context;
  ~Instance() {
    // Tasks a plugin spawned (possibly in configure(), before a failed
    // start-up) end before the state their closures live in is freed.
    if (context) context->task_group().stop_and_join();
    if (state) plugin->descriptor->destroy(state);
    context.reset();
  }
};

std::vector<admin::InstalledPlugin> PluginHost::installed() const {
  std::vector<admin::InstalledPlugin> out;
  for (const auto& p : loaded_)
    out.push_back({p.name, p.version, p.descriptor && p.descriptor->sdk_version ? p.descriptor->sdk_version : "",
                   p.provides, p.depends});
  return out;
}

PluginHost::PluginHost(Config& config, http::Router& router, admin::CapabilityRegistry& capabilities,
                       MetricsRegistry& metrics)
    : config_(config),
      router_(router),
      app_host_routes_(metrics),
      capabilities_(capabilities),
      metrics_(metrics),
      admin_views_(router, capabilities) {
  metrics_.gauge("picloud_plugins_loaded", "plugins loaded", [this] { return static_cast<double>(loaded_.size()); });
  metrics_.gauge("picloud_plugins_started", "plugins started", [this] { return static_cast<double>(started_.load()); });
  // The kernel's own kinds first, so no plugin can take their names.
  if (auto r = triggers::declare_kernel_kinds(trigger_kinds_); !r) throw std::logic_error(r.error().message);
}

PluginHost::~PluginHost() {
  stop_all();
  instances_.clear();
}

sdk::Result<void> PluginHost::load(const PluginSettings& settings) {
  data_dir_ = settings.data_dir;
  std::vector<std::string> files;
  if (settings.enable_all) {
    files = discover_plugin_files(settings.search_path);
    bool any_dir = false;
    std::string dirs;
    for (const auto& dir : settings.search_path) {
      std::error_code ec;
      any_dir = any_dir || std::filesystem::is_directory(dir, ec);
      dirs += (dirs.empty() ? "" : ":") + dir;
    }
    if (!any_dir)  // most likely a typo in plugins.search_path
      write_log(LogLevel::warn, "kernel", "no plugin search path directory exists", {{"search_path", dirs}});
  } else {
    for (const auto& name : settings.enabled) {
      auto file = find_plugin_file(name, settings.search_path);
      if (!file) return file.error();
      files.push_back(*file);
    }
  }
  // Every file is checked before any is loaded: one plugin the kernel
  // cannot take stops start-up before any plugin's code has run.
  std::vector<std::optional<sdk::AbiBlock>> file_abis;
  for (const auto& file : files) {
    auto checked = check_file(file);
    if (!checked) return checked.error();
    file_abis.push_back(*checked);
  }
  std::vector<LoadedPlugin> loaded;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& file = files[i];
    auto plugin = load_checked_plugin(file, file_abis[i]);
    if (!plugin) return plugin.error();
    if (!plugin->checked_before_loading)
      write_log(LogLevel::warn, "kernel",
                "plugin has no ABI section, so it could only be checked after loading: rebuild it with this SDK",
                {{"plugin", plugin->name}, {"file", plugin->file}});
    for (const auto& reserved : settings.reserved_names)
      if (plugin->name == reserved)
        return sdk::make_error(ErrorKind::invalid_argument,
                               "plugin " + plugin->file + " is named '" + reserved +
                                   "', which is the kernel's own config section: rename the plugin");
    for (const auto& other : loaded)
      if (other.name == plugin->name)
        return sdk::make_error(ErrorKind::conflict, "plugin '" + plugin->name + "' is enabled twice");
    loaded.push_back(std::move(*plugin));
  }
  auto order = dependency_order(loaded);
  if (!order) return order.error();
  loaded_.clear();
  for (auto i : *order) loaded_.push_back(std::move(loaded[i]));
  return {};
}

sdk::Result<void> PluginHost::configure_all(sdk::Database& database) {
  for (const auto& plugin : loaded_) {
    auto instance = std::make_unique<Instance>();
    instance->plugin = &plugin;
    instance->context = std::make_unique<Context>(*this, plugin, database);
    const pc_plugin_descriptor& d = *plugin.descriptor;
    auto created = call_plugin(
        [&](const pc_out* out) { return d.init(host_api(), plugin_handle(*instance->context), &instance->state, out); });
    if (created && !instance->state) created = sdk::make_error(ErrorKind::internal, "init gave no state");
    if (!created)
      return sdk::make_error(created.error().kind, "plugin '" + plugin.name + "' could not be created: " + created.error().message);
    instance->context->configuring_ = true;
    auto configured = call_plugin([&](const pc_out* out) { return d.configure(instance->state, out); });
    instance->context->configuring_ = false;
    instances_.push_back(std::move(instance));
    if (!configured)
      return sdk::make_error(configured.error().kind,
                             "plugin '" + plugin.name + "' failed to configure: " + configured.error().message);
    if (auto missing = declarations_.undocumented(plugin.name); !missing.empty()) {
      std::string names;
      for (const auto& n : missing) names += (names.empty() ? "" : ", ") + n;
      write_log(LogLevel::warn, "kernel", "plugin declares script API without a doc line (the API reference shows none)",
                {{"plugin", plugin.name}, {"names", names}});
    }
  }
  // Script declarations are made during configure() only: the engine is
  // built from them next, and nothing is registered later.
  declarations_.seal();
  return {};
}

sdk::Result<void> PluginHost::start_all() {
  for (auto& instance : instances_) {
    auto r = call_plugin([&](const pc_out* out) { return instance->plugin->descriptor->start(instance->state, out); });
    if (!r) {
      // This plugin may have spawned tasks before failing: stop them too.
      instance->context->task_group().stop_and_join();
      auto message = "plugin '" + instance->plugin->name + "' failed to start: " + r.error().message;
      stop_all();
      return sdk::make_error(r.error().kind, message);
    }
    ++started_;
    write_log(LogLevel::info, "kernel", "plugin started",
              {{"plugin", instance->plugin->name}, {"version", instance->plugin->version}});
  }
  return {};
}

void PluginHost::stop_all() {
  while (started_ > 0) {
    auto& instance = instances_[--started_];
    instance->context->task_group().stop_and_join();
    instance->plugin->descriptor->stop(instance->state);
    write_log(LogLevel::info, "kernel", "plugin stopped", {{"plugin", instance->plugin->name}});
  }
}

}  // namespace picloud::kernel::plugins
