#include "kernel/dispatch/outbox.hpp"

#include <algorithm>
#include <iterator>

#include "kernel/admin/api_support.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::dispatch {
namespace {
sdk::Value text_or_null(const std::string& s) { return s.empty() ? sdk::Value() : sdk::Value(s); }


constexpr const char* kInsertInto =
    "INSERT INTO outbox (id, app_id, script_id, route_id, trigger_id, source, job, payload, depth, attempts, "
    "next_attempt_at, created_at) VALUES ";
constexpr const char* kRow = "(?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)";
const std::string kInsert = std::string(kInsertInto) + kRow;
// Rows per statement in insert_many: a few fixed sizes, so the drivers'
// statement caches hold a few texts, not one per subscriber count; at most
// 64 rows (704 parameters, below SQLite's oldest limit of 999).
constexpr std::size_t kStatementRows[] = {64, 16, 4, 1};
// Every row binds its own copy of the payload (and the driver copies it
// again): a statement carries at most about this much of it.
constexpr std::size_t kStatementPayloadBytes = 4 << 20;

sdk::Params insert_params(const OutboxItem& item, std::int64_t now_ms, std::string payload_json,
                          std::int64_t due_ms = 0) {
  return {item.id,
          item.app_id,
          item.script_id,
          text_or_null(item.route_id),
          text_or_null(item.trigger_id),
          item.source,
          text_or_null(item.job),
          std::move(payload_json),
          item.depth,
          due_ms ? due_ms : now_ms,
          now_ms};
}
}  // namespace

sdk::Result<void> Outbox::add(const OutboxItem& item, std::int64_t now_ms) {
  auto r = db_.execute(kInsert, insert_params(item, now_ms, sdk::to_json(item.payload)));
  if (!r) return r.error();
  return {};
}

sdk::Result<void> Outbox::insert(sdk::Transaction& tx, const OutboxItem& item, std::int64_t now_ms) {
  auto r = tx.execute(kInsert, insert_params(item, now_ms, sdk::to_json(item.payload)));
  if (!r) return r.error();
  return {};
}

sdk::Result<void> Outbox::insert_json(sdk::Transaction& tx, const OutboxItem& item, std::int64_t now_ms,
                                      std::int64_t due_ms, std::string payload_json) {
  auto r = tx.execute(kInsert, insert_params(item, now_ms, std::move(payload_json), due_ms));
  if (!r) return r.error();
  return {};
}

sdk::Result<void> Outbox::insert_many(sdk::Transaction& tx, const std::vector<OutboxItem>& items, std::int64_t now_ms,
                                      const std::string& payload_json) {
  const std::size_t most = std::max<std::size_t>(1, kStatementPayloadBytes / std::max<std::size_t>(1, payload_json.size()));
  for (std::size_t first = 0, rows = 0; first < items.size(); first += rows) {
    rows = 1;
    for (std::size_t size : kStatementRows)
      if (size <= items.size() - first && size <= most) {
        rows = size;
        break;
      }
    const std::size_t end = first + rows;
    std::string sql = kInsertInto;
    sdk::Params params;
    params.reserve((end - first) * 11);
    for (std::size_t i = first; i < end; ++i) {
      sql += i == first ? kRow : std::string(", ") + kRow;
      auto row = insert_params(items[i], now_ms, payload_json);
      std::move(row.begin(), row.end(), std::back_inserter(params));
    }
    if (auto r = tx.execute(sql, params); !r) return r.error();
  }
  return {};
}

sdk::Result<std::vector<OutboxItem>> Outbox::claim(const std::string& owner, int limit, std::int64_t now_ms,
                                                   std::int64_t lease_until_ms, const std::vector<std::string>& jobs) {
  // Job kinds are plugin names and identifiers ([a-z0-9_.]), checked when
  // declared: safe to write into the statement, which stays the same text
  // for the process's life.
  std::string kinds = "job IS NULL";
  if (!jobs.empty()) {
    kinds = "(job IS NULL OR job IN (";
    for (std::size_t i = 0; i < jobs.size(); ++i) kinds += (i ? ", '" : "'") + jobs[i] + "'";
    kinds += "))";
  }
  // SQLite has one writer at a time, so the subquery cannot race; PostgreSQL
  // skips rows another node holds locked.
  std::string pick = "SELECT id FROM outbox WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) AND " +
                     kinds + " ORDER BY next_attempt_at LIMIT ?";
  if (db_.dialect() == sdk::Dialect::postgres) pick += " FOR UPDATE SKIP LOCKED";
  auto rows = db_.query("UPDATE outbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, "
                        "first_attempt_at = COALESCE(first_attempt_at, ?) WHERE id IN (" +
                            pick +
                            ") RETURNING id, app_id, script_id, route_id, trigger_id, source, payload, attempts, depth, "
                            "first_attempt_at, job",
                        {owner, lease_until_ms, now_ms, now_ms, now_ms, limit});
  if (!rows) return rows.error();
  std::vector<OutboxItem> out;
  for (const auto& row : rows->rows) {
    OutboxItem item;
    item.id = row[0].as_string();
    item.app_id = row[1].as_string();
    item.script_id = row[2].as_string();
    item.route_id = row[3].string_or("");
    item.trigger_id = row[4].string_or("");
    item.source = row[5].as_string();
    item.payload = admin::parse_stored_json(row[6].as_string());
    item.attempts = static_cast<int>(row[7].as_int());
    item.depth = static_cast<int>(row[8].as_int());
    item.first_attempt_ms = row[9].as_int();
    item.job = row[10].string_or("");
    out.push_back(std::move(item));
  }
  return out;
}

sdk::Result<void> Outbox::finish(const std::string& owner, const std::vector<Finished>& rows, const FinishStep& also) {
  if (rows.empty()) return {};
  return db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      auto d = tx.execute("DELETE FROM outbox WHERE id = ? AND lease_owner = ?", {rows[i].id, owner});
      if (!d) return d.error();
      if (*d == 0) continue;  // no longer ours: whoever holds it now records it
      if (rows[i].record)
        if (auto r = admin::ExecutionLog::insert(tx, *rows[i].record); !r) return r;
      if (also)
        if (auto r = also(tx, i); !r) return r;
    }
    return {};
  });
}

sdk::Result<void> Outbox::retry_later(const std::string& owner, const std::string& id, std::int64_t next_attempt_ms) {
  auto r = db_.execute(
      "UPDATE outbox SET lease_owner = NULL, lease_until = NULL, next_attempt_at = ? WHERE id = ? AND lease_owner = ?",
      {next_attempt_ms, id, owner});
  if (!r) return r.error();
  return {};
}

bool Outbox::release_all(const std::string& owner) {
  return bool(db_.execute("UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", {owner}));
}

sdk::Result<void> Outbox::release(const std::string& owner, const std::string& id) {
  auto r = db_.execute(
      "UPDATE outbox SET lease_owner = NULL, lease_until = NULL, attempts = attempts - 1 WHERE id = ? AND lease_owner = ?",
      {id, owner});
  if (!r) return r.error();
  return {};
}

sdk::Result<std::int64_t> Outbox::pending() {
  auto rows = db_.query("SELECT count(*) FROM outbox");
  if (!rows) return rows.error();
  return rows->rows[0][0].as_int();
}

}  // namespace picloud::kernel::dispatch
