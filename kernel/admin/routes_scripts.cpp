// An app's scripts. Every save compiles the source first (422 with line,
// column and message when it does not compile) and bumps the version.
#include <set>

#include "kernel/admin/handlers.hpp"
#include "kernel/admin/resource_rules.hpp"
#include "kernel/admin/script_source.hpp"
#include "scripting/declarations.hpp"

namespace picloud::kernel::admin {
namespace {

struct Script {
  std::string id, app_id, name, kind, source;
  std::int64_t version = 0, created_at = 0, updated_at = 0;
};

const char* kScriptColumns = "id, app_id, name, kind, source, version, created_at, updated_at";

Script script_from(const std::vector<sdk::Value>& row) {
  return Script{row[0].as_string(), row[1].as_string(), row[2].as_string(), row[3].as_string(),
                row[4].as_string(), row[5].as_int(),    row[6].as_int(),    row[7].as_int()};
}

std::vector<std::string> imports_of(AdminContext& ctx, const std::string& script_id) {
  auto rows = unwrap(ctx.db.query("SELECT module FROM script_imports WHERE script_id = ? ORDER BY module", {script_id}));
  std::vector<std::string> out;
  for (const auto& row : rows.rows) out.push_back(row[0].as_string());
  return out;
}

sdk::Value script_json(const Script& s, const std::vector<std::string>& imports, bool with_source) {
  sdk::Array list;
  for (const auto& i : imports) list.emplace_back(i);
  sdk::Value out = sdk::Value::object({{"id", s.id},
                                       {"app_id", s.app_id},
                                       {"name", s.name},
                                       {"kind", s.kind},
                                       {"version", s.version},
                                       {"imports", std::move(list)},
                                       {"created_at", format_time(s.created_at)},
                                       {"updated_at", format_time(s.updated_at)}});
  if (with_source) out.as_object()["source"] = s.source;
  return out;
}

}  // namespace

sdk::Value diagnostics_json(const std::vector<scripting::Diagnostic>& list) {
  sdk::Array out;
  for (const auto& d : list) {
    auto item = sdk::Value::object({{"section", d.section}, {"line", d.line}, {"column", d.column}, {"message", d.message}});
    if (!d.candidates.empty()) {
      sdk::Array candidates;
      for (const auto& c : d.candidates)
        candidates.push_back(sdk::Value::object({{"declaration", c.declaration}, {"doc", c.doc}}));
      item.as_object()["candidates"] = sdk::Value(std::move(candidates));
      if (d.more_candidates > 0) item.as_object()["more_candidates"] = sdk::Value(static_cast<std::int64_t>(d.more_candidates));
    }
    out.push_back(std::move(item));
  }
  return out;
}

namespace {

Script find_script(AdminContext& ctx, const std::string& app_id, const std::string& ref) {
  auto rows = unwrap(ctx.db.query(std::string("SELECT ") + kScriptColumns +
                                      " FROM scripts WHERE app_id = ? AND (id = ? OR name = ?)",
                                  {app_id, ref, ref}));
  if (rows.empty()) not_found("script", ref);
  return script_from(rows.rows[0]);
}

}  // namespace

scripting::Engine& engine(AdminContext& ctx) {
  if (!ctx.engine) fail(503, "unavailable", "the script engine is not ready yet");
  return *ctx.engine;
}

void check_script_name(AdminContext& ctx, const std::string& name) {
  if (name.size() > 64 || !scripting::is_identifier(name))
    fail_field("name", "use a letter or '_' then letters, digits and '_' (at most 64): modules are imported by name");
  if (engine(ctx).reserved_name(name)) fail_field("name", "'" + name + "' is reserved (a library or plugin namespace)");
}

scripting::ScriptKind parse_kind(const std::string& kind) {
  if (kind == "endpoint") return scripting::ScriptKind::endpoint;
  if (kind == "module") return scripting::ScriptKind::module;
  fail_field("kind", "must be endpoint or module");
}

namespace {

// Compiles `source` as `name` of `kind`; 422 with the diagnostics when it
// does not compile.
scripting::Validation validate_or_fail(AdminContext& ctx, const std::string& app_id, const std::string& name,
                                       const std::string& kind, const std::string& source) {
  if (source.size() > kMaxSourceBytes)
    fail_field("source", "is larger than " + std::to_string(kMaxSourceBytes) + " bytes");
  DatabaseScriptSource scripts(ctx.db);
  if (kind == "module") scripts.overlay(name, source);
  auto v = engine(ctx).validate(app_id, parse_kind(kind), source, scripts);
  if (!v.ok()) {
    std::string first = v.errors[0].message;
    if (v.errors[0].line > 0)
      first = "line " + std::to_string(v.errors[0].line) + ", column " + std::to_string(v.errors[0].column) + ": " + first;
    fail(422, "script_invalid", "the script does not compile: " + first,
         sdk::Value::object({{"errors", diagnostics_json(v.errors)}, {"warnings", diagnostics_json(v.warnings)}}));
  }
  return v;
}

// Scripts importing `module` (directly or through other modules).
std::vector<Script> dependents_of(AdminContext& ctx, const std::string& app_id, const std::string& module) {
  std::vector<Script> out;
  std::set<std::string> seen_modules{module}, seen_scripts;
  std::vector<std::string> todo{module};
  while (!todo.empty()) {
    std::string m = todo.back();
    todo.pop_back();
    auto rows = unwrap(ctx.db.query(std::string("SELECT s.id, s.app_id, s.name, s.kind, s.source, s.version, s.created_at, "
                                                "s.updated_at FROM scripts s JOIN script_imports i ON i.script_id = s.id "
                                                "WHERE i.app_id = ? AND i.module = ? ORDER BY s.id"),
                                    {app_id, m}));
    for (const auto& row : rows.rows) {
      Script s = script_from(row);
      if (!seen_scripts.insert(s.id).second) continue;
      if (s.kind == "module" && seen_modules.insert(s.name).second) todo.push_back(s.name);
      out.push_back(std::move(s));
    }
  }
  return out;
}

// After a module changes: which scripts that import it no longer compile.
// Reported, not refused — a change often lands in steps.
sdk::Value broken_dependents(AdminContext& ctx, const std::string& app_id, const std::string& module,
                             const std::string& source) {
  sdk::Array out;
  for (const auto& dep : dependents_of(ctx, app_id, module)) {
    DatabaseScriptSource scripts(ctx.db);
    scripts.overlay(module, source);
    auto v = engine(ctx).validate(app_id, parse_kind(dep.kind), dep.source, scripts);
    if (!v.ok())
      out.push_back(sdk::Value::object({{"id", dep.id}, {"name", dep.name}, {"errors", diagnostics_json(v.errors)}}));
  }
  return out;
}

}  // namespace

sdk::Result<void> save_imports(sdk::Transaction& tx, const std::string& script_id, const std::string& app_id,
                               const std::vector<std::string>& imports) {
  auto d = tx.execute("DELETE FROM script_imports WHERE script_id = ?", {script_id});
  if (!d) return d.error();
  std::set<std::string> unique(imports.begin(), imports.end());
  for (const auto& m : unique) {
    auto r = tx.execute("INSERT INTO script_imports (script_id, app_id, module) VALUES (?, ?, ?)", {script_id, app_id, m});
    if (!r) return r.error();
  }
  return {};
}

namespace {

std::string names_of(const std::vector<Script>& scripts) {
  std::string out;
  for (std::size_t i = 0; i < scripts.size() && i < 5; ++i) out += (i ? ", " : "") + scripts[i].name;
  if (scripts.size() > 5) out += " and " + std::to_string(scripts.size() - 5) + " more";
  return out;
}

// What runs the script: its routes and triggers, e.g. "2 routes and 1 trigger";
// empty when nothing does.
std::string users_of(AdminContext& ctx, const std::string& script_id) {
  auto rows = unwrap(ctx.db.query("SELECT (SELECT count(*) FROM routes WHERE script_id = ?), "
                                  "(SELECT count(*) FROM triggers WHERE script_id = ?)",
                                  {script_id, script_id}));
  std::int64_t routes = rows.rows[0][0].as_int(), triggers = rows.rows[0][1].as_int();
  auto part = [](std::int64_t n, const char* what) {
    return n == 0 ? std::string() : std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  std::string r = part(routes, "route"), t = part(triggers, "trigger");
  return r.empty() ? t : t.empty() ? r : r + " and " + t;
}

}  // namespace

std::pair<std::string, std::string> resolve_endpoint_script(AdminContext& ctx, const std::string& app_id,
                                                            const std::string& ref) {
  auto rows = unwrap(
      ctx.db.query("SELECT id, name, kind FROM scripts WHERE app_id = ? AND (id = ? OR name = ?)", {app_id, ref, ref}));
  if (rows.empty())
    fail(404, "not_found", "script '" + ref + "' not found in this app", sdk::Value::object({{"field", "script"}}));
  if (rows.rows[0][2].as_string() != "endpoint")
    fail_field("script", "'" + ref + "' is a module; routes and triggers run endpoint scripts");
  return {rows.rows[0][0].as_string(), rows.rows[0][1].as_string()};
}

void add_script_routes(AdminContext& ctx, Registrar& r) {
  // The script API reference (for editors and completions): the same on
  // every app, so any signed-in user may read it.
  r.add("GET", "/script-api", "script_api.read", [&ctx](const sdk::HttpRequest& req) {
    auto query = query_params(req, {"namespace"});
    std::optional<std::string> only;
    if (auto n = query.find("namespace"); n != query.end()) only = n->second;
    sdk::Value reference = engine(ctx).api_reference(only);
    if (only && reference["namespaces"].size() == 0) not_found("script namespace", *only);
    return json_response(200, reference);
  });

  r.add("GET", "/apps/{app}/scripts", "script.read", [&ctx](const sdk::HttpRequest& req) {
    auto query = query_params(req, {"limit", "cursor", "kind"});
    auto page = read_page(query);
    std::string sql = std::string("SELECT ") + kScriptColumns + " FROM scripts WHERE app_id = ? AND id > ?";
    sdk::Params params{current_access().app_id, page.after};
    if (auto k = query.find("kind"); k != query.end()) {
      if (k->second != "endpoint" && k->second != "module")
        fail(400, "invalid_parameter", "kind must be endpoint or module", sdk::Value::object({{"parameter", "kind"}}));
      sql += " AND kind = ?";
      params.push_back(k->second);
    }
    sql += " ORDER BY id LIMIT ?";
    params.emplace_back(std::int64_t{page.limit});
    auto rows = unwrap(ctx.db.query(sql, params));
    sdk::Array items;
    for (const auto& row : rows.rows) {
      Script s = script_from(row);
      items.push_back(script_json(s, imports_of(ctx, s.id), false));
    }
    return page_response(std::move(items), page, rows.size() == 0 ? std::string() : rows.rows.back()[0].as_string());
  });

  r.add("POST", "/apps/{app}/scripts", "script.write", [&ctx](const sdk::HttpRequest& req) {
    const std::string& app_id = current_access().app_id;
    auto body = json_body(req);
    Fields f(body);
    std::string name = *f.string("name", true);
    std::string kind = f.string("kind").value_or("endpoint");
    std::string source = *f.string("source", true);
    f.finish();
    check_script_name(ctx, name);
    parse_kind(kind);
    auto v = validate_or_fail(ctx, app_id, name, kind, source);
    Script s{new_id(), app_id, name, kind, source, 1, now_ms(), 0};
    s.updated_at = s.created_at;
    unwrap(ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      auto ins = tx.execute(std::string("INSERT INTO scripts (") + kScriptColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            {s.id, s.app_id, s.name, s.kind, s.source, s.version, s.created_at, s.updated_at});
      if (!ins && ins.error().kind == sdk::ErrorKind::conflict)
        return sdk::make_error(sdk::ErrorKind::conflict, "this app already has a script named '" + name + "'");
      if (!ins) return ins.error();
      return save_imports(tx, s.id, app_id, v.imports);
    }));
    // A new module may make scripts that import it compile again.
    if (kind == "module") engine(ctx).invalidate_module(app_id, name);
    sdk::Value out = script_json(s, imports_of(ctx, s.id), true);
    out.as_object()["warnings"] = diagnostics_json(v.warnings);
    return json_response(201, out);
  });

