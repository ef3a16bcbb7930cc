#include "kernel/admin/deploy.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "kernel/admin/resource_rules.hpp"
#include "kernel/http/cors.hpp"
#include "kernel/triggers/retry_policy.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::admin {
namespace {

// ---- the bundle, as read and checked ---------------------------------------------------

struct AppFields {
  std::string slug, name, description, cors;  // cors: as stored
  std::vector<std::string> hostnames;          // sorted
  // Which the bundle gave: one it leaves out keeps the app's value (a new
  // app's default).
  bool has_name = true, has_description = true, has_hostnames = true, has_cors = true;
};

struct ScriptSpec {
  std::string name, kind, source;
};

struct RouteSpec {
  std::string path, shape, methods, script, dispatch, host;  // methods normalised; host "" = any
};

struct TriggerSpec {
  std::string name, kind, script;
  sdk::Value filter, retry;  // filter as the kind completed it; retry null = defaults
  bool enabled = true;
};

// An item of a plugin's resource kind, as the kind's check() completed it.
struct ResourceSpec {
  const ResourceKindRegistry::Entry* kind;
  std::string key;
  sdk::Value item;
};

struct Bundle {
  AppFields app;
  std::vector<ScriptSpec> scripts;
  std::vector<RouteSpec> routes;
  std::vector<TriggerSpec> triggers;
  std::vector<ResourceSpec> resources;
};

std::string type_of(const ResourceKindRegistry::Entry& e) { return e.plugin + "." + e.kind.name; }

std::string item(const char* list, std::size_t i) { return std::string(list) + "[" + std::to_string(i) + "]"; }

// Runs `read` for the part of the bundle at `where` ("routes[2]"), so that
// an error names the field by its whole path ("routes[2].methods: …").
template <typename Read>
auto at(const std::string& where, Read&& read) {
  try {
    return read();
  } catch (ApiError& e) {
    std::string field;
    if (e.details.is_object() && e.details["field"].is_string()) field = e.details["field"].as_string();
    std::string path = field.empty() ? where : where + "." + field;
    if (!field.empty() && e.message.rfind(field + ":", 0) == 0)
      e.message = path + e.message.substr(field.size());
    else
      e.message = where + ": " + e.message;
    if (e.details.is_object()) e.details.as_object()["field"] = path;
    throw;
  }
}

const sdk::Array& list_in(const sdk::Value& v, const char* name) {
  static const sdk::Array empty;
  if (v.is_null()) return empty;
  if (!v.is_array()) fail_field(name, "must be a list");
  return v.as_array();
}

const sdk::Value& object_at(const sdk::Value& v, const std::string& where) {
  if (!v.is_object()) fail_field(where, "must be an object");
  return v;
}

AppFields read_app(AdminContext& ctx, const sdk::Value& app) {
  AppFields out;
  Fields f(object_at(app, "app"));
  out.slug = *f.string("slug", true);
  auto name = f.string("name");
  auto description = f.string("description");
  auto hostnames = f.strings("hostnames");
  auto cors = f.strings("cors_origins");
  f.finish();
  out.has_name = name.has_value();
  out.has_description = description.has_value();
  out.has_hostnames = hostnames.has_value();
  out.has_cors = cors.has_value();
  out.description = description.value_or("");
  out.hostnames = check_hostnames(ctx.hosts, hostnames.value_or(std::vector<std::string>{}));
  out.cors = stored_cors_origins(cors.value_or(std::vector<std::string>{}));
  check_slug(out.slug);
  if (name && (name->empty() || name->size() > 200)) fail_field("name", "must have 1 to 200 characters");
  if (out.description.size() > 2000) fail_field("description", "has at most 2000 characters");
  out.name = name.value_or(out.slug);
  std::sort(out.hostnames.begin(), out.hostnames.end());
  return out;
}

ScriptSpec read_script(AdminContext& ctx, const sdk::Value& v) {
  Fields f(object_at(v, "script"));
  ScriptSpec s;
  s.name = *f.string("name", true);
  s.kind = f.string("kind").value_or("endpoint");
  s.source = *f.string("source", true);
  f.finish();
  check_script_name(ctx, s.name);
  parse_kind(s.kind);
  if (s.source.size() > kMaxSourceBytes)
    fail_field("source", "is larger than " + std::to_string(kMaxSourceBytes) + " bytes");
  return s;
}

RouteSpec read_route(const sdk::Value& v) {
  Fields f(object_at(v, "route"));
  RouteSpec r;
  r.path = check_path(*f.string("path", true), r.shape);
  r.methods = normalise_methods(f.strings("methods").value_or(std::vector<std::string>{"*"}));
  r.script = *f.string("script", true);
  r.dispatch = f.string("dispatch").value_or("sync");
  r.host = to_lower(f.string("host").value_or(""));
  f.finish();
  if (!r.host.empty() && r.host.back() == '.') r.host.pop_back();  // as hostnames are stored
  if (r.dispatch != "sync" && r.dispatch != "async") fail_field("dispatch", "must be sync or async");
  return r;
}

TriggerSpec read_trigger(AdminContext& ctx, const sdk::Value& v) {
  Fields f(object_at(v, "trigger"));
  TriggerSpec t;
  t.name = *f.string("name", true);
  t.kind = *f.string("kind", true);
  t.script = *f.string("script", true);
  sdk::Value filter = f.json("filter");
  t.retry = f.json("retry");
  t.enabled = f.boolean("enabled").value_or(true);
  f.finish();
  check_trigger_name(t.name);
  const triggers::RegisteredKind* kind = ctx.trigger_kinds ? ctx.trigger_kinds->find(t.kind) : nullptr;
  if (!kind) {
    std::string known;
    if (ctx.trigger_kinds)
      for (const auto& n : ctx.trigger_kinds->names()) known += (known.empty() ? "" : ", ") + n;
    fail_field("kind", "no trigger kind '" + t.kind + "' (" + (known.empty() ? "no plugin declares one" : "kinds: " + known) + ")");
  }
  auto checked = kind->kind.validate_filter(filter);
  if (!checked) fail_field("filter", checked.error().message);
  t.filter = std::move(*checked);
  if (!t.retry.is_null())
    if (auto r = triggers::RetryPolicy::with_overrides(ctx.settings.retry, t.retry); !r) fail_field("retry", r.error().message);
  return t;
}

// "resources": {"<plugin>": {"<kind>": [item, ...]}}, each item checked by
// its kind.
std::vector<ResourceSpec> read_resources(AdminContext& ctx, const sdk::Value& resources) {
  std::vector<ResourceSpec> out;
  if (resources.is_null()) return out;
  if (!resources.is_object()) fail_field("resources", "must be an object of plugin names");
  auto known = [&] {
    std::string names;
    if (ctx.resource_kinds)
      for (const auto& e : ctx.resource_kinds->all()) names += (names.empty() ? "" : ", ") + type_of(e);
    return names.empty() ? std::string("no plugin declares any") : "those declared: " + names;
  };
  for (const auto& [plugin, kinds] : resources.as_object()) {
    const std::string where = "resources." + plugin;
    if (!kinds.is_object()) fail_field(where, "must be an object of resource kinds");
    for (const auto& [kind_name, items] : kinds.as_object()) {
      const std::string at_kind = where + "." + kind_name;
      const auto* kind = ctx.resource_kinds ? ctx.resource_kinds->find(plugin, kind_name) : nullptr;
      if (!kind) fail_field(at_kind, "no enabled plugin declares the resource kind '" + plugin + "." + kind_name + "' (" + known() + ")");
      if (!items.is_array()) fail_field(at_kind, "must be a list");
      std::set<std::string> keys;
      for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string at_item = at_kind + "[" + std::to_string(i) + "]";
        auto checked = kind->kind.check(items[i]);
        if (!checked) fail_field(at_item, checked.error().message);
        if (!keys.insert(checked->key).second) fail_field(at_item, "'" + checked->key + "' is named twice");
        out.push_back({kind, std::move(checked->key), std::move(checked->item)});
      }
    }
  }
  return out;
}

