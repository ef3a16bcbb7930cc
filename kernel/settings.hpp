// The kernel's own config keys, read and validated in one place.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kernel/keyring/keyring.hpp"
#include "kernel/cluster/node_registry.hpp"
#include "kernel/admin/admin_api.hpp"
#include "kernel/config.hpp"
#include "kernel/db/database.hpp"
#include "kernel/db/url.hpp"
#include "kernel/dispatch/dispatcher.hpp"
#include "kernel/http/server.hpp"
#include "kernel/log.hpp"
#include "kernel/plugins/host.hpp"
#include "scripting/engine.hpp"

namespace picloud::kernel {

// Delivery of trigger events ([triggers]; the retry defaults live in
// admin.retry and dispatch.trigger_retry).
struct TriggerSettings {
  int max_depth = 8;                    // deeper handler runs are dropped
  int dead_letter_retention_days = 30;  // dead letters older than this are deleted
  int sweep_interval_s = 3600;          // how often the retention sweep runs
  int cron_poll_interval_ms = 1000;     // how soon new or changed cron triggers are seen
};

struct Settings {
  http::ServerOptions http;
  int shutdown_grace_ms = 10000;
  // Where PiCloud keeps what it writes to disk (the SQLite database by
  // default); owner-only: created 0700, its files 0600.
  std::string data_dir = "./data";
  db::DatabaseUrl database_url;
  db::DatabaseOptions database;
  std::vector<std::string> migrations_path;
  plugins::PluginSettings plugins;
  scripting::EngineConfig scripting;
  admin::AdminSettings admin;
  dispatch::DispatchSettings dispatch;
  TriggerSettings triggers;
  keyring::KeyringSettings keyring;
  cluster::NodeSettings cluster;
  // The first owner, created on a start when there are no users yet.
  // Meant for the environment (PICLOUD_OWNER_USERNAME, PICLOUD_OWNER_PASSWORD).
  std::string owner_username;
  std::string owner_password;
  LogLevel log_level = LogLevel::info;
  LogFormat log_format = LogFormat::logfmt;
  // What the operator should change in the config (logged at start-up).
  std::vector<std::string> warnings;
};

// Reads every kernel key. `exe_dir` anchors the default plugin and migration
// paths, so a build tree and an installed tree both work without config.
// Returns the first invalid value as an error naming the key.
Result<Settings> read_settings(Config& config, const std::string& exe_dir);

// The kernel's sections, whose unknown keys are warned about at start-up.
inline const std::vector<std::string> kKernelSections = {"server",     "database", "plugins",  "log",      "scripting", "admin",
                                                         "executions", "owner",    "dispatch", "triggers", "keyring",   "cluster"};
// 0.1.0's name for [server]'s listener keys, still read where [server] lacks
// them (with a warning to move them); not reserved, so a plugin may be called
// http, and the keys read here are none of that plugin's.
inline constexpr std::string_view kLegacyServerSection = "http";  // picloud-lint: not a plugin name (0.1.0's section)

}  // namespace picloud::kernel
