// The pubsub plugin: durable topics for scripts (pubsub::publish,
// publish_many), the `pubsub` trigger kind (each subscriber a trigger with
// a topic pattern, its own retries and dead letters), and an admin API to
// publish, see topics and the subscribers' backlogs. Built on the SDK alone,
// like any third-party plugin. See docs/pubsub.md.
//
// Config ([pubsub] in the config file, or PICLOUD_PUBSUB_<KEY>):
//   max_message_bytes     largest message, as JSON text (default 256 KiB)
//   max_batch_messages    messages in one publish_many (default 1000)
//   max_batch_bytes       all of a batch, as JSON text (default 8 MiB)
//   max_fanout_deliveries what one publish may queue, messages times
//                         subscribers (default 10000)
//   max_fanout_bytes      and the bytes that writes (default 32 MiB)
//   max_topics            topics of one app the admin views track (default 10000)
//   topic_retention_days  a topic not published to for this long leaves the
//                         admin views (default 30)
//   stats_flush_interval_ms  how often this node writes its publish counts
//                         (default 5000)
#include <memory>
#include <picloud/sdk.hpp>
#include <picloud/sdk/admin_routes.hpp>

#include "publisher.hpp"
#include "pubsub_admin_routes.hpp"
#include "pubsub_script_api.hpp"
#include "topic_stats.hpp"
#include "topics.hpp"

namespace {

using namespace picloud;
using sdk::ErrorKind;
using sdk::Result;

constexpr std::int64_t kSweepIntervalMs = 3600 * 1000;

class PubsubPlugin final : public sdk::Plugin {
 public:
  Result<void> configure(sdk::PluginContext& ctx) override {
    auto& config = ctx.config();
    pubsub::Limits limits;
    auto message = config.get_int("max_message_bytes", limits.max_message_bytes, 16, 16 << 20);
    if (!message) return message.error();
    auto batch = config.get_int("max_batch_messages", limits.max_batch_messages, 1, 100000);
    if (!batch) return batch.error();
    auto batch_bytes = config.get_int("max_batch_bytes", limits.max_batch_bytes, 16, 256 << 20);
    if (!batch_bytes) return batch_bytes.error();
    auto fanout = config.get_int("max_fanout_deliveries", limits.max_fanout_deliveries, 1, 10'000'000);
    if (!fanout) return fanout.error();
    auto fanout_bytes = config.get_int("max_fanout_bytes", limits.max_fanout_bytes, 16, 1LL << 40);
    if (!fanout_bytes) return fanout_bytes.error();
    auto topics = config.get_int("max_topics", 10000, 1, 10'000'000);
    if (!topics) return topics.error();
    auto retention = config.get_int("topic_retention_days", 30, 1, 3650);
    if (!retention) return retention.error();
    auto flush = config.get_int("stats_flush_interval_ms", 5000, 10, 3600 * 1000);
    if (!flush) return flush.error();
    limits = {*message, *batch, *batch_bytes, *fanout, *fanout_bytes};
    if (limits.max_batch_bytes < limits.max_message_bytes)
      return sdk::make_error(ErrorKind::invalid_argument,
                             "[pubsub] max_batch_bytes (" + std::to_string(limits.max_batch_bytes) +
                                 ") is smaller than max_message_bytes (" + std::to_string(limits.max_message_bytes) +
                                 "): a batch could not hold one message");
    retention_ms_ = *retention * 24 * 3600 * 1000;
    flush_interval_ms_ = *flush;
    if (!ctx.events() || !ctx.access())
      return sdk::make_error(ErrorKind::internal, "the kernel lacks the event sink or access control");

    auto& metrics = ctx.metrics();
    stats_ = std::make_unique<pubsub::TopicStats>(
        ctx.database(), *topics,
        metrics.counter("topic_counts_dropped_total",
                        "publishes the admin views did not count (an app past max_topics, or too many topics at once)"));
    publisher_ = std::make_unique<pubsub::Publisher>(
        ctx.database(), *ctx.events(), *stats_, limits,
        metrics.counter("messages_published_total", "messages published (committed)"),
        metrics.counter("deliveries_queued_total", "deliveries queued: messages times the subscribers they matched"));

    // An app's topic counts go with it; its queued deliveries and dead
    // letters are the kernel's and go with the app too.
    if (auto r = ctx.on_app_deleted([this](sdk::Transaction& tx, std::string_view app) -> Result<void> {
          return stats_->forget_app(tx, app);
        });
        !r)
      return r;
    if (auto r = ctx.trigger_kinds()->declare(pubsub::trigger_kind()); !r) return r;
    if (auto r = pubsub::add_admin_routes(ctx, *publisher_, *stats_, *ctx.events()); !r) return r;
    if (auto r = sdk::add_admin_view_json(ctx, pubsub::admin_view_json()); !r) return r;
    return pubsub::declare_script_api(*ctx.script_api(), *publisher_, *ctx.access());
  }

  Result<void> start(sdk::PluginContext& ctx) override {
    log_ = &ctx.logger();
    ctx.tasks().every("stats-flush", flush_interval_ms_, [this] {
      if (auto r = stats_->flush(); !r)
        log_->warn("publish counts not written; kept for the next try", {{"error", r.error().message}});
    });
    ctx.tasks().every_on_one_node("stats-sweep", kSweepIntervalMs, [this](sdk::Transaction& tx) -> Result<void> {
      auto dropped = stats_->sweep(tx, retention_ms_);
      if (!dropped) return dropped.error();
      if (*dropped > 0) log_->info("idle topics left the admin views", {{"topics", std::to_string(*dropped)}});
      return {};
    });
    return {};
  }

  // Tasks are joined before stop(): the last counts are written here.
  void stop() override {
    if (!stats_) return;
    if (auto r = stats_->flush(); !r && log_)
      log_->warn("publish counts lost at shutdown", {{"error", r.error().message}});
  }

 private:
  std::unique_ptr<pubsub::TopicStats> stats_;
  std::unique_ptr<pubsub::Publisher> publisher_;
  sdk::Logger* log_ = nullptr;
  std::int64_t retention_ms_ = 0;
  std::int64_t flush_interval_ms_ = 5000;
};

}  // namespace

PICLOUD_PLUGIN(PubsubPlugin, "pubsub", "0.1.0", "", "")