Bundle read_bundle(AdminContext& ctx, const sdk::Value& body) {
  Fields top(body);
  sdk::Value app = top.json("app");
  sdk::Value scripts = top.json("scripts");
  sdk::Value routes = top.json("routes");
  sdk::Value triggers = top.json("triggers");
  sdk::Value resources = top.json("resources");
  top.finish();
  if (app.is_null()) fail(400, "missing_field", "app: required (an object with the app's slug)", sdk::Value::object({{"field", "app"}}));
  Bundle b;
  b.app = at("app", [&] { return read_app(ctx, app); });
  std::set<std::string> names;
  const auto& script_list = list_in(scripts, "scripts");
  for (std::size_t i = 0; i < script_list.size(); ++i) {
    b.scripts.push_back(at(item("scripts", i), [&] { return read_script(ctx, script_list[i]); }));
    if (!names.insert(b.scripts.back().name).second)
      fail_field(item("scripts", i) + ".name", "'" + b.scripts.back().name + "' is named twice");
  }
  const auto& route_list = list_in(routes, "routes");
  for (std::size_t i = 0; i < route_list.size(); ++i)
    b.routes.push_back(at(item("routes", i), [&] { return read_route(route_list[i]); }));
  names.clear();
  const auto& trigger_list = list_in(triggers, "triggers");
  for (std::size_t i = 0; i < trigger_list.size(); ++i) {
    b.triggers.push_back(at(item("triggers", i), [&] { return read_trigger(ctx, trigger_list[i]); }));
    if (!names.insert(b.triggers.back().name).second)
      fail_field(item("triggers", i) + ".name", "'" + b.triggers.back().name + "' is named twice");
  }
  b.resources = read_resources(ctx, resources);
  return b;
}

// ---- what the app has ---------------------------------------------------------------

struct CurrentScript {
  std::string id, name, kind, source;
};

struct CurrentRoute {
  std::string id, script_id, script, host, path, shape, methods, dispatch;
};

struct CurrentTrigger {
  std::string id, name, kind, script_id, script;
  sdk::Value filter, retry;
  bool enabled = true;
};

struct Current {
  AppFields app;
  std::map<std::string, CurrentScript> scripts;  // by name
  std::vector<CurrentRoute> routes;
  std::vector<CurrentTrigger> triggers;
  // Each declared kind's items, by kind then key.
  std::map<const ResourceKindRegistry::Entry*, std::map<std::string, sdk::Value>> resources;
};

// Statements each in a transaction of their own: what a required-only
// kind's list() gets. Those kinds (the secrets an app needs) are read before
// the deploy's transaction opens: they are never written by it, and their
// plugins may read through services that take a connection of their own.
class OwnStatements final : public sdk::Transaction {
 public:
  explicit OwnStatements(sdk::Database& db) : db_(db) {}
  sdk::Result<sdk::Rows> query(std::string_view sql, const sdk::Params& params) override { return db_.query(sql, params); }
  sdk::Result<std::int64_t> execute(std::string_view sql, const sdk::Params& params) override {
    return db_.execute(sql, params);
  }
  sdk::Result<void> after_commit(std::function<void()> action) override {
    action();
    return {};
  }

 private:
  sdk::Database& db_;
};

// Each declared kind's items: those of required-only kinds when `required`,
// the others otherwise.
void load_resources(AdminContext& ctx, sdk::Transaction& tx, const std::string& app_id, Current& c, bool required) {
  if (!ctx.resource_kinds) return;
  for (const auto& e : ctx.resource_kinds->all()) {
    if (e.kind.required_only != required) continue;
    auto items = e.kind.list(tx, app_id);
    if (!items) fail(503, "unavailable", "plugin '" + e.plugin + "' could not list its " + e.kind.name + ": " + items.error().message);
    auto& mine = c.resources[&e];
    for (auto& i : *items)
      if (!mine.emplace(i.key, std::move(i.item)).second)
        fail(500, "internal", "plugin '" + e.plugin + "' listed its " + e.kind.name + " item '" + i.key + "' twice");
  }
}

