#include "topic_stats.hpp"

namespace picloud::pubsub {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kMinutesKept = 24 * 60;
constexpr std::int64_t kTombstoneMs = 7LL * 24 * 3600 * 1000;
// Topics waiting for a flush, across apps: a script publishing to endless
// new topic names must not grow this node's memory without bound.
constexpr std::size_t kMaxPending = 100'000;

}  // namespace

TopicStats::TopicStats(sdk::Database& db, std::int64_t max_topics, Clock now)
    : db_(db), max_topics_(max_topics), now_(now) {}

std::string TopicStats::greatest(const std::string& a, const std::string& b) const {
  return (db_.dialect() == sdk::Dialect::postgres ? "GREATEST(" : "max(") + a + ", " + b + ")";
}
std::string TopicStats::least(const std::string& a, const std::string& b) const {
  return (db_.dialect() == sdk::Dialect::postgres ? "LEAST(" : "min(") + a + ", " + b + ")";
}

void TopicStats::merge(Pending& into, const Pending& from) {
  into.first_ms = into.messages ? std::min(into.first_ms, from.first_ms) : from.first_ms;
  into.last_ms = into.messages ? std::max(into.last_ms, from.last_ms) : from.last_ms;
  into.messages += from.messages;
  for (const auto& [minute, n] : from.per_minute) into.per_minute[minute] += n;
}

void TopicStats::record(std::string_view app, std::string_view topic, std::int64_t messages, std::int64_t at_ms) {
  if (messages <= 0) return;
  Pending add;
  add.messages = messages;
  add.first_ms = add.last_ms = at_ms;
  add.per_minute[at_ms / kMinuteMs] = messages;
  Key key{std::string(app), std::string(topic)};
  std::lock_guard lock(mutex_);
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    if (pending_.size() >= kMaxPending) {
      ++dropped_;
      return;
    }
    it = pending_.emplace(std::move(key), Pending{}).first;
  }
  merge(it->second, add);
}

std::int64_t TopicStats::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

sdk::Result<void> TopicStats::write(sdk::Transaction& tx, const Key& key, const Pending& p) {
  const auto& [app, topic] = key;
  auto updated = tx.execute("UPDATE pubsub_topics SET published_total = published_total + ?, first_published_at = " +
                                least("first_published_at", "?") + ", last_published_at = " +
                                greatest("last_published_at", "?") + " WHERE app_id = ? AND topic = ?",
                            {p.messages, p.first_ms, p.last_ms, app, topic});
  if (!updated) return updated.error();
  if (*updated == 0) {
    // A new topic: tracked unless the app is gone or has max_topics already.
    // Another node may insert it at the same moment; then the counts add up.
    auto inserted = tx.execute(
        "INSERT INTO pubsub_topics (app_id, topic, first_published_at, last_published_at, published_total) "
        "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM pubsub_deleted_apps WHERE app_id = ?) "
        "AND (SELECT count(*) FROM pubsub_topics WHERE app_id = ?) < ? "
        "ON CONFLICT (app_id, topic) DO UPDATE SET published_total = pubsub_topics.published_total + "
        "excluded.published_total, first_published_at = " +
            least("pubsub_topics.first_published_at", "excluded.first_published_at") +
            ", last_published_at = " + greatest("pubsub_topics.last_published_at", "excluded.last_published_at"),
        {app, topic, p.first_ms, p.last_ms, p.messages, app, app, max_topics_});
    if (!inserted) return inserted.error();
    if (*inserted == 0) return {};  // not tracked: nor are its minutes
  }
  const std::int64_t oldest = now_() / kMinuteMs - kMinutesKept;
  for (const auto& [minute, n] : p.per_minute) {
    if (minute < oldest) continue;
    auto r = tx.execute(
        "INSERT INTO pubsub_topic_minutes (app_id, topic, minute, published) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (app_id, topic, minute) DO UPDATE SET published = pubsub_topic_minutes.published + "
        "excluded.published",
        {app, topic, minute, n});
    if (!r) return r.error();
  }
  return {};
}

sdk::Result<void> TopicStats::flush() {
  std::lock_guard one_at_a_time(flush_mutex_);
  PendingMap batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
  }
  if (batch.empty()) return {};
  // In key order, so two nodes flushing the same topics lock their rows in
  // the same order (PostgreSQL).
  auto written = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    for (const auto& [key, p] : batch)
      if (auto r = write(tx, key, p); !r) return r;
    return {};
  });
  if (!written) {
    std::lock_guard lock(mutex_);
    for (auto& [key, p] : batch) merge(pending_[key], p);
    return written.error();
  }
  return {};
}

