#include "kernel/admin/admin_views.hpp"

#include <algorithm>
#include <set>

#include "kernel/json_text.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::admin {

namespace {

using sdk::ErrorKind;
using sdk::Value;

// Walks one view, collecting the routes it names; every complaint names the
// field as a path ("sections[1].row_actions[0].route").
class ViewChecker {
 public:
  explicit ViewChecker(std::string plugin) : plugin_(std::move(plugin)) {}

  sdk::Result<void> check(const Value& view) {
    if (!view.is_object()) return bad("", "must be a JSON object");
    if (auto r = only(view, "", {"id", "title", "icon", "scope", "description", "module", "sections"}); !r) return r;
    if (auto r = name(view, "", "id", true); !r) return r;
    if (auto r = text(view, "", "title", true, 64); !r) return r;
    if (auto r = text(view, "", "description", false, 1000); !r) return r;
    if (view.has("icon")) {
      const Value& icon = view["icon"];
      if (!icon.is_string() || icon.as_string().empty() || icon.as_string().size() > 32 ||
          !std::all_of(icon.as_string().begin(), icon.as_string().end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || c == '-' || c == '_'; }))
        return bad("icon", "must be an icon name: 1 to 32 of a-z, '-' and '_'");
    }
    if (view.has("scope")) {
      const Value& scope = view["scope"];
      if (!scope.is_string() || (scope.as_string() != "app" && scope.as_string() != "instance"))
        return bad("scope", "must be \"app\" (shown under each app) or \"instance\"");
    }
    if (view.has("module") && !view["module"].is_null()) {
      if (auto r = route(view["module"], "module"); !r) return r;
      if (!view["module"].as_string().starts_with("GET ") || view["module"].as_string().find('?') != std::string::npos)
        return bad("module", "must be a GET route without a query, serving the view's ES module");
    }
    const bool has_module = view.has("module") && !view["module"].is_null();
    if (!view.has("sections")) {
      if (!has_module) return bad("sections", "is required (or a module)");
      return {};
    }
    const Value& sections = view["sections"];
    if (!sections.is_array() || sections.size() > 20) return bad("sections", "must be an array of at most 20 sections");
    if (sections.size() == 0 && !has_module) return bad("sections", "must not be empty (or give a module)");
    std::set<std::string> ids;
    for (std::size_t i = 0; i < sections.size(); ++i) {
      const std::string at = "sections[" + std::to_string(i) + "]";
      if (auto r = section(sections[i], at); !r) return r;
      if (!ids.insert(sections[i]["id"].as_string()).second) return bad(at + ".id", "repeats another section's id");
    }
    return {};
  }

  const std::vector<std::string>& routes() const { return routes_; }

