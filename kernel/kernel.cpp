#include "kernel/kernel.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <set>

#include "kernel/dashboard/dashboard_site.hpp"
#include "kernel/db/migrations.hpp"
#include "kernel/admin/api_support.hpp"
#include "kernel/admin/secrets.hpp"
#include "kernel/log.hpp"
#include "kernel/private_directory.hpp"
#include "kernel/triggers/dead_letter_functions.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/plugin.hpp"

namespace picloud::kernel {
namespace fs = std::filesystem;

namespace {

Result<void> prepare_sqlite_file(const std::string& file, const fs::path& data_dir) {
  fs::path path = fs::absolute(file).lexically_normal();
  fs::path dir = path.parent_path();
  const bool in_data_dir = dir == fs::absolute(data_dir).lexically_normal();
  if (auto r = make_private_directory(dir, in_data_dir); !r) return r;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    // Made here rather than by SQLite, which would use 0644.
    int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST)
      return sdk::make_error(sdk::ErrorKind::unavailable, "cannot create the database file " + file + ": " + std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return {};
  }
  if (::access(path.c_str(), R_OK | W_OK) != 0)
    return sdk::make_error(sdk::ErrorKind::unavailable, "the database file " + file + " is not readable and writable");
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string f = path.string() + suffix;
    struct stat st {};
    if (::stat(f.c_str(), &st) == 0 && (st.st_mode & 077) != 0 && st.st_uid == ::geteuid() && ::chmod(f.c_str(), 0600) == 0)
      write_log(LogLevel::warn, "kernel", "database file was readable by others; now owner-only (0600)", {{"path", f}});
  }
  return {};
}

// Every connection and stream is a descriptor: take what the hard limit
// allows (as nginx's worker_rlimit_nofile does), and say so when even that
// is below what [server] asks for.
void raise_open_file_limit(const http::ServerOptions& options) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(options.max_connections) + static_cast<rlim_t>(options.max_streams);
  if (limit.rlim_cur < limit.rlim_max && limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = std::min(limit.rlim_max, wanted);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur < wanted)
    write_log(LogLevel::warn, "kernel",
              "the open-file limit is below [server] max_connections + max_streams: raise it (LimitNOFILE=, ulimit -n)",
              {{"limit", std::to_string(limit.rlim_cur)}, {"wanted", std::to_string(wanted)}});
}

}  // namespace

Kernel::Kernel(Config& config, Settings settings)
    : config_(config), settings_(std::move(settings)), router_(metrics_) {
  set_log_level(settings_.log_level);
  set_log_format(settings_.log_format);
  plugins_ = std::make_unique<plugins::PluginHost>(config_, router_, capabilities_, metrics_);
  events_ = std::make_unique<triggers::EventRouter>(plugins_->trigger_kinds(), outbox_signal_, metrics_,
                                                    settings_.triggers.max_depth);
  plugins_->set_event_router(events_.get());
  jobs_ = std::make_unique<dispatch::JobQueue>(plugins_->job_kinds(), outbox_signal_, metrics_);
  plugins_->set_job_queue(jobs_.get());
}

Kernel::~Kernel() { stop(); }

Result<void> Kernel::open_database() {
  if (database_) return {};
  const auto& url = settings_.database_url;
  if (url.dialect == sdk::Dialect::sqlite) {
    if (auto r = prepare_sqlite_file(url.sqlite_path, settings_.data_dir); !r) return r;
  }
  auto db = db::Database::open(url, settings_.database);
  if (!db) {
    // Not for a database another process has (unavailable): moving that
    // one away would be the worst advice.
    std::string hint = url.dialect == sdk::Dialect::sqlite && db.error().kind != sdk::ErrorKind::unavailable
                           ? " (is " + url.sqlite_path + " a SQLite database? move it away to start afresh)"
                           : "";
    return sdk::make_error(db.error().kind, "database " + url.display + ": " + db.error().message + hint);
  }
  database_ = std::move(*db);
  auto* raw = database_.get();
  metrics_.gauge("picloud_db_connections_in_use", "database connections lent out",
                 [raw] { return static_cast<double>(raw->connections_in_use()); });
  metrics_.gauge("picloud_db_connections_open", "database connections open",
                 [raw] { return static_cast<double>(raw->connections_open()); });
  metrics_.gauge("picloud_db_pool_size", "database pool size",
                 [this] { return static_cast<double>(settings_.database.pool_size); });
  if (const auto* group = raw->group_commit()) {
    metrics_.scraped_counters("picloud_db_group_commits_total", "commits made durable by shared WAL flushes",
                              [group] { return MetricsRegistry::ScrapedSeries{{{}, static_cast<double>(group->commits())}}; });
    metrics_.scraped_counters("picloud_db_group_flushes_total", "shared WAL flushes (commits per flush: the batch size)",
                              [group] { return MetricsRegistry::ScrapedSeries{{{}, static_cast<double>(group->flushes())}}; });
  }
  LogFields fields{{"url", url.display}};
  if (url.dialect == sdk::Dialect::sqlite)
    fields.emplace_back("locking", settings_.database.connection.exclusive_locking ? "exclusive" : "shared");
  write_log(LogLevel::info, "kernel", "database open", fields);
  return {};
}

