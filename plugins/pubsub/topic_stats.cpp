#include "topic_stats.hpp"

#include <algorithm>

#include "recent_counts.hpp"

namespace picloud::pubsub {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kFullRecheckMs = 3600'000;
constexpr std::int64_t kTombstoneMs = 7LL * 24 * 3600 * 1000;
// Topics waiting for a flush, across apps.
constexpr std::size_t kMaxPending = 100'000;
// Topics written per transaction: short holds of SQLite's write lock.
constexpr std::size_t kFlushChunk = 500;

std::string greatest(sdk::Dialect d, const std::string& a, const std::string& b) {
  return (d == sdk::Dialect::postgres ? "GREATEST(" : "max(") + a + ", " + b + ")";
}
std::string least(sdk::Dialect d, const std::string& a, const std::string& b) {
  return (d == sdk::Dialect::postgres ? "LEAST(" : "min(") + a + ", " + b + ")";
}

}  // namespace

TopicStats::TopicStats(sdk::Database& db, std::int64_t max_topics, sdk::Counter& dropped, Clock now)
    : db_(db), max_topics_(max_topics), dropped_(dropped), now_(now) {}

void TopicStats::merge(Pending& into, const Pending& from) {
  into.first_ms = into.messages ? std::min(into.first_ms, from.first_ms) : from.first_ms;
  into.last_ms = into.messages ? std::max(into.last_ms, from.last_ms) : from.last_ms;
  into.messages += from.messages;
  for (const auto& [at, n] : from.by_ms) into.by_ms[at] += n;
}

void TopicStats::record(std::string_view app, std::string_view topic, std::int64_t messages, std::int64_t at_ms) {
  if (messages <= 0) return;
  Pending add;
  add.messages = messages;
  add.first_ms = add.last_ms = at_ms;
  add.by_ms[at_ms - at_ms % kMinuteMs] = messages;
  Key key{std::string(app), std::string(topic)};
  std::lock_guard lock(mutex_);
  if (auto full = full_apps_.find(app); full != full_apps_.end()) {
    if (at_ms >= full->second.until)
      full_apps_.erase(full);  // look again: topics may have aged out
    else if (!full->second.tracked.count(topic)) {
      dropped_.inc(static_cast<std::uint64_t>(messages));
      return;
    }
  }
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    auto& waiting = pending_per_app_[key.first];
    // Room for the app's tracked topics and as many new ones: until a flush
    // finds an app full, its new topics may crowd out some of its counts.
    if (pending_.size() >= kMaxPending || waiting >= 2 * max_topics_) {
      dropped_.inc(static_cast<std::uint64_t>(messages));
      return;
    }
    ++waiting;
    it = pending_.emplace(std::move(key), Pending{}).first;
  }
  merge(it->second, add);
}

sdk::Result<TopicStats::Written> TopicStats::write(sdk::Transaction& tx, const Key& key, const Pending& p,
                                                   bool may_insert) {
  const auto& [app, topic] = key;
  const sdk::Dialect d = db_.dialect();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto row = tx.query(std::string("SELECT last_hour, last_day FROM pubsub_topics WHERE app_id = ? AND topic = ?") +
                            (d == sdk::Dialect::postgres ? " FOR UPDATE" : ""),
                        {app, topic});
    if (!row) return row.error();
    const bool exists = !row->empty();
    RecentCounts hour = last_hour_by_minute(exists ? row->rows[0][0].string_or("") : "");
    RecentCounts day = last_day_by_hour(exists ? row->rows[0][1].string_or("") : "");
    for (const auto& [at, n] : p.by_ms) {
      hour.add(at, n);
      day.add(at, n);
    }
    if (exists) {
      auto updated = tx.execute("UPDATE pubsub_topics SET published_total = published_total + ?, first_published_at = " +
                                    least(d, "first_published_at", "?") + ", last_published_at = " +
                                    greatest(d, "last_published_at", "?") +
                                    ", last_hour = ?, last_day = ? WHERE app_id = ? AND topic = ?",
                                {p.messages, p.first_ms, p.last_ms, hour.encode(), day.encode(), app, topic});
      if (!updated) return updated.error();
      return Written::added;
    }
    if (!may_insert) return Written::untracked;
    // A new topic: tracked unless the app is gone or has max_topics already.
    auto inserted = tx.execute(
        "INSERT INTO pubsub_topics (app_id, topic, first_published_at, last_published_at, published_total, last_hour, "
        "last_day) SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM pubsub_deleted_apps WHERE app_id = ?) "
        "AND (SELECT count(*) FROM pubsub_topics WHERE app_id = ?) < ? ON CONFLICT (app_id, topic) DO NOTHING",
        {app, topic, p.first_ms, p.last_ms, p.messages, hour.encode(), day.encode(), app, app, max_topics_});
    if (!inserted) return inserted.error();
    if (*inserted == 1) return Written::added;
    // Refused, or another node inserted it a moment ago: look once more.
  }
  return Written::untracked;
}

sdk::Result<void> TopicStats::remember_full(std::string_view app) {
  auto rows = db_.query("SELECT topic FROM pubsub_topics WHERE app_id = ?", {std::string(app)});
  if (!rows) return rows.error();
  std::set<std::string, std::less<>> tracked;
  for (const auto& row : rows->rows) tracked.insert(row[0].as_string());
  std::lock_guard lock(mutex_);
  full_apps_[std::string(app)] = Full{std::move(tracked), now_() + kFullRecheckMs};
  return {};
}