 private:
  sdk::Result<void> section(const Value& s, const std::string& at) {
    if (!s.is_object()) return bad(at, "must be an object");
    const std::string kind = s["kind"].string_or("");
    if (kind == "table") {
      if (auto r = only(s, at, {"kind", "id", "title", "description", "params", "list", "items", "columns", "open",
                                "row_actions", "create"});
          !r)
        return r;
      if (auto r = route_field(s, at, "list", true, true); !r) return r;
      if (auto r = route_field(s, at, "open", false, true); !r) return r;
      if (auto r = schema(s, at, "params"); !r) return r;
      if (auto r = text(s, at, "items", false, 64); !r) return r;
      if (s.has("columns")) {
        const Value& columns = s["columns"];
        if (!columns.is_array() || columns.size() == 0 || columns.size() > 20)
          return bad(at + ".columns", "must be an array of 1 to 20 columns");
        for (std::size_t i = 0; i < columns.size(); ++i) {
          const std::string c = at + ".columns[" + std::to_string(i) + "]";
          if (!columns[i].is_object()) return bad(c, "must be an object");
          if (auto r = only(columns[i], c, {"field", "title", "format"}); !r) return r;
          if (auto r = text(columns[i], c, "field", true, 64); !r) return r;
          if (auto r = text(columns[i], c, "title", false, 64); !r) return r;
          if (auto r = one_of(columns[i], c, "format", {"text", "json", "time", "bytes", "bool"}); !r) return r;
        }
      }
      if (s.has("row_actions")) {
        const Value& actions = s["row_actions"];
        if (!actions.is_array() || actions.size() > 10) return bad(at + ".row_actions", "must be an array of at most 10 actions");
        for (std::size_t i = 0; i < actions.size(); ++i)
          if (auto r = action(actions[i], at + ".row_actions[" + std::to_string(i) + "]", true); !r) return r;
      }
      if (s.has("create"))
        if (auto r = action(s["create"], at + ".create", false); !r) return r;
    } else if (kind == "form") {
      if (auto r = only(s, at, {"kind", "id", "title", "description", "route", "schema", "confirm", "result", "submit"}); !r)
        return r;
      if (auto r = route_field(s, at, "route", true); !r) return r;
      if (auto r = schema(s, at, "schema"); !r) return r;
      if (auto r = text(s, at, "confirm", false, 500); !r) return r;
      if (auto r = text(s, at, "submit", false, 32); !r) return r;
      if (auto r = one_of(s, at, "result", {"refresh", "show", "download"}); !r) return r;
    } else if (kind == "json") {
      if (auto r = only(s, at, {"kind", "id", "title", "description", "source"}); !r) return r;
      if (auto r = route_field(s, at, "source", true, true); !r) return r;
    } else {
      return bad(at + ".kind", "must be \"table\", \"form\" or \"json\"");
    }
    if (auto r = name(s, at, "id", true); !r) return r;
    if (auto r = text(s, at, "title", true, 64); !r) return r;
    return text(s, at, "description", false, 1000);
  }

  sdk::Result<void> action(const Value& a, const std::string& at, bool row) {
    if (!a.is_object()) return bad(at, "must be an object");
    if (auto r = only(a, at, {"id", "title", "route", "confirm", "danger", "result", "schema"}); !r) return r;
    if (row)
      if (auto r = name(a, at, "id", true); !r) return r;
    if (auto r = text(a, at, "title", true, 64); !r) return r;
    if (auto r = route_field(a, at, "route", true); !r) return r;
    if (auto r = text(a, at, "confirm", false, 500); !r) return r;
    if (a.has("danger") && !a["danger"].is_bool()) return bad(at + ".danger", "must be true or false");
    if (auto r = one_of(a, at, "result", {"refresh", "show", "download"}); !r) return r;
    return schema(a, at, "schema");
  }

  // `read`: the dashboard fetches it with GET (lists, details, panels).
  sdk::Result<void> route_field(const Value& obj, const std::string& at, const char* field, bool required,
                                bool read = false) {
    if (!obj.has(field)) return required ? bad(join(at, field), "is required") : sdk::Result<void>{};
    if (read && !obj[field].string_or("").starts_with("GET "))
      return bad(join(at, field), "must be a GET route (the dashboard reads it)");
    return route(obj[field], join(at, field));
  }