Current load_current(sdk::Transaction& db, const std::string& app_id) {
  Current c;
  auto app = unwrap(db.query("SELECT slug, name, description, cors_origins FROM apps WHERE id = ?", {app_id}));
  if (app.empty()) not_found("app", app_id);
  c.app = {app.rows[0][0].as_string(), app.rows[0][1].as_string(), app.rows[0][2].as_string(),
           app.rows[0][3].as_string(), {}};
  for (const auto& row : unwrap(db.query("SELECT hostname FROM app_hostnames WHERE app_id = ? ORDER BY hostname", {app_id})).rows)
    c.app.hostnames.push_back(row[0].as_string());
  for (const auto& row : unwrap(db.query("SELECT id, name, kind, source FROM scripts WHERE app_id = ?", {app_id})).rows)
    c.scripts[row[1].as_string()] = {row[0].as_string(), row[1].as_string(), row[2].as_string(), row[3].as_string()};
  for (const auto& row :
       unwrap(db.query("SELECT r.id, r.script_id, s.name, r.host, r.path, r.shape, r.methods, r.dispatch FROM routes r "
                       "JOIN scripts s ON s.id = r.script_id WHERE r.app_id = ?",
                       {app_id}))
           .rows)
    c.routes.push_back({row[0].as_string(), row[1].as_string(), row[2].as_string(), row[3].as_string(),
                        row[4].as_string(), row[5].as_string(), row[6].as_string(), row[7].as_string()});
  for (const auto& row :
       unwrap(db.query("SELECT t.id, t.name, t.kind, t.script_id, s.name, t.filter, t.retry, t.enabled FROM triggers t "
                       "JOIN scripts s ON s.id = t.script_id WHERE t.app_id = ? ORDER BY t.id",
                       {app_id}))
           .rows) {
    CurrentTrigger t;
    t.id = row[0].as_string();
    if (row[1].is_string()) t.name = row[1].as_string();
    t.kind = row[2].as_string();
    t.script_id = row[3].as_string();
    t.script = row[4].as_string();
    t.filter = parse_stored_json(row[5].as_string());
    if (row[6].is_string()) t.retry = parse_stored_json(row[6].as_string());
    t.enabled = row[7].as_int() != 0;
    c.triggers.push_back(std::move(t));
  }
  return c;
}

// ---- compiling against the bundle ---------------------------------------------------

// Modules as they will be once the deploy is done: the bundle's, and those
// the app keeps.
class PlannedModules final : public scripting::ScriptSource {
 public:
  void add(const std::string& name, const std::string& code) { modules_[name] = code; }
  void remove(const std::string& name) { modules_.erase(name); }
  sdk::Result<std::string> script_code(const scripting::ScriptRef& ref) override {
    return sdk::make_error(sdk::ErrorKind::not_found, "script " + ref.script_id + " is not in the deploy");
  }
  sdk::Result<scripting::ModuleCode> module_code(std::string_view, std::string_view name) override {
    auto it = modules_.find(std::string(name));
    if (it == modules_.end()) return sdk::make_error(sdk::ErrorKind::not_found, "no module " + std::string(name));
    return scripting::ModuleCode{it->first, it->second};
  }

 private:
  std::map<std::string, std::string> modules_;
};

struct Compiled {
  std::map<std::string, std::vector<std::string>> imports;  // by script name
  sdk::Array warnings;                                      // [{script, section, line, column, message}]
};

// Compiles every script of the bundle; 422 deploy_invalid listing every
// script that does not compile.
Compiled compile_all(AdminContext& ctx, const std::string& app_id, const Bundle& b, bool prune) {
  PlannedModules modules;
  // Without prune the app keeps the scripts the bundle does not name: they
  // are compiled too, against the modules as they will be, so a module the
  // deploy changes cannot break them unseen.
  std::vector<ScriptSpec> kept;
  if (!prune && !app_id.empty()) {
    std::set<std::string> named;
    for (const auto& s : b.scripts) named.insert(s.name);
    for (const auto& row :
         unwrap(ctx.db.query("SELECT name, kind, source FROM scripts WHERE app_id = ? ORDER BY name", {app_id})).rows) {
      if (named.count(row[0].as_string())) continue;
      kept.push_back({row[0].as_string(), row[1].as_string(), row[2].as_string()});
      if (kept.back().kind == "module") modules.add(kept.back().name, kept.back().source);
    }
  }
  for (const auto& s : b.scripts)
    if (s.kind == "module") modules.add(s.name, s.source);
  auto& eng = engine(ctx);
  Compiled out;
  sdk::Array failed;
  std::string first;
  auto check = [&](const ScriptSpec& s, bool in_bundle) {
    auto v = eng.validate(app_id, parse_kind(s.kind), s.source, modules);
    if (in_bundle)
      for (auto w : diagnostics_json(v.warnings).as_array()) {
        w.as_object()["script"] = s.name;
        out.warnings.push_back(std::move(w));
      }
    if (!v.ok()) {
      if (first.empty())
        first = s.name + " (" + s.kind + (in_bundle ? "" : ", kept by the app") + ")" +
                (v.errors[0].line > 0 ? " line " + std::to_string(v.errors[0].line) + ", column " +
                                            std::to_string(v.errors[0].column)
                                      : std::string()) +
                ": " + v.errors[0].message;
      failed.push_back(sdk::Value::object({{"name", s.name},
                                           {"kind", s.kind},
                                           {"kept", !in_bundle},
                                           {"errors", diagnostics_json(v.errors)},
                                           {"warnings", diagnostics_json(v.warnings)}}));
    }
    if (in_bundle) out.imports[s.name] = v.imports;
  };
  for (const auto& s : b.scripts) check(s, true);
  for (const auto& s : kept) check(s, false);
  if (!failed.empty()) {
    std::string message = std::to_string(failed.size()) + (failed.size() == 1 ? " script does" : " scripts do") +
                          " not compile; nothing was changed. First: " + first;
    fail(422, "deploy_invalid", message, sdk::Value::object({{"scripts", sdk::Value(std::move(failed))}}));
  }
  return out;
}

