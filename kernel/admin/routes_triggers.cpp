// An app's triggers: a script of the app run when an event of a kind (declared
// by a plugin) matches the trigger's filter. Generic over kinds: the kind
// validates the filter; the kernel stores it, with optional retry overrides.
#include <cctype>
#include <optional>

#include "kernel/admin/handlers.hpp"
#include "kernel/admin/resource_rules.hpp"
#include "kernel/triggers/retry_policy.hpp"
#include "kernel/triggers/trigger_kinds.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::admin {
namespace {

struct TriggerRow {
  std::string id, app_id, kind, script_id, script_name;
  std::string name;  // empty: unnamed
  sdk::Value filter, retry;
  bool enabled = true;
  std::int64_t created_at = 0, updated_at = 0;
};

const char* kTriggerSelect =
    "SELECT t.id, t.app_id, t.kind, t.script_id, s.name, t.filter, t.retry, t.enabled, t.created_at, t.updated_at, "
    "t.name "
    "FROM triggers t JOIN scripts s ON s.id = t.script_id";

TriggerRow trigger_from(const std::vector<sdk::Value>& row) {
  TriggerRow t;
  t.id = row[0].as_string();
  t.app_id = row[1].as_string();
  t.kind = row[2].as_string();
  t.script_id = row[3].as_string();
  t.script_name = row[4].as_string();
  t.filter = parse_stored_json(row[5].as_string());
  if (!row[6].is_null()) t.retry = parse_stored_json(row[6].as_string());
  t.enabled = row[7].as_int() != 0;
  t.created_at = row[8].as_int();
  t.updated_at = row[9].as_int();
  if (row[10].is_string()) t.name = row[10].as_string();
  return t;
}

sdk::Value trigger_json(const TriggerRow& t) {
  return sdk::Value::object({{"id", t.id},
                             {"name", t.name.empty() ? sdk::Value() : sdk::Value(t.name)},
                             {"app_id", t.app_id},
                             {"kind", t.kind},
                             {"script_id", t.script_id},
                             {"script", t.script_name},
                             {"filter", t.filter},
                             {"retry", t.retry},
                             {"enabled", t.enabled},
                             {"created_at", format_time(t.created_at)},
                             {"updated_at", format_time(t.updated_at)}});
}

// A trigger is addressed under its kind: /triggers/{kind}/{trigger}.
TriggerRow find_trigger(AdminContext& ctx, const std::string& app_id, const std::string& kind, const std::string& id) {
  auto rows = unwrap(ctx.db.query(std::string(kTriggerSelect) + " WHERE t.app_id = ? AND t.kind = ? AND t.id = ?",
                                  {app_id, kind, id}));
  if (rows.empty()) not_found("trigger", id);
  return trigger_from(rows.rows[0]);
}

}  // namespace

void check_trigger_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (!ok)
    fail_field("name", "use 1 to 64 letters, digits, '_', '-' and '.', starting with a letter or digit");
}

const triggers::RegisteredKind& find_kind(AdminContext& ctx, const std::string& name) {
  const auto* kind = ctx.trigger_kinds ? ctx.trigger_kinds->find(name) : nullptr;
  if (!kind) {
    std::string known;
    if (ctx.trigger_kinds)
      for (const auto& n : ctx.trigger_kinds->names()) known += (known.empty() ? "" : ", ") + n;
    fail(404, "not_found", "no trigger kind '" + name + "' (" + (known.empty() ? "no plugin declares one" : "kinds: " + known) + ")",
         sdk::Value::object({{"kind", name}}));
  }
  return *kind;
}

namespace {

// Reads the writable fields into `t`; on create, script is required.
void read_fields(AdminContext& ctx, Fields& f, TriggerRow& t, bool create) {
  auto script = f.string("script", create);
  bool name_given = f.has("name");
  auto name = f.string("name");
  bool filter_given = f.has("filter");
  sdk::Value filter = f.json("filter");
  bool retry_given = f.has("retry");
  sdk::Value retry = f.json("retry");
  auto enabled = f.boolean("enabled");
  f.finish();
  if (script) std::tie(t.script_id, t.script_name) = resolve_endpoint_script(ctx, t.app_id, *script);
  if (name_given) {
    t.name = name.value_or("");
    if (name) check_trigger_name(*name);
  }
  if (create || filter_given) {
    const auto& kind = find_kind(ctx, t.kind);
    auto checked = kind.kind.validate_filter(filter);
    if (!checked) fail_field("filter", checked.error().message);
    t.filter = std::move(*checked);
  }
  if (retry_given) {
    if (auto r = triggers::RetryPolicy::with_overrides(ctx.settings.retry, retry); !r)
      fail_field("retry", r.error().message);
    t.retry = retry;  // the overrides as given; the defaults may change later
  }
  if (enabled) t.enabled = *enabled;
}

// The retry column: the overrides as JSON text, or NULL for none.
sdk::Value stored_retry(const TriggerRow& t) { return t.retry.is_null() ? sdk::Value() : sdk::Value(sdk::to_json(t.retry)); }
sdk::Value stored_name(const TriggerRow& t) { return t.name.empty() ? sdk::Value() : sdk::Value(t.name); }

sdk::Result<void> name_conflict(const sdk::Error& e, const TriggerRow& t) {
  if (e.kind == sdk::ErrorKind::conflict && !t.name.empty())
    return sdk::make_error(sdk::ErrorKind::conflict, "this app already has a trigger named '" + t.name + "'");
  return e;
}

}  // namespace