  // "METHOD /api/v1/admin/...[?query]" naming a registered route, its
  // placeholders plain names ({key}, {app}).
  sdk::Result<void> route(const Value& v, const std::string& at) {
    if (!v.is_string() || v.as_string().size() > 512)
      return bad(at, "must be a route: \"METHOD /api/v1/admin/...\" (at most 512 characters)");
    const std::string& ref = v.as_string();
    for (std::size_t open = ref.find('{'); open != std::string::npos; open = ref.find('{', open + 1)) {
      auto close = ref.find('}', open);
      std::string_view name = close == std::string::npos ? std::string_view{} : std::string_view(ref).substr(open + 1, close - open - 1);
      bool ok = !name.empty() && name.size() <= 64 && !(name[0] >= '0' && name[0] <= '9') &&
                std::all_of(name.begin(), name.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
                });
      if (!ok) return bad(at, "has a placeholder that is not a plain name ({field}, letters, digits and '_')");
    }
    routes_.push_back(ref);
    return {};
  }

  sdk::Result<void> schema(const Value& obj, const std::string& at, const char* field) {
    if (!obj.has(field)) return {};
    const Value& s = obj[field];
    if (!s.is_object() || s["type"].string_or("object") != "object" || (s.has("properties") && !s["properties"].is_object()))
      return bad(join(at, field), "must be a JSON Schema of an object ({\"type\": \"object\", \"properties\": {...}})");
    return {};
  }

  sdk::Result<void> only(const Value& obj, const std::string& at, std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, value] : obj.as_object()) {
      (void)value;
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string names;
        for (auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
        return bad(join(at, key), "is not a field here (the fields are: " + names + ")");
      }
    }
    return {};
  }

  sdk::Result<void> text(const Value& obj, const std::string& at, const char* field, bool required, std::size_t max) {
    if (!obj.has(field)) return required ? bad(join(at, field), "is required") : sdk::Result<void>{};
    const Value& v = obj[field];
    if (!v.is_string() || v.as_string().empty() || v.as_string().size() > max)
      return bad(join(at, field), "must be text of 1 to " + std::to_string(max) + " bytes");
    return {};
  }

  sdk::Result<void> name(const Value& obj, const std::string& at, const char* field, bool required) {
    if (auto r = text(obj, at, field, required, 32); !r) return r;
    if (!obj.has(field)) return {};
    const std::string& s = obj[field].as_string();
    bool ok = s[0] >= 'a' && s[0] <= 'z' && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
    return ok ? sdk::Result<void>{} : bad(join(at, field), "must start with a-z and hold only a-z, 0-9, '_' and '-'");
  }

  sdk::Result<void> one_of(const Value& obj, const std::string& at, const char* field,
                           std::initializer_list<std::string_view> values) {
    if (!obj.has(field)) return {};
    const std::string v = obj[field].string_or("");
    if (std::find(values.begin(), values.end(), v) != values.end()) return {};
    std::string names;
    for (auto a : values) names += (names.empty() ? "\"" : ", \"") + std::string(a) + "\"";
    return bad(join(at, field), "must be one of " + names);
  }

  static std::string join(const std::string& at, std::string_view field) {
    return at.empty() ? std::string(field) : at + "." + std::string(field);
  }

  sdk::Result<void> bad(const std::string& field, const std::string& why) const {
    return sdk::make_error(ErrorKind::invalid_argument,
                           "plugin '" + plugin_ + "': admin view" + (field.empty() ? "" : " field '" + field + "'") + " " + why);
  }

  std::string plugin_;
  std::vector<std::string> routes_;
};

// A route pattern with every parameter's name dropped ("/a/{app}/b/{x}" →
// "/a/{}/b/{}"): a view names parameters after the fields that fill them,
// which need not be the route's own names.
std::string shape_of(std::string_view path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      auto close = path.find('}', i);
      if (close != std::string_view::npos) {
        out += "{}";
        i = close;
        continue;
      }
    }
    out += path[i];
  }
  return out;
}

}  // namespace

std::string_view access_level_name(sdk::Access access) {
  switch (access) {
    case sdk::Access::signed_in: return "signed_in";
    case sdk::Access::app_viewer: return "app_viewer";
    case sdk::Access::app_editor: return "app_editor";
    case sdk::Access::app_admin: return "app_admin";
    case sdk::Access::owner: return "owner";
  }
  return "owner";
}

