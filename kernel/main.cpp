// picloud: the command line.
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "kernel/config.hpp"
#include "kernel/db/migrations.hpp"
#include "kernel/kernel.hpp"
#include "kernel/log.hpp"
#include "kernel/plugins/loader.hpp"
#include "kernel/settings.hpp"
#include "kernel/version.hpp"

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
  version          print the version (also --version)

The config file comes from --config, else $PICLOUD_CONFIG; without one the
built-in defaults apply. Any key can be set as PICLOUD_<SECTION>_<KEY>.
)";

std::string exe_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

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

int cmd_config_check(Config& config, const Settings& settings) {
  Kernel kernel(config, settings);
  if (auto r = kernel.load_plugins(); !r) return fail(r.error().message, 2);
  std::set<std::string> plugin_sections;
  for (const auto& p : kernel.plugins().plugins()) plugin_sections.insert(p.name);
  for (const auto& key : config.unread_keys(plugin_sections))
    write_log(LogLevel::warn, "config", "unknown config key (ignored)", {{"key", key}});
  std::printf("config OK: %s; database %s; %zu plugin(s); plugin sections are checked by the plugins at start-up\n",
              config.path().empty() ? "built-in defaults" : config.path().c_str(),
              settings.database_url.display.c_str(), kernel.plugins().plugins().size());
  return 0;
}

int cmd_serve(Config& config, Settings settings) {
  // Signals are taken synchronously by the main thread: block them before any
  // thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Kernel kernel(config, std::move(settings));
  write_log(LogLevel::info, "kernel", "starting", {{"version", PICLOUD_VERSION}, {"config", config.path().empty() ? "defaults" : config.path()}});
  if (auto r = kernel.start(); !r) return fail("start-up failed: " + r.error().message);

  int received = 0;
  sigwait(&signals, &received);
  write_log(LogLevel::info, "kernel", "shutting down", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  kernel.stop();
  write_log(LogLevel::info, "kernel", "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
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

  auto config = Config::load(config_path, environment());
  if (!config) return fail(config.error().message, 2);
  auto settings = read_settings(*config, exe_dir());
  if (!settings) return fail(settings.error().message, 2);
  set_log_level(settings->log_level);
  set_log_format(settings->log_format);

  if (command == "serve" && args.size() <= 1) return cmd_serve(*config, std::move(*settings));
  if (command == "plugins" && args.size() == 1) return cmd_plugins(*settings);
  if (command == "migrate" && args.size() == 1) return cmd_migrate(*config, std::move(*settings));
  if (command == "config" && args.size() == 2 && args[1] == "check") return cmd_config_check(*config, *settings);
  std::fprintf(stderr, "picloud: unknown command '%s'\n\n%s", args.empty() ? "" : args[0].c_str(), kUsage);
  return 2;
}
