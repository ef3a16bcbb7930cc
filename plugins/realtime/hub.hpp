// This node's subscribers, by topic, and the fan-out of events to them.
//
// Each subscription is a connection the kernel took over (a
// sdk::StreamHandler): the hub writes server-sent-event frames to it, never
// blocking — a client that falls more than max_buffer_bytes behind is closed
// with a `close` event (reason too_slow) instead of growing memory. Each
// topic with subscribers here keeps its last few frames (`recent`), so a
// subscription that read the database's buffer misses nothing published
// between that read and its first live event; events are delivered once
// per subscriber, in id order. Ids are assigned at publish (the same on
// every node); a gap in them (a notification this node missed, or two
// publishes whose commits overtook each other) is filled from the
// database's buffer before the later event goes out.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <picloud/sdk.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store.hpp"

namespace picloud::realtime {

struct HubOptions {
  std::int64_t heartbeat_ms = 30000;
  std::uint64_t max_buffer_bytes = 64 << 10;
  std::size_t recent_frames = 256;
  std::int64_t retry_ms = 2000;
  std::int64_t recheck_ms = 30000;  // how often open streams' topics are read again
};

// Server-sent-event frames (the WHATWG EventSource format): every line of
// `data` becomes a data: line, so any text frames correctly.
std::string message_frame(std::string_view topic, std::int64_t id, std::string_view message_json,
                          std::int64_t published_at);
std::string named_frame(std::string_view event, std::string_view data);
std::string close_frame(std::string_view reason);

class Hub;
struct TopicState;

class Subscriber final : public sdk::StreamHandler {
 public:
  // `generation`: the topic's close count when the subscription was held
  // (a close since then ends it as it opens); `admitted_public`: it came in
  // without a token (a topic turned to tokens ends it).
  Subscriber(Hub& hub, std::shared_ptr<TopicState> topic, std::uint64_t generation, std::int64_t last_sent,
             std::vector<std::string> replay, std::int64_t expires_at_ms, bool admitted_public);
  ~Subscriber() override;
  void opened(sdk::LiveStream& stream) override;
  void closed(sdk::StreamEnd why) override;

 private:
  friend class Hub;
  // With the topic's lock held.
  void send(const std::string& frame, std::int64_t id, std::int64_t now_ms);
  void end_with(std::string_view reason);

  Hub& hub_;
  std::shared_ptr<TopicState> topic_;
  sdk::LiveStream* stream_ = nullptr;  // from opened() until closed()
  std::int64_t last_sent_;
  std::vector<std::string> replay_;
  std::int64_t expires_at_ms_;
  std::uint64_t generation_;
  bool admitted_public_;
  std::int64_t last_write_ms_ = 0;
  std::size_t index_ = 0;  // in the topic's list
  bool attached_ = false;
  bool ending_ = false;
  bool finished_ = false;  // closed() came, or it never opened
};

struct TopicState {
  std::string key, app, topic;
  std::mutex mutex;
  std::vector<Subscriber*> subscribers;
  // Frames delivered while subscriptions were pending (between their
  // database read and their first live event), bounded by count and bytes.
  std::deque<std::pair<std::int64_t, std::shared_ptr<const std::string>>> recent;
  std::size_t recent_bytes = 0;
  std::int64_t last_seen = 0;  // the highest id delivered here
  int pending = 0;             // subscriptions prepared, not yet opened or refused
  std::atomic<std::uint64_t> closes{0};  // how often its streams were ended (with close_reason)
  std::string close_reason;
};

class Hub {
 public:
  // `first_subscriber` runs once, when this node's first subscription
  // opens (the heartbeat timer starts then: an idle node runs none).
  Hub(TopicStore& store, HubOptions options, std::function<void()> first_subscriber)
      : store_(store), options_(options), first_subscriber_(std::move(first_subscriber)) {}

  const HubOptions& options() const { return options_; }
  // The topic's state, held for a subscription about to open (before its
  // database read, so nothing published after that read is missed).
  std::shared_ptr<TopicState> hold(const std::string& app, const std::string& topic);
  // A held subscription that will not open after all.
  void release(const std::shared_ptr<TopicState>& state);

  // An event published on any node (message empty: read it from the
  // buffer). On the cluster listener's thread.
  void deliver(const std::string& app, const std::string& topic, std::int64_t id, std::int64_t published_at,
               std::string_view message);
  // Ends every subscription of a topic, or of an app, with a close event.
  void close_topic(const std::string& app, const std::string& topic, std::string_view reason);
  void close_app(const std::string& app, std::string_view reason);
  // Heartbeats to quiet subscriptions; ends those whose token expired.
  void tick(std::int64_t now_ms);

  std::size_t subscribers(const std::string& app, const std::string& topic);
  std::size_t subscribers();
  std::size_t app_subscribers(const std::string& app);

 private:
  friend class Subscriber;
  void attach(Subscriber& s);
  void detach(Subscriber& s);
  void drop_if_unused(const std::shared_ptr<TopicState>& state);
  void fan_out(TopicState& state, std::int64_t id, std::int64_t published_at, std::string_view message);
  std::vector<std::shared_ptr<TopicState>> snapshot();
  void end_all(TopicState& state, std::string_view reason);  // with its lock held
  // Ends streams the topic's current rules no longer admit: a safety net
  // for a close message a node missed (its listening connection was down).
  void recheck(TopicState& state);

  TopicStore& store_;
  HubOptions options_;
  std::function<void()> first_subscriber_;
  std::once_flag first_subscriber_once_;
  std::mutex apps_mutex_;  // innermost: held with no other lock taken inside
  std::unordered_map<std::string, std::size_t> per_app_;  // open subscriptions by app
  std::int64_t next_recheck_ms_ = 0;                      // tick()'s thread only
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<TopicState>> topics_;
};

}  // namespace picloud::realtime
