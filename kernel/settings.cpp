#include "kernel/settings.hpp"

#include <chrono>
#include <cctype>
#include <thread>

namespace picloud::kernel {
namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  auto flush = [&] {
    auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    item.clear();
  };
  for (char c : text) {
    if (c == sep) flush();
    else item += c;
  }
  flush();
  return out;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (auto& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

#define TRY_ASSIGN(target, expr) \
  do {                           \
    auto r_ = (expr);            \
    if (!r_) return r_.error();  \
    target = *r_;                \
  } while (0)

}  // namespace

Result<Settings> read_settings(Config& c, const std::string& exe_dir) {
  Settings s;
  std::string text;
  std::int64_t n = 0;

  // The listener's keys live in [server]. 0.1.0 had them in [http], a name
  // that belongs to the outbound HTTP plugin now: such a key is still read
  // when [server] lacks it, with a warning to move it.
  auto server = [&](std::string_view key) -> std::string_view {
    if (c.raw("server", key) || !c.raw(kLegacyServerSection, key)) return "server";
    s.warnings.push_back("[" + std::string(kLegacyServerSection) + "] " + std::string(key) + " (from " +
                         c.origin(kLegacyServerSection, key) + ") is read as [server] " + std::string(key) +
                         ": the section was renamed; move the key (PICLOUD_SERVER_" + upper(key) +
                         " in the environment), since [http] now configures the http plugin");
    return kLegacyServerSection;
  };
  TRY_ASSIGN(s.http.host, c.get_string(server("host"), "host", "127.0.0.1"));
  TRY_ASSIGN(n, c.get_int(server("port"), "port", 8080, 0, 65535));
  s.http.port = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int(server("threads"), "threads", 64, 2, 4096));
  s.http.threads = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int(server("active_workers"), "active_workers", 0, 0, 4096));
  s.http.active_workers = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int(server("max_connections"), "max_connections", 10000, 1, 1000000));
  s.http.max_connections = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int(server("max_streams"), "max_streams", 10000, 0, 1000000));
  s.http.max_streams = static_cast<int>(n);
  TRY_ASSIGN(s.http.max_body_bytes,
             c.get_int(server("max_body_bytes"), "max_body_bytes", 1 << 20, 0, std::int64_t{1} << 32));
  TRY_ASSIGN(s.http.spool_max_bytes,
             c.get_int(server("spool_max_bytes"), "spool_max_bytes", 0, 0, std::int64_t{1} << 50));
  TRY_ASSIGN(s.http.spool_reserve_bytes,
             c.get_int(server("spool_reserve_bytes"), "spool_reserve_bytes", 512 << 20, 0, std::int64_t{1} << 50));
  TRY_ASSIGN(n, c.get_int(server("keep_alive_timeout_s"), "keep_alive_timeout_s", 10, 1, 3600));
  s.http.keep_alive_timeout_s = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int(server("shutdown_grace_ms"), "shutdown_grace_ms", 10000, 0, 600000));
  s.shutdown_grace_ms = static_cast<int>(n);
  // TLS on the listener: both files or neither (they are read at start-up).
  TRY_ASSIGN(s.http.tls_cert, c.get_string("server", "tls_cert", ""));
  TRY_ASSIGN(s.http.tls_key, c.get_string("server", "tls_key", ""));
  if (s.http.tls_cert.empty() != s.http.tls_key.empty()) {
    const bool cert = !s.http.tls_cert.empty();
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           std::string("config: [server] ") + (cert ? "tls_cert" : "tls_key") + " is set (from " +
                               c.origin("server", cert ? "tls_cert" : "tls_key") + ") but [server] " +
                               (cert ? "tls_key" : "tls_cert") + " is not: set both (PEM files) or neither");
  }

  std::int64_t connect_timeout = 0;
  TRY_ASSIGN(connect_timeout, c.get_int("database", "connect_timeout_s", 5, 1, 300));
  TRY_ASSIGN(s.data_dir, c.get_string("server", "data_dir", "./data"));
  if (s.data_dir.empty()) return sdk::make_error(sdk::ErrorKind::invalid_argument, "server.data_dir must not be empty");
  while (s.data_dir.size() > 1 && s.data_dir.back() == '/') s.data_dir.pop_back();
  s.http.spool_dir = s.data_dir;  // spooled request bodies: beside the data that may keep them
  TRY_ASSIGN(text, c.get_string("database", "url", "sqlite:" + s.data_dir + "/picloud.db"));
  TRY_ASSIGN(s.database_url, db::parse_database_url(text, static_cast<int>(connect_timeout)));
  std::int64_t default_pool = std::max(4u, std::thread::hardware_concurrency() * 2);
  TRY_ASSIGN(n, c.get_int("database", "pool_size", default_pool, 1, 1000));
  s.database.pool_size = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("database", "busy_timeout_ms", 5000, 0, 600000));
  s.database.connection.busy_timeout_ms = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("database", "acquire_timeout_ms", 10000, 1, 600000));
  s.database.acquire_timeout_ms = static_cast<int>(n);
  TRY_ASSIGN(s.database.group_commit, c.get_bool("database", "group_commit", true));
  TRY_ASSIGN(n, c.get_int("database", "group_commit_max_wait_us", 0, 0, 10000));
  s.database.group.max_wait = std::chrono::microseconds(n);
  TRY_ASSIGN(n, c.get_int("database", "group_commit_interval_us", 1000, 0, 100000));
  s.database.group.interval = std::chrono::microseconds(n);
  TRY_ASSIGN(n, c.get_int("database", "group_commit_max_batch", 64, 1, 100000));
  s.database.group.max_batch = static_cast<std::uint32_t>(n);
  TRY_ASSIGN(text, c.get_choice("database", "sqlite_locking", "shared", {"shared", "exclusive"}));
  s.database.connection.exclusive_locking = text == "exclusive";
  TRY_ASSIGN(text, c.get_string("database", "migrations_path", ""));
  s.migrations_path = text.empty() ? std::vector<std::string>{exe_dir + "/migrations", exe_dir + "/../share/picloud/migrations"}
                                   : split(text, ':');

  TRY_ASSIGN(text, c.get_string("plugins", "enabled", "*"));
  if (text == "*") {
    s.plugins.enable_all = true;
  } else {
    s.plugins.enabled = split(text, ',');
    for (const auto& name : s.plugins.enabled)
      if (name == "*")
        return sdk::make_error(sdk::ErrorKind::invalid_argument,
                               "config: [plugins] enabled mixes '*' with names (from " + c.origin("plugins", "enabled") +
                                   "): expected '*' or a comma-separated list of plugin names");
  }
  TRY_ASSIGN(text, c.get_string("plugins", "search_path", ""));
  s.plugins.search_path = text.empty() ? std::vector<std::string>{exe_dir + "/plugins", exe_dir + "/../lib/picloud/plugins"}
                                       : split(text, ':');

  s.plugins.reserved_names = kKernelSections;
  s.plugins.data_dir = s.data_dir;

  // The master key: PICLOUD_KEYRING_KEY (or [keyring] key), else a key file.
  if (auto key = c.raw("keyring", "key")) {
    // A key in the config file would sit beside the data it protects, in a
    // file nobody checks the mode of.
    if (c.origin("keyring", "key").find("PICLOUD_KEYRING_KEY") == std::string::npos)
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "config: [keyring] key in " + c.origin("keyring", "key") +
                                 ": the master key belongs in the environment (PICLOUD_KEYRING_KEY) or a key file "
                                 "([keyring] key_file), not in the config file");
    s.keyring.key = *key;
  }
  if (auto file = c.raw("keyring", "key_file")) {
    if (file->empty())
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "config: [keyring] key_file (from " + c.origin("keyring", "key_file") + ") is empty");
    s.keyring.key_file = *file;
    s.keyring.key_file_explicit = true;
  } else {
    s.keyring.key_file = s.data_dir + "/keyring.keys";
  }

  auto& lim = s.scripting.limits;
  TRY_ASSIGN(lim.timeout_ms, c.get_int("scripting", "timeout_ms", lim.timeout_ms, 1, 3'600'000));
  TRY_ASSIGN(lim.max_operations, c.get_int("scripting", "max_operations", lim.max_operations, 1000, std::int64_t{1} << 40));
  TRY_ASSIGN(lim.max_memory_bytes, c.get_int("scripting", "max_memory_bytes", lim.max_memory_bytes, 1 << 20, std::int64_t{1} << 36));
  TRY_ASSIGN(lim.max_value_bytes, c.get_int("scripting", "max_value_bytes", lim.max_value_bytes, 1024, std::int64_t{1} << 36));
  TRY_ASSIGN(n, c.get_int("scripting", "max_call_depth", lim.max_call_depth, 16, 10'000));
  lim.max_call_depth = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("scripting", "max_json_depth", lim.max_json_depth, 4, 512));
  lim.max_json_depth = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("scripting", "max_log_lines", lim.max_log_lines, 0, 100'000));
  lim.max_log_lines = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("scripting", "max_log_line_bytes", lim.max_log_line_bytes, 16, 1 << 20));
  lim.max_log_line_bytes = static_cast<int>(n);
  TRY_ASSIGN(lim.max_response_bytes, c.get_int("scripting", "max_response_bytes", lim.max_response_bytes, 0, std::int64_t{1} << 32));
  TRY_ASSIGN(n, c.get_int("scripting", "cache_size", static_cast<std::int64_t>(s.scripting.cache_size), 1, 1'000'000));
  s.scripting.cache_size = static_cast<std::size_t>(n);
  TRY_ASSIGN(n, c.get_int("scripting", "max_import_depth", s.scripting.max_import_depth, 1, 64));
  s.scripting.max_import_depth = static_cast<int>(n);

  auto& adm = s.admin;
  TRY_ASSIGN(adm.identity.session_ttl_s, c.get_int("admin", "session_ttl_s", adm.identity.session_ttl_s, 60, 365LL * 24 * 3600));
  TRY_ASSIGN(adm.identity.session_idle_s,
             c.get_int("admin", "session_idle_timeout_s", adm.identity.session_idle_s, 60, 365LL * 24 * 3600));
  TRY_ASSIGN(text, c.get_choice("admin", "cookie_secure", "auto", {"auto", "always", "never"}));
  adm.identity.cookie_secure = text == "always"  ? admin::CookieSecure::always
                               : text == "never" ? admin::CookieSecure::never
                                                 : admin::CookieSecure::auto_detect;
  // A listener speaking TLS answers nothing but HTTPS: `auto` knows it.
  if (adm.identity.cookie_secure == admin::CookieSecure::auto_detect && !s.http.tls_cert.empty())
    adm.identity.cookie_secure = admin::CookieSecure::always;
  TRY_ASSIGN(text, c.get_string("admin", "hostnames", "localhost"));
  if (auto names = admin::AdminHosts::parse(text); !names)
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "config: [admin] hostnames = '" + text + "' (from " +
                                                                 c.origin("admin", "hostnames") +
                                                                 ") is not valid: " + names.error().message);
  else
    adm.hostnames = std::move(*names);
  TRY_ASSIGN(adm.ip_hosts, c.get_bool("admin", "ip_hosts", true));
  if (!adm.ip_hosts && adm.hostnames.empty())
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "config: [admin] ip_hosts = false needs at least one name in [admin] hostnames: the admin "
                           "API would answer nowhere");
  TRY_ASSIGN(adm.metrics_token, c.get_string("admin", "metrics_token", ""));
  TRY_ASSIGN(n, c.get_int("admin", "login_max_failures_per_account", adm.login.per_account, 1, 1000));
  adm.login.per_account = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("admin", "login_max_failures_per_address", adm.login.per_address, 1, 100000));
  adm.login.per_address = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("admin", "login_max_failures_per_account_total", adm.login.per_account_total, 1, 1000000));
  adm.login.per_account_total = static_cast<int>(n);
  TRY_ASSIGN(adm.login.window_s, c.get_int("admin", "login_window_s", adm.login.window_s, 1, 24 * 3600));
  TRY_ASSIGN(n, c.get_int("admin", "password_hash_concurrency", adm.password_hash_concurrency, 1, 64));
  adm.password_hash_concurrency = static_cast<int>(n);
  auto& retry = adm.retry;
  TRY_ASSIGN(n, c.get_int("triggers", "retry_max_attempts", retry.max_attempts, 1, 100));
  retry.max_attempts = static_cast<int>(n);
  TRY_ASSIGN(text, c.get_choice("triggers", "retry_backoff", "exponential", {"exponential", "linear", "constant"}));
  retry.backoff = text == "linear"     ? triggers::RetryPolicy::Backoff::linear
                  : text == "constant" ? triggers::RetryPolicy::Backoff::constant
                                       : triggers::RetryPolicy::Backoff::exponential;
  TRY_ASSIGN(n, c.get_int("triggers", "retry_base_delay_ms", retry.base_delay.count(), 0,
                          triggers::RetryPolicy::kMaxDelay.count()));
  retry.base_delay = std::chrono::milliseconds(n);
  TRY_ASSIGN(n, c.get_int("triggers", "retry_jitter_percent", 20, 0, 100));
  retry.jitter = static_cast<double>(n) / 100.0;
  auto& t = s.triggers;
  TRY_ASSIGN(n, c.get_int("triggers", "max_depth", t.max_depth, 1, 64));
  t.max_depth = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("triggers", "dead_letter_retention_days", t.dead_letter_retention_days, 1, 3650));
  t.dead_letter_retention_days = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("triggers", "sweep_interval_s", t.sweep_interval_s, 1, 7 * 24 * 3600));
  t.sweep_interval_s = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("triggers", "cron_poll_interval_ms", t.cron_poll_interval_ms, 50, 60000));
  t.cron_poll_interval_ms = static_cast<int>(n);
  auto& ex = adm.executions;
  TRY_ASSIGN(n, c.get_int("executions", "retention_days", ex.retention_days, 1, 3650));
  ex.retention_days = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("executions", "batch_size", ex.batch_size, 1, 10000));
  ex.batch_size = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("executions", "flush_interval_ms", ex.flush_interval_ms, 10, 60000));
  ex.flush_interval_ms = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("executions", "queue_capacity", ex.queue_capacity, 1, 10'000'000));
  ex.queue_capacity = static_cast<int>(n);
  auto& d = s.dispatch;
  TRY_ASSIGN(n, c.get_int("dispatch", "max_running", 0, 0, 100000));
  d.max_running = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("dispatch", "max_queued", d.max_queued, 0, 1000000));
  d.max_queued = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("dispatch", "max_running_per_app", 0, 0, 100000));
  d.max_running_per_app = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("dispatch", "max_queued_per_app", 0, 0, 1000000));
  d.max_queued_per_app = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("dispatch", "queue_timeout_ms", d.queue_timeout_ms, 0, 600000));
  d.queue_timeout_ms = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("dispatch", "workers", 0, 0, 1024));
  d.workers = static_cast<int>(n);
  TRY_ASSIGN(d.run_queued, c.get_bool("dispatch", "run_queued", true));
  TRY_ASSIGN(n, c.get_int("dispatch", "poll_interval_ms", d.poll_interval_ms, 10, 600000));
  d.poll_interval_ms = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("dispatch", "max_attempts", d.max_attempts, 1, 100));
  d.max_attempts = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("dispatch", "retry_base_ms", d.retry_base_ms, 1, 3600000));
  d.retry_base_ms = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("dispatch", "lease_grace_ms", d.lease_grace_ms, 100, 3600000));
  d.lease_grace_ms = static_cast<int>(n);
  d.trigger_retry = adm.retry;

  TRY_ASSIGN(n, c.get_int("cluster", "heartbeat_interval_ms", s.cluster.heartbeat_ms, 100, 60000));
  s.cluster.heartbeat_ms = static_cast<int>(n);
  TRY_ASSIGN(n, c.get_int("cluster", "node_timeout_ms", s.cluster.timeout_ms, 1000, 3600000));
  s.cluster.timeout_ms = static_cast<int>(n);
  TRY_ASSIGN(s.cluster.pokes, c.get_bool("cluster", "pokes", true));
  if (s.cluster.timeout_ms < 3 * s.cluster.heartbeat_ms)
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "config: [cluster] node_timeout_ms (" + std::to_string(s.cluster.timeout_ms) +
                               ") must be at least three heartbeats (heartbeat_interval_ms = " +
                               std::to_string(s.cluster.heartbeat_ms) +
                               "), or a node a little late to beat is taken for dead");
  TRY_ASSIGN(s.owner_username, c.get_string("owner", "username", ""));
  TRY_ASSIGN(s.owner_password, c.get_string("owner", "password", ""));
  if (s.owner_username.empty() != s.owner_password.empty())
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "config: set both PICLOUD_OWNER_USERNAME and PICLOUD_OWNER_PASSWORD, or neither");

  TRY_ASSIGN(text, c.get_choice("log", "level", "info", {"debug", "info", "warn", "error"}));
  s.log_level = text == "debug" ? LogLevel::debug : text == "warn" ? LogLevel::warn : text == "error" ? LogLevel::error : LogLevel::info;
  TRY_ASSIGN(text, c.get_choice("log", "format", "logfmt", {"logfmt", "json"}));
  s.log_format = text == "json" ? LogFormat::json : LogFormat::logfmt;
  if (!s.dispatch.run_queued && s.database_url.dialect == sdk::Dialect::sqlite)
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "config: [dispatch] run_queued = false leaves queued work to other nodes, and a SQLite "
                           "database has no other node: nothing would run it (use PostgreSQL for several nodes)");
  return s;
}

}  // namespace picloud::kernel