Result<void> Kernel::load_plugins() {
  if (plugins_loaded_) return {};
  if (auto r = plugins_->load(settings_.plugins); !r) return r;
  plugins_loaded_ = true;
  return {};
}

std::string Kernel::migrations_dir(const std::string& component, const std::string& plugin_dir) const {
  std::error_code ec;
  // A plugin may ship its migrations beside its .so: <dir>/migrations/<name>/.
  if (!plugin_dir.empty()) {
    fs::path beside = fs::path(plugin_dir) / "migrations" / component;
    if (fs::is_directory(beside, ec)) return beside.string();
  }
  for (const auto& root : settings_.migrations_path) {
    fs::path candidate = fs::path(root) / component;
    if (fs::is_directory(candidate, ec)) return candidate.string();
  }
  return {};
}

Result<int> Kernel::migrate() {
  if (auto r = open_database(); !r) return r.error();
  if (auto r = load_plugins(); !r) return r.error();
  db::MigrationRunner runner(*database_);
  ComponentLogger log("migrate");
  int total = 0;
  auto run = [&](const std::string& component, const std::string& dir) -> Result<void> {
    if (dir.empty()) return {};
    auto files = runner.discover(dir);
    if (!files) return files.error();
    auto applied = runner.apply(component, *files, log);
    if (!applied) return applied.error();
    total += *applied;
    return {};
  };
  if (auto r = run("kernel", migrations_dir("kernel", "")); !r) return r.error();
  for (const auto& plugin : plugins_->plugins())
    if (auto r = run(plugin.name, migrations_dir(plugin.name, plugin.directory)); !r) return r.error();
  return total;
}

Result<std::map<std::string, std::int64_t>> Kernel::known_schema_versions() {
  if (auto r = load_plugins(); !r) return r.error();
  std::map<std::string, std::int64_t> known;
  auto add = [&](const std::string& component, const std::string& dir) -> Result<void> {
    known[component] = 0;
    if (dir.empty()) return {};
    auto files = db::MigrationRunner::discover(dir, settings_.database_url.dialect);
    if (!files) return files.error();
    for (const auto& f : *files) known[component] = std::max<std::int64_t>(known[component], f.version);
    return {};
  };
  if (auto r = add("kernel", migrations_dir("kernel", "")); !r) return r.error();
  for (const auto& plugin : plugins_->plugins())
    if (auto r = add(plugin.name, migrations_dir(plugin.name, plugin.directory)); !r) return r.error();
  return known;
}