void add_trigger_routes(AdminContext& ctx, Registrar& r) {
  r.add("POST", "/apps/{app}/triggers/{kind}", "trigger.write", [&ctx](const sdk::HttpRequest& req) {
    auto body = json_body(req);
    Fields f(body);
    TriggerRow t;
    t.id = new_id();
    t.app_id = current_access().app_id;
    t.kind = find_kind(ctx, req.params.at("kind")).kind.name;
    read_fields(ctx, f, t, true);
    t.created_at = t.updated_at = now_ms();
    const auto& kind = find_kind(ctx, t.kind);
    sdk::Value setup;
    unwrap(ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      auto inserted = tx.execute(
          "INSERT INTO triggers (id, app_id, kind, script_id, filter, retry, enabled, created_at, updated_at, name) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {t.id, t.app_id, t.kind, t.script_id, sdk::to_json(t.filter), stored_retry(t), std::int64_t{t.enabled},
           t.created_at, t.updated_at, stored_name(t)});
      if (!inserted) return name_conflict(inserted.error(), t);
      if (!kind.kind.created) return {};
      // The kind sets up what the trigger needs in the same transaction.
      auto made = kind.kind.created(tx, t.app_id, t.id, t.filter);
      if (!made) return made.error();
      setup = std::move(*made);
      return {};
    }));
    sdk::Value created = trigger_json(t);
    // Shown once: a secret in it is not kept anywhere it could be read back.
    if (!setup.is_null()) created.as_object().emplace("setup", std::move(setup));
    return json_response(201, created);
  });

  // All of the app's triggers (?kind= narrows), or those of one kind.
  auto list = [&ctx](const sdk::HttpRequest& req) {
    auto query = query_params(req, {"limit", "cursor", "kind", "script"});
    auto page = read_page(query);
    std::string sql = std::string(kTriggerSelect) + " WHERE t.app_id = ? AND t.id > ?";
    sdk::Params params{current_access().app_id, page.after};
    auto kind = req.params.count("kind") ? std::optional<std::string>(req.params.at("kind")) : std::nullopt;
    if (auto k = query.find("kind"); !kind && k != query.end()) kind = k->second;
    if (kind) {
      sql += " AND t.kind = ?";
      params.push_back(*kind);
    }
    if (auto s = query.find("script"); s != query.end()) {
      sql += " AND (s.id = ? OR s.name = ?)";
      params.push_back(s->second);
      params.push_back(s->second);
    }
    sql += " ORDER BY t.id LIMIT ?";
    params.emplace_back(std::int64_t{page.limit});
    auto rows = unwrap(ctx.db.query(sql, params));
    sdk::Array items;
    for (const auto& row : rows.rows) items.push_back(trigger_json(trigger_from(row)));
    return page_response(std::move(items), page, rows.size() == 0 ? std::string() : rows.rows.back()[0].as_string());
  };
  r.add("GET", "/apps/{app}/triggers", "trigger.read", list);
  r.add("GET", "/apps/{app}/triggers/{kind}", "trigger.read", [&ctx, list](const sdk::HttpRequest& req) {
    find_kind(ctx, req.params.at("kind"));
    return list(req);
  });

  r.add("GET", "/apps/{app}/triggers/{kind}/{trigger}", "trigger.read", [&ctx](const sdk::HttpRequest& req) {
    return json_response(
        200, trigger_json(find_trigger(ctx, current_access().app_id, req.params.at("kind"), req.params.at("trigger"))));
  });

  r.add("PATCH", "/apps/{app}/triggers/{kind}/{trigger}", "trigger.write", [&ctx](const sdk::HttpRequest& req) {
    TriggerRow t = find_trigger(ctx, current_access().app_id, req.params.at("kind"), req.params.at("trigger"));
    auto body = json_body(req);
    Fields f(body);
    read_fields(ctx, f, t, false);
    t.updated_at = now_ms();
    auto updated = ctx.db.execute(
        "UPDATE triggers SET script_id = ?, filter = ?, retry = ?, enabled = ?, updated_at = ?, name = ? WHERE id = ?",
        {t.script_id, sdk::to_json(t.filter), stored_retry(t), std::int64_t{t.enabled}, t.updated_at, stored_name(t), t.id});
    if (!updated) unwrap(name_conflict(updated.error(), t));
    return json_response(200, trigger_json(t));
  });

  r.add("DELETE", "/apps/{app}/triggers/{kind}/{trigger}", "trigger.write", [&ctx](const sdk::HttpRequest& req) {
    const std::string& app = current_access().app_id;
    const std::string& trigger = req.params.at("trigger");
    const auto* kind = ctx.trigger_kinds ? ctx.trigger_kinds->find(req.params.at("kind")) : nullptr;
    std::int64_t n = 0;
    unwrap(ctx.db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      auto deleted = tx.execute("DELETE FROM triggers WHERE app_id = ? AND kind = ? AND id = ?",
                                {app, req.params.at("kind"), trigger});
      if (!deleted) return deleted.error();
      n = *deleted;
      // The kind drops what it set up for the trigger, or nothing is deleted.
      if (n == 0 || !kind || !kind->kind.deleted) return {};
      return kind->kind.deleted(tx, app, trigger);
    }));
    if (n == 0) not_found("trigger", trigger);
    return no_content();
  });
}

}  // namespace picloud::kernel::admin