  // Runs the script's handle() as the signed-in user with a request made of
  // the body's fields (all optional); the answer is the run's record and
  // what the script responded.
  r.add("POST", "/apps/{app}/scripts/{script}/run", "script.run", [&ctx](const sdk::HttpRequest& req) {
    const auto& access = current_access();
    Script s = find_script(ctx, access.app_id, req.params.at("script"));
    if (s.kind == "module") fail_field("script", "'" + s.name + "' is a module; only endpoint scripts run");
    if (!ctx.script_runner) fail(503, "unavailable", "this node does not run scripts");
    ManualRun run{{s.app_id, s.id, s.version}, access.principal.user.id, {}};
    run.request.method = "GET";
    run.request.path = "/";
    if (!req.body.empty()) {
      auto body = json_body(req);
      Fields f(body);
      run.request.method = f.string("method").value_or("GET");
      run.request.path = f.string("path").value_or("/");
      run.request.query = f.string("query").value_or("");
      run.request.body = f.string("body").value_or("");
      sdk::Value headers = f.json("headers");
      f.finish();
      if (run.request.method.empty() || run.request.method.size() > 16 ||
          run.request.method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos)
        fail_field("method", "must be an upper-case HTTP method");
      if (run.request.path.empty() || run.request.path[0] != '/') fail_field("path", "must start with '/'");
      if (!headers.is_null()) {
        if (!headers.is_object()) fail_field("headers", "must be an object of header names to strings");
        for (const auto& [name, value] : headers.as_object()) {
          if (!value.is_string()) fail_field("headers", "the value of '" + name + "' must be a string");
          run.request.headers.emplace_back(to_lower(name), value.as_string());
        }
      }
    }
    run.request.request_id = req.request_id;
    run.request.remote_address = req.remote_address;
    run.request.principal = run.principal;
    ManualRunResult done = ctx.script_runner(run);
    if (!done.admitted) fail(503, "overloaded", "too many script runs at once; try again shortly");
    const ExecutionRecord& rec = done.record;
    sdk::Value error;
    if (!rec.ok) error = sdk::Value::object({{"code", rec.error_kind}, {"message", rec.error_message}});
    sdk::Value response;
    if (rec.ok) {
      sdk::Array headers;
      for (const auto& [k, v] : done.response.headers) headers.push_back(sdk::Value::array({k, v}));
      response = sdk::Value::object({{"status", std::int64_t{done.response.status}},
                                     {"headers", std::move(headers)},
                                     {"body", done.response.body}});
    }
    return json_response(200, sdk::Value::object({{"execution_id", rec.id},
                                                  {"ok", rec.ok},
                                                  {"status", std::int64_t{rec.http_status}},
                                                  {"error", error},
                                                  {"response", response},
                                                  {"logs", rec.logs},
                                                  {"duration_ms", static_cast<double>(rec.duration_us) / 1000.0},
                                                  {"operations", rec.operations}}));
  });