// ---- the plan ------------------------------------------------------------------------

struct Change {
  std::string action, type, name;  // create | update | delete; app | script | route | trigger
  std::vector<std::string> fields;  // updates: what differs
};

std::string route_name(const std::string& methods, const std::string& path, const std::string& host) {
  return (methods == "*" ? std::string("*") : methods) + " " + path + (host.empty() ? "" : " on " + host);
}

// Methods sorted: GET,POST and POST,GET are one route.
std::string route_key(const std::string& host, const std::string& shape, const std::string& methods) {
  auto list = split_methods(methods);
  std::sort(list.begin(), list.end());
  std::string sorted;
  for (const auto& m : list) sorted += (sorted.empty() ? "" : ",") + m;
  return host + '\n' + shape + '\n' + sorted;
}

struct Plan {
  std::vector<Change> changes;
  std::vector<std::pair<std::string, std::string>> kept;     // type, name
  std::vector<std::pair<std::string, std::string>> missing;  // required resources the app lacks
  std::int64_t unchanged = 0;
  bool app_changed = false, hostnames_changed = false;
  // What to write, decided while planning:
  std::vector<const ScriptSpec*> scripts_new, scripts_changed;
  std::vector<const CurrentScript*> scripts_gone;
  std::vector<std::pair<const RouteSpec*, const CurrentRoute*>> routes_to_write;  // current null: create
  std::vector<const CurrentRoute*> routes_gone;
  std::vector<std::pair<const TriggerSpec*, const CurrentTrigger*>> triggers_to_write;
  std::vector<const CurrentTrigger*> triggers_gone;  // deleted, or replaced by one of another kind
  std::vector<const ResourceSpec*> resources_to_put;
  std::vector<std::pair<const ResourceKindRegistry::Entry*, std::string>> resources_gone;
};

bool same_json(const sdk::Value& a, const sdk::Value& b) { return sdk::to_json(a) == sdk::to_json(b); }

// Fields of [app] the bundle leaves out keep the app's values.
void keep_unnamed_fields(AppFields& app, const AppFields& had) {
  if (!app.has_name) app.name = had.name;
  if (!app.has_description) app.description = had.description;
  if (!app.has_hostnames) app.hostnames = had.hostnames;
  if (!app.has_cors) app.cors = had.cors;
}

