// What the admin views show of each topic an app published to: when it was
// first and last published to, how many messages in all, in the last hour
// and in the last day.
//
// Kept off the publish path: a publish adds to counters in this node's
// memory, and flush() (a task every few seconds, and at shutdown) adds them
// to the database in short transactions. Counting in the publish's own
// transaction would make every publish to a topic wait for the one before
// it on PostgreSQL (one counter row, locked until commit). The price: a
// node killed with -9 loses the counts of its last few seconds — counts,
// never messages.
//
// Bounded against a script publishing to endless new topic names: an app
// tracks at most max_topics topics (one row each); once it has that many,
// this node remembers which they are and counts nothing else for it until
// the next hour (until then, a burst of new topic names may crowd out some
// counts of its tracked ones); and about kMaxPending topics wait in memory.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/ids.hpp"
#include "picloud/sdk/metrics.hpp"

namespace picloud::pubsub {

struct TopicSummary {
  std::string topic;
  std::int64_t first_published_at = 0;  // ms since the epoch
  std::int64_t last_published_at = 0;
  std::int64_t published_total = 0;
  std::int64_t published_last_hour = 0;
  std::int64_t published_last_day = 0;
};

struct TopicPage {
  std::vector<TopicSummary> items;
  std::optional<std::string> next;  // the last topic, when there may be more
};

class TopicStats {
 public:
  using Clock = std::int64_t (*)();
  // `max_topics`: how many topics of one app are tracked; publishes to
  // further topics still deliver, they are just not listed. `dropped`
  // counts publishes whose counts were not kept.
  TopicStats(sdk::Database& db, std::int64_t max_topics, sdk::Counter& dropped, Clock now = sdk::wall_clock_ms);

  // `messages` were published to the app's topic at `at_ms`.
  void record(std::string_view app, std::string_view topic, std::int64_t messages, std::int64_t at_ms);
  // Adds what was recorded since the last flush to the database; on an
  // error what was not written is kept for the next one.
  sdk::Result<void> flush();

  // The app's topics in name order after `after`.
  sdk::Result<TopicPage> list(std::string_view app, const std::string& after, std::int64_t limit);
  // One topic, or nothing when it was not published to (lately).
  sdk::Result<std::optional<TopicSummary>> get(std::string_view app, std::string_view topic);

  // For the sweep (on one node at a time): drops topics not published to
  // for `retention_ms`, and what deleted apps left. Returns the topics
  // dropped.
  sdk::Result<std::int64_t> sweep(sdk::Transaction& tx, std::int64_t retention_ms);
  // An app is being deleted (inside `tx`): its counts go, and counts other
  // nodes still hold for it are refused when they come.
  sdk::Result<void> forget_app(sdk::Transaction& tx, std::string_view app);

 private:
  struct Pending {
    std::int64_t messages = 0;
    std::int64_t first_ms = 0;
    std::int64_t last_ms = 0;
    std::map<std::int64_t, std::int64_t> by_ms;  // per minute, at the minute's start
  };
  using Key = std::pair<std::string, std::string>;  // app, topic
  using PendingMap = std::map<Key, Pending>;
  enum class Written { added, untracked };

  // `may_insert` false: only a topic the database tracks already is counted.
  sdk::Result<Written> write(sdk::Transaction& tx, const Key& key, const Pending& p, bool may_insert);
  sdk::Result<void> remember_full(std::string_view app);
  void put_back(PendingMap::iterator from, PendingMap::iterator to);
  std::vector<TopicSummary> summaries(const sdk::Rows& rows) const;
  static void merge(Pending& into, const Pending& from);

  sdk::Database& db_;
  std::int64_t max_topics_;
  sdk::Counter& dropped_;
  Clock now_;
  std::mutex mutex_;  // guards everything below
  PendingMap pending_;
  std::map<std::string, std::int64_t, std::less<>> pending_per_app_;
  // Apps at max_topics: the topics they track, and when to look again.
  struct Full {
    std::set<std::string, std::less<>> tracked;
    std::int64_t until = 0;
  };
  std::map<std::string, Full, std::less<>> full_apps_;
  std::mutex flush_mutex_;  // one flush at a time
};

}  // namespace picloud::pubsub