sdk::Result<std::vector<TopicSummary>> TopicStats::with_recent(std::string_view app, std::vector<TopicSummary> topics) {
  if (topics.empty()) return topics;
  const std::int64_t now_minute = now_() / kMinuteMs;
  auto rows = db_.query(
      "SELECT topic, SUM(CASE WHEN minute > ? THEN published ELSE 0 END), SUM(published) FROM pubsub_topic_minutes "
      "WHERE app_id = ? AND topic >= ? AND topic <= ? AND minute > ? GROUP BY topic",
      {now_minute - 60, std::string(app), topics.front().topic, topics.back().topic, now_minute - kMinutesKept});
  if (!rows) return rows.error();
  std::map<std::string, std::pair<std::int64_t, std::int64_t>, std::less<>> recent;
  for (const auto& row : rows->rows) recent[row[0].as_string()] = {row[1].int_or(0), row[2].int_or(0)};
  for (auto& t : topics)
    if (auto it = recent.find(t.topic); it != recent.end()) {
      t.published_last_hour = it->second.first;
      t.published_last_day = it->second.second;
    }
  return topics;
}

sdk::Result<TopicPage> TopicStats::list(std::string_view app, const std::string& after, std::int64_t limit) {
  if (auto r = flush(); !r) return r.error();
  auto rows = db_.query(
      "SELECT topic, first_published_at, last_published_at, published_total FROM pubsub_topics "
      "WHERE app_id = ? AND topic > ? ORDER BY topic LIMIT ?",
      {std::string(app), after, limit + 1});
  if (!rows) return rows.error();
  std::vector<TopicSummary> topics;
  for (const auto& row : rows->rows)
    topics.push_back({row[0].as_string(), row[1].as_int(), row[2].as_int(), row[3].as_int(), 0, 0});
  TopicPage page;
  if (static_cast<std::int64_t>(topics.size()) > limit) {
    topics.resize(static_cast<std::size_t>(limit));
    page.next = topics.back().topic;
  }
  auto filled = with_recent(app, std::move(topics));
  if (!filled) return filled.error();
  page.items = std::move(*filled);
  return page;
}

sdk::Result<std::optional<TopicSummary>> TopicStats::get(std::string_view app, std::string_view topic) {
  if (auto r = flush(); !r) return r.error();
  auto rows = db_.query(
      "SELECT topic, first_published_at, last_published_at, published_total FROM pubsub_topics "
      "WHERE app_id = ? AND topic = ?",
      {std::string(app), std::string(topic)});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<TopicSummary>();
  const auto& row = rows->rows[0];
  auto filled = with_recent(app, {{row[0].as_string(), row[1].as_int(), row[2].as_int(), row[3].as_int(), 0, 0}});
  if (!filled) return filled.error();
  return std::optional<TopicSummary>(std::move(filled->front()));
}

sdk::Result<std::int64_t> TopicStats::sweep(sdk::Transaction& tx, std::int64_t retention_ms) {
  const std::int64_t now = now_();
  auto run = [&](std::string_view sql, const sdk::Params& params) -> sdk::Result<std::int64_t> {
    return tx.execute(sql, params);
  };
  if (auto r = run("DELETE FROM pubsub_topic_minutes WHERE minute <= ?", {now / kMinuteMs - kMinutesKept}); !r)
    return r.error();
  if (auto r = run("DELETE FROM pubsub_topic_minutes WHERE app_id IN (SELECT app_id FROM pubsub_deleted_apps)", {}); !r)
    return r.error();
  auto gone = run("DELETE FROM pubsub_topics WHERE app_id IN (SELECT app_id FROM pubsub_deleted_apps)", {});
  if (!gone) return gone.error();
  auto old = run("DELETE FROM pubsub_topics WHERE last_published_at < ?", {now - retention_ms});
  if (!old) return old.error();
  if (auto r = run("DELETE FROM pubsub_deleted_apps WHERE deleted_at < ?", {now - kTombstoneMs}); !r) return r.error();
  return *gone + *old;
}

sdk::Result<void> TopicStats::forget_app(sdk::Transaction& tx, std::string_view app) {
  const std::string id(app);
  {
    std::lock_guard lock(mutex_);
    for (auto it = pending_.begin(); it != pending_.end();)
      it = it->first.first == id ? pending_.erase(it) : std::next(it);
  }
  for (const char* sql : {"DELETE FROM pubsub_topic_minutes WHERE app_id = ?", "DELETE FROM pubsub_topics WHERE app_id = ?"})
    if (auto r = tx.execute(sql, {id}); !r) return r.error();
  auto r = tx.execute(
      "INSERT INTO pubsub_deleted_apps (app_id, deleted_at) VALUES (?, ?) ON CONFLICT (app_id) DO NOTHING", {id, now_()});
  if (!r) return r.error();
  return {};
}

}  // namespace picloud::pubsub
