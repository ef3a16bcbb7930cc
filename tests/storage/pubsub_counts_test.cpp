// The pubsub plugin's topic counts (plugins/pubsub/topic_stats.cpp) on a
// real SQLite file and a real PostgreSQL, with the plugin's own migrations
// and a clock the test moves: what two nodes, a deleted app, a full app
// and a failed flush do to them. The plugin end to end is in
// services/pubsub_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>

#include "kernel/db/migrations.hpp"
#include "kernel/log.hpp"
#include "recent_counts.hpp"
#include "support.hpp"
#include "topic_stats.hpp"

using namespace picloud;
using picloud::pubsub::RecentCounts;
using picloud::pubsub::TopicStats;
using picloud::test::Backend;

namespace {

constexpr std::int64_t kMinute = 60'000, kHour = 3'600'000;
constexpr std::int64_t kStart = 1'800'000'000'000;  // a whole hour, in 2027

std::atomic<std::int64_t> g_now{kStart};
std::int64_t test_clock() { return g_now.load(); }

struct CountingCounter final : sdk::Counter {
  std::atomic<std::uint64_t> n{0};
  void inc(std::uint64_t by) override { n += by; }
};

TEST(RecentCounts, SlidesAndSumsItsWindow) {
  RecentCounts hour = pubsub::last_hour_by_minute();
  EXPECT_EQ(hour.sum(kStart), 0);
  hour.add(kStart, 2);
  hour.add(kStart + 30 * kMinute, 3);
  hour.add(kStart + 59 * kMinute, 4);
  EXPECT_EQ(hour.sum(kStart + 59 * kMinute), 9);
  EXPECT_EQ(hour.sum(kStart + 60 * kMinute), 7);  // the first minute left the window
  EXPECT_EQ(hour.sum(kStart + 90 * kMinute), 4);
  EXPECT_EQ(hour.sum(kStart + 119 * kMinute), 0);
  hour.add(kStart + 61 * kMinute, 1);             // slides: minute 0 and 1 drop out
  hour.add(kStart, 100);                          // older than the window now: dropped
  EXPECT_EQ(hour.sum(kStart + 61 * kMinute), 8);
  // Round trip, and text that is not one reads as nothing.
  RecentCounts back = RecentCounts::decode(hour.encode(), kMinute, 60);
  EXPECT_EQ(back.encode(), hour.encode());
  EXPECT_EQ(back.sum(kStart + 61 * kMinute), 8);
  std::string negative = "[-5", huge = "[9223372036854775807";
  for (int i = 0; i < 60; ++i) negative += ",1", huge += ",1";
  for (const std::string& bad : {std::string(""), std::string("[]"), std::string("[1,2]"), std::string("not json"),
                                 std::string("[1,2,x]"), negative + "]", huge + "]"})
    EXPECT_EQ(RecentCounts::decode(bad, kMinute, 60).sum(kStart), 0) << bad;
  // A far jump clears it.
  hour.add(kStart + 1000 * kHour, 5);
  EXPECT_EQ(hour.sum(kStart + 1000 * kHour), 5);
  // Merging two windows adds what both hold.
  RecentCounts a = pubsub::last_day_by_hour(), b = pubsub::last_day_by_hour();
  a.add(kStart, 1);
  b.add(kStart + 2 * kHour, 2);
  a.add(b);
  EXPECT_EQ(a.sum(kStart + 2 * kHour), 3);
  EXPECT_EQ(a.sum(kStart + 24 * kHour), 2);
}

class PubsubCounts : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    g_now = kStart;
    tdb_ = std::make_unique<test::TestDatabase>(GetParam());
    db_ = tdb_->open();
    kernel::db::MigrationRunner runner(*db_);
    auto files = runner.discover(test::source_dir() + "/migrations/pubsub");
    ASSERT_TRUE(files.ok()) << files.error().message;
    kernel::ComponentLogger log("test");
    ASSERT_TRUE(runner.apply("pubsub", *files, log).ok());
  }
  std::unique_ptr<TopicStats> node(std::int64_t max_topics = 100) {
    return std::make_unique<TopicStats>(*db_, max_topics, dropped_, &test_clock);
  }
  std::int64_t rows(const std::string& app) {
    auto r = db_->query("SELECT count(*) FROM pubsub_topics WHERE app_id = ?", {app});
    return r ? r->rows[0][0].as_int() : -1;
  }

  std::unique_ptr<test::TestDatabase> tdb_;
  std::unique_ptr<kernel::db::Database> db_;
  CountingCounter dropped_;
};