void Kernel::register_kernel_routes() {
  auto add = [&](const char* path, sdk::HttpHandler handler) {
    auto r = router_.add(sdk::HttpRoute{"GET", path, std::string(sdk::kPublic), std::move(handler)}, "kernel");
    if (!r) throw std::logic_error(r.error().message);
  };
  add("/healthz", [](const sdk::HttpRequest&) { return sdk::HttpResponse::text(200, "ok\n"); });
  add("/readyz", [this](const sdk::HttpRequest&) {
    bool db_ok = database_ && database_->ping();
    bool plugins_ok = plugins_->all_started() && ready_.load();
    sdk::Value body = sdk::Value::object({{"ready", db_ok && plugins_ok},
                                          {"database", db_ok ? "ok" : "unreachable"},
                                          {"plugins", plugins_ok ? "started" : "not started"}});
    return sdk::HttpResponse::json(db_ok && plugins_ok ? 200 : 503, sdk::to_json(body));
  });
  // /healthz and /readyz answer on every host (load balancers ask by any
  // name); /metrics only on the admin API's hosts, with its token if set.
  add("/metrics", [this](const sdk::HttpRequest& req) {
    if (!admin_ || !admin_->hosts().serves(req.header("host")))
      return admin::not_an_admin_host(req, admin_ && admin_->hosts().ip_hosts());
    if (const auto& token = settings_.admin.metrics_token; !token.empty()) {
      auto given = req.header("authorization");
      constexpr std::string_view kBearer = "Bearer ";
      bool ok = given.size() > kBearer.size() && admin::to_lower(given.substr(0, kBearer.size())) == "bearer " &&
                admin::constant_time_equal(given.substr(kBearer.size()), token);
      if (!ok) {
        auto r = admin::error_body(401, "unauthorized",
                                   "/metrics needs 'Authorization: Bearer <token>' with the token of [admin] metrics_token");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"picloud-metrics\"");
        return r;
      }
    }
    return sdk::HttpResponse{200, {{"content-type", "text/plain; version=0.0.4; charset=utf-8"}}, metrics_.render()};
  });
}

void Kernel::warn_ignored_app_hosts_and_routes() {
  // Hostnames an older version let apps take that belong to the admin API
  // now: requests for them reach the admin API, never the app.
  auto rows = admin_->reserved_app_hostnames();
  if (!rows) {
    write_log(LogLevel::warn, "admin", "app hostnames could not be checked", {{"error", rows.error().message}});
    return;
  }
  for (const auto& [app, host] : *rows)
    write_log(LogLevel::warn, "admin",
              "app hostname ignored: it is one of the admin API's hosts; give the app another hostname",
              {{"app", app}, {"hostname", host}});
  // Routes an older version let apps add under the prefix plugins own now:
  // their requests go to the plugins' routes, never the app's script.
  auto routes = database_->query("SELECT app_id, path FROM routes");
  if (!routes) return;
  for (const auto& row : routes->rows)
    if (http::plugin_path(row[1].as_string()))
      write_log(LogLevel::warn, "admin",
                "app route ignored: paths under /_picloud/ belong to plugins; move the route",
                {{"app", row[0].as_string()}, {"path", row[1].as_string()}});
}

void Kernel::warn_unread_config() {
  for (const auto& warning : settings_.warnings) write_log(LogLevel::warn, "config", warning);
  for (const auto& key : config_.unread_keys())
    write_log(LogLevel::warn, "config", "unknown config key (ignored)", {{"key", key}});
}

Result<void> Kernel::build_script_engine() {
  // Every plugin has declared its script API during configure() (the host
  // sealed the declarations after it); the engine is built once from them.
  auto engine = scripting::Engine::create(settings_.scripting, plugins_->declarations());
  if (!engine) return engine.error();
  script_engine_ = std::move(*engine);
  std::size_t functions = plugins_->declarations().functions().size();
  write_log(LogLevel::debug, "kernel", "script engine ready", {{"plugin_functions", std::to_string(functions)}});
  return {};
}

std::vector<std::string> Kernel::routes() const {
  std::vector<std::string> out;
  for (const auto* r : router_.routes()) out.push_back(r->method + " " + r->path);
  return out;
}

Result<void> Kernel::open_keyring() {
  if (keyring_) return {};
  auto recorded = keyring::Keyring::database_active_id(*database_);
  if (!recorded) return recorded.error();
  auto keys = keyring::load_keys(settings_.keyring, database_->dialect(), *recorded);
  if (!keys) return keys.error();
  auto opened = keyring::Keyring::open(std::move(*keys), *database_);
  if (!opened) return opened.error();
  keyring_ = std::move(*opened);
  vault_ = std::make_unique<keyring::Vault>(*keyring_, *database_);
  plugins_->set_keyring(keyring_.get(), vault_.get());
  write_log(LogLevel::debug, "keyring", "master keys ready",
            {{"source", keyring_->keys().source}, {"keys", std::to_string(keyring_->keys().keys.size())}});
  return {};
}

