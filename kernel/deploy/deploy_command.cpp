#include "kernel/deploy/deploy_command.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <Poco/URI.h>

#include "kernel/deploy/admin_client.hpp"
#include "kernel/deploy/app_folder.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::deploy {
namespace {

constexpr const char* kDefaultServer = "http://localhost:8080";

int usage(const char* text) {
  std::fputs(text, stderr);
  return 2;
}

// Where the admin API is and how to reach it: the options both commands take.
struct ServerOptions {
  std::string server, ca_file;
  bool insecure = false;

  // Takes args[i] (and its value) when it is one of these options.
  bool take(const std::vector<std::string>& args, std::size_t& i) {
    const std::string& a = args[i];
    if (a == "--insecure") insecure = true;
    else if (a == "--ca" && i + 1 < args.size()) ca_file = args[++i];
    else if (a == "--server" && i + 1 < args.size()) server = args[++i];
    else if (a.rfind("--server=", 0) == 0) server = a.substr(9);
    else return false;
    return true;
  }
};

sdk::Result<AdminClient> connect(const ServerOptions& options) {
  std::string server = options.server;
  if (server.empty())
    if (const char* env = std::getenv("PICLOUD_SERVER"); env && *env) server = env;
  if (server.empty()) server = kDefaultServer;
  auto key = api_key_for(server);
  if (!key) return key.error();
  return AdminClient::open(server, std::move(*key), options.insecure, options.ca_file);
}

// A slug or id as one segment of a path; a bad one still reaches the
// server, which names what is wrong with it.
std::string path_segment(const std::string& text) {
  std::string out;
  Poco::URI::encode(text, "/?#%&=+", out);
  return out;
}

// Whether a deploy's answer has the plan's shape (a server of another
// version, or not a PiCloud at all, may answer anything).
bool is_plan(const sdk::Value& v) {
  if (!v.is_object()) return false;
  for (const char* list : {"changes", "kept", "missing", "warnings", "setup"})
    if (!v[list].is_array()) return false;
  for (const auto& c : v["changes"].as_array())
    if (!c.is_object() || !c["action"].is_string() || !c["type"].is_string() || !c["name"].is_string() ||
        !c["fields"].is_array())
      return false;
  for (const char* list : {"kept", "missing"})
    for (const auto& k : v[list].as_array())
      if (!k.is_object() || !k["type"].is_string() || !k["name"].is_string()) return false;
  return true;
}

// "scripts[3].name" → the script's file, when the path is about a script.
std::string script_file_of(const AppFolder& folder, const std::string& field) {
  if (field.rfind("scripts[", 0) != 0) return "";
  std::size_t index = std::strtoul(field.c_str() + 8, nullptr, 10);
  const auto& scripts = folder.bundle["scripts"].as_array();
  if (index >= scripts.size()) return "";
  auto it = folder.script_files.find(scripts[index]["name"].as_string());
  return it == folder.script_files.end() ? "" : it->second;
}

// Every error of a refused deploy, each where it is in the folder.
void print_refusal(const AppFolder& folder, const AdminReply& reply) {
  const sdk::Value& details = reply.body["error"]["details"];
  if (reply.error_code() == "deploy_invalid" && details["scripts"].is_array()) {
    for (const auto& script : details["scripts"].as_array()) {
      const std::string name = script["name"].string_or("?");
      if (!script["errors"].is_array()) continue;
      for (const auto& d : script["errors"].as_array()) {
        // An error inside an imported module is reported where it is.
        std::string section = d["section"].string_or("main");
        std::string owner = section == "main" ? name : section;
        auto it = folder.script_files.find(owner);
        std::string file = it == folder.script_files.end() ? owner + " (kept by the app, not in the folder)" : it->second;
        std::fprintf(stderr, "%s:%lld:%lld: error: %s%s\n", file.c_str(), static_cast<long long>(d["line"].int_or(0)),
                     static_cast<long long>(d["column"].int_or(0)), d["message"].string_or("").c_str(),
                     section == "main" ? "" : (" (imported by " + name + ")").c_str());
      }
    }
    std::fprintf(stderr, "deploy refused: %s\n", reply.error_message().c_str());
    return;
  }
  std::string field = details["field"].string_or("");
  if (std::string file = script_file_of(folder, field); !file.empty()) {
    std::fprintf(stderr, "%s: error: %s\n", file.c_str(), reply.error_message().c_str());
  } else if (!field.empty()) {
    std::fprintf(stderr, "%s:%d: error: %s\n", folder.manifest_path.c_str(), line_of(folder, field),
                 reply.error_message().c_str());
  } else {
    std::fprintf(stderr, "error: %s\n", reply.error_message().c_str());
  }
  std::fputs("deploy refused: nothing was changed\n", stderr);
}

void print_plan(const sdk::Value& plan, const AppFolder& folder) {
  for (const auto& w : plan["warnings"].as_array()) {
    std::string section = w["section"].string_or("main");
    std::string owner = section == "main" ? w["script"].string_or("") : section;
    auto it = folder.script_files.find(owner);
    std::printf("%s:%lld:%lld: warning: %s\n", it == folder.script_files.end() ? owner.c_str() : it->second.c_str(),
                static_cast<long long>(w["line"].int_or(0)), static_cast<long long>(w["column"].int_or(0)),
                w["message"].string_or("").c_str());
  }
  for (const auto& c : plan["changes"].as_array()) {
    const std::string& action = c["action"].as_string();
    // (fields hold strings; anything else is shown as JSON)
    const char* mark = action == "create" ? "+" : action == "delete" ? "-" : "~";
    std::string fields;
    for (const auto& f : c["fields"].as_array())
      fields += (fields.empty() ? " (" : ", ") + (f.is_string() ? f.as_string() : sdk::to_json(f));
    if (!fields.empty()) fields += ")";
    std::printf("  %s %s %s %s%s\n", mark, action.c_str(), c["type"].as_string().c_str(), c["name"].as_string().c_str(),
                fields.c_str());
  }
  for (const auto& m : plan["missing"].as_array())
    std::printf("  ! missing %s %s (the app needs it; set it through the admin API or the dashboard)\n",
                m["type"].as_string().c_str(), m["name"].as_string().c_str());
  const auto& kept = plan["kept"].as_array();
  for (const auto& k : kept)
    std::printf("  = keep %s %s (not in the folder; --prune deletes it)\n", k["type"].as_string().c_str(),
                k["name"].as_string().c_str());
  std::printf("%zu to change, %lld unchanged, %zu kept\n", plan["changes"].size(),
              static_cast<long long>(plan["unchanged"].int_or(0)), kept.size());
}

int deploy_command(const std::vector<std::string>& args) {
  constexpr const char* kUsage =
      "usage: picloud deploy DIR [--server URL] [--dry-run] [--prune]\n"
      "  makes the app on the server match the folder DIR (picloud.toml, scripts/, modules/)\n"
      "  --server URL  the admin API, https://HOST[:PORT] or http://localhost:PORT\n"
      "                (default $PICLOUD_SERVER, else http://localhost:8080)\n"
      "  --dry-run     show what would change, change nothing\n"
      "  --prune       also delete what the folder does not name\n"
      "  --ca FILE     trust this certificate (PEM) for an https server with a self-signed one\n"
      "  --insecure    allow a server that is not on this machine over plain http\n"
      "  The API key comes from $PICLOUD_API_KEY or ~/.config/picloud/credentials (docs/deploy.md).\n";
  std::string dir;
  ServerOptions where;
  bool dry_run = false, prune = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (where.take(args, i)) continue;
    if (a == "--dry-run") dry_run = true;
    else if (a == "--prune") prune = true;
    else if (a.rfind("--", 0) != 0 && dir.empty()) dir = a;
    else return usage(kUsage);
  }
  if (dir.empty()) return usage(kUsage);
  auto folder = read_app_folder(dir);
  if (!folder) {
    std::fprintf(stderr, "%s\n", folder.error().message.c_str());
    return 2;
  }
  auto client = connect(where);
  if (!client) {
    std::fprintf(stderr, "picloud deploy: %s\n", client.error().message.c_str());
    return 2;
  }
  const sdk::Value& app = folder->bundle["app"];
  if (!app.is_object() || !app["slug"].is_string()) {
    std::fprintf(stderr, "%s: [app] needs a slug (the app's name in URLs: slug = \"shop\")\n",
                 folder->manifest_path.c_str());
    return 2;
  }
  const std::string slug = app["slug"].as_string();
  std::string query = std::string("?dry_run=") + (dry_run ? "true" : "false") + "&prune=" + (prune ? "true" : "false");
  auto reply = client->call("POST", "/apps/" + path_segment(slug) + "/deploy" + query, folder->bundle);
  // An app the server does not have (or does not show this key) is created,
  // which only an owner may do.
  if (reply && reply->status == 404 && reply->error_code() == "not_found" &&
      reply->error_message().rfind("app '", 0) == 0)
    reply = client->call("POST", "/deploy" + query, folder->bundle);
  if (!reply) {
    std::fprintf(stderr, "picloud deploy: %s\n", reply.error().message.c_str());
    return 1;
  }
  if (reply->status >= 400) {
    print_refusal(*folder, *reply);
    return 1;
  }
  const sdk::Value& plan = reply->body;
  if (!is_plan(plan)) {
    std::fprintf(stderr, "picloud deploy: %s answered %d without a plan: is it a PiCloud of this version?\n",
                 client->server().c_str(), reply->status);
    return 1;
  }
  std::printf("%s app '%s' on %s%s\n", dry_run ? "Plan for" : "Deployed", slug.c_str(), client->server().c_str(),
              plan["new_app"].bool_or(false) ? " (a new app)" : "");
  print_plan(plan, *folder);
  for (const auto& s : plan["setup"].as_array())
    std::printf("trigger %s was set up; shown once, keep it now:\n  %s\n", s["trigger"].string_or("").c_str(),
                sdk::to_json(s["setup"]).c_str());
  if (dry_run) std::puts("dry run: nothing was changed");
  return 0;
}