TEST_P(PubsubCounts, TwoNodesCountsAddUpPerTopic) {
  auto one = node(), two = node();
  one->record("app", "orders", 2, kStart);
  two->record("app", "orders", 3, kStart + 2 * kHour);
  one->record("app", "users", 1, kStart + kHour);
  ASSERT_TRUE(one->flush().ok());
  ASSERT_TRUE(two->flush().ok());
  g_now = kStart + 2 * kHour + kMinute;
  auto orders = one->get("app", "orders");
  ASSERT_TRUE(orders.ok() && orders->has_value());
  EXPECT_EQ((*orders)->published_total, 5);
  EXPECT_EQ((*orders)->first_published_at, kStart);
  EXPECT_EQ((*orders)->last_published_at, kStart + 2 * kHour);
  EXPECT_EQ((*orders)->published_last_hour, 3);
  EXPECT_EQ((*orders)->published_last_day, 5);
  auto page = two->list("app", "", 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].topic, "orders");
  ASSERT_TRUE(page->next.has_value());
  auto rest = two->list("app", *page->next, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].topic, "users");
  EXPECT_FALSE(rest->next.has_value());
  // A day later the recent counts are gone, the totals stay.
  g_now = kStart + 30 * kHour;
  auto later = one->get("app", "orders");
  EXPECT_EQ((*later)->published_last_day, 0);
  EXPECT_EQ((*later)->published_total, 5);
  EXPECT_FALSE(one->get("other", "orders")->has_value());
  EXPECT_EQ(dropped_.n.load(), 0u);
}

TEST_P(PubsubCounts, AFailedFlushKeepsItsCountsForTheNext) {
  auto stats = node();
  stats->record("app", "t", 4, kStart);
  ASSERT_TRUE(db_->execute("ALTER TABLE pubsub_topics RENAME TO pubsub_topics_away").ok());
  EXPECT_FALSE(stats->flush().ok());
  stats->record("app", "t", 1, kStart);
  ASSERT_TRUE(db_->execute("ALTER TABLE pubsub_topics_away RENAME TO pubsub_topics").ok());
  ASSERT_TRUE(stats->flush().ok());
  EXPECT_EQ((*stats->get("app", "t"))->published_total, 5);
}

// A flush writes 500 topics a transaction; when the second one fails, the
// first stays written and only the rest waits for the next flush (neither
// lost nor counted twice).
TEST_P(PubsubCounts, AFlushThatFailsHalfWayRetriesOnlyWhatItDidNotWrite) {
  auto stats = node(1000);
  auto name = [](int i) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "t%03d", i);
    return std::string(buf);
  };
  for (int i = 0; i < 600; ++i) stats->record("app", name(i), 1, kStart);
  const bool pg = GetParam() == Backend::postgres;
  if (pg) {
    ASSERT_TRUE(db_->execute("CREATE FUNCTION ps_refuse() RETURNS trigger AS $$ BEGIN IF NEW.topic = 't550' THEN "
                             "RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
                    .ok());
    ASSERT_TRUE(db_->execute("CREATE TRIGGER ps_refuse BEFORE INSERT ON pubsub_topics FOR EACH ROW EXECUTE FUNCTION ps_refuse()")
                    .ok());
  } else {
    ASSERT_TRUE(db_->execute("CREATE TRIGGER ps_refuse BEFORE INSERT ON pubsub_topics WHEN NEW.topic = 't550' "
                             "BEGIN SELECT RAISE(ABORT, 'refused'); END")
                    .ok());
  }
  EXPECT_FALSE(stats->flush().ok());
  EXPECT_EQ(rows("app"), 500);
  ASSERT_TRUE(db_->execute(pg ? "DROP TRIGGER ps_refuse ON pubsub_topics" : "DROP TRIGGER ps_refuse").ok());
  ASSERT_TRUE(stats->flush().ok());
  EXPECT_EQ(rows("app"), 600);
  auto totals = db_->query("SELECT min(published_total), max(published_total) FROM pubsub_topics WHERE app_id = 'app'");
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->rows[0][0].as_int(), 1);
  EXPECT_EQ(totals->rows[0][1].as_int(), 1);
}

