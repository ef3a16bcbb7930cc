// picloud: the command line.
#include <signal.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "kernel/backup/backup_command.hpp"
#include "kernel/config.hpp"
#include "kernel/db/migrations.hpp"
#include "kernel/deploy/deploy_command.hpp"
#include "kernel/executable.hpp"
#include "kernel/kernel.hpp"
#include "kernel/keyring/crypto.hpp"
#include "kernel/log.hpp"
#include "kernel/plugins/loader.hpp"
#include "kernel/settings.hpp"
#include "kernel/version.hpp"
#include "picloud/sdk/json.hpp"
#include "scripting/api_reference.hpp"

extern char** environ;

namespace {

using namespace picloud;
using namespace picloud::kernel;

constexpr const char* kUsage = R"(usage: picloud [command] [--config FILE]

commands:
  serve            start the server (default)
  plugins          list the plugins found, enabled and refused
  migrate          apply pending database migrations and print their status
  config check     validate the configuration and exit
  script check FILE [--module]
                   compile a script and print its diagnostics; modules it
                   imports are read from NAME.as beside FILE
  script api [NAMESPACE] [--json]
                   the script API: every namespace, function and type the
                   standard library and the enabled plugins offer, with
                   their docs (--json: as the admin API returns it)
  script run FILE [--method M] [--path P] [--body TEXT] [--header 'K: V']...
                   run a script's handle() once with the enabled plugins and
                   print the response
  admin create-owner --username NAME
                   create the instance owner (only while there are no
                   users); the password is read from standard input
  admin reset-password --username NAME
                   set a user's password (read from standard input) and
                   end their sessions: for an owner locked out
  keys status      the master keys: where they come from, which is active
                   in the key file and in the database, how many values
                   each seals
  keys rotate      add a new master key to the key file, make it active and
                   re-seal every value with it, in batches; run it again to
                   resume an interrupted rotation
  backup DEST      copy the database and the plugins' data (files) into the
                   new directory DEST while the server runs, with a manifest
                   of checksums; the master key is not copied (docs/backup.md)
  restore SRC      fill an empty database and data directory from a backup,
                   checked first; migrates it when it is older
  deploy DIR [--server URL] [--dry-run] [--prune]
                   make an app on a server match the folder DIR
                   (picloud.toml, scripts/, modules/): shows what it
                   creates, changes and deletes; refuses it all when a
                   script does not compile (docs/deploy.md)
  export APP DIR [--server URL] [--force]
                   write a server's app as such a folder
  version          print the version (also --version)

The config file comes from --config, else $PICLOUD_CONFIG; without one the
built-in defaults apply. Any key can be set as PICLOUD_<SECTION>_<KEY>.
)";

std::vector<std::string> environment() {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) out.emplace_back(*e);
  return out;
}

int fail(const std::string& message, int code = 1) {
  write_log(LogLevel::error, "kernel", message);
  return code;
}

int cmd_version() {
  std::printf("picloud %s (SDK ABI %d.%d)\n", PICLOUD_VERSION, PICLOUD_SDK_ABI_MAJOR, PICLOUD_SDK_ABI_MINOR);
  return 0;
}