int export_command(const std::vector<std::string>& args) {
  constexpr const char* kUsage =
      "usage: picloud export APP DIR [--server URL] [--force]\n"
      "  writes the app APP (slug or id) as the folder DIR, which `picloud deploy DIR` deploys\n"
      "  --force     write into a DIR that already holds an app folder (its scripts are replaced)\n"
      "  --ca FILE   trust this certificate (PEM) for an https server with a self-signed one\n"
      "  --insecure  allow a server that is not on this machine over plain http\n";
  std::string app, dir;
  ServerOptions where;
  bool force = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (where.take(args, i)) continue;
    if (a == "--force") force = true;
    else if (a.rfind("--", 0) != 0 && app.empty()) app = a;
    else if (a.rfind("--", 0) != 0 && dir.empty()) dir = a;
    else return usage(kUsage);
  }
  if (app.empty() || dir.empty()) return usage(kUsage);
  auto client = connect(where);
  if (!client) {
    std::fprintf(stderr, "picloud export: %s\n", client.error().message.c_str());
    return 2;
  }
  auto reply = client->call("GET", "/apps/" + path_segment(app) + "/export");
  if (!reply) {
    std::fprintf(stderr, "picloud export: %s\n", reply.error().message.c_str());
    return 1;
  }
  if (reply->status != 200) {
    std::fprintf(stderr, "picloud export: %s\n", reply->error_message().c_str());
    return 1;
  }
  if (auto written = write_app_folder(reply->body, dir, force); !written) {
    std::fprintf(stderr, "picloud export: %s\n", written.error().message.c_str());
    return 1;
  }
  const sdk::Value& b = reply->body;
  auto count = [](std::size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); };
  std::printf("wrote %s: %s, %s, %s (secrets' values are never exported)\n", dir.c_str(),
              count(b["scripts"].size(), "script or module", "scripts and modules").c_str(),
              count(b["routes"].size(), "route", "routes").c_str(), count(b["triggers"].size(), "trigger", "triggers").c_str());
  return 0;
}

// A bad answer or a disk that fails must end the command with a message,
// not an abort.
template <typename Command>
int guarded(const char* name, Command&& command, const std::vector<std::string>& args) {
  try {
    return command(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "picloud %s: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace

int run_deploy(const std::vector<std::string>& args) { return guarded("deploy", deploy_command, args); }
int run_export(const std::vector<std::string>& args) { return guarded("export", export_command, args); }

}  // namespace picloud::kernel::deploy