Plan make_plan(const Current* current, const Bundle& b, bool prune,
               const std::map<const ResourceKindRegistry::Entry*, std::map<std::string, sdk::Value>>* new_app_resources) {
  Plan p;
  // The app.
  if (!current) {
    p.changes.push_back({"create", "app", b.app.slug, {}});
    p.app_changed = p.hostnames_changed = true;
  } else {
    if (b.app.slug != current->app.slug)
      fail_field("app.slug", "is '" + b.app.slug + "', but the app deployed to is '" + current->app.slug +
                                 "' (a deploy does not rename an app: PATCH /apps/{app} does)");
    std::vector<std::string> fields;
    if (b.app.name != current->app.name) fields.push_back("name");
    if (b.app.description != current->app.description) fields.push_back("description");
    if (b.app.hostnames != current->app.hostnames) fields.push_back("hostnames");
    if (b.app.cors != current->app.cors) fields.push_back("cors_origins");
    p.hostnames_changed = b.app.hostnames != current->app.hostnames;
    p.app_changed = !fields.empty();
    if (p.app_changed) p.changes.push_back({"update", "app", b.app.slug, fields});
    else ++p.unchanged;
  }

  // Scripts, by name; `final_kind` is every script the app will have.
  std::map<std::string, std::string> final_kind;
  std::set<std::string> named;
  for (const auto& s : b.scripts) {
    named.insert(s.name);
    final_kind[s.name] = s.kind;
    const CurrentScript* had = nullptr;
    if (current)
      if (auto it = current->scripts.find(s.name); it != current->scripts.end()) had = &it->second;
    if (!had) {
      p.scripts_new.push_back(&s);
      p.changes.push_back({"create", s.kind == "module" ? "module" : "script", s.name, {}});
      continue;
    }
    std::vector<std::string> fields;
    if (had->kind != s.kind) fields.push_back("kind");
    if (had->source != s.source) fields.push_back("source");
    if (fields.empty()) {
      ++p.unchanged;
      continue;
    }
    p.scripts_changed.push_back(&s);
    p.changes.push_back({"update", s.kind == "module" ? "module" : "script", s.name, fields});
  }
  if (current)
    for (const auto& [name, s] : current->scripts) {
      if (named.count(name)) continue;
      const std::string type = s.kind == "module" ? "module" : "script";
      if (prune) {
        p.scripts_gone.push_back(&s);
        p.changes.push_back({"delete", type, name, {}});
      } else {
        final_kind[name] = s.kind;
        p.kept.emplace_back(type, name);
      }
    }
  auto must_be_endpoint = [&](const std::string& where, const std::string& script) {
    auto it = final_kind.find(script);
    if (it == final_kind.end())
      fail_field(where, "'" + script + "' is not a script of the deploy" + (prune ? "" : " or of the app"));
    if (it->second != "endpoint") fail_field(where, "'" + script + "' is a module; routes and triggers run endpoint scripts");
  };

  // Routes, by host, path shape and methods.
  std::map<std::string, const CurrentRoute*> routes_had;
  if (current)
    for (const auto& r : current->routes) routes_had[route_key(r.host, r.shape, r.methods)] = &r;
  std::set<std::string> route_keys;
  struct FinalRoute {
    std::string host, shape, methods, label;
    bool from_bundle;
  };
  std::vector<FinalRoute> final_routes;
  for (std::size_t i = 0; i < b.routes.size(); ++i) {
    const RouteSpec& r = b.routes[i];
    must_be_endpoint(item("routes", i) + ".script", r.script);
    if (!r.host.empty() && !std::binary_search(b.app.hostnames.begin(), b.app.hostnames.end(), r.host))
      fail_field(item("routes", i) + ".host", "'" + r.host + "' is not one of the app's hostnames");
    std::string key = route_key(r.host, r.shape, r.methods);
    if (!route_keys.insert(key).second)
      fail_field(item("routes", i), "another route of the deploy has the same host, path and methods");
    final_routes.push_back({r.host, r.shape, r.methods, item("routes", i) + " (" + route_name(r.methods, r.path, r.host) + ")", true});
    auto had = routes_had.find(key);
    if (had == routes_had.end()) {
      p.routes_to_write.emplace_back(&r, nullptr);
      p.changes.push_back({"create", "route", route_name(r.methods, r.path, r.host), {}});
      continue;
    }
    std::vector<std::string> fields;
    if (had->second->script != r.script) fields.push_back("script");
    if (had->second->dispatch != r.dispatch) fields.push_back("dispatch");
    if (had->second->path != r.path) fields.push_back("path");
    if (fields.empty()) ++p.unchanged;
    else {
      p.routes_to_write.emplace_back(&r, had->second);
      p.changes.push_back({"update", "route", route_name(r.methods, r.path, r.host), fields});
    }
  }
  if (current)
    for (const auto& r : current->routes) {
      if (route_keys.count(route_key(r.host, r.shape, r.methods))) continue;
      std::string label = route_name(r.methods, r.path, r.host);
      if (prune) {
        p.routes_gone.push_back(&r);
        p.changes.push_back({"delete", "route", label, {}});
        continue;
      }
      p.kept.emplace_back("route", label);
      final_routes.push_back({r.host, r.shape, r.methods, "route " + r.id + " (" + label + ")", false});
      if (!r.host.empty() && !std::binary_search(b.app.hostnames.begin(), b.app.hostnames.end(), r.host))
        fail(409, "conflict",
             "the app's route " + label + ", which the deploy does not name, uses the hostname '" + r.host +
                 "' that the deploy removes: name the route, keep the hostname, or prune");
      if (final_kind.at(r.script) != "endpoint")
        fail(409, "conflict", "the app's route " + label + ", which the deploy does not name, runs '" + r.script +
                                  "', which the deploy makes a module: name the route or prune");
    }
  // No two routes may match the same requests.
  for (std::size_t i = 0; i < final_routes.size(); ++i)
    for (std::size_t j = i + 1; j < final_routes.size(); ++j) {
      const auto &x = final_routes[i], &y = final_routes[j];
      if (x.host != y.host || x.shape != y.shape || !methods_overlap(x.methods, y.methods)) continue;
      if (x.from_bundle && y.from_bundle) fail_field(x.label.substr(0, x.label.find(' ')), "matches the same requests as " + y.label);
      const auto& ours = x.from_bundle ? x : y;
      const auto& theirs = x.from_bundle ? y : x;
      fail(409, "conflict", ours.label + " matches the same requests as the app's " + theirs.label +
                                ", which the deploy does not name: deploy with prune to remove it");
    }

  // Triggers, by name; an unnamed one of the same kind, script and filter
  // takes the name (an app made before triggers had names).
  std::set<const CurrentTrigger*> matched;
  for (std::size_t i = 0; i < b.triggers.size(); ++i) {
    const TriggerSpec& t = b.triggers[i];
    must_be_endpoint(item("triggers", i) + ".script", t.script);
    const CurrentTrigger* had = nullptr;
    if (current) {
      for (const auto& c : current->triggers)
        if (c.name == t.name) had = &c;
      if (!had)
        for (const auto& c : current->triggers)
          if (c.name.empty() && !matched.count(&c) && c.kind == t.kind && c.script == t.script && same_json(c.filter, t.filter)) {
            had = &c;
            break;
          }
    }
    if (had) matched.insert(had);
    if (had && had->kind != t.kind) {  // another kind is another trigger
      p.triggers_gone.push_back(had);
      p.changes.push_back({"delete", "trigger", t.name + " (" + had->kind + ")", {}});
      had = nullptr;
    }
    if (!had) {
      p.triggers_to_write.emplace_back(&t, nullptr);
      p.changes.push_back({"create", "trigger", t.name, {}});
      continue;
    }
    std::vector<std::string> fields;
    if (had->name != t.name) fields.push_back("name");
    if (had->script != t.script) fields.push_back("script");
    if (!same_json(had->filter, t.filter)) fields.push_back("filter");
    if (!same_json(had->retry, t.retry)) fields.push_back("retry");
    if (had->enabled != t.enabled) fields.push_back("enabled");
    if (fields.empty()) ++p.unchanged;
    else {
      p.triggers_to_write.emplace_back(&t, had);
      p.changes.push_back({"update", "trigger", t.name, fields});
    }
  }
  if (current)
    for (const auto& c : current->triggers) {
      if (matched.count(&c)) continue;
      std::string label = c.name.empty() ? c.kind + " trigger " + c.id + " (unnamed)" : c.name;
      if (prune) {
        p.triggers_gone.push_back(&c);
        p.changes.push_back({"delete", "trigger", label, {}});
        continue;
      }
      p.kept.emplace_back("trigger", label);
      if (final_kind.at(c.script) != "endpoint")
        fail(409, "conflict", "the app's trigger " + label + ", which the deploy does not name, runs '" + c.script +
                                  "', which the deploy makes a module: name the trigger or prune");
    }

  // Plugins' resources, by kind and key.
  if (const auto* have = current ? &current->resources : new_app_resources) {
    std::map<const ResourceKindRegistry::Entry*, std::set<std::string>> named_keys;
    for (const auto& r : b.resources) {
      named_keys[r.kind].insert(r.key);
      static const std::map<std::string, sdk::Value> none;
      const auto& had = have->count(r.kind) ? have->at(r.kind) : none;
      auto it = had.find(r.key);
      if (r.kind->kind.required_only) {
        if (it == had.end()) p.missing.emplace_back(type_of(*r.kind), r.key);
        else ++p.unchanged;
        continue;
      }
      if (it == had.end()) {
        p.resources_to_put.push_back(&r);
        p.changes.push_back({"create", type_of(*r.kind), r.key, {}});
      } else if (!same_json(it->second, r.item)) {
        std::vector<std::string> fields;
        if (it->second.is_object() && r.item.is_object()) {
          std::set<std::string> names;
          for (const auto& [k, _] : it->second.as_object()) names.insert(k);
          for (const auto& [k, _] : r.item.as_object()) names.insert(k);
          for (const auto& k : names)
            if (!same_json(it->second[k], r.item[k])) fields.push_back(k);
        }
        p.resources_to_put.push_back(&r);
        p.changes.push_back({"update", type_of(*r.kind), r.key, fields});
      } else {
        ++p.unchanged;
      }
    }
    for (const auto& [kind, items] : *have) {
      if (kind->kind.required_only) continue;
      for (const auto& [key, _] : items) {
        if (named_keys[kind].count(key)) continue;
        if (prune) {
          p.resources_gone.emplace_back(kind, key);
          p.changes.push_back({"delete", type_of(*kind), key, {}});
        } else {
          p.kept.emplace_back(type_of(*kind), key);
        }
      }
    }
  }
  return p;
}