int cmd_plugins(const Settings& settings) {
  auto files = plugins::discover_plugin_files(settings.plugins.search_path);
  std::set<std::string> enabled(settings.plugins.enabled.begin(), settings.plugins.enabled.end());
  std::printf("search path:");
  for (const auto& d : settings.plugins.search_path) std::printf(" %s", d.c_str());
  std::printf("\nkernel SDK ABI %d.%d\n\n", PICLOUD_SDK_ABI_MAJOR, PICLOUD_SDK_ABI_MINOR);
  std::printf("%-16s %-10s %-6s %-9s %s\n", "NAME", "VERSION", "ABI", "ENABLED", "FILE / STATUS");
  std::set<std::string> seen;
  int refused = 0;
  for (const auto& file : files) {
    std::string stem = std::filesystem::path(file).stem().string();
    seen.insert(stem);
    bool on = settings.plugins.enable_all || enabled.count(stem);
    auto loaded = plugins::load_plugin(file);
    if (loaded) {
      std::printf("%-16s %-10s %-6s %-9s %s\n", loaded->name.c_str(), loaded->version.c_str(),
                  plugins::abi_version_text(loaded->descriptor->abi).c_str(), on ? "yes" : "no", file.c_str());
    } else {
      ++refused;
      std::printf("%-16s %-10s %-6s %-9s refused: %s\n", stem.c_str(), "-", "-", on ? "yes" : "no",
                  loaded.error().message.c_str());
    }
  }
  for (const auto& name : settings.plugins.enabled)
    if (!seen.count(name)) {
      ++refused;
      std::printf("%-16s %-10s %-6s %-9s missing: not found in the search path\n", name.c_str(), "-", "-", "yes");
    }
  return refused ? 1 : 0;
}

int cmd_migrate(Config& config, Settings settings) {
  Kernel kernel(config, std::move(settings));
  auto applied = kernel.migrate();
  if (!applied) return fail(applied.error().message);
  db::MigrationRunner runner(*kernel.database());
  std::printf("%-16s %-8s %-32s %s\n", "COMPONENT", "VERSION", "NAME", "APPLIED AT");
  std::vector<std::string> components{"kernel"};
  for (const auto& p : kernel.plugins().plugins()) components.push_back(p.name);
  for (const auto& component : components) {
    auto status = runner.status(component, {});
    if (!status) return fail(status.error().message);
    for (const auto& s : *status)
      std::printf("%-16s %-8d %-32s %s\n", s.component.c_str(), s.version, s.name.c_str(), s.applied_at.c_str());
  }
  std::printf("\n%d migration(s) applied now\n", *applied);
  return 0;
}

