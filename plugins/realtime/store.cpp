#include "store.hpp"

namespace picloud::realtime {
namespace {

using sdk::ErrorKind;
using sdk::Value;

constexpr const char* kTopicColumns = "name, external, auth_mode, last_event_id, created_at, updated_at";

Topic topic_from(const std::vector<Value>& row) {
  Topic t;
  t.name = row[0].string_or("");
  t.external = row[1].int_or(0) != 0;
  t.auth_mode = parse_auth_mode(row[2].string_or("")).value_or(AuthMode::token);
  t.last_event_id = row[3].int_or(0);
  t.created_at = row[4].int_or(0);
  t.updated_at = row[5].int_or(0);
  return t;
}

std::vector<StoredEvent> events_from(const sdk::Rows& rows) {
  std::vector<StoredEvent> out;
  out.reserve(rows.size());
  for (const auto& row : rows.rows) out.push_back({row[0].int_or(0), row[1].string_or("null"), row[2].int_or(0)});
  return out;
}

}  // namespace

std::string_view auth_mode_name(AuthMode mode) { return mode == AuthMode::public_ ? "public" : "token"; }

std::optional<AuthMode> parse_auth_mode(std::string_view name) {
  if (name == "public") return AuthMode::public_;
  if (name == "token") return AuthMode::token;
  return std::nullopt;
}

sdk::Result<void> check_topic_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 128;
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                c == '.' || c == ':');
  if (!ok)
    return sdk::make_error(ErrorKind::invalid_argument,
                           "a topic name is 1 to 128 letters, digits, '_', '-', '.' or ':'");
  return {};
}

sdk::Result<Topic> TopicStore::create(std::string_view app, const Topic& topic) {
  if (auto ok = check_topic_name(topic.name); !ok) return ok.error();
  Topic made = topic;
  made.created_at = made.updated_at = sdk::wall_clock_ms();
  // Ids start at the creation time in microseconds: a topic registered again
  // after a deletion never hands out an id a client still holds.
  made.last_event_id = made.created_at * 1000;
  auto r = db_.transaction([&](sdk::Transaction& tx) { return insert(tx, app, made); });
  if (!r) return r.error();
  return made;
}

sdk::Result<Topic> TopicStore::create(sdk::Transaction& tx, std::string_view app, const Topic& topic) {
  if (auto ok = check_topic_name(topic.name); !ok) return ok.error();
  Topic made = topic;
  made.created_at = made.updated_at = sdk::wall_clock_ms();
  made.last_event_id = made.created_at * 1000;
  if (auto r = insert(tx, app, made); !r) return r.error();
  return made;
}

sdk::Result<void> TopicStore::insert(sdk::Transaction& tx, std::string_view app, const Topic& made) {
  {
    auto count = tx.query("SELECT COUNT(*) FROM realtime_topics WHERE app_id = ?", {std::string(app)});
    if (!count) return count.error();
    if (!count->empty() && count->rows[0][0].int_or(0) >= max_topics_)
      return sdk::make_error(ErrorKind::invalid_argument, "the app has " + std::to_string(max_topics_) +
                                                              " topics, as many as it may ([realtime] max_topics_per_app)");
    auto inserted = tx.execute(
        "INSERT INTO realtime_topics (app_id, name, external, auth_mode, last_event_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {std::string(app), made.name, made.external ? 1 : 0, std::string(auth_mode_name(made.auth_mode)),
         made.last_event_id, made.created_at, made.updated_at});
    if (!inserted && inserted.error().kind == ErrorKind::conflict)
      return sdk::make_error(ErrorKind::conflict, "topic '" + made.name + "' is registered already");
    if (!inserted) return inserted.error();
    return {};
  }
}

namespace {

const std::string kListTopics = std::string("SELECT ") + kTopicColumns + " FROM realtime_topics WHERE app_id = ? ORDER BY name";

sdk::Result<std::vector<Topic>> topics_of(sdk::Result<sdk::Rows> rows) {
  if (!rows) return rows.error();
  std::vector<Topic> out;
  for (const auto& row : rows->rows) out.push_back(topic_from(row));
  return out;
}

}  // namespace

sdk::Result<std::vector<Topic>> TopicStore::list(std::string_view app) {
  return topics_of(db_.query(kListTopics, {std::string(app)}));
}

sdk::Result<std::vector<Topic>> TopicStore::list(sdk::Transaction& tx, std::string_view app) {
  return topics_of(tx.query(kListTopics, {std::string(app)}));
}

sdk::Result<std::optional<Topic>> TopicStore::find(std::string_view app, std::string_view name) {
  auto rows = db_.query(std::string("SELECT ") + kTopicColumns + " FROM realtime_topics WHERE app_id = ? AND name = ?",
                        {std::string(app), std::string(name)});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Topic>();
  return std::optional<Topic>(topic_from(rows->rows[0]));
}

sdk::Result<std::optional<Topic>> TopicStore::find(sdk::Transaction& tx, std::string_view app, std::string_view name) {
  auto rows = tx.query(std::string("SELECT ") + kTopicColumns + " FROM realtime_topics WHERE app_id = ? AND name = ?",
                       {std::string(app), std::string(name)});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Topic>();
  return std::optional<Topic>(topic_from(rows->rows[0]));
}