sdk::Value plan_json(const Plan& p) {
  sdk::Array changes, kept;
  for (const auto& c : p.changes) {
    sdk::Array fields;
    for (const auto& f : c.fields) fields.emplace_back(f);
    changes.push_back(sdk::Value::object({{"action", c.action}, {"type", c.type}, {"name", c.name}, {"fields", std::move(fields)}}));
  }
  for (const auto& [type, name] : p.kept) kept.push_back(sdk::Value::object({{"type", type}, {"name", name}}));
  sdk::Array missing;
  for (const auto& [type, name] : p.missing) missing.push_back(sdk::Value::object({{"type", type}, {"name", name}}));
  return sdk::Value::object(
      {{"changes", std::move(changes)}, {"kept", std::move(kept)}, {"missing", std::move(missing)}, {"unchanged", p.unchanged}});
}

// ---- applying it ---------------------------------------------------------------------

sdk::Value stored_json_or_null(const sdk::Value& v) { return v.is_null() ? sdk::Value() : sdk::Value(sdk::to_json(v)); }

struct Applied {
  sdk::Array setup;                        // [{trigger, setup}]: shown once
  std::vector<std::string> forget_scripts;  // ids whose compiled code is stale
  std::set<std::string> modules_touched;   // names
};

// Writes the plan (the caller has bumped routing, which locks).
sdk::Result<void> apply_plan(AdminContext& ctx, sdk::Transaction& tx, const std::string& app_id, bool new_app,
                             const Bundle& b, const Plan& p, const Current* current, const Compiled& compiled,
                             Applied& out) {
  const std::int64_t now = now_ms();
  auto run = [&](std::string_view sql, const sdk::Params& params) -> sdk::Result<void> {
    auto r = tx.execute(sql, params);
    if (!r) return r.error();
    return {};
  };
  if (new_app) {
    auto ins = tx.execute("INSERT INTO apps (id, slug, name, description, created_at, updated_at, cors_origins) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)",
                          {app_id, b.app.slug, b.app.name, b.app.description, now, now, b.app.cors});
    if (!ins && ins.error().kind == sdk::ErrorKind::conflict)
      return sdk::make_error(sdk::ErrorKind::conflict, "the slug '" + b.app.slug + "' is taken");
    if (!ins) return ins.error();
  } else if (p.app_changed) {
    if (auto r = run("UPDATE apps SET name = ?, description = ?, cors_origins = ?, updated_at = ? WHERE id = ?",
                     {b.app.name, b.app.description, b.app.cors, now, app_id});
        !r)
      return r;
  }
  if (p.hostnames_changed) {
    if (auto r = run("DELETE FROM app_hostnames WHERE app_id = ?", {app_id}); !r) return r;
    if (auto r = insert_hostnames(tx, app_id, b.app.hostnames); !r) return r;
  }
  for (const auto* t : p.triggers_gone) {
    if (auto r = run("DELETE FROM triggers WHERE id = ?", {t->id}); !r) return r;
    const auto* kind = ctx.trigger_kinds ? ctx.trigger_kinds->find(t->kind) : nullptr;
    if (kind && kind->kind.deleted)
      if (auto r = kind->kind.deleted(tx, app_id, t->id); !r) return r;
  }
  for (const auto* r : p.routes_gone)
    if (auto d = run("DELETE FROM routes WHERE id = ?", {r->id}); !d) return d;

  // Scripts: ids by name once written, for routes and triggers.
  std::map<std::string, std::string> script_ids;
  if (current)
    for (const auto& [name, s] : current->scripts) script_ids[name] = s.id;
  bool module_changed = false;
  for (const auto* s : p.scripts_new) {
    std::string id = new_id();
    script_ids[s->name] = id;
    auto ins = tx.execute("INSERT INTO scripts (id, app_id, name, kind, source, version, created_at, updated_at) "
                          "VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                          {id, app_id, s->name, s->kind, s->source, now, now});
    if (!ins) return ins.error();
    if (auto r = save_imports(tx, id, app_id, compiled.imports.at(s->name)); !r) return r;
    if (s->kind == "module") out.modules_touched.insert(s->name), module_changed = true;
  }
  for (const auto* s : p.scripts_changed) {
    const auto& had = current->scripts.at(s->name);
    if (auto r = run("UPDATE scripts SET kind = ?, source = ?, version = version + 1, updated_at = ? WHERE id = ?",
                     {s->kind, s->source, now, had.id});
        !r)
      return r;
    if (auto r = save_imports(tx, had.id, app_id, compiled.imports.at(s->name)); !r) return r;
    out.forget_scripts.push_back(had.id);
    if (s->kind == "module" || had.kind == "module") out.modules_touched.insert(s->name), module_changed = true;
  }
  for (const auto* s : p.scripts_gone) {
    if (auto r = run("DELETE FROM scripts WHERE id = ?", {s->id}); !r) return r;
    script_ids.erase(s->name);
    out.forget_scripts.push_back(s->id);
    if (s->kind == "module") out.modules_touched.insert(s->name), module_changed = true;
  }
  // A module's new code changes what its importers run: they get a new
  // version (those this deploy wrote have one already), so every node
  // compiles them afresh.
  if (module_changed) {
    std::set<std::string> written;
    for (const auto* s : p.scripts_new) written.insert(script_ids.at(s->name));
    for (const auto* s : p.scripts_changed) written.insert(current->scripts.at(s->name).id);
    auto importers = tx.query("SELECT DISTINCT script_id FROM script_imports WHERE app_id = ?", {app_id});
    if (!importers) return importers.error();
    for (const auto& row : importers->rows) {
      const std::string& id = row[0].as_string();
      if (written.count(id)) continue;
      if (auto r = run("UPDATE scripts SET version = version + 1 WHERE id = ?", {id}); !r) return r;
      out.forget_scripts.push_back(id);
    }
  }

  for (const auto& [r, had] : p.routes_to_write) {
    const std::string& script_id = script_ids.at(r->script);
    if (had) {
      if (auto u = run("UPDATE routes SET script_id = ?, path = ?, dispatch = ?, updated_at = ? WHERE id = ?",
                       {script_id, r->path, r->dispatch, now, had->id});
          !u)
        return u;
      continue;
    }
    if (auto i = run("INSERT INTO routes (id, app_id, script_id, host, path, shape, methods, dispatch, created_at, updated_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     {new_id(), app_id, script_id, r->host, r->path, r->shape, r->methods, r->dispatch, now, now});
        !i)
      return i;
  }
  for (const auto& [t, had] : p.triggers_to_write) {
    const std::string& script_id = script_ids.at(t->script);
    if (had) {
      if (auto u = run("UPDATE triggers SET name = ?, script_id = ?, filter = ?, retry = ?, enabled = ?, updated_at = ? "
                       "WHERE id = ?",
                       {t->name, script_id, sdk::to_json(t->filter), stored_json_or_null(t->retry),
                        std::int64_t{t->enabled}, now, had->id});
          !u)
        return u;
      continue;
    }
    std::string id = new_id();
    if (auto i = run("INSERT INTO triggers (id, app_id, kind, script_id, filter, retry, enabled, created_at, updated_at, name) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     {id, app_id, t->kind, script_id, sdk::to_json(t->filter), stored_json_or_null(t->retry),
                      std::int64_t{t->enabled}, now, now, t->name});
        !i)
      return i;
    const auto& kind = ctx.trigger_kinds->find(t->kind)->kind;
    if (!kind.created) continue;
    auto made = kind.created(tx, app_id, id, t->filter);
    if (!made) return made.error();
    if (!made->is_null()) out.setup.push_back(sdk::Value::object({{"trigger", t->name}, {"setup", std::move(*made)}}));
  }
  // Plugins' resources last: they may refer to what the app now has.
  auto named = [](const ResourceKindRegistry::Entry& e, const std::string& key, sdk::Error error) {
    error.message = type_of(e) + " '" + key + "': " + error.message;
    return error;
  };
  // Removals last: dropping an index locks its table until the commit,
  // which then comes at once.
  for (const auto* r : p.resources_to_put)
    if (auto w = r->kind->kind.put(tx, app_id, r->key, r->item); !w) return named(*r->kind, r->key, w.error());
  for (const auto& [kind, key] : p.resources_gone)
    if (auto r = kind->kind.remove(tx, app_id, key); !r) return named(*kind, key, r.error());
  return {};
}

}  // namespace

