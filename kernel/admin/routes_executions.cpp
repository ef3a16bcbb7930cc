// Execution logs of an app: newest first, filtered by script, route and status.
#include "kernel/admin/handlers.hpp"

#include <charconv>

namespace picloud::kernel::admin {
namespace {

const char* kExecutionColumns =
    "id, app_id, script_id, script_version, route_id, trigger_id, source, status, http_status, error_kind, "
    "error_message, duration_us, operations, peak_memory_bytes, dropped_logs, started_at, logs, request_id";

sdk::Value execution_json(const std::vector<sdk::Value>& row, bool with_logs) {
  sdk::Value out = sdk::Value::object({{"id", row[0]},
                                       {"app_id", row[1]},
                                       {"script_id", row[2]},
                                       {"script_version", row[3]},
                                       {"route_id", row[4]},
                                       {"trigger_id", row[5]},
                                       {"source", row[6]},
                                       {"status", row[7]},
                                       {"http_status", row[8]},
                                       {"error_kind", row[9]},
                                       {"error_message", row[10]},
                                       {"duration_ms", static_cast<double>(row[11].as_int()) / 1000.0},
                                       {"operations", row[12]},
                                       {"peak_memory_bytes", row[13]},
                                       {"dropped_logs", row[14]},
                                       {"started_at", format_time(row[15].as_int())},
                                       {"request_id", row[17]}});
  if (with_logs) out.as_object()["logs"] = parse_stored_json(row[16].as_string());
  return out;
}

sdk::HttpResponse list(AdminContext& ctx, const sdk::HttpRequest& req, const std::string& script_id) {
  auto query = query_params(req, script_id.empty() ? std::set<std::string, std::less<>>{"limit", "cursor", "script", "route", "status"}
                                                   : std::set<std::string, std::less<>>{"limit", "cursor", "route", "status"});
  auto page = read_page(query);
  std::string sql = std::string("SELECT ") + kExecutionColumns + " FROM executions WHERE app_id = ?";
  sdk::Params params{current_access().app_id};
  std::string script = script_id;
  if (auto s = query.find("script"); s != query.end()) {
    // By id or by name; a deleted script's id still finds its logs.
    auto rows = unwrap(ctx.db.query("SELECT id FROM scripts WHERE app_id = ? AND (id = ? OR name = ?)",
                                    {current_access().app_id, s->second, s->second}));
    script = rows.empty() ? s->second : rows.rows[0][0].as_string();
  }
  if (!script.empty()) {
    sql += " AND script_id = ?";
    params.push_back(script);
  }
  if (auto r = query.find("route"); r != query.end()) {
    sql += " AND route_id = ?";
    params.push_back(r->second);
  }
  if (auto s = query.find("status"); s != query.end()) {
    if (s->second != "ok" && s->second != "error")
      fail(400, "invalid_parameter", "status must be ok or error", sdk::Value::object({{"parameter", "status"}}));
    sql += " AND status = ?";
    params.push_back(s->second);
  }
  if (!page.after.empty()) {
    // The cursor is "<started_at>:<id>" of the last row of the previous page.
    auto colon = page.after.find(':');
    std::int64_t started = 0;
    bool ok = colon != std::string::npos && colon > 0;
    if (ok) {
      auto [end, ec] = std::from_chars(page.after.data(), page.after.data() + colon, started);
      ok = ec == std::errc() && end == page.after.data() + colon;
    }
    if (!ok) fail(400, "invalid_parameter", "cursor is not one this API returned", sdk::Value::object({{"parameter", "cursor"}}));
    sql += " AND (started_at < ? OR (started_at = ? AND id < ?))";
    params.push_back(started);
    params.push_back(started);
    params.push_back(page.after.substr(colon + 1));
  }
  sql += " ORDER BY started_at DESC, id DESC LIMIT ?";
  params.emplace_back(std::int64_t{page.limit});
  auto rows = unwrap(ctx.db.query(sql, params));
  sdk::Array items;
  for (const auto& row : rows.rows) items.push_back(execution_json(row, false));
  std::string last;
  if (!rows.empty()) last = std::to_string(rows.rows.back()[15].as_int()) + ":" + rows.rows.back()[0].as_string();
  return page_response(std::move(items), page, last);
}

}  // namespace

void add_execution_routes(AdminContext& ctx, Registrar& r) {
  r.add("GET", "/apps/{app}/executions", "execution.read",
        [&ctx](const sdk::HttpRequest& req) { return list(ctx, req, ""); });

  r.add("GET", "/apps/{app}/scripts/{script}/executions", "execution.read", [&ctx](const sdk::HttpRequest& req) {
    const auto& ref = req.params.at("script");
    auto rows = unwrap(ctx.db.query("SELECT id FROM scripts WHERE app_id = ? AND (id = ? OR name = ?)",
                                    {current_access().app_id, ref, ref}));
    // A deleted script's logs stay reachable by its id until they expire.
    std::string id = rows.empty() ? (looks_like_id(ref) ? ref : "") : rows.rows[0][0].as_string();
    if (id.empty()) not_found("script", ref);
    return list(ctx, req, id);
  });

  r.add("GET", "/apps/{app}/executions/{execution}", "execution.read", [&ctx](const sdk::HttpRequest& req) {
    const auto& id = req.params.at("execution");
    auto rows = unwrap(ctx.db.query(std::string("SELECT ") + kExecutionColumns + " FROM executions WHERE app_id = ? AND id = ?",
                                    {current_access().app_id, id}));
    if (rows.empty()) not_found("execution", id);
    return json_response(200, execution_json(rows.rows[0], true));
  });
}

}  // namespace picloud::kernel::admin
