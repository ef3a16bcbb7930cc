#include "kernel/triggers/dead_letters.hpp"

#include <charconv>

#include "kernel/admin/api_support.hpp"
#include "kernel/admin/secrets.hpp"
#include "kernel/db/database.hpp"
#include "kernel/db/leader.hpp"
#include "kernel/dispatch/outbox.hpp"
#include "kernel/log.hpp"
#include "kernel/triggers/delivery_report.hpp"
#include "kernel/triggers/kernel_kinds.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::triggers {
namespace {

constexpr const char* kColumns =
    "id, app_id, execution_id, source, op, trigger_id, route_id, script_id, payload, depth, attempts, "
    "first_attempt_at, last_attempt_at, last_error, created_at, resolved_at, resolution, resolution_reason, "
    "resolved_by, handler, job";

sdk::Value text_or_null(const std::string& s) { return s.empty() ? sdk::Value() : sdk::Value(s); }
sdk::Value time_or_null(std::int64_t ms) { return ms == 0 ? sdk::Value() : sdk::Value(admin::format_time(ms)); }

DeadLetter letter_from(const std::vector<sdk::Value>& r) {
  DeadLetter d;
  d.id = r[0].as_string();
  d.app_id = r[1].as_string();
  d.execution_id = r[2].as_string();
  d.source = r[3].as_string();
  d.op = r[4].as_string();
  d.trigger_id = r[5].string_or("");
  d.route_id = r[6].string_or("");
  d.script_id = r[7].as_string();
  d.payload = admin::parse_stored_json(r[8].as_string());
  d.depth = static_cast<int>(r[9].as_int());
  d.attempts = static_cast<int>(r[10].as_int());
  d.first_attempt_ms = r[11].as_int();
  d.last_attempt_ms = r[12].as_int();
  d.last_error = r[13].as_string();
  d.created_ms = r[14].as_int();
  d.resolved_ms = r[15].is_null() ? 0 : r[15].as_int();
  d.resolution = r[16].string_or("");
  d.reason = r[17].string_or("");
  d.resolved_by = r[18].string_or("");
  d.handler = r[19].string_or("");
  d.job = r[20].string_or("");
  return d;
}

sdk::Error not_found(const std::string& id) {
  return sdk::make_error(sdk::ErrorKind::not_found, "no dead letter '" + id + "'");
}

// Cursor "<created_at>.<id>" of the last item on a page.
bool parse_cursor(const std::string& cursor, std::int64_t& created, std::string& id) {
  auto dot = cursor.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == cursor.size()) return false;
  auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + dot, created);
  if (ec != std::errc() || end != cursor.data() + dot) return false;
  id = cursor.substr(dot + 1);
  return true;
}

}  // namespace

sdk::Value DeadLetter::to_json(bool with_event) const {
  sdk::Object o{{"id", id},
                {"app_id", app_id},
                {"execution_id", execution_id},
                {"source", source},
                {"op", op},
                {"trigger_id", text_or_null(trigger_id)},
                {"route_id", text_or_null(route_id)},
                {"script_id", script_id},
                {"depth", depth},
                {"attempts", attempts},
                {"first_attempt_at", admin::format_time(first_attempt_ms)},
                {"last_attempt_at", admin::format_time(last_attempt_ms)},
                {"last_error", last_error},
                {"created_at", admin::format_time(created_ms)},
                {"resolved", resolved_ms != 0},
                {"resolved_at", time_or_null(resolved_ms)},
                {"resolution", text_or_null(resolution)},
                {"reason", text_or_null(reason)},
                {"resolved_by", text_or_null(resolved_by)},
                {"handler", text_or_null(handler)},
                {"job", text_or_null(job)}};
  if (with_event) o.emplace("event", payload);
  return sdk::Value(std::move(o));
}

DeadLetterStore::DeadLetterStore(sdk::Database& db, EventRouter& router, dispatch::OutboxSignal& signal,
                                 MetricsRegistry& metrics)
    : db_(db),
      router_(router),
      signal_(signal),
      recorded_(metrics.counter("picloud_dead_letters_total", "runs that failed every attempt and became dead letters")),
      replayed_(metrics.counter("picloud_dead_letter_replays_total", "dead letters queued again")),
      handler_failures_(metrics.counter("picloud_dead_letter_handler_failures_total",
                                        "dead_letter handler runs that failed (never retried)")) {}