  r.add("GET", "/apps/{app}/scripts/{script}", "script.read", [&ctx](const sdk::HttpRequest& req) {
    Script s = find_script(ctx, current_access().app_id, req.params.at("script"));
    return json_response(200, script_json(s, imports_of(ctx, s.id), true));
  });

  r.add("PATCH", "/apps/{app}/scripts/{script}", "script.write", [&ctx](const sdk::HttpRequest& req) {
    const std::string& app_id = current_access().app_id;
    engine(ctx);  // 503 before anything is written when the engine is not up
    Script old = find_script(ctx, app_id, req.params.at("script"));
    auto body = json_body(req);
    Fields f(body);
    auto name = f.string("name");
    auto kind = f.string("kind");
    auto source = f.string("source");
    f.finish();
    if (!name && !kind && !source) fail(400, "bad_request", "nothing to change: give name, kind or source");
    Script s = old;
    if (name) {
      check_script_name(ctx, *name);
      s.name = *name;
    }
    if (kind) {
      parse_kind(*kind);
      s.kind = *kind;
    }
    if (source) s.source = *source;
    if (old.kind == "module" && (s.kind != "module" || s.name != old.name)) {
      auto deps = dependents_of(ctx, app_id, old.name);
      if (!deps.empty())
        fail(409, "conflict", "module '" + old.name + "' is imported by " + names_of(deps) +
                                  "; it cannot be renamed or made an endpoint while they use it");
    }
    if (old.kind == "endpoint" && s.kind == "module")
      if (auto users = users_of(ctx, old.id); !users.empty())
        fail(409, "conflict", "script '" + old.name + "' is run by " + users + "; a module cannot be run");
    auto v = validate_or_fail(ctx, app_id, s.name, s.kind, s.source);
    // A module's new code changes what its importers run: they get a new
    // version too, so every node compiles them afresh (compiled scripts are
    // cached by id and version).
    std::vector<Script> importers;
    if (old.kind == "module" && s.source != old.source) importers = dependents_of(ctx, app_id, old.name);
    unwrap(ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      auto u = tx.execute(
          "UPDATE scripts SET name = ?, kind = ?, source = ?, version = version + 1, updated_at = ? WHERE id = ?",
          {s.name, s.kind, s.source, now_ms(), s.id});
      if (!u && u.error().kind == sdk::ErrorKind::conflict)
        return sdk::make_error(sdk::ErrorKind::conflict, "this app already has a script named '" + s.name + "'");
      if (!u) return u.error();
      for (const auto& dep : importers)
        if (auto d = tx.execute("UPDATE scripts SET version = version + 1 WHERE id = ?", {dep.id}); !d) return d.error();
      if (auto i = save_imports(tx, s.id, app_id, v.imports); !i) return i;
      return bump_routing_version(tx);
    }));
    routing_changed(ctx);  // routes run the new version
    auto& eng = engine(ctx);
    eng.forget_script(app_id, s.id);
    if (old.kind == "module") eng.invalidate_module(app_id, old.name);
    if (s.kind == "module") eng.invalidate_module(app_id, s.name);
    Script saved = find_script(ctx, app_id, s.id);
    sdk::Value out = script_json(saved, imports_of(ctx, saved.id), true);
    out.as_object()["warnings"] = diagnostics_json(v.warnings);
    if (saved.kind == "module") out.as_object()["broken_dependents"] = broken_dependents(ctx, app_id, saved.name, saved.source);
    return json_response(200, out);
  });

  r.add("DELETE", "/apps/{app}/scripts/{script}", "script.write", [&ctx](const sdk::HttpRequest& req) {
    const std::string& app_id = current_access().app_id;
    engine(ctx);
    Script s = find_script(ctx, app_id, req.params.at("script"));
    if (s.kind == "module") {
      auto deps = dependents_of(ctx, app_id, s.name);
      if (!deps.empty())
        fail(409, "conflict", "module '" + s.name + "' is imported by " + names_of(deps) + "; remove those imports first");
    }
    if (auto users = users_of(ctx, s.id); !users.empty())
      fail(409, "conflict", "script '" + s.name + "' is run by " + users + "; delete or rebind them first");
    unwrap(ctx.db.execute("DELETE FROM scripts WHERE id = ?", {s.id}));
    auto& eng = engine(ctx);
    eng.forget_script(app_id, s.id);
    if (s.kind == "module") eng.invalidate_module(app_id, s.name);
    return no_content();
  });
}

}  // namespace picloud::kernel::admin
