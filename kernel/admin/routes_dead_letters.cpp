// An app's dead letters: runs that failed every attempt, kept with their
// event for replay until someone resolves them.
#include "kernel/admin/handlers.hpp"
#include "kernel/triggers/dead_letters.hpp"
#include "kernel/triggers/delivery_report.hpp"

namespace picloud::kernel::admin {
namespace {

triggers::DeadLetterStore& store(AdminContext& ctx) {
  if (!ctx.dead_letters) fail(503, "unavailable", "dead letters are not available until the server has started");
  return *ctx.dead_letters;
}

std::string principal_name() {
  const auto& p = current_access().principal;
  return p.via_key ? p.user.username + " (key " + p.key_id + ")" : p.user.username;
}

// Storage errors, with the store's own client errors answered as such.
template <typename T>
T checked(sdk::Result<T> r) {
  if (!r && r.error().kind == sdk::ErrorKind::invalid_argument)
    fail(400, "invalid_parameter", r.error().message);
  return unwrap(std::move(r));
}

}  // namespace

void add_dead_letter_routes(AdminContext& ctx, Registrar& r) {
  r.add("GET", "/apps/{app}/dead_letters", "dead_letter.read", [&ctx](const sdk::HttpRequest& req) {
    auto query = query_params(req, {"limit", "cursor", "state", "source", "trigger", "script", "event_field", "event_value"});
    Page page = read_page(query);
    triggers::DeadLetterQuery q;
    q.limit = page.limit;
    q.cursor = page.after;
    if (auto s = query.find("state"); s != query.end()) {
      if (s->second == "unresolved") q.state = triggers::DeadLetterQuery::State::unresolved;
      else if (s->second == "resolved") q.state = triggers::DeadLetterQuery::State::resolved;
      else if (s->second == "all") q.state = triggers::DeadLetterQuery::State::all;
      else fail(400, "invalid_parameter", "state must be unresolved, resolved or all", sdk::Value::object({{"parameter", "state"}}));
    }
    if (auto s = query.find("source"); s != query.end()) q.source = s->second;
    if (auto s = query.find("trigger"); s != query.end()) q.trigger_id = s->second;
    if (query.count("event_field") != query.count("event_value"))
      fail(400, "invalid_parameter", "event_field and event_value go together",
           sdk::Value::object({{"parameter", query.count("event_field") ? "event_value" : "event_field"}}));
    if (auto s = query.find("event_field"); s != query.end()) {
      if (!triggers::payload_field_name(s->second))
        fail(400, "invalid_parameter", "event_field must be a field's name ([a-z_][a-z0-9_]*, at most 64 characters)",
             sdk::Value::object({{"parameter", "event_field"}}));
      q.event_field = s->second;
      q.event_value = query.at("event_value");
    }
    if (auto s = query.find("script"); s != query.end()) {
      // A name or an id.
      auto rows = unwrap(ctx.db.query("SELECT id FROM scripts WHERE app_id = ? AND (id = ? OR name = ?)",
                                      {current_access().app_id, s->second, s->second}));
      q.script_id = rows.empty() ? s->second : rows.rows[0][0].as_string();
    }
    auto found = checked(store(ctx).list(current_access().app_id, q));
    sdk::Array items;
    for (const auto& d : found.items) items.push_back(d.to_json(false));
    return json_response(200, sdk::Value::object({{"items", std::move(items)},
                                                  {"next_cursor", found.next_cursor.empty()
                                                                      ? sdk::Value()
                                                                      : sdk::Value(base64url_encode(found.next_cursor))}}));
  });

  r.add("GET", "/apps/{app}/dead_letters/count", "dead_letter.read", [&ctx](const sdk::HttpRequest&) {
    auto n = unwrap(store(ctx).count_unresolved(current_access().app_id));
    return json_response(200, sdk::Value::object({{"unresolved", n}}));
  });

  r.add("GET", "/apps/{app}/dead_letters/{letter}", "dead_letter.read", [&ctx](const sdk::HttpRequest& req) {
    auto d = unwrap(store(ctx).get(current_access().app_id, req.params.at("letter")));
    return json_response(200, d.to_json(true));
  });

  r.add("POST", "/apps/{app}/dead_letters/{letter}/replay", "dead_letter.write", [&ctx](const sdk::HttpRequest& req) {
    if (!req.body.empty()) {
      auto body = json_body(req);
      Fields(body).finish();
    }
    auto id = unwrap(store(ctx).replay(current_access().app_id, req.params.at("letter"), principal_name()));
    auto res = json_response(202, sdk::Value::object({{"execution_id", id}, {"dead_letter", req.params.at("letter")}}));
    res.headers.emplace_back("X-Execution-Id", id);
    return res;
  });

  r.add("POST", "/apps/{app}/dead_letters/{letter}/resolve", "dead_letter.write", [&ctx](const sdk::HttpRequest& req) {
    std::string reason;
    if (!req.body.empty()) {
      auto body = json_body(req);
      Fields f(body);
      reason = f.string("reason").value_or("");
      f.finish();
      if (reason.size() > 1000) fail_field("reason", "at most 1000 characters");
    }
    auto d = unwrap(store(ctx).resolve(current_access().app_id, req.params.at("letter"), reason, principal_name()));
    return json_response(200, d.to_json(false));
  });
}

}  // namespace picloud::kernel::admin