Result<void> Kernel::build_admin() {
  if (admin_) return {};
  admin_ = std::make_unique<admin::AdminApi>(*database_, settings_.admin, capabilities_, metrics_);
  // Before plugins configure: their routes cannot take the admin API's paths.
  if (auto r = admin_->register_routes(router_); !r) return r;
  if (!settings_.owner_username.empty())
    if (auto r = admin_->bootstrap_owner(settings_.owner_username, settings_.owner_password); !r) return r;
  warn_ignored_app_hosts_and_routes();
  return {};
}

Result<void> Kernel::start_without_http() {
  auto fail = [this](const sdk::Error& e) -> Result<void> {
    if (notifier_) notifier_->stop();
    plugins_->stop_all();
    if (admin_) admin_->stop();
    return e;
  };
  auto migrated = migrate();
  if (!migrated) return fail(migrated.error());
  if (auto r = open_keyring(); !r) return fail(r.error());
  if (!notifier_) {
    notifier_ = std::make_unique<cluster::Notifier>(*database_, metrics_);
    nodes_ = std::make_unique<cluster::NodeRegistry>(*database_, *notifier_, outbox_signal_, metrics_, settings_.cluster);
    notifier_->set_node_id(nodes_->id());
    notifier_->set_pokes(settings_.cluster.pokes);
    plugins_->set_notifier(notifier_.get());
    // What other nodes must hear of at once: rows to run, routing and
    // access changes (cluster.md). Each is also polled for, or expires.
    outbox_signal_.set_broadcast([n = notifier_.get()] { n->poke("kernel.outbox"); });
  }
  // Only a serving node listens (a command run on the database does not
  // keep a connection for it).
  if (serving_ && !poke_listeners_) {
    poke_listeners_ = true;
    if (auto r = notifier_->listen_for_pokes("kernel.outbox", [this] { outbox_signal_.wake(); }); !r)
      return fail(r.error());
    if (auto r = notifier_->listen_for_pokes("kernel.routing",
                                             [this] {
                                               if (auto* d = poked_dispatcher_.load()) d->check_routing();
                                             });
        !r)
      return fail(r.error());
    if (auto r = notifier_->listen_for_pokes("kernel.access",
                                             [this] {
                                               if (admin_) admin_->access_cache().forget();
                                             });
        !r)
      return fail(r.error());
  }
  if (auto r = build_admin(); !r) return fail(r.error());
  admin_->access_cache().set_broadcast([n = notifier_.get()] { n->poke("kernel.access"); });
  admin_->set_nodes(nodes_.get());
  if (!run_access_) {
    run_access_ = std::make_unique<admin::RunAccess>(capabilities_, *database_);
    plugins_->set_access_control(run_access_.get());
  }
  if (!dead_letters_) {
    dead_letters_ = std::make_unique<triggers::DeadLetterStore>(*database_, *events_, outbox_signal_, metrics_);
    admin_->set_dead_letters(dead_letters_.get());
    // Before the plugins: the namespace is the kernel's.
    if (auto r = triggers::declare_dead_letter_functions(plugins_->declarations(), *dead_letters_, *run_access_); !r)
      return fail(r.error());
  }
  if (auto r = plugins_->configure_all(*database_); !r) return fail(r.error());
  if (auto r = build_script_engine(); !r) return fail(r.error());
  admin_->set_engine(script_engine_.get());
  admin_->set_trigger_kinds(&plugins_->trigger_kinds());
  admin_->set_app_lifecycle(&plugins_->app_lifecycle());
  admin_->set_resource_kinds(&plugins_->resource_kinds());
  admin_->set_plugins(plugins_->installed(), &plugins_->admin_views());
  warn_unread_config();
  admin_->start();
  if (auto r = plugins_->start_all(); !r) return fail(r.error());
  if (auto r = notifier_->start(); !r) return fail(r.error());
  return {};
}

