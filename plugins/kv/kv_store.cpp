#include "kv_store.hpp"

#include <chrono>
#include <map>

#include "picloud/sdk/json_parse.hpp"

namespace picloud::kv {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;

// Live rows only: an expired key is gone for every reader at once.
constexpr std::string_view kLive = " AND (expires_at = 0 OR expires_at > ?)";

sdk::Result<Value> stored_value(const Value& text, std::string_view key) {
  if (!text.is_string())
    return make_error(ErrorKind::internal, "stored value of key '" + std::string(key) + "' is not text");
  // As deep as any script may build a value (scripting.max_json_depth is at
  // most 512): what a script could store, it can read back.
  auto value = sdk::parse_json(text.as_string(), 512);
  if (!value) return make_error(ErrorKind::internal, "stored value of key '" + std::string(key) + "' is not JSON");
  return value;
}

// The prefix's length in characters, as SQL's substr() counts on both
// databases.
std::int64_t char_count(std::string_view text) {
  std::int64_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

KvStore::KvStore(sdk::Database& db, sdk::EventSink& events, Clock now)
    : db_(db),
      events_(events),
      now_(std::move(now)),
      // SQLite's write transactions are already serialised (BEGIN IMMEDIATE);
      // on PostgreSQL the row lock keeps a read-modify-write atomic.
      lock_clause_(db.dialect() == sdk::Dialect::postgres ? " FOR UPDATE" : "") {}

sdk::Result<std::optional<Entry>> KvStore::get(std::string_view app, std::string_view collection,
                                               std::string_view key) {
  auto rows = db_.query(
      "SELECT value, version, expires_at, updated_at FROM kv_entries "
      "WHERE app_id = ? AND collection = ? AND key = ?" +
          std::string(kLive),
      {app, collection, key, now_()});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Entry>();
  const auto& row = rows->rows[0];
  auto value = stored_value(row[0], key);
  if (!value) return value.error();
  return std::optional<Entry>(
      Entry{std::string(key), std::move(*value), row[1].as_int(), row[2].as_int(), row[3].as_int()});
}

sdk::Result<bool> KvStore::has(std::string_view app, std::string_view collection, std::string_view key) {
  auto rows = db_.query(
      "SELECT 1 FROM kv_entries WHERE app_id = ? AND "
      "collection = ? AND key = ?" +
          std::string(kLive),
      {app, collection, key, now_()});
  if (!rows) return rows.error();
  return !rows->empty();
}

sdk::Result<std::vector<std::optional<Value>>> KvStore::get_many(std::string_view app, std::string_view collection,
                                                                 const std::vector<std::string>& keys) {
  std::vector<std::optional<Value>> out(keys.size());
  if (keys.empty()) return out;
  std::string sql =
      "SELECT key, value FROM kv_entries WHERE app_id = ? AND "
      "collection = ? AND key IN (";
  sdk::Params params{app, collection};
  for (std::size_t i = 0; i < keys.size(); ++i) {
    sql += i ? ", ?" : "?";
    params.emplace_back(keys[i]);
  }
  sql += ")" + std::string(kLive);
  params.emplace_back(now_());
  auto rows = db_.query(sql, params);
  if (!rows) return rows.error();
  std::map<std::string, Value, std::less<>> found;
  for (const auto& row : rows->rows) {
    auto value = stored_value(row[1], row[0].as_string());
    if (!value) return value.error();
    found.emplace(row[0].as_string(), std::move(*value));
  }
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (auto it = found.find(keys[i]); it != found.end()) out[i] = it->second;
  return out;
}

sdk::Result<Page<Entry>> KvStore::list(std::string_view app, std::string_view collection, std::string_view after,
                                       std::int64_t limit, std::string_view prefix, bool with_values) {
  std::string sql = std::string("SELECT key, ") + (with_values ? "value" : "NULL") +
                    ", version, expires_at, updated_at FROM kv_entries WHERE "
                    "app_id = ? AND collection = ? AND key > ?" +
                    std::string(kLive);
  sdk::Params params{app, collection, after, now_()};
  if (!prefix.empty()) {
    sql += " AND substr(key, 1, ?) = ?";
    params.emplace_back(char_count(prefix));
    params.emplace_back(prefix);
  }
  sql += " ORDER BY key LIMIT ?";
  params.emplace_back(limit + 1);  // one more tells whether another page follows
  auto rows = db_.query(sql, params);
  if (!rows) return rows.error();
  Page<Entry> page;
  for (const auto& row : rows->rows) {
    if (static_cast<std::int64_t>(page.items.size()) == limit) {
      page.next = page.items.back().key;
      break;
    }
    Entry e{row[0].as_string(), Value(), row[2].as_int(), row[3].as_int(), row[4].as_int()};
    if (with_values) {
      auto value = stored_value(row[1], e.key);
      if (!value) return value.error();
      e.value = std::move(*value);
    }
    page.items.push_back(std::move(e));
  }
  return page;
}

sdk::Result<Page<CollectionInfo>> KvStore::collections(std::string_view app, std::string_view after,
                                                       std::int64_t limit) {
  auto rows = db_.query(
      "SELECT collection, COUNT(*) FROM kv_entries WHERE "
      "app_id = ? AND collection > ?" +
          std::string(kLive) + " GROUP BY collection ORDER BY collection LIMIT ?",
      {app, after, now_(), limit + 1});
  if (!rows) return rows.error();
  Page<CollectionInfo> page;
  for (const auto& row : rows->rows) {
    if (static_cast<std::int64_t>(page.items.size()) == limit) {
      page.next = page.items.back().name;
      break;
    }
    page.items.push_back({row[0].as_string(), row[1].as_int()});
  }
  return page;
}

sdk::Result<int> KvStore::emit(sdk::Transaction& tx, const sdk::CallContext& call, std::string_view op,
                               std::string_view collection, std::string_view key, const Value& value,
                               const Value& previous, std::int64_t version) {
  return events_.emit(tx, call,
                      {"kv", std::string(op),
                       Value::object({{"collection", collection},
                                      {"key", key},
                                      {"value", value},
                                      {"previous", previous},
                                      {"version", version}})});
}

sdk::Result<std::optional<Entry>> KvStore::write(const sdk::CallContext& call, std::string_view collection,
                                                 std::string_view key, const Decide& decide) {
  std::optional<Entry> written;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    written.reset();
    // Twice at most in practice: an insert that lost a race to another
    // transaction's insert of the same key reads the key again, locked.
    for (int attempt = 0; attempt < 5; ++attempt) {
      const std::int64_t now = now_();
      auto rows = tx.query(
          "SELECT value, version, expires_at FROM kv_entries "
          "WHERE app_id = ? AND collection = ? AND key = ?" +
              lock_clause_,
          {call.app_id, collection, key});
      if (!rows) return rows.error();
      const bool row_exists = !rows->empty();
      std::optional<Entry> live;
      if (row_exists) {
        const auto& row = rows->rows[0];
        if (row[2].as_int() == 0 || row[2].as_int() > now) {
          auto value = stored_value(row[0], key);
          if (!value) return value.error();
          live = Entry{std::string(key), std::move(*value), row[1].as_int(), row[2].as_int(), 0};
        }
      }
      auto decision = decide(live);
      if (!decision) return decision.error();
      if (!*decision) return {};
      const NewValue& next = **decision;
      const std::int64_t version = live ? live->version + 1 : 1;
      if (row_exists) {
        auto n = tx.execute(
            "UPDATE kv_entries SET value = ?, version = ?, "
            "expires_at = ?, updated_at = ? "
            "WHERE app_id = ? AND collection = ? AND key = ?",
            {next.text, version, next.expires_at, now, call.app_id, collection, key});
        if (!n) return n.error();
      } else {
        auto n = tx.execute(
            "INSERT INTO kv_entries (app_id, collection, key, "
            "value, version, expires_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, "
            "collection, key) DO NOTHING",
            {call.app_id, collection, key, next.text, version, next.expires_at, now});
        if (!n) return n.error();
        if (*n == 0) continue;
      }
      auto fired = emit(tx, call, live ? "update" : "insert", collection, key, next.value, live ? live->value : Value(),
                        version);
      if (!fired) return fired.error();
      written = Entry{std::string(key), next.value, version, next.expires_at, now};
      return {};
    }
    return make_error(ErrorKind::unavailable,
                      "key '" + std::string(key) + "' is written by too many at once; try again");
  });
  if (!done) return done.error();
  return written;
}