sdk::Value deploy_bundle(AdminContext& ctx, const std::string& existing_app_id, const sdk::Value& body,
                         const DeployOptions& options) {
  const Bundle bundle = read_bundle(ctx, body);
  const bool new_app = existing_app_id.empty();
  const std::string app_id = new_app ? new_id() : existing_app_id;
  const Compiled compiled = compile_all(ctx, new_app ? std::string() : app_id, bundle, options.prune);

  std::optional<ApiError> refused;
  Bundle resolved;  // the bundle with the app's values where it named none; the plan points into it
  Plan plan;
  Current current;
  Applied applied;
  // Planned inside the transaction that applies it, so that nothing changes
  // between the plan and the writes.
  bool nothing_to_do = false;
  Current required;  // the required-only kinds' items, read first
  OwnStatements own(ctx.db);
  if (!new_app) load_resources(ctx, own, app_id, required, true);
  auto done = ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    try {
      // Routing is bumped first: its row lock (PostgreSQL) or the write
      // lock (SQLite) orders this deploy against every other routing
      // change, so what the plan reads cannot change before the writes.
      if (!options.dry_run)
        if (auto r = bump_routing_version(tx); !r) return r;
      if (!new_app) current = load_current(tx, app_id);
      current.resources.insert(required.resources.begin(), required.resources.end());
      load_resources(ctx, tx, app_id, current, false);  // a new app has none: every item is created
      resolved = bundle;
      if (!new_app) keep_unnamed_fields(resolved.app, current.app);
      plan = make_plan(new_app ? nullptr : &current, resolved, options.prune, new_app ? &current.resources : nullptr);
      nothing_to_do = options.dry_run || plan.changes.empty();
      if (nothing_to_do) return sdk::make_error(sdk::ErrorKind::invalid_argument, "nothing to write");  // rolls back
      return apply_plan(ctx, tx, app_id, new_app, resolved, plan, new_app ? nullptr : &current, compiled, applied);
    } catch (ApiError& e) {
      refused = std::move(e);
      return sdk::make_error(sdk::ErrorKind::invalid_argument, "refused");  // rolls back
    }
  });
  if (refused) throw *refused;
  if (!nothing_to_do) unwrap(std::move(done));

  const bool wrote = !nothing_to_do;
  if (wrote) {
    if (new_app) ctx.cache.invalidate();  // "no such app" may have been remembered
    routing_changed(ctx);
    if (ctx.engine) {
      for (const auto& id : applied.forget_scripts) ctx.engine->forget_script(app_id, id);
      for (const auto& m : applied.modules_touched) ctx.engine->invalidate_module(app_id, m);
    }
  }
  sdk::Value out = plan_json(plan);
  auto& o = out.as_object();
  o["app"] = bundle.app.slug;
  o["app_id"] = new_app && !wrote ? sdk::Value() : sdk::Value(app_id);
  o["new_app"] = new_app;
  o["dry_run"] = options.dry_run;
  o["prune"] = options.prune;
  o["applied"] = wrote;
  o["warnings"] = sdk::Value(compiled.warnings);
  o["setup"] = sdk::Value(std::move(applied.setup));
  return out;
}