Result<void> Kernel::start() {
  // Whatever started is stopped, in stop()'s order (threads first).
  auto fail = [this](const sdk::Error& e) -> Result<void> {
    stop();
    return e;
  };
  // The certificate first: a wrong file stops start-up before anything
  // else is touched.
  if (!settings_.http.tls_cert.empty() && !tls_) {
    auto tls = http::TlsContext::load(settings_.http.tls_cert, settings_.http.tls_key);
    if (!tls) return tls.error();
    tls_ = std::move(*tls);
    const auto cert = tls_->certificate();
    write_log(cert.expired ? LogLevel::warn : LogLevel::info, "server",
              cert.expired ? "TLS certificate loaded, and it has EXPIRED: clients will refuse it"
                           : "TLS certificate loaded",
              {{"file", settings_.http.tls_cert}, {"subject", cert.subject}, {"expires", cert.not_after},
               {"serial", cert.serial}});
  }
  // One server per SQLite database, decided before it touches the database
  // (a second one must not migrate under the first).
  if (settings_.database_url.dialect == sdk::Dialect::sqlite && !serve_lock_) {
    // Opening makes the data directory and checks it; it changes nothing a
    // running server would mind.
    if (auto r = open_database(); !r) return r;
    auto lock = cluster::SqliteServeLock::take(settings_.database_url.sqlite_path);
    if (!lock) return lock.error();
    serve_lock_ = std::move(*lock);
    // Held exclusively, nobody else can copy it: `picloud backup` asks here.
    if (settings_.database.connection.exclusive_locking) {
      auto service = backup::SnapshotService::start(settings_.database_url.sqlite_path);
      if (service) snapshots_ = std::move(*service);
      else
        write_log(LogLevel::warn, "backup", "picloud backup cannot copy this server's database while it runs",
                  {{"error", service.error().message}});
    }
  }
  register_kernel_routes();
  serving_ = true;
  if (auto r = start_without_http(); !r) return r;
  // Before any work is claimed: leases name this node, and on SQLite what
  // an earlier process claimed is given back first.
  if (auto r = nodes_->start(settings_.http.host + ":" + std::to_string(settings_.http.port)); !r)
    return fail(sdk::make_error(r.error().kind,
                                "this node could not join the database's nodes: " + r.error().message));
  // The data plane: whatever no kernel or plugin route claims goes to the
  // dispatcher, which matches it by Host to an app's routes.
  dispatcher_ = std::make_unique<dispatch::Dispatcher>(
      *database_, *script_engine_, admin_->executions(), metrics_, settings_.dispatch,
      dispatch::Delivery{outbox_signal_, *dead_letters_, &plugins_->job_kinds(), nodes_->id()});
  dispatcher_->set_plugin_routes(&plugins_->app_host_routes());
  // Flushes are paced only while runs that may commit are in progress.
  if (auto* group = database_->group_commit()) {
    dispatcher_->when_runs_pause([group] { group->work_paused(); });
    group->pace_while([d = dispatcher_.get()] { return d->runs_in_progress() > 0; });
  }
  if (auto r = dispatcher_->start(); !r) return fail(r.error());
  cron_ = std::make_unique<triggers::CronScheduler>(*database_, outbox_signal_, metrics_,
                                                    settings_.triggers.cron_poll_interval_ms);
  cron_->start();
  maintenance_.every("dead-letter-sweep", std::int64_t{settings_.triggers.sweep_interval_s} * 1000, [this] {
    const std::int64_t cutoff =
        admin::now_ms() - std::int64_t{settings_.triggers.dead_letter_retention_days} * 24 * 3600 * 1000;
    auto n = dead_letters_->sweep(cutoff);
    if (!n)
      write_log(LogLevel::warn, "triggers", "dead letter retention sweep failed", {{"error", n.error().message}});
    else if (*n > 0)
      write_log(LogLevel::info, "triggers", "old dead letters deleted", {{"rows", std::to_string(*n)}});
  });
  admin_->set_routing_listener([d = dispatcher_.get(), n = notifier_.get()] {
    d->routing_changed();
    n->poke("kernel.routing");
  });
  poked_dispatcher_ = dispatcher_.get();
  admin_->set_script_runner([d = dispatcher_.get()](const admin::ManualRun& run) { return d->run_manual(run); });
  dashboard_ = std::make_unique<dashboard::DashboardSite>();
  // The admin API's hosts never reach an app, whatever the database says;
  // they serve the dashboard at /admin.
  router_.set_fallback(
      [d = dispatcher_.get(), &hosts = admin_->hosts(), &site = *dashboard_,
       &not_found = metrics_.counter("picloud_http_not_found_total", "HTTP requests that matched no route")](
          const sdk::HttpRequest& req) {
        auto host = req.header("host");
        if (!hosts.serves(host) || !http::kernel_path(req.path).empty()) return d->serve(req);
        if (dashboard::dashboard_path(req.path)) return site.serve(req);
        if (req.path == "/" && (req.method == "GET" || req.method == "HEAD")) {
          // An operator typing the server's address gets the dashboard.
          auto r = sdk::HttpResponse::text(302, "");
          r.headers.emplace_back("location", std::string(dashboard::kDashboardPrefix) + "/");
          return r;
        }
        not_found.inc();
        return admin::error_body(404, "not_found",
                                 "no app serves the host '" + admin::host_of(host) + "': it is the admin API's");
      },
      "kernel");
  raise_open_file_limit(settings_.http);
  server_ = std::make_unique<http::Server>(router_, admin_->authorizer(), metrics_, settings_.http);
  server_->set_cors(dispatcher_.get());
  server_->set_tls(tls_.get());
  if (auto r = server_->start(); !r) {
    server_.reset();
    return fail(r.error());
  }
  nodes_->set_address(settings_.http.host + ":" + std::to_string(server_->port()));
  ready_ = true;
  std::string names;
  for (const auto& p : plugins_->plugins()) names += (names.empty() ? "" : ",") + p.name;
  write_log(LogLevel::info, "kernel", "listening",
            {{"address", settings_.http.host + ":" + std::to_string(server_->port())},
             {"scheme", tls_ ? "https" : "http"},  // picloud-lint: not a plugin name (the URL scheme)
             {"database", settings_.database_url.display},
             {"plugins", names.empty() ? "none" : names}});
  return {};
}