sdk::Result<Value> AdminViews::describe_route(const std::string& plugin, const std::string& ref) const {
  auto space = ref.find(' ');
  if (space == std::string::npos)
    return sdk::make_error(ErrorKind::invalid_argument, "route '" + ref + "' must be \"METHOD /path\"");
  const std::string method = ref.substr(0, space);
  const std::string path = ref.substr(space + 1, ref.find('?') == std::string::npos ? std::string::npos : ref.find('?') - space - 1);
  if (!path.starts_with("/api/v1/admin/"))
    return sdk::make_error(ErrorKind::invalid_argument, "route '" + ref + "' is not under /api/v1/admin/");
  const std::string shape = shape_of(path);
  for (const auto* entry : router_.routes()) {
    if (entry->method != method || shape_of(entry->path) != shape) continue;
    // A view acts through its own plugin's routes; of the kernel's it may
    // only read. So no page can put a button labelled as the plugin likes
    // on the kernel's or another plugin's writes.
    if (entry->owner != plugin && !(entry->owner == "kernel" && method == "GET"))
      return sdk::make_error(ErrorKind::invalid_argument, "route '" + ref + "' belongs to " +
                                                              (entry->owner == "kernel" ? std::string("the kernel") : "plugin '" + entry->owner + "'") +
                                                              ": a view may use its own plugin's routes and the kernel's GET routes");
    const auto* cap = capabilities_.find(entry->capability);
    Value out = Value::object({{"capability", entry->capability}});
    out.as_object()["level"] = cap ? std::string(access_level_name(cap->capability.access)) : std::string("public");
    return out;
  }
  return sdk::make_error(ErrorKind::invalid_argument,
                         "route '" + method + " " + path + "' is not registered (add the routes before the view)");
}

sdk::Result<void> AdminViews::add(const std::string& plugin, const Value& view) {
  if (sdk::to_json(view).size() > kMaxViewBytes)
    return sdk::make_error(ErrorKind::invalid_argument,
                           "plugin '" + plugin + "': an admin view is at most " + std::to_string(kMaxViewBytes / 1024) + " KiB of JSON");
  ViewChecker checker(plugin);
  if (auto r = checker.check(view); !r) return r;
  Value routes = Value::object();
  for (const auto& ref : checker.routes()) {
    auto described = describe_route(plugin, ref);
    if (!described)
      return sdk::make_error(ErrorKind::invalid_argument, "plugin '" + plugin + "': admin view '" +
                                                              view["id"].as_string() + "': " + described.error().message);
    routes.as_object()[ref] = std::move(*described);
  }
  if (view.has("module") && view["module"].is_string()) {
    // The module is the plugin's own code: served by one of its routes.
    const std::string& ref = view["module"].as_string();
    const std::string path = ref.substr(4);
    bool own = false;
    for (const auto* entry : router_.routes())
      own = own || (entry->method == "GET" && shape_of(entry->path) == shape_of(path) && entry->owner == plugin);
    if (!own)
      return sdk::make_error(ErrorKind::invalid_argument,
                             "plugin '" + plugin + "': admin view '" + view["id"].as_string() + "': the module must be served by one of the plugin's own GET routes");
  }
  Value stored = view;
  auto& obj = stored.as_object();
  if (!obj.count("icon")) obj["icon"] = "puzzle";
  if (!obj.count("scope")) obj["scope"] = "app";
  if (!obj.count("module")) obj["module"] = nullptr;
  if (!obj.count("sections")) obj["sections"] = Value::array();
  obj["routes"] = std::move(routes);

  std::lock_guard lock(mutex_);
  auto& list = views_[plugin];
  if (list.size() >= kMaxViewsPerPlugin)
    return sdk::make_error(ErrorKind::invalid_argument,
                           "plugin '" + plugin + "': at most " + std::to_string(kMaxViewsPerPlugin) + " admin views");
  for (const auto& existing : list)
    if (existing.id == view["id"].as_string())
      return sdk::make_error(ErrorKind::conflict, "plugin '" + plugin + "': admin view '" + view["id"].as_string() + "' declared twice");
  list.push_back({view["id"].as_string(), sdk::to_json(stored)});
  return {};
}

Value AdminViews::views_of(const std::string& plugin) const {
  std::lock_guard lock(mutex_);
  Value out = Value::array();
  if (auto it = views_.find(plugin); it != views_.end())
    for (const auto& v : it->second) {
      auto parsed = parse_json(v.json, 64, JsonStrictness::stored);
      if (parsed) out.as_array().push_back(std::move(*parsed));
    }
  return out;
}

}  // namespace picloud::kernel::admin