sdk::Result<void> DeadLetterStore::record(sdk::Transaction& tx, const DeadLetter& d) {
  auto r = tx.execute(std::string("INSERT INTO dead_letters (") + kColumns +
                          ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, ?)",
                      {d.id, d.app_id, d.execution_id, d.source, d.op, text_or_null(d.trigger_id),
                       text_or_null(d.route_id), d.script_id, sdk::to_json(d.payload), d.depth, d.attempts,
                       d.first_attempt_ms, d.last_attempt_ms, d.last_error, d.created_ms, text_or_null(d.job)});
  if (!r) return r.error();
  recorded_.inc();
  sdk::Value summary = d.to_json(true);
  sdk::Event event{kDeadLetterKind, "created", sdk::Value::object({{"dead_letter", std::move(summary)}})};
  auto fired = router_.fan_out(tx, d.app_id, d.depth + 1, event);
  if (!fired) return fired.error();
  return {};
}

sdk::Result<void> DeadLetterStore::handler_finished(sdk::Transaction& tx, const std::string& letter_id, bool ok) {
  if (!ok) handler_failures_.inc();
  // One failed handler marks the letter for good; a success only fills a blank.
  auto r = ok ? tx.execute("UPDATE dead_letters SET handler = 'ok' WHERE id = ? AND handler IS NULL", {letter_id})
              : tx.execute("UPDATE dead_letters SET handler = 'handler_failed' WHERE id = ?", {letter_id});
  if (!r) return r.error();
  return {};
}

sdk::Result<std::int64_t> DeadLetterStore::count_unresolved(const std::string& app_id) {
  auto rows = db_.query("SELECT count(*) FROM dead_letters WHERE app_id = ? AND resolved_at IS NULL", {app_id});
  if (!rows) return rows.error();
  return rows->rows[0][0].as_int();
}

sdk::Result<DeadLetterPage> DeadLetterStore::list(const std::string& app_id, const DeadLetterQuery& q) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM dead_letters WHERE app_id = ?";
  sdk::Params params{app_id};
  if (q.state == DeadLetterQuery::State::unresolved) sql += " AND resolved_at IS NULL";
  if (q.state == DeadLetterQuery::State::resolved) sql += " AND resolved_at IS NOT NULL";
  auto narrow = [&](const char* column, const std::string& value) {
    if (value.empty()) return;
    sql += std::string(" AND ") + column + " = ?";
    params.emplace_back(value);
  };
  narrow("source", q.source);
  narrow("trigger_id", q.trigger_id);
  narrow("script_id", q.script_id);
  if (!q.event_field.empty()) {
    if (!payload_field_name(q.event_field))
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "event_field must be a field's name ([a-z_][a-z0-9_]*, at most 64 characters)");
    sql += " AND " + payload_field_expression(db_.dialect(), q.event_field) + " = ?";
    params.emplace_back(q.event_value);
  }
  if (!q.cursor.empty()) {
    std::int64_t created = 0;
    std::string id;
    if (!parse_cursor(q.cursor, created, id))
      return sdk::make_error(sdk::ErrorKind::invalid_argument, "malformed cursor: pass a next_cursor from a previous page");
    sql += " AND (created_at < ? OR (created_at = ? AND id < ?))";
    params.insert(params.end(), {created, created, id});
  }
  const int limit = std::clamp(q.limit, 1, 500);
  sql += " ORDER BY created_at DESC, id DESC LIMIT ?";
  params.emplace_back(limit + 1);
  auto rows = db_.query(sql, params);
  if (!rows) return rows.error();
  DeadLetterPage page;
  for (const auto& row : rows->rows) {
    if (static_cast<int>(page.items.size()) == limit) {
      const auto& last = page.items.back();
      page.next_cursor = std::to_string(last.created_ms) + "." + last.id;
      break;
    }
    page.items.push_back(letter_from(row));
  }
  return page;
}