void Kernel::reload() {
  if (!tls_) {
    write_log(LogLevel::info, "kernel", "SIGHUP: nothing to reload ([server] tls_cert is not set)");
    return;
  }
  auto cert = tls_->reload();
  if (!cert) {
    write_log(LogLevel::error, "server", "TLS certificate not reloaded; new connections keep the previous one",
              {{"error", cert.error().message}});
    return;
  }
  write_log(cert->expired ? LogLevel::warn : LogLevel::info, "server",
            cert->expired ? "TLS certificate reloaded, and it has EXPIRED: clients will refuse it"
                          : "TLS certificate reloaded; new connections use it",
            {{"file", tls_->cert_file()}, {"subject", cert->subject}, {"expires", cert->not_after},
             {"serial", cert->serial}});
}

void Kernel::stop() {
  ready_ = false;
  if (snapshots_) snapshots_->stop();  // a database copy under way ends now
  if (server_) {
    int cut = server_->stop(settings_.shutdown_grace_ms);
    if (cut > 0)
      write_log(LogLevel::warn, "kernel", "requests cut off at shutdown", {{"count", std::to_string(cut)}});
    // The server keeps references into the router and plugins' handlers: it
    // goes before the plugins stop (stop() returned once no handler runs).
    server_.reset();
  }
  maintenance_.stop_and_join();
  if (cron_) cron_->stop();
  if (dispatcher_) {
    if (admin_) {
      admin_->set_routing_listener(nullptr);
      admin_->set_script_runner(nullptr);
    }
    poked_dispatcher_ = nullptr;
    // Nothing is under way any more: no flush waits for more commits.
    if (auto* group = database_ ? database_->group_commit() : nullptr) group->pace_while([] { return false; });
    dispatcher_->stop();
    dispatcher_->when_runs_pause(nullptr);  // no run is left to leave
  }
  // Its work stopped: gone from every node's list.
  if (nodes_) nodes_->stop();
  // Before the plugins: its thread calls their listeners.
  if (notifier_) notifier_->stop();
  if (plugins_) plugins_->stop_all();
  // After the plugins: what they ran is still logged.
  if (admin_) admin_->stop();
  snapshots_.reset();  // a copy under way finishes first
  if (database_) {
    database_.reset();
    write_log(LogLevel::info, "kernel", "database closed");
  }
}

}  // namespace picloud::kernel
