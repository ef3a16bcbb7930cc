#include "publisher.hpp"

#include <algorithm>

#include "picloud/sdk/ids.hpp"
#include "picloud/sdk/json.hpp"
#include "topics.hpp"

namespace picloud::pubsub {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;

// An outbox row's bytes besides the message and topic (ids, app, source,
// the event's field names, published_at), rounded up.
constexpr std::int64_t kEnvelopeBytes = 320;

}  // namespace

Publisher::Publisher(sdk::Database& db, sdk::EventSink& events, TopicStats& stats, Limits limits,
                     sdk::Counter& messages, sdk::Counter& deliveries)
    : db_(db), events_(events), stats_(stats), limits_(limits), messages_(messages), deliveries_(deliveries) {}

sdk::Result<Published> Publisher::publish(const sdk::CallContext& call, std::string_view topic,
                                          std::span<const Value> messages) {
  if (auto ok = check_topic(topic); !ok) return ok.error();
  if (static_cast<std::int64_t>(messages.size()) > limits_.max_batch_messages)
    return make_error(ErrorKind::invalid_argument,
                      "a batch holds at most " + std::to_string(limits_.max_batch_messages) + " messages, got " +
                          std::to_string(messages.size()) + " ([pubsub] max_batch_messages)");
  // Every message is checked before anything is written.
  std::int64_t batch_bytes = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string label = messages.size() == 1 ? "message" : "message " + std::to_string(i);
    if (auto bad = sdk::unstorable_part(messages[i], label); !bad.empty())
      return make_error(ErrorKind::invalid_argument, bad);
    const std::string text = sdk::to_json(messages[i]);
    if (static_cast<std::int64_t>(text.size()) > limits_.max_message_bytes)
      return make_error(ErrorKind::invalid_argument, label + " is " + std::to_string(text.size()) +
                                                         " bytes of JSON; at most " +
                                                         std::to_string(limits_.max_message_bytes) +
                                                         " ([pubsub] max_message_bytes)");
    batch_bytes += static_cast<std::int64_t>(text.size());
  }
  // What each delivery of the batch writes besides the messages: the
  // event's other fields, ids and the outbox row's columns.
  const std::int64_t written_per_subscriber =
      batch_bytes + static_cast<std::int64_t>(messages.size()) * (kEnvelopeBytes + static_cast<std::int64_t>(topic.size()));
  if (batch_bytes > limits_.max_batch_bytes)
    return make_error(ErrorKind::invalid_argument, "the batch is " + std::to_string(batch_bytes) +
                                                       " bytes of JSON; at most " +
                                                       std::to_string(limits_.max_batch_bytes) +
                                                       " ([pubsub] max_batch_bytes)");
  Published out;
  if (messages.empty()) return out;
  out.published_at = sdk::wall_clock_ms();
  std::int64_t queued = 0;
  auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    out.message_ids.clear();
    out.subscribers = 0;
    queued = 0;
    for (const Value& message : messages) {
      std::string id = sdk::time_ordered_id(out.published_at);
      auto matched = events_.emit(tx, call,
                                  {"pubsub", "publish",
                                   Value::object({{"topic", std::string(topic)},
                                                  {"message", message},
                                                  {"message_id", id},
                                                  {"published_at", out.published_at}})});
      if (!matched) return matched.error();
      // Known once the first message found its subscribers; a publish that
      // would write too much rolls back before it does.
      const std::int64_t n = static_cast<std::int64_t>(messages.size());
      if (*matched * n > limits_.max_fanout_deliveries)
        return make_error(ErrorKind::invalid_argument,
                          std::to_string(n) + (n == 1 ? " message" : " messages") + " for " +
                              std::to_string(*matched) + " subscribers would queue " + std::to_string(*matched * n) +
                              " deliveries; at most " + std::to_string(limits_.max_fanout_deliveries) +
                              " at once ([pubsub] max_fanout_deliveries): publish smaller batches");
      if (*matched * written_per_subscriber > limits_.max_fanout_bytes)
        return make_error(ErrorKind::invalid_argument,
                          "the publish would write " + std::to_string(*matched * written_per_subscriber) + " bytes for " +
                              std::to_string(*matched) + " subscribers; at most " +
                              std::to_string(limits_.max_fanout_bytes) +
                              " at once ([pubsub] max_fanout_bytes): publish smaller or fewer messages");
      // Subscribers added while the batch is written (PostgreSQL) may see
      // its later messages only; say the most any message reached.
      out.subscribers = std::max(out.subscribers, *matched);
      queued += *matched;
      out.message_ids.push_back(std::move(id));
    }
    return {};
  });
  if (!r) return r.error();
  messages_.inc(messages.size());
  deliveries_.inc(static_cast<std::uint64_t>(queued));
  stats_.record(call.app_id, topic, static_cast<std::int64_t>(messages.size()), out.published_at);
  return out;
}

}  // namespace picloud::pubsub