sdk::Result<DeadLetter> DeadLetterStore::get(const std::string& app_id, const std::string& id) {
  auto rows = db_.query(std::string("SELECT ") + kColumns + " FROM dead_letters WHERE app_id = ? AND id = ?",
                        {app_id, id});
  if (!rows) return rows.error();
  if (rows->empty()) return not_found(id);
  return letter_from(rows->rows[0]);
}

sdk::Result<std::string> DeadLetterStore::replay(const std::string& app_id, const std::string& id,
                                                 const std::string& by) {
  std::string execution_id = admin::new_id();
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto rows = tx.query(std::string("SELECT ") + kColumns + " FROM dead_letters WHERE app_id = ? AND id = ?",
                         {app_id, id});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found(id);
    DeadLetter d = letter_from(rows->rows[0]);
    if (d.resolved_ms != 0)
      return sdk::make_error(sdk::ErrorKind::conflict, "dead letter '" + id + "' is already resolved (" + d.resolution + ")");
    const std::int64_t now = admin::now_ms();
    // Guarded by resolved_at IS NULL: two replays at once queue it once.
    auto marked = tx.execute(
        "UPDATE dead_letters SET resolved_at = ?, resolution = 'replayed', resolution_reason = ?, resolved_by = ? "
        "WHERE id = ? AND resolved_at IS NULL",
        {now, "replayed as execution " + execution_id, text_or_null(by), id});
    if (!marked) return marked.error();
    if (*marked == 0) return sdk::make_error(sdk::ErrorKind::conflict, "dead letter '" + id + "' is already resolved");
    dispatch::OutboxItem item;
    item.id = execution_id;
    item.app_id = d.app_id;
    item.script_id = d.script_id;
    item.route_id = d.route_id;
    item.trigger_id = d.trigger_id;
    item.source = d.source;
    item.job = d.job;
    item.payload = d.payload;
    item.depth = d.depth;  // a replay runs where the original ran: no fresh depth budget
    if (auto r = dispatch::Outbox::insert(tx, item, now); !r) return r;
    db::Database::after_commit(tx, [this] { signal_.notify(); });
    return {};
  });
  if (!done) return done.error();
  replayed_.inc();
  write_log(LogLevel::info, "triggers", "dead letter replayed",
            {{"app", app_id}, {"dead_letter", id}, {"execution", execution_id}, {"by", by.empty() ? "script" : by}});
  return execution_id;
}

sdk::Result<DeadLetter> DeadLetterStore::resolve(const std::string& app_id, const std::string& id,
                                                 const std::string& reason, const std::string& by) {
  auto marked = db_.execute(
      "UPDATE dead_letters SET resolved_at = ?, resolution = 'resolved', resolution_reason = ?, resolved_by = ? "
      "WHERE app_id = ? AND id = ? AND resolved_at IS NULL",
      {admin::now_ms(), text_or_null(reason), text_or_null(by), app_id, id});
  if (!marked) return marked.error();
  auto letter = get(app_id, id);
  if (!letter) return letter.error();
  if (*marked == 0)
    return sdk::make_error(sdk::ErrorKind::conflict,
                           "dead letter '" + id + "' is already resolved (" + letter->resolution + ")");
  return letter;
}

sdk::Result<std::int64_t> DeadLetterStore::sweep(std::int64_t cutoff_ms) {
  constexpr std::int64_t kBatch = 1000;
  std::int64_t total = 0;
  for (;;) {
    // Small batches, each its own short write (SQLite's writer is never held
    // long), each by the one node that holds the sweep's lock.
    std::int64_t deleted = 0;
    auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      auto leading = db::lead(tx, db_.dialect(), db::LeaderJob::dead_letter_sweep);
      if (!leading) return leading.error();
      if (!*leading) return {};
      auto n = tx.execute(
          "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE created_at < ? LIMIT ?)",
          {cutoff_ms, kBatch});
      if (!n) return n.error();
      deleted = *n;
      return {};
    });
    if (!r) return r.error();
    total += deleted;
    if (deleted < kBatch) return total;
  }
}

}  // namespace picloud::kernel::triggers