sdk::Value export_bundle(AdminContext& ctx, const std::string& app_id) {
  Current c;
  // One transaction: a consistent picture of the app.
  std::optional<ApiError> failed;
  Current required;
  OwnStatements own(ctx.db);
  load_resources(ctx, own, app_id, required, true);
  auto read = ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    try {
      c = load_current(tx, app_id);
      c.resources.insert(required.resources.begin(), required.resources.end());
      load_resources(ctx, tx, app_id, c, false);
    } catch (ApiError& e) {
      failed = std::move(e);
      return sdk::make_error(sdk::ErrorKind::internal, "failed");
    }
    return {};
  });
  if (failed) throw *failed;
  unwrap(std::move(read));

  sdk::Array hostnames, origins, scripts, routes, triggers;
  for (const auto& h : c.app.hostnames) hostnames.emplace_back(h);
  for (auto& o : http::CorsOrigins::listed(c.app.cors)) origins.emplace_back(std::move(o));
  for (const auto& [name, s] : c.scripts)  // a map: by name
    scripts.push_back(sdk::Value::object({{"name", name}, {"kind", s.kind}, {"source", s.source}}));

  std::sort(c.routes.begin(), c.routes.end(), [](const CurrentRoute& a, const CurrentRoute& b) {
    return std::tie(a.path, a.host, a.methods) < std::tie(b.path, b.host, b.methods);
  });
  for (const auto& r : c.routes) {
    sdk::Array methods;
    for (auto& m : split_methods(r.methods)) methods.emplace_back(std::move(m));
    auto route = sdk::Value::object(
        {{"path", r.path}, {"methods", std::move(methods)}, {"script", r.script}, {"dispatch", r.dispatch}});
    if (!r.host.empty()) route.as_object()["host"] = r.host;
    routes.push_back(std::move(route));
  }

  // Unnamed triggers get "<script>_<kind>", numbered when that is taken.
  std::set<std::string> taken;
  for (const auto& t : c.triggers)
    if (!t.name.empty()) taken.insert(t.name);
  for (auto& t : c.triggers) {
    if (!t.name.empty()) continue;
    // A trigger name starts with a letter or digit and has at most 64
    // characters (room left for a number).
    std::string base = t.script + "_" + t.kind;
    base.erase(0, base.find_first_not_of('_'));
    if (base.size() > 56) base.resize(56);
    std::string name = base;
    for (int n = 2; taken.count(name); ++n) name = base + "_" + std::to_string(n);
    taken.insert(name);
    t.name = name;
  }
  std::sort(c.triggers.begin(), c.triggers.end(), [](const CurrentTrigger& a, const CurrentTrigger& b) { return a.name < b.name; });
  for (const auto& t : c.triggers) {
    auto trigger = sdk::Value::object(
        {{"name", t.name}, {"kind", t.kind}, {"script", t.script}, {"filter", t.filter}, {"enabled", t.enabled}});
    if (!t.retry.is_null()) trigger.as_object()["retry"] = t.retry;
    triggers.push_back(std::move(trigger));
  }
  // Each kind's items in key order; kinds without any are left out.
  sdk::Object resources;
  for (const auto& [kind, items] : c.resources) {
    if (items.empty()) continue;
    sdk::Array list;
    for (const auto& [key, item] : items) list.push_back(item);
    auto& plugin = resources[kind->plugin];
    if (!plugin.is_object()) plugin = sdk::Value::object();
    plugin.as_object()[kind->kind.name] = sdk::Value(std::move(list));
  }
  sdk::Value out = sdk::Value::object({{"app", sdk::Value::object({{"slug", c.app.slug},
                                                         {"name", c.app.name},
                                                         {"description", c.app.description},
                                                         {"hostnames", std::move(hostnames)},
                                                         {"cors_origins", std::move(origins)}})},
                             {"scripts", std::move(scripts)},
                             {"routes", std::move(routes)},
                             {"triggers", std::move(triggers)}});
  if (!resources.empty()) out.as_object()["resources"] = sdk::Value(std::move(resources));
  return out;
}

}  // namespace picloud::kernel::admin
