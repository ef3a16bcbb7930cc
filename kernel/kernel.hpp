// The kernel: brings PiCloud up in a fixed order and down in reverse.
//
//   database (SQLite: the serve lock) → kernel migrations → plugins loaded
//   and ordered → plugin migrations (dependency order) → admin API, dead
//   letters → configure → script engine → start → this node in the node
//   registry → dispatcher, cron scheduler, retention sweep → HTTP listening
//
// Any failure on the way up undoes what was done and is returned as one
// message naming the thing that failed.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "kernel/admin/admin_api.hpp"
#include "kernel/admin/capabilities.hpp"
#include "kernel/admin/run_access.hpp"
#include "kernel/backup/snapshot_service.hpp"
#include "kernel/cluster/node_registry.hpp"
#include "kernel/cluster/notifier.hpp"
#include "kernel/config.hpp"
#include "kernel/dashboard/dashboard_site.hpp"
#include "kernel/db/database.hpp"
#include "kernel/dispatch/dispatcher.hpp"
#include "kernel/http/router.hpp"
#include "kernel/http/server.hpp"
#include "kernel/metrics.hpp"
#include "kernel/plugins/host.hpp"
#include "kernel/plugins/tasks.hpp"
#include "kernel/triggers/cron_scheduler.hpp"
#include "kernel/triggers/dead_letters.hpp"
#include "kernel/triggers/event_router.hpp"
#include "kernel/settings.hpp"
#include "scripting/engine.hpp"

namespace picloud::kernel {

class Kernel {
 public:
  Kernel(Config& config, Settings settings);
  ~Kernel();

  // Opens the database and applies migrations (kernel, then plugins); used
  // by `serve` and by `picloud migrate`.
  Result<void> open_database();
  Result<void> load_plugins();
  Result<int> migrate();
  // The newest migration this PiCloud has for each component (the kernel's
  // and the enabled plugins'), without opening the database: the schema a
  // restored backup may be at, at most.
  Result<std::map<std::string, std::int64_t>> known_schema_versions();
  // The whole start-up; afterwards the server answers on port().
  Result<void> start();
  // Everything start() does except listening for HTTP: for tools that
  // compile or run scripts from the command line.
  Result<void> start_without_http();
  // Graceful stop: no new connections, in-flight requests finish within the
  // grace period, plugins stop in reverse order, the database closes.
  void stop();
  // SIGHUP: reads [server] tls_cert and tls_key again; new connections get
  // the new certificate, or, when the files are not good, the old one
  // stays. Logs what happened either way (with TLS off: nothing to do).
  void reload();

  int port() const { return server_ ? server_->port() : 0; }
  db::Database* database() { return database_.get(); }
  plugins::PluginHost& plugins() { return *plugins_; }
  // The script engine, once start() (or prepare_scripting()) has built it.
  scripting::Engine* script_engine() { return script_engine_.get(); }
  const Settings& settings() const { return settings_; }
  // The admin API (identity, apps, scripts, routes, execution logs), once
  // start() or start_without_http() has built it.
  admin::AdminApi* admin() { return admin_.get(); }
  // The data plane, once start() has built it.
  dispatch::Dispatcher* dispatcher() { return dispatcher_.get(); }
  // This node among the database's nodes, once start() has built it.
  cluster::NodeRegistry* nodes() { return nodes_.get(); }
  // Every registered route as "METHOD path" (kernel's and plugins').
  std::vector<std::string> routes() const;

 private:
  // The directory holding `component`'s migrations for this dialect's tree.
  std::string migrations_dir(const std::string& component, const std::string& plugin_dir) const;
  void register_kernel_routes();
  Result<void> build_script_engine();
  Result<void> build_admin();
  Result<void> open_keyring();
  void warn_ignored_app_hosts_and_routes();
  void warn_unread_config();

  Config& config_;
  Settings settings_;
  MetricsRegistry metrics_;
  http::Router router_;
  admin::CapabilityRegistry capabilities_;
  std::unique_ptr<db::Database> database_;
  // Outlives the plugins, whose contexts hand it out.
  std::unique_ptr<admin::RunAccess> run_access_;
  std::unique_ptr<admin::AdminApi> admin_;
  std::unique_ptr<keyring::Keyring> keyring_;
  std::unique_ptr<keyring::Vault> vault_;
  std::unique_ptr<plugins::PluginHost> plugins_;
  dispatch::OutboxSignal outbox_signal_;
  std::unique_ptr<triggers::EventRouter> events_;
  std::unique_ptr<cluster::Notifier> notifier_;
  std::unique_ptr<cluster::NodeRegistry> nodes_;
  std::unique_ptr<cluster::SqliteServeLock> serve_lock_;  // SQLite: this process serves the database
  std::unique_ptr<backup::SnapshotService> snapshots_;    // SQLite held exclusively: copies for `picloud backup`
  // Where another node's routing pokes go: the dispatcher while it runs.
  std::atomic<dispatch::Dispatcher*> poked_dispatcher_{nullptr};
  std::unique_ptr<dispatch::JobQueue> jobs_;
  std::unique_ptr<triggers::DeadLetterStore> dead_letters_;
  std::unique_ptr<scripting::Engine> script_engine_;
  std::unique_ptr<dispatch::Dispatcher> dispatcher_;
  std::unique_ptr<triggers::CronScheduler> cron_;
  plugins::TaskGroup maintenance_{"kernel"};  // retention sweeps
  std::unique_ptr<dashboard::DashboardSite> dashboard_;
  std::unique_ptr<http::TlsContext> tls_;  // [server] tls_cert/tls_key; outlives server_
  std::unique_ptr<http::Server> server_;
  std::atomic<bool> ready_{false};
  bool serving_ = false;         // start(), not a command: this node takes requests and queued work
  bool poke_listeners_ = false;  // registered with the notifier
  bool plugins_loaded_ = false;
};

}  // namespace picloud::kernel
