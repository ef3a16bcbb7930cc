// Publishing: a batch of messages to one topic of the calling app becomes,
// in one transaction, one outbox row per message and matching subscriber
// (the kernel's event fan-out). Either every message is queued for every
// subscriber or, when anything fails, none is.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/metrics.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/triggers.hpp"
#include "topic_stats.hpp"

namespace picloud::pubsub {

struct Limits {
  std::int64_t max_message_bytes = 256 * 1024;  // one message, as JSON text
  std::int64_t max_batch_messages = 1000;       // messages in one publish_many
  std::int64_t max_batch_bytes = 8 << 20;       // all of them, as JSON text
  // What one publish may write to the outbox, messages times subscribers
  // (each delivery's envelope counted too): it is one transaction.
  std::int64_t max_fanout_deliveries = 10000;
  std::int64_t max_fanout_bytes = 32 << 20;
};

struct Published {
  std::vector<std::string> message_ids;  // in the order given
  int subscribers = 0;                   // how many subscribers each message was queued for
  std::int64_t published_at = 0;         // ms since the epoch
};

class Publisher {
 public:
  Publisher(sdk::Database& db, sdk::EventSink& events, TopicStats& stats, Limits limits, sdk::Counter& messages,
            sdk::Counter& deliveries);

  // Errors: invalid_argument naming the topic's or the message's fault
  // (nothing is published); the database's (nothing is published).
  sdk::Result<Published> publish(const sdk::CallContext& call, std::string_view topic,
                                 std::span<const sdk::Value> messages);

  const Limits& limits() const { return limits_; }

 private:
  sdk::Database& db_;
  sdk::EventSink& events_;
  TopicStats& stats_;
  Limits limits_;
  sdk::Counter& messages_;
  sdk::Counter& deliveries_;
};

}  // namespace picloud::pubsub