sdk::Result<std::optional<Topic>> TopicStore::update(std::string_view app, std::string_view name,
                                                     std::optional<bool> external, std::optional<AuthMode> auth_mode,
                                                     const Also& also) {
  std::optional<Topic> out;
  auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto changed = update(tx, app, name, external, auth_mode, also);
    if (!changed) return changed.error();
    out = std::move(*changed);
    return {};
  });
  if (!r) return r.error();
  return out;
}

sdk::Result<std::optional<Topic>> TopicStore::update(sdk::Transaction& tx, std::string_view app, std::string_view name,
                                                     std::optional<bool> external, std::optional<AuthMode> auth_mode,
                                                     const Also& also) {
  std::optional<Topic> out;
  {
    auto found = find(tx, app, name);
    if (!found) return found.error();
    if (!*found) return std::optional<Topic>();
    Topic t = **found;
    if (external) t.external = *external;
    if (auth_mode) t.auth_mode = *auth_mode;
    t.updated_at = sdk::wall_clock_ms();
    auto done = tx.execute("UPDATE realtime_topics SET external = ?, auth_mode = ?, updated_at = ? WHERE app_id = ? AND name = ?",
                           {t.external ? 1 : 0, std::string(auth_mode_name(t.auth_mode)), t.updated_at, std::string(app),
                            std::string(name)});
    if (!done) return done.error();
    if (also)
      if (auto r = also(tx, **found, t); !r) return r.error();
    out = std::move(t);
  }
  return out;
}

sdk::Result<bool> TopicStore::remove(std::string_view app, std::string_view name,
                                     const std::function<sdk::Result<void>(sdk::Transaction&)>& also) {
  bool existed = false;
  auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto removed = remove(tx, app, name, also);
    if (!removed) return removed.error();
    existed = *removed;
    return {};
  });
  if (!r) return r.error();
  return existed;
}

sdk::Result<bool> TopicStore::remove(sdk::Transaction& tx, std::string_view app, std::string_view name,
                                     const std::function<sdk::Result<void>(sdk::Transaction&)>& also) {
  auto n = tx.execute("DELETE FROM realtime_topics WHERE app_id = ? AND name = ?", {std::string(app), std::string(name)});
  if (!n) return n.error();
  const bool existed = *n > 0;
  auto e = tx.execute("DELETE FROM realtime_events WHERE app_id = ? AND topic = ?", {std::string(app), std::string(name)});
  if (!e) return e.error();
  if (existed && also)
    if (auto a = also(tx); !a) return a.error();
  return existed;
}

sdk::Result<std::optional<std::int64_t>> TopicStore::append(sdk::Transaction& tx, std::string_view app,
                                                            std::string_view topic, std::string_view message,
                                                            std::int64_t published_at) {
  // On PostgreSQL the row lock this takes orders publishes to one topic: ids
  // commit in the order they were given.
  auto next = tx.query("UPDATE realtime_topics SET last_event_id = last_event_id + 1 WHERE app_id = ? AND name = ? "
                       "RETURNING last_event_id",
                       {std::string(app), std::string(topic)});
  if (!next) return next.error();
  if (next->empty()) return std::optional<std::int64_t>();
  const std::int64_t id = next->rows[0][0].int_or(0);
  auto kept = tx.execute("INSERT INTO realtime_events (app_id, topic, id, message, published_at) VALUES (?, ?, ?, ?, ?)",
                         {std::string(app), std::string(topic), id, std::string(message), published_at});
  if (!kept) return kept.error();
  auto dropped = tx.execute("DELETE FROM realtime_events WHERE app_id = ? AND topic = ? AND id <= ?",
                            {std::string(app), std::string(topic), id - buffer_size_});
  if (!dropped) return dropped.error();
  return std::optional<std::int64_t>(id);
}

sdk::Result<TopicStore::Resume> TopicStore::resume(std::string_view app, std::string_view topic, std::int64_t after,
                                                   std::int64_t through) {
  Resume out;
  if (through <= after) {
    out.complete = true;
    return out;
  }
  auto rows = db_.query("SELECT id, message, published_at FROM realtime_events WHERE app_id = ? AND topic = ? AND id > ? "
                        "AND id <= ? ORDER BY id LIMIT ?",
                        {std::string(app), std::string(topic), after, through, std::int64_t{buffer_size_}});
  if (!rows) return rows.error();
  out.events = events_from(*rows);
  // Ids have no gaps: the buffer still holds everything after `after` when
  // its first event is the next one.
  out.complete = !out.events.empty() && out.events.front().id == after + 1;
  return out;
}

sdk::Result<std::vector<StoredEvent>> TopicStore::range(std::string_view app, std::string_view topic, std::int64_t after,
                                                        std::int64_t through) {
  auto rows = db_.query("SELECT id, message, published_at FROM realtime_events WHERE app_id = ? AND topic = ? AND id > ? "
                        "AND id <= ? ORDER BY id",
                        {std::string(app), std::string(topic), after, through});
  if (!rows) return rows.error();
  return events_from(*rows);
}

sdk::Result<void> TopicStore::delete_app(sdk::Transaction& tx, std::string_view app) {
  for (const char* sql : {"DELETE FROM realtime_events WHERE app_id = ?", "DELETE FROM realtime_topics WHERE app_id = ?"}) {
    auto r = tx.execute(sql, {std::string(app)});
    if (!r) return r.error();
  }
  return {};
}

}  // namespace picloud::realtime