// `picloud keys status | rotate`: see the usage text and docs/keyring.md.
int cmd_keys(Config& config, Settings settings, const std::string& action) {
  keyring::KeyringSettings key_settings = settings.keyring;
  Kernel kernel(config, std::move(settings));
  auto applied = kernel.migrate();
  if (!applied) return fail(applied.error().message);
  sdk::Database& db = *kernel.database();
  auto recorded = keyring::Keyring::database_active_id(db);
  if (!recorded) return fail(recorded.error().message);
  const std::string db_active = *recorded;
  struct stat st {};
  if (key_settings.key.empty() && ::lstat(key_settings.key_file.c_str(), &st) != 0)
    return fail("there is no master key: no PICLOUD_KEYRING_KEY and no key file at " + key_settings.key_file);
  auto keys = keyring::load_keys(key_settings, db.dialect(), db_active);
  if (!keys) return fail(keys.error().message);

  if (action == "status") {
    auto counts = db.query("SELECT key_id, count(*) FROM sealed_values GROUP BY key_id ORDER BY key_id");
    if (!counts) return fail(counts.error().message);
    std::printf("keys from:         %s\n", keys->source.c_str());
    std::printf("active (keys):     %s\n", keys->active.c_str());
    std::printf("active (database): %s\n", db_active.empty() ? "none yet (PiCloud has not started)" : db_active.c_str());
    for (const auto& [id, key] : keys->keys) std::printf("key %s\n", id.c_str());
    for (const auto& row : counts->rows)
      std::printf("%lld value(s) sealed with %s%s\n", static_cast<long long>(row[1].as_int()),
                  row[0].as_string().c_str(), keys->keys.count(row[0].as_string()) ? "" : " (NOT among these keys)");
    return 0;
  }

  if (!keys->from_file)
    return fail("keys rotate needs a key file: the environment holds one key. Put the current key in a key file "
                "([keyring] key_file) first, then rotate there and give every node the new file.");
  if (db_active.empty()) return fail("start PiCloud once first: the database records no master key yet");
  if (!keys->keys.count(db_active))
    return fail("the database's active master key " + db_active + " is not in " + keys->source);
  // One rotation at a time on this key file (another run waits for none:
  // it is refused).
  int lock_fd = ::open((keys->source + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
    return fail("another `picloud keys rotate` is running on " + keys->source);
  auto ring = keyring::Keyring::open(*keys, db);
  if (!ring) return fail(ring.error().message);
  std::string target = keys->active;
  if (target == db_active) {
    auto left = keyring::Vault(**ring, db).count_not_under(db_active);
    if (!left) return fail(left.error().message);
    if (*left == 0) {
      // A new rotation: the key file gets the new key first, so a crash
      // leaves no value sealed with a key that is nowhere on disk.
      std::string key = keyring::random_bytes(keyring::kKeyBytes);
      target = keyring::key_id(key);
      keys->keys[target] = std::move(key);
      keys->active = target;
      if (auto w = keyring::write_key_file(keys->source, *keys); !w) return fail(w.error().message);
      std::printf("new master key %s written to %s\n", target.c_str(), keys->source.c_str());
      ring = keyring::Keyring::open(*keys, db);
      if (!ring) return fail(ring.error().message);
    } else {
      std::printf("resuming: %lld value(s) not yet sealed with %s\n", static_cast<long long>(*left), target.c_str());
    }
  } else {
    std::printf("resuming the rotation to %s\n", target.c_str());
  }
  // Only from the key this run started from: a concurrent rotation from
  // another node (another key file) makes this one stop instead.
  if (target != db_active) {
    auto set = db.execute("UPDATE keyring_state SET value = ? WHERE name = 'active_key_id' AND value = ?",
                          {target, db_active});
    if (!set) return fail(set.error().message);
    if (*set != 1) return fail("the database's active key changed meanwhile (another rotation?): run `picloud keys status`");
  }
  keyring::Vault resealing(**ring, db);
  keyring::Vault::Position position;
  std::vector<std::string> unopened;
  std::int64_t resealed = 0;
  for (;;) {
    auto seen = resealing.reseal_batch(target, 200, position, unopened, resealed);
    if (!seen) return fail("re-sealing stopped (run `picloud keys rotate` again to resume): " + seen.error().message);
    if (*seen == 0) break;
    std::printf("re-sealed %lld value(s)\n", static_cast<long long>(resealed));
    std::fflush(stdout);
  }
  if (!unopened.empty()) {
    for (const auto& what : unopened) std::fprintf(stderr, "not re-sealed: %s\n", what.c_str());
    return fail(std::to_string(unopened.size()) +
                " value(s) could not be opened and keep their old key; the others are sealed with " + target);
  }
  std::printf("done: every value is sealed with %s. Give every node this key file; the older keys stay in it so "
              "signatures made before still verify.\n",
              target.c_str());
  return 0;
}

int cmd_config_check(Config& config, const Settings& settings) {
  Kernel kernel(config, settings);
  if (auto r = kernel.load_plugins(); !r) return fail(r.error().message, 2);
  std::set<std::string> plugin_sections;
  for (const auto& p : kernel.plugins().plugins()) plugin_sections.insert(p.name);
  for (const auto& warning : settings.warnings) write_log(LogLevel::warn, "config", warning);
  if (!settings.http.tls_cert.empty())
    if (auto tls = picloud::kernel::http::TlsContext::load(settings.http.tls_cert, settings.http.tls_key); !tls)
      return fail(tls.error().message, 2);
  for (const auto& key : config.unread_keys(plugin_sections))
    write_log(LogLevel::warn, "config", "unknown config key (ignored)", {{"key", key}});
  std::printf("config OK: %s; database %s; %zu plugin(s); plugin sections are checked by the plugins at start-up\n",
              config.path().empty() ? "built-in defaults" : config.path().c_str(),
              settings.database_url.display.c_str(), kernel.plugins().plugins().size());
  return 0;
}

// Scripts and their modules from files: FILE, and NAME.as beside it.
class FileScripts final : public scripting::ScriptSource {
 public:
  explicit FileScripts(std::filesystem::path file) : file_(std::move(file)) {}
  sdk::Result<std::string> script_code(const scripting::ScriptRef&) override { return read(file_); }
  sdk::Result<scripting::ModuleCode> module_code(std::string_view, std::string_view name) override {
    auto code = read(file_.parent_path() / (std::string(name) + ".as"));
    if (!code) return code.error();
    return scripting::ModuleCode{std::string(name), *code};
  }

 private:
  static sdk::Result<std::string> read(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return sdk::make_error(sdk::ErrorKind::not_found, "cannot read " + path.string());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::filesystem::path file_;
};

// picloud script api [NAMESPACE] [--json]
int cmd_script_api(Config& config, Settings settings, const std::vector<std::string>& args) {
  std::optional<std::string> only;
  bool as_json = false;
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--json") as_json = true;
    else if (!only && args[i].rfind("--", 0) != 0) only = args[i];
    else return fail("script api: unknown option '" + args[i] + "'", 2);
  }
  Kernel kernel(config, std::move(settings));
  if (auto r = kernel.start_without_http(); !r) return fail("start-up failed: " + r.error().message);
  sdk::Value reference = kernel.script_engine()->api_reference(only);
  kernel.stop();
  if (only && reference["namespaces"].size() == 0)
    return fail("script api: no namespace '" + *only + "' (is its plugin enabled? see `picloud plugins`)");
  std::fputs(as_json ? (sdk::to_json(reference) + "\n").c_str() : scripting::format_api(reference).c_str(), stdout);
  return 0;
}

int cmd_script(Config& config, Settings settings, const std::vector<std::string>& args) {
  if (args.size() >= 2 && args[1] == "api") return cmd_script_api(config, std::move(settings), args);
  if (args.size() < 3 || (args[1] != "check" && args[1] != "run")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string file = args[2];
  bool module = false;
  sdk::HttpRequest request{"GET", "/", "", {}, {}, "", "127.0.0.1", "cli"};
  for (std::size_t i = 3; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--module") module = true;
    else if (a == "--method" && has_value) request.method = args[++i];
    else if (a == "--path" && has_value) {
      std::string target = args[++i];
      auto q = target.find('?');
      request.path = target.substr(0, q);
      if (q != std::string::npos) request.query = target.substr(q + 1);
    } else if (a == "--body" && has_value) request.body = args[++i];
    else if (a == "--header" && has_value) {
      std::string h = args[++i];
      auto colon = h.find(':');
      if (colon == std::string::npos) return fail("--header needs 'Name: value'", 2);
      std::string name = h.substr(0, colon), value = h.substr(colon + 1);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      value.erase(0, value.find_first_not_of(' '));
      request.headers.emplace_back(name, value);
    } else {
      return fail("script: unknown option '" + a + "'", 2);
    }
  }
  FileScripts source(file);
  auto code = source.script_code({});
  if (!code) return fail(code.error().message, 2);

  Kernel kernel(config, std::move(settings));
  if (auto r = kernel.start_without_http(); !r) return fail("start-up failed: " + r.error().message);
  auto& engine = *kernel.script_engine();
  int status = 0;
  if (args[1] == "check") {
    auto v = engine.validate("cli", module ? scripting::ScriptKind::module : scripting::ScriptKind::endpoint, *code, source);
    auto print = [&](const scripting::Diagnostic& d, const char* level) {
      std::string where = d.section == "main" ? file : "module " + d.section;
      std::printf("%s:%d:%d: %s: %s\n", where.c_str(), d.line, d.column, level, d.message.c_str());
      for (const auto& c : d.candidates)
        std::printf("    candidate: %s%s\n", c.declaration.c_str(), c.doc.empty() ? "" : ("\n        " + c.doc).c_str());
      if (d.more_candidates > 0) std::printf("    and %zu more candidates\n", d.more_candidates);
    };
    for (const auto& d : v.errors) print(d, "error");
    for (const auto& d : v.warnings) print(d, "warning");
    if (v.ok()) std::printf("%s: OK\n", file.c_str());
    status = v.ok() ? 0 : 1;
  } else {
    auto r = engine.run_http({"cli", file, 1}, source, {}, request);
    for (const auto& line : r.logs) {
      using SL = scripting::LogLevel;
      LogLevel level = line.level == SL::debug ? LogLevel::debug
                       : line.level == SL::warn ? LogLevel::warn
                       : line.level == SL::error ? LogLevel::error
                                                 : LogLevel::info;
      write_log(level, "script", line.message);
    }
    if (!r.ok()) {
      std::fprintf(stderr, "picloud: script failed (%s, HTTP %d): %s\n", std::string(scripting::to_string(r.error)).c_str(),
                   r.status(), r.message.c_str());
      status = 1;
    } else {
      std::printf("HTTP %d\n", r.response.status);
      for (const auto& [k, v] : r.response.headers) std::printf("%s: %s\n", k.c_str(), v.c_str());
      std::printf("\n%s\n", r.response.body.c_str());
    }
  }
  kernel.stop();
  return status;
}

// A password from standard input: asked for twice, unechoed, on a terminal;
// else the first line.
std::optional<std::string> read_password() {
  auto line = [](std::string& out) {
    out.clear();
    int c;
    while ((c = std::getchar()) != EOF && c != '\n') out.push_back(static_cast<char>(c));
    if (!out.empty() && out.back() == '\r') out.pop_back();
    return c != EOF || !out.empty();
  };
  std::string first, second;
  if (!::isatty(STDIN_FILENO)) {
    if (!line(first)) return std::nullopt;
    return first;
  }
  termios saved{};
  ::tcgetattr(STDIN_FILENO, &saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  std::fputs("password: ", stderr);
  bool ok = line(first);
  std::fputs("\nagain: ", stderr);
  ok = ok && line(second);
  std::fputs("\n", stderr);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (!ok) return std::nullopt;
  if (first != second) {
    std::fputs("picloud: the passwords differ\n", stderr);
    return std::nullopt;
  }
  return first;
}

int cmd_admin(Config& config, Settings settings, const std::vector<std::string>& args) {
  if (args.size() != 4 || args[2] != "--username" || (args[1] != "create-owner" && args[1] != "reset-password")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string& username = args[3];
  auto identity_settings = settings.admin.identity;
  Kernel kernel(config, std::move(settings));
  if (auto r = kernel.migrate(); !r) return fail(r.error().message);
  admin::PasswordHasher hasher(1);
  admin::Identity identity(*kernel.database(), hasher, identity_settings);
  if (auto name = admin::Identity::normalise_username(username); !name) return fail(name.error().message, 2);
  if (args[1] == "create-owner") {
    auto users = identity.count_users();
    if (!users) return fail(users.error().message);
    if (*users > 0)
      return fail("there are users already; the owner adds users through the admin API "
                  "(or use 'picloud admin reset-password' to regain access)");
  } else {
    auto user = identity.find_user(username);
    if (!user) return fail(user.error().message);
    if (!*user) return fail("no user '" + username + "'", 2);
  }
  auto password = read_password();
  if (!password) return fail("no password given on standard input", 2);
  if (auto rules = admin::Identity::check_password_rules(*password, username); !rules) return fail(rules.error().message, 2);
  if (args[1] == "create-owner") {
    auto user = identity.create_user(username, *password, true);
    if (!user) return fail(user.error().message);
    std::printf("owner '%s' created (id %s)\n", user->username.c_str(), user->id.c_str());
  } else {
    auto user = identity.find_user(username);
    if (!user || !*user) return fail("no user '" + username + "'");
    if (auto r = identity.set_password((*user)->id, *password); !r) return fail(r.error().message);
    std::printf("password of '%s' set; their sessions have ended\n", (*user)->username.c_str());
  }
  return 0;
}

int cmd_serve(Config& config, Settings settings) {
  // Signals are taken synchronously by the main thread: block them before any
  // thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // reload the TLS certificate (by default it would end the process)
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Kernel kernel(config, std::move(settings));
  write_log(LogLevel::info, "kernel", "starting", {{"version", PICLOUD_VERSION}, {"config", config.path().empty() ? "defaults" : config.path()}});
  if (auto r = kernel.start(); !r) return fail("start-up failed: " + r.error().message);
  // Start-up (migrations, compiling plugins' declarations, reading the
  // config) leaves freed memory in the heap that an idle server never uses
  // again: about 0.2 MiB given back to the system here.
  malloc_trim(0);

  int received = 0;
  for (;;) {
    sigwait(&signals, &received);
    if (received != SIGHUP) break;
    kernel.reload();
  }
  write_log(LogLevel::info, "kernel", "shutting down", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  kernel.stop();
  write_log(LogLevel::info, "kernel", "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);  // the server's sends and sendfile see EPIPE instead
  signal(SIGXFSZ, SIG_IGN);  // a file-size limit fails a spooled body's write instead of killing the server
  // Whatever PiCloud writes (the database, later keys and files) is for its
  // own user only, whichever command created it.
  umask(077);
  // One malloc arena for every thread: glibc's default gives each of
  // PiCloud's threads (workers, the cluster listener, plugins' tasks) an
  // arena of its own, whose free pages stay resident — about 0.5 MB of an
  // idle server's 24. Per-thread caches take the small allocations of the
  // request path anyway (no measurable change in /hello's rate). The
  // environment's MALLOC_ARENA_MAX, when set, decides instead.
  if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 1);
  std::vector<std::string> args;
  std::string config_path;
  if (const char* env = std::getenv("PICLOUD_CONFIG")) config_path = env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" || a == "-c") {
      if (i + 1 >= argc) {
        std::fputs("picloud: --config needs a file\n", stderr);
        return 2;
      }
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--version" || a == "-V") {
      return cmd_version();
    } else if (a == "--help" || a == "-h" || a == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      args.push_back(a);
    }
  }
  std::string command = args.empty() ? "serve" : args[0];
  if (command == "version") return cmd_version();
  // Clients of a server, not servers: no config of their own.
  if (command == "deploy") return picloud::kernel::deploy::run_deploy(args);
  if (command == "export") return picloud::kernel::deploy::run_export(args);

  auto config = Config::load(config_path, environment());
  if (!config) return fail(config.error().message, 2);
  auto settings = read_settings(*config, picloud::kernel::executable_directory());
  if (!settings) return fail(settings.error().message, 2);
  // Read: the master key need not stay where child processes and
  // /proc/<pid>/environ of later code would see it.
  ::unsetenv("PICLOUD_KEYRING_KEY");
  set_log_level(settings->log_level);
  set_log_format(settings->log_format);

  if (command == "serve" && args.size() <= 1) return cmd_serve(*config, std::move(*settings));
  if (command == "plugins" && args.size() == 1) return cmd_plugins(*settings);
  if (command == "migrate" && args.size() == 1) return cmd_migrate(*config, std::move(*settings));
  if (command == "config" && args.size() == 2 && args[1] == "check") return cmd_config_check(*config, *settings);
  if (command == "script") return cmd_script(*config, std::move(*settings), args);
  if (command == "admin") return cmd_admin(*config, std::move(*settings), args);
  if (command == "backup") return picloud::kernel::backup::run_backup(*config, std::move(*settings), args);
  if (command == "restore") return picloud::kernel::backup::run_restore(*config, std::move(*settings), args);
  if (command == "keys" && args.size() == 2 && (args[1] == "status" || args[1] == "rotate"))
    return cmd_keys(*config, std::move(*settings), args[1]);
  std::fprintf(stderr, "picloud: unknown command '%s'\n\n%s", args.empty() ? "" : args[0].c_str(), kUsage);
  return 2;
}
