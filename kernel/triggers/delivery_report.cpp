#include "kernel/triggers/delivery_report.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "kernel/admin/api_support.hpp"

namespace picloud::kernel::triggers {
bool payload_field_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::string payload_field_expression(sdk::Dialect dialect, std::string_view name) {
  // json, not jsonb: reading one field does not need the whole payload indexed.
  if (dialect == sdk::Dialect::postgres) return "COALESCE(payload::json ->> '" + std::string(name) + "', '')";
  return "COALESCE(CAST(json_extract(payload, '$." + std::string(name) + "') AS TEXT), '')";
}

sdk::Result<std::vector<sdk::TriggerDeliveries>> delivery_report(sdk::Database& db, std::string_view app_id,
                                                                 std::string_view kind, std::string_view group_by,
                                                                 std::int64_t now_ms) {
  if (!group_by.empty() && !payload_field_name(group_by))
    return sdk::make_error(sdk::ErrorKind::invalid_argument,
                           "group_by must be a payload field's name ([a-z_][a-z0-9_]*, at most 64 characters), got '" +
                               std::string(group_by) + "'");
  const std::string app(app_id), source(kind);
  auto triggers = db.query(
      "SELECT t.id, t.script_id, s.name, t.filter, t.enabled FROM triggers t JOIN scripts s ON s.id = t.script_id "
      "WHERE t.app_id = ? AND t.kind = ? ORDER BY t.created_at, t.id",
      {app, source});
  if (!triggers) return triggers.error();
  std::vector<sdk::TriggerDeliveries> out;
  std::map<std::string, std::size_t> index;
  for (const auto& row : triggers->rows) {
    index.emplace(row[0].as_string(), out.size());
    out.push_back({row[0].as_string(), row[1].as_string(), row[2].as_string(),
                   admin::parse_stored_json(row[3].as_string()), row[4].int_or(0) != 0, {}, {}});
  }
  if (out.empty()) return out;

  const std::string group = group_by.empty() ? "''" : payload_field_expression(db.dialect(), group_by);
  auto add = [&](const std::string& trigger_id, const std::string& value, auto&& bump) {
    auto it = index.find(trigger_id);
    if (it == index.end()) return;  // a trigger deleted since: its rows are no one's to show
    sdk::TriggerDeliveries& d = out[it->second];
    bump(d.counts);
    if (!group_by.empty()) bump(d.by[value]);
  };
  // A row is running while a node holds its lease; one tried before and not
  // held waits for its next attempt (or for a dead node's lease to lapse).
  auto waiting = db.query("SELECT trigger_id, " + group +
                              ", SUM(CASE WHEN lease_until IS NOT NULL AND lease_until >= ? THEN 1 ELSE 0 END), "
                              "SUM(CASE WHEN (lease_until IS NULL OR lease_until < ?) AND attempts > 0 THEN 1 ELSE 0 END), "
                              "SUM(CASE WHEN (lease_until IS NULL OR lease_until < ?) AND attempts = 0 THEN 1 ELSE 0 END) "
                              "FROM outbox WHERE app_id = ? AND source = ? AND trigger_id IS NOT NULL GROUP BY 1, 2",
                          {now_ms, now_ms, now_ms, app, source});
  if (!waiting) return waiting.error();
  for (const auto& row : waiting->rows)
    add(row[0].as_string(), row[1].string_or(""), [&](sdk::DeliveryCounts& c) {
      c.running += row[2].int_or(0);
      c.retrying += row[3].int_or(0);
      c.queued += row[4].int_or(0);
    });
  auto dead = db.query("SELECT trigger_id, " + group +
                           ", count(*) FROM dead_letters WHERE app_id = ? AND source = ? AND resolved_at IS NULL "
                           "AND trigger_id IS NOT NULL GROUP BY 1, 2",
                       {app, source});
  if (!dead) return dead.error();
  for (const auto& row : dead->rows)
    add(row[0].as_string(), row[1].string_or(""),
        [&](sdk::DeliveryCounts& c) { c.dead_letters += row[2].int_or(0); });
  return out;
}

}  // namespace picloud::kernel::triggers
