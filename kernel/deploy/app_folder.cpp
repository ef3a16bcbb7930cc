#include "kernel/deploy/app_folder.hpp"

// toml++ is used header-only here (its one user in the binary), so picloud
// needs no shared library of it at run time.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "scripting/declarations.hpp"

namespace picloud::kernel::deploy {
namespace {

namespace fs = std::filesystem;

constexpr const char* kManifest = "picloud.toml";
constexpr std::uintmax_t kMaxScriptBytes = 512 * 1024;  // the admin API's limit, said early

sdk::Error folder_error(std::string message) { return sdk::make_error(sdk::ErrorKind::invalid_argument, std::move(message)); }

std::string where(const std::string& file, const toml::source_region& at) {
  return file + ":" + std::to_string(at.begin.line) + ":" + std::to_string(at.begin.column);
}

// A TOML value as the JSON the admin API reads. Records the line of every
// part under `path`.
sdk::Result<sdk::Value> to_value(const toml::node& node, const std::string& path, const std::string& file,
                                 std::map<std::string, int>& lines) {
  lines.emplace(path, static_cast<int>(node.source().begin.line));
  if (auto s = node.as_string()) return sdk::Value(s->get());
  if (auto i = node.as_integer()) return sdk::Value(static_cast<std::int64_t>(i->get()));
  if (auto f = node.as_floating_point()) return sdk::Value(f->get());
  if (auto b = node.as_boolean()) return sdk::Value(b->get());
  if (auto a = node.as_array()) {
    sdk::Array out;
    for (std::size_t i = 0; i < a->size(); ++i) {
      auto v = to_value(*a->get(i), path + "[" + std::to_string(i) + "]", file, lines);
      if (!v) return v;
      out.push_back(std::move(*v));
    }
    return sdk::Value(std::move(out));
  }
  if (auto t = node.as_table()) {
    sdk::Object out;
    for (const auto& [key, child] : *t) {
      std::string name(key.str());
      auto v = to_value(child, path.empty() ? name : path + "." + name, file, lines);
      if (!v) return v;
      out.emplace(std::move(name), std::move(*v));
    }
    return sdk::Value(std::move(out));
  }
  return folder_error(where(file, node.source()) + ": " + path +
                      ": dates and times have no JSON form; write them as text (\"2026-01-31T12:00:00Z\")");
}

sdk::Result<std::string> read_file(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return folder_error(path.string() + ": " + ec.message());
  if (size > kMaxScriptBytes)
    return folder_error(path.string() + ": is " + std::to_string(size) + " bytes; a script has at most " +
                        std::to_string(kMaxScriptBytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) return folder_error(path.string() + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The .as files of DIR/sub as {name, kind, source} in name order.
sdk::Result<void> read_scripts(const fs::path& dir, const char* sub, const char* kind, sdk::Array& out,
                               std::map<std::string, std::string>& files) {
  fs::path folder = dir / sub;
  std::error_code ec;
  if (!fs::exists(folder, ec)) return {};
  if (!fs::is_directory(folder, ec)) return folder_error(folder.string() + ": is not a folder");
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.path().extension() != ".as") continue;
    paths.push_back(entry.path());
  }
  if (ec) return folder_error(folder.string() + ": " + ec.message());
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    std::string name = p.stem().string();
    if (name.size() > 64 || !scripting::is_identifier(name))
      return folder_error(p.string() + ": '" + name +
                          "' is not a script name (a letter or '_', then letters, digits and '_', at most 64)");
    if (files.count(name))
      return folder_error(p.string() + ": a script named '" + name + "' is also in " + files[name]);
    auto source = read_file(p);
    if (!source) return source.error();
    files[name] = (fs::path(sub) / p.filename()).string();
    out.push_back(sdk::Value::object({{"name", name}, {"kind", kind}, {"source", std::move(*source)}}));
  }
  return {};
}

// ---- writing ----

std::unique_ptr<toml::node> to_toml(const sdk::Value& v) {
  switch (v.type()) {
    case sdk::ValueType::string:
      return std::make_unique<toml::value<std::string>>(v.as_string());
    case sdk::ValueType::integer:
      return std::make_unique<toml::value<std::int64_t>>(v.as_int());
    case sdk::ValueType::number:
      return std::make_unique<toml::value<double>>(v.as_float());
    case sdk::ValueType::boolean:
      return std::make_unique<toml::value<bool>>(v.as_bool());
    case sdk::ValueType::array: {
      auto a = std::make_unique<toml::array>();
      for (const auto& item : v.as_array())
        if (auto n = to_toml(item)) a->push_back(std::move(*n));
      return a;
    }
    case sdk::ValueType::object: {
      auto t = std::make_unique<toml::table>();
      t->is_inline(true);
      // TOML has no null: a field that is null is left out (read back, it is
      // absent, which every filter and option takes as unset).
      for (const auto& [key, item] : v.as_object())
        if (auto n = to_toml(item)) t->insert(key, std::move(*n));
      return t;
    }
    default:
      return nullptr;
  }
}

std::string toml_text(const sdk::Value& v) {
  auto node = to_toml(v);
  if (!node) return "";
  std::ostringstream out;
  // Plain basic strings and no other liberties: the same app always writes
  // the same text.
  out << toml::toml_formatter(*node, toml::format_flags::none);
  return out.str();
}

void put(std::string& out, const char* key, const sdk::Value& v) {
  if (v.is_null()) return;
  out += key;
  out += " = ";
  out += toml_text(v);
  out += '\n';
}

}  // namespace

sdk::Result<AppFolder> read_app_folder(const std::string& dir) {
  AppFolder folder;
  fs::path root(dir);
  folder.manifest_path = (root / kManifest).string();
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return folder_error(dir + ": is not a folder");
  if (!fs::exists(root / kManifest, ec))
    return folder_error(folder.manifest_path + ": not found (an app folder has a picloud.toml; docs/deploy.md)");
  toml::table manifest;
  try {
    manifest = toml::parse_file(folder.manifest_path);
  } catch (const toml::parse_error& e) {
    return folder_error(where(folder.manifest_path, e.source()) + ": " + std::string(e.description()));
  }
  auto value = to_value(manifest, "", folder.manifest_path, folder.lines);
  if (!value) return value.error();
  sdk::Value bundle = std::move(*value);
  if (bundle.as_object().count("scripts"))
    return folder_error(folder.manifest_path + ":" + std::to_string(folder.lines["scripts"]) +
                        ": scripts are files, not manifest entries: put them in scripts/NAME.as and modules/NAME.as");
  // Every other table is a plugin's: [[docs.indexes]], [secrets] required.
  sdk::Object resources;
  for (auto it = bundle.as_object().begin(); it != bundle.as_object().end();) {
    if (it->first == "app" || it->first == "routes" || it->first == "triggers") {
      ++it;
      continue;
    }
    resources.emplace(it->first, std::move(it->second));
    it = bundle.as_object().erase(it);
  }
  if (!resources.empty()) bundle.as_object()["resources"] = sdk::Value(std::move(resources));
  sdk::Array scripts;
  if (auto r = read_scripts(root, "scripts", "endpoint", scripts, folder.script_files); !r) return r.error();
  if (auto r = read_scripts(root, "modules", "module", scripts, folder.script_files); !r) return r.error();
  bundle.as_object()["scripts"] = sdk::Value(std::move(scripts));
  folder.bundle = std::move(bundle);
  return folder;
}

int line_of(const AppFolder& folder, const std::string& path) {
  // The bundle keeps plugins' tables under "resources"; the manifest does not.
  std::string p = path.rfind("resources.", 0) == 0 ? path.substr(10) : path;
  while (!p.empty()) {
    if (auto it = folder.lines.find(p); it != folder.lines.end() && it->second > 0) return it->second;
    auto cut = p.find_last_of(".[");
    if (cut == std::string::npos) break;
    p.resize(cut);
  }
  return 0;
}

std::string manifest_text(const sdk::Value& bundle) {
  std::string out =
      "# A PiCloud app: `picloud deploy DIR` makes the server's app match this folder\n"
      "# (scripts in scripts/, modules in modules/). See docs/deploy.md.\n\n[app]\n";
  const sdk::Value& app = bundle["app"];
  for (const char* key : {"slug", "name", "description", "hostnames", "cors_origins"}) put(out, key, app[key]);
  for (const auto& r : bundle["routes"].is_array() ? bundle["routes"].as_array() : sdk::Array{}) {
    out += "\n[[routes]]\n";
    for (const char* key : {"path", "methods", "host", "script", "dispatch"}) put(out, key, r[key]);
  }
  for (const auto& t : bundle["triggers"].is_array() ? bundle["triggers"].as_array() : sdk::Array{}) {
    out += "\n[[triggers]]\n";
    for (const char* key : {"name", "kind", "script", "enabled", "filter", "retry"}) put(out, key, t[key]);
  }
  // Plugins' resources: a kind whose items are tables as [[plugin.kind]]
  // blocks, any other as a list in [plugin] (written first: TOML wants a
  // table's own keys before its sub-tables).
  if (bundle["resources"].is_object())
    for (const auto& [plugin, kinds] : bundle["resources"].as_object()) {
      if (!kinds.is_object()) continue;
      auto tables = [](const sdk::Value& items) {
        return items.is_array() && std::all_of(items.as_array().begin(), items.as_array().end(),
                                               [](const sdk::Value& i) { return i.is_object(); });
      };
      bool header = false;
      for (const auto& [kind, items] : kinds.as_object()) {
        if (tables(items)) continue;
        if (!header) out += "\n[" + plugin + "]\n";
        header = true;
        put(out, kind.c_str(), items);
      }
      for (const auto& [kind, items] : kinds.as_object()) {
        if (!tables(items)) continue;
        for (const auto& item : items.as_array()) {
          out += "\n[[" + plugin + "." + kind + "]]\n";
          for (const auto& [key, value] : item.as_object()) put(out, key.c_str(), value);
        }
      }
    }
  return out;
}

namespace {

// What a server sent, checked whole before anything is written: an export
// never leaves a folder half replaced because of a bad answer.
sdk::Result<void> check_bundle(const sdk::Value& bundle) {
  if (!bundle.is_object() || !bundle["app"].is_object() || !bundle["scripts"].is_array())
    return folder_error("the server's answer is not an app (no app or scripts)");
  for (const char* list : {"routes", "triggers"})
    if (!bundle[list].is_null() && !bundle[list].is_array())
      return folder_error(std::string("the server's answer has ") + list + " that are not a list");
  std::set<std::string> names;
  for (const auto& s : bundle["scripts"].as_array()) {
    if (!s.is_object() || !s["name"].is_string() || !s["source"].is_string() || !s["kind"].is_string())
      return folder_error("the server's answer has a script without a name, kind or source");
    const std::string& name = s["name"].as_string();
    if (name.size() > 64 || !scripting::is_identifier(name))
      return folder_error("the server sent a script named '" + name + "', which cannot be a file name here");
    if (!names.insert(name).second) return folder_error("the server sent the script '" + name + "' twice");
  }
  return {};
}

// Whether `path` is a symbolic link (an export writes through none).
bool is_link(const fs::path& path) {
  std::error_code ec;
  return fs::is_symlink(fs::symlink_status(path, ec));
}

}  // namespace

sdk::Result<void> write_app_folder(const sdk::Value& bundle, const std::string& dir, bool overwrite) {
  if (auto ok = check_bundle(bundle); !ok) return ok;
  fs::path root(dir);
  std::error_code ec;
  for (const auto& p : {root / kManifest, root / "scripts", root / "modules"})
    if (is_link(p)) return folder_error(p.string() + ": is a symbolic link; export writes only into plain folders");
  if (!overwrite) {
    if (fs::exists(root / kManifest, ec))
      return folder_error((root / kManifest).string() + ": already exists (export into an empty folder, or pass --force)");
    for (const char* sub : {"scripts", "modules"})
      if (fs::is_directory(root / sub, ec))
        for (const auto& entry : fs::directory_iterator(root / sub, ec))
          if (entry.path().extension() == ".as")
            return folder_error(entry.path().string() +
                                ": the folder already holds scripts (export into an empty folder, or pass --force "
                                "to replace them)");
  }
  fs::create_directories(root, ec);
  if (ec) return folder_error(dir + ": " + ec.message());
  for (const char* sub : {"scripts", "modules"}) {
    fs::create_directories(root / sub, ec);
    if (ec) return folder_error((root / sub).string() + ": " + ec.message());
    for (const auto& entry : fs::directory_iterator(root / sub, ec))
      if (entry.path().extension() == ".as") fs::remove(entry.path(), ec);
  }
  auto write = [](const fs::path& path, const std::string& text) -> sdk::Result<void> {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return folder_error(path.string() + ": cannot be written");
    return {};
  };
  for (const auto& s : bundle["scripts"].as_array()) {
    const std::string& name = s["name"].as_string();
    const char* sub = s["kind"].as_string() == "module" ? "modules" : "scripts";
    if (auto r = write(root / sub / (name + ".as"), s["source"].as_string()); !r) return r;
  }
  // Last: a folder with a manifest is a whole one.
  return write(root / kManifest, manifest_text(bundle));
}

}  // namespace picloud::kernel::deploy