void TopicStats::put_back(PendingMap::iterator from, PendingMap::iterator to) {
  std::lock_guard lock(mutex_);
  for (auto it = from; it != to; ++it) {
    auto [at, added] = pending_.try_emplace(it->first);
    if (added) ++pending_per_app_[it->first.first];
    merge(at->second, it->second);
  }
}

sdk::Result<void> TopicStats::flush() {
  std::lock_guard one_at_a_time(flush_mutex_);
  PendingMap batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
    pending_per_app_.clear();
  }
  // In key order, so two nodes flushing the same topics lock their rows in
  // the same order (PostgreSQL).
  std::set<std::string> full;  // apps found full by an earlier chunk: no more inserts for them
  auto it = batch.begin();
  while (it != batch.end()) {
    auto chunk_end = it;
    for (std::size_t n = 0; n < kFlushChunk && chunk_end != batch.end(); ++n) ++chunk_end;
    std::set<std::string> untracked;  // apps with a topic the database would not take
    std::int64_t untracked_messages = 0;
    auto written = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      untracked.clear();
      untracked_messages = 0;
      for (auto k = it; k != chunk_end; ++k) {
        auto w = write(tx, k->first, k->second, !full.count(k->first.first));
        if (!w) return w.error();
        if (*w == Written::untracked) {
          untracked.insert(k->first.first);
          untracked_messages += k->second.messages;
        }
      }
      return {};
    });
    if (!written) {
      put_back(it, batch.end());
      return written.error();
    }
    if (untracked_messages) dropped_.inc(static_cast<std::uint64_t>(untracked_messages));
    // Full (or deleted): from now on this node counts only the topics they track.
    for (const auto& app : untracked) {
      if (!full.insert(app).second) continue;
      if (auto r = remember_full(app); !r) {
        put_back(chunk_end, batch.end());
        return r.error();
      }
    }
    it = chunk_end;
  }
  return {};
}

std::vector<TopicSummary> TopicStats::summaries(const sdk::Rows& rows) const {
  const std::int64_t now = now_();
  std::vector<TopicSummary> out;
  for (const auto& row : rows.rows)
    out.push_back({row[0].as_string(), row[1].as_int(), row[2].as_int(), row[3].as_int(),
                   last_hour_by_minute(row[4].string_or("")).sum(now),
                   last_day_by_hour(row[5].string_or("")).sum(now)});
  return out;
}

sdk::Result<TopicPage> TopicStats::list(std::string_view app, const std::string& after, std::int64_t limit) {
  (void)flush();  // this node's latest counts, when it can; a view never fails for them
  auto rows = db_.query(
      "SELECT topic, first_published_at, last_published_at, published_total, last_hour, last_day FROM pubsub_topics "
      "WHERE app_id = ? AND topic > ? ORDER BY topic LIMIT ?",
      {std::string(app), after, limit + 1});
  if (!rows) return rows.error();
  TopicPage page;
  page.items = summaries(*rows);
  if (static_cast<std::int64_t>(page.items.size()) > limit) {
    page.items.resize(static_cast<std::size_t>(limit));
    page.next = page.items.back().topic;
  }
  return page;
}

sdk::Result<std::optional<TopicSummary>> TopicStats::get(std::string_view app, std::string_view topic) {
  (void)flush();
  auto rows = db_.query(
      "SELECT topic, first_published_at, last_published_at, published_total, last_hour, last_day FROM pubsub_topics "
      "WHERE app_id = ? AND topic = ?",
      {std::string(app), std::string(topic)});
  if (!rows) return rows.error();
  auto topics = summaries(*rows);
  if (topics.empty()) return std::optional<TopicSummary>();
  return std::optional<TopicSummary>(std::move(topics.front()));
}

sdk::Result<std::int64_t> TopicStats::sweep(sdk::Transaction& tx, std::int64_t retention_ms) {
  const std::int64_t now = now_();
  auto gone = tx.execute("DELETE FROM pubsub_topics WHERE app_id IN (SELECT app_id FROM pubsub_deleted_apps)");
  if (!gone) return gone.error();
  auto old = tx.execute("DELETE FROM pubsub_topics WHERE last_published_at < ?", {now - retention_ms});
  if (!old) return old.error();
  if (auto r = tx.execute("DELETE FROM pubsub_deleted_apps WHERE deleted_at < ?", {now - kTombstoneMs}); !r)
    return r.error();
  return *gone + *old;
}

sdk::Result<void> TopicStats::forget_app(sdk::Transaction& tx, std::string_view app) {
  const std::string id(app);
  {
    std::lock_guard lock(mutex_);
    for (auto it = pending_.begin(); it != pending_.end();)
      it = it->first.first == id ? pending_.erase(it) : std::next(it);
    pending_per_app_.erase(id);
    full_apps_.erase(id);
  }
  if (auto r = tx.execute("DELETE FROM pubsub_topics WHERE app_id = ?", {id}); !r) return r.error();
  auto r = tx.execute(
      "INSERT INTO pubsub_deleted_apps (app_id, deleted_at) VALUES (?, ?) ON CONFLICT (app_id) DO NOTHING", {id, now_()});
  if (!r) return r.error();
  return {};
}

}  // namespace picloud::pubsub