sdk::Result<Entry> KvStore::set(const sdk::CallContext& call, std::string_view collection, std::string_view key,
                                const NewValue& value) {
  auto written = write(call, collection, key, [&](const std::optional<Entry>&) -> sdk::Result<std::optional<NewValue>> {
    return std::optional<NewValue>(value);
  });
  if (!written) return written.error();
  return std::move(**written);
}

sdk::Result<std::optional<Entry>> KvStore::set_if_version(const sdk::CallContext& call, std::string_view collection,
                                                          std::string_view key, const NewValue& value,
                                                          std::int64_t expected) {
  return write(call, collection, key, [&](const std::optional<Entry>& live) -> sdk::Result<std::optional<NewValue>> {
    if ((live ? live->version : 0) != expected) return std::optional<NewValue>();
    return std::optional<NewValue>(value);
  });
}

sdk::Result<Entry> KvStore::incr(const sdk::CallContext& call, std::string_view collection, std::string_view key,
                                 std::int64_t by) {
  auto written =
      write(call, collection, key, [&](const std::optional<Entry>& live) -> sdk::Result<std::optional<NewValue>> {
        std::int64_t current = 0;
        if (live) {
          if (!live->value.is_int())
            return make_error(ErrorKind::invalid_argument, "key '" + std::string(key) + "' holds " +
                                                               std::string(sdk::to_string(live->value.type())) +
                                                               ", not an int; incr adds to ints only");
          current = live->value.as_int();
        }
        std::int64_t sum;
        if (__builtin_add_overflow(current, by, &sum))
          return make_error(ErrorKind::invalid_argument, "incr of key '" + std::string(key) + "' overflows int64");
        return std::optional<NewValue>(NewValue{Value(sum), std::to_string(sum), live ? live->expires_at : 0});
      });
  if (!written) return written.error();
  return std::move(**written);
}