// Counts a node still holds for an app deleted meanwhile (on another node)
// are refused when they come.
TEST_P(PubsubCounts, CountsOfADeletedAppAreNotWrittenBack) {
  auto deleting = node(), late = node();
  late->record("gone", "t", 1, kStart);
  deleting->record("gone", "t", 1, kStart);
  ASSERT_TRUE(deleting->flush().ok());
  ASSERT_EQ(rows("gone"), 1);
  ASSERT_TRUE(db_->transaction([&](sdk::Transaction& tx) { return deleting->forget_app(tx, "gone"); }).ok());
  EXPECT_EQ(rows("gone"), 0);
  ASSERT_TRUE(late->flush().ok());
  EXPECT_EQ(rows("gone"), 0);
  EXPECT_EQ(dropped_.n.load(), 1u);
  // And that node counts nothing more for it.
  late->record("gone", "u", 1, kStart);
  ASSERT_TRUE(late->flush().ok());
  EXPECT_EQ(rows("gone"), 0);
}

// An app tracks at most max_topics topics; publishes to others are dropped
// (and counted as such) without growing anything, the tracked ones still
// count, and an hour later the node looks again.
TEST_P(PubsubCounts, AnAppPastMaxTopicsCountsOnlyWhatItTracks) {
  auto stats = node(2);
  stats->record("app", "a", 1, kStart);
  stats->record("app", "b", 1, kStart);
  stats->record("app", "c", 1, kStart);  // refused at the flush
  ASSERT_TRUE(stats->flush().ok());
  EXPECT_EQ(rows("app"), 2);
  EXPECT_EQ(dropped_.n.load(), 1u);
  for (int i = 0; i < 50; ++i) stats->record("app", "new" + std::to_string(i), 1, kStart);  // dropped at once
  stats->record("app", "a", 1, kStart);
  ASSERT_TRUE(stats->flush().ok());
  EXPECT_EQ(dropped_.n.load(), 51u);
  EXPECT_EQ((*stats->get("app", "a"))->published_total, 2);
  EXPECT_EQ(rows("app"), 2);
  // Other apps are not held back by it.
  stats->record("other", "x", 1, kStart);
  ASSERT_TRUE(stats->flush().ok());
  EXPECT_EQ(rows("other"), 1);
  // After the sweep dropped an idle topic and an hour passed, a new one is taken.
  g_now = kStart + 2 * kHour;
  stats->record("app", "b", 1, g_now);
  ASSERT_TRUE(db_->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
                  auto n = stats->sweep(tx, kHour);
                  if (!n) return n.error();
                  EXPECT_EQ(*n, 3);  // every row was idle for over an hour ("b" waits in memory)
                  return {};
                }).ok());
  ASSERT_TRUE(stats->flush().ok());
  stats->record("app", "d", 1, g_now);
  ASSERT_TRUE(stats->flush().ok());
  EXPECT_EQ(rows("app"), 2);
  EXPECT_TRUE(stats->get("app", "d")->has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, PubsubCounts, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return test::backend_name(info.param); });

}  // namespace