sdk::Result<std::optional<Entry>> KvStore::remove(const sdk::CallContext& call, std::string_view collection,
                                                  std::string_view key) {
  std::optional<Entry> removed;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    removed.reset();
    auto rows = tx.query(
        "DELETE FROM kv_entries WHERE app_id = ? AND "
        "collection = ? AND key = ? "
        "RETURNING value, version, expires_at, updated_at",
        {call.app_id, collection, key});
    if (!rows) return rows.error();
    if (rows->empty()) return {};
    const auto& row = rows->rows[0];
    const std::int64_t expires = row[2].as_int();
    if (expires != 0 && expires <= now_()) return {};  // it had expired: already gone for readers
    auto value = stored_value(row[0], key);
    if (!value) return value.error();
    removed = Entry{std::string(key), std::move(*value), row[1].as_int(), expires, row[3].as_int()};
    auto fired = emit(tx, call, "delete", collection, key, Value(), removed->value, removed->version);
    if (!fired) return fired.error();
    return {};
  });
  if (!done) return done.error();
  return removed;
}

sdk::Result<std::int64_t> KvStore::sweep_expired(std::int64_t batch) {
  sdk::Result<std::int64_t> deleted = std::int64_t{0};
  auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    deleted = sweep_expired(tx, batch);
    if (!deleted) return deleted.error();
    return {};
  });
  if (!r) return r.error();
  return deleted;
}

sdk::Result<std::int64_t> KvStore::sweep_expired(sdk::Transaction& tx, std::int64_t batch) {
  const std::int64_t now = now_();
  // The outer condition is checked again on each row, so a key written anew
  // after the inner select saw it expired is kept.
  return tx.execute(
      "DELETE FROM kv_entries WHERE expires_at > 0 AND "
      "expires_at <= ? AND (app_id, collection, key) IN "
      "(SELECT app_id, collection, key FROM kv_entries WHERE "
      "expires_at > 0 AND expires_at <= ? LIMIT ?)",
      {now, now, batch});
}

}  // namespace picloud::kv
