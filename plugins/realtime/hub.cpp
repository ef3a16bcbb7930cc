#include "hub.hpp"

#include <algorithm>

namespace picloud::realtime {
namespace {

void append_data_lines(std::string& out, std::string_view data) {
  // A line ends at CR, LF or CRLF; each becomes a data: line of its own.
  std::size_t at = 0;
  while (true) {
    std::size_t end = data.find_first_of("\r\n", at);
    out += "data: ";
    out.append(data.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
    out += '\n';
    if (end == std::string_view::npos) break;
    at = end + (data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n' ? 2 : 1);
  }
}

}  // namespace

std::string message_frame(std::string_view topic, std::int64_t id, std::string_view message_json,
                          std::int64_t published_at) {
  const std::string ids = std::to_string(id);
  std::string data;
  data.reserve(message_json.size() + topic.size() + 80);
  data += "{\"topic\":";
  data += sdk::to_json(sdk::Value(std::string(topic)));
  data += ",\"message\":";
  data += message_json;
  data += ",\"published_at\":";
  data += std::to_string(published_at);
  data += ",\"id\":\"";
  data += ids;
  data += "\"}";
  std::string out;
  out.reserve(data.size() + 32);
  out += "id: ";
  out += ids;
  out += '\n';
  append_data_lines(out, data);
  out += '\n';
  return out;
}

std::string named_frame(std::string_view event, std::string_view data) {
  std::string out = "event: ";
  out += event;
  out += '\n';
  append_data_lines(out, data);
  out += '\n';
  return out;
}

std::string close_frame(std::string_view reason) {
  return named_frame("close", sdk::to_json(sdk::Value::object({{"reason", std::string(reason)}})));
}

// ---- a subscription ---------------------------------------------------------------

Subscriber::Subscriber(Hub& hub, std::shared_ptr<TopicState> topic, std::uint64_t generation, std::int64_t last_sent,
                       std::vector<std::string> replay, std::int64_t expires_at_ms, bool admitted_public)
    : hub_(hub), topic_(std::move(topic)), last_sent_(last_sent), replay_(std::move(replay)),
      expires_at_ms_(expires_at_ms), generation_(generation), admitted_public_(admitted_public) {
  farewell = close_frame("shutdown");
  max_buffer_bytes = hub.options().max_buffer_bytes;
}

Subscriber::~Subscriber() {
  // Made but never handed to the server (the handler failed after making
  // it): its hold on the topic goes.
  if (!finished_ && !attached_) hub_.release(topic_);
}

void Subscriber::opened(sdk::LiveStream& stream) {
  stream_ = &stream;
  hub_.attach(*this);
}

void Subscriber::closed(sdk::StreamEnd) {
  if (finished_) return;
  finished_ = true;
  if (attached_) hub_.detach(*this);
  else hub_.release(topic_);
}

void Subscriber::send(const std::string& frame, std::int64_t id, std::int64_t now_ms) {
  if (ending_ || !stream_ || (id > 0 && id <= last_sent_)) return;
  switch (stream_->write(frame)) {
    case sdk::StreamWrite::written:
      if (id > 0) last_sent_ = id;
      last_write_ms_ = now_ms;
      break;
    case sdk::StreamWrite::full:
      end_with("too_slow");
      break;
    case sdk::StreamWrite::gone:
      ending_ = true;
      break;
  }
}

void Subscriber::end_with(std::string_view reason) {
  if (ending_ || !stream_) return;
  ending_ = true;
  stream_->close(close_frame(reason));
}

// ---- the hub --------------------------------------------------------------------------

std::shared_ptr<TopicState> Hub::hold(const std::string& app, const std::string& topic) {
  std::string key = app + '\n' + topic;
  std::lock_guard lock(mutex_);
  auto& slot = topics_[key];
  if (!slot) {
    slot = std::make_shared<TopicState>();
    slot->key = key;
    slot->app = app;
    slot->topic = topic;
  }
  std::lock_guard state_lock(slot->mutex);
  ++slot->pending;
  return slot;
}

void Hub::release(const std::shared_ptr<TopicState>& state) {
  {
    std::lock_guard lock(state->mutex);
    --state->pending;
  }
  drop_if_unused(state);
}

void Hub::drop_if_unused(const std::shared_ptr<TopicState>& state) {
  std::lock_guard lock(mutex_);
  std::lock_guard state_lock(state->mutex);
  if (state->pending > 0 || !state->subscribers.empty()) return;
  auto it = topics_.find(state->key);
  if (it != topics_.end() && it->second == state) topics_.erase(it);
}

void Hub::attach(Subscriber& s) {
  if (first_subscriber_) std::call_once(first_subscriber_once_, first_subscriber_);
  TopicState& t = *s.topic_;
  // Events this node delivered before the subscription read its position
  // may be past its recent frames (another subscription of the topic set
  // the pace): read those from the buffer first, without the lock.
  std::int64_t seen;
  {
    std::lock_guard lock(t.mutex);
    seen = t.last_seen;
  }
  std::vector<StoredEvent> missed;
  if (seen > s.last_sent_) {
    auto read = store_.range(t.app, t.topic, s.last_sent_, seen);
    if (read) missed = std::move(*read);
  }
  const std::int64_t now = sdk::wall_clock_ms();
  std::lock_guard lock(t.mutex);
  --t.pending;
  s.attached_ = true;
  s.index_ = t.subscribers.size();
  t.subscribers.push_back(&s);
  s.last_write_ms_ = now;
  {
    std::lock_guard apps(apps_mutex_);
    ++per_app_[t.app];
  }
  // What the database's buffer had, then what arrived here since.
  for (const auto& frame : s.replay_) s.send(frame, 0, now);
  std::vector<std::string>().swap(s.replay_);
  for (const auto& e : missed) s.send(message_frame(t.topic, e.id, e.message, e.published_at), e.id, now);
  for (const auto& [id, frame] : t.recent) s.send(*frame, id, now);
  if (s.last_sent_ < t.last_seen && !s.ending_) {
    // Fell out of both: say so rather than skip silently.
    s.send(named_frame("reset", sdk::to_json(sdk::Value::object({{"topic", t.topic},
                                                                 {"reason", "too_old"},
                                                                 {"latest_id", std::to_string(t.last_seen)}}))),
           0, now);
    s.last_sent_ = t.last_seen;
  }
  // A topic new here starts counting from its first subscriber's position,
  // so an event that overtakes another shows as a gap to fill.
  if (t.last_seen == 0) t.last_seen = s.last_sent_;
  if (t.pending == 0) {
    t.recent.clear();  // only pending subscriptions need them
    t.recent_bytes = 0;
  }
  // Ended while it was being set up (its topic changed, or was deleted).
  if (t.closes.load() != s.generation_) s.end_with(t.close_reason);
}

void Hub::detach(Subscriber& s) {
  auto state = s.topic_;
  {
    std::lock_guard lock(state->mutex);
    auto& list = state->subscribers;
    if (s.index_ < list.size() && list[s.index_] == &s) {
      list[s.index_] = list.back();
      list[s.index_]->index_ = s.index_;
      list.pop_back();
      std::lock_guard apps(apps_mutex_);
      if (auto it = per_app_.find(state->app); it != per_app_.end() && --it->second == 0) per_app_.erase(it);
    }
    s.stream_ = nullptr;
  }
  drop_if_unused(state);
}

std::vector<std::shared_ptr<TopicState>> Hub::snapshot() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<TopicState>> out;
  out.reserve(topics_.size());
  for (auto& [key, state] : topics_) out.push_back(state);
  return out;
}

void Hub::deliver(const std::string& app, const std::string& topic, std::int64_t id, std::int64_t published_at,
                  std::string_view message) {
  std::shared_ptr<TopicState> state;
  {
    std::lock_guard lock(mutex_);
    auto it = topics_.find(app + '\n' + topic);
    if (it == topics_.end()) return;  // nobody here listens
    state = it->second;
  }
  std::int64_t seen;
  {
    std::lock_guard lock(state->mutex);
    seen = state->last_seen;
  }
  if (id <= seen) return;  // delivered already (a gap was filled with it)
  if (seen > 0 && id > seen + 1) {
    // Missed or overtaken events: from the buffer first, in order.
    auto missing = store_.range(app, topic, seen, id - 1);
    if (missing)
      for (const auto& e : *missing) fan_out(*state, e.id, e.published_at, e.message);
  }
  if (message.empty()) {
    auto stored = store_.range(app, topic, id - 1, id);
    if (!stored || stored->empty()) return;  // fell out of the buffer already
    fan_out(*state, id, published_at, stored->front().message);
    return;
  }
  fan_out(*state, id, published_at, message);
}

void Hub::fan_out(TopicState& t, std::int64_t id, std::int64_t published_at, std::string_view message) {
  auto frame = std::make_shared<const std::string>(message_frame(t.topic, id, message, published_at));
  const std::int64_t now = sdk::wall_clock_ms();
  std::lock_guard lock(t.mutex);
  if (id <= t.last_seen) return;
  t.last_seen = id;
  if (t.pending > 0) {
    constexpr std::size_t kRecentBytes = 1 << 20;
    t.recent.emplace_back(id, frame);
    t.recent_bytes += frame->size();
    while (!t.recent.empty() && (t.recent.size() > options_.recent_frames || t.recent_bytes > kRecentBytes)) {
      t.recent_bytes -= t.recent.front().second->size();
      t.recent.pop_front();
    }
  }
  for (Subscriber* s : t.subscribers) s->send(*frame, id, now);
}

void Hub::close_topic(const std::string& app, const std::string& topic, std::string_view reason) {
  std::shared_ptr<TopicState> state;
  {
    std::lock_guard lock(mutex_);
    auto it = topics_.find(app + '\n' + topic);
    if (it == topics_.end()) return;
    state = it->second;
  }
  std::lock_guard lock(state->mutex);
  end_all(*state, reason);
}

void Hub::close_app(const std::string& app, std::string_view reason) {
  for (auto& state : snapshot()) {
    if (state->app != app) continue;
    std::lock_guard lock(state->mutex);
    end_all(*state, reason);
  }
}

void Hub::end_all(TopicState& state, std::string_view reason) {
  state.close_reason = std::string(reason);
  state.closes.fetch_add(1);  // subscriptions still being set up end as they open
  for (Subscriber* s : state.subscribers) s->end_with(reason);
}

void Hub::recheck(TopicState& state) {
  {
    std::lock_guard lock(state.mutex);
    if (state.subscribers.empty()) return;
  }
  auto topic = store_.find(state.app, state.topic);
  if (!topic) return;  // the database is away: try at the next round
  std::lock_guard lock(state.mutex);
  if (!*topic) return end_all(state, "topic_deleted");
  if (!(*topic)->external) return end_all(state, "topic_changed");
  if ((*topic)->auth_mode == AuthMode::token)
    for (Subscriber* s : state.subscribers)
      if (s->admitted_public_) s->end_with("topic_changed");
}

void Hub::tick(std::int64_t now_ms) {
  static const std::string heartbeat = ": hb\n\n";
  const bool recheck_now = now_ms >= next_recheck_ms_;
  if (recheck_now) next_recheck_ms_ = now_ms + options_.recheck_ms;
  for (auto& state : snapshot()) {
    if (recheck_now) recheck(*state);
    std::lock_guard lock(state->mutex);
    for (Subscriber* s : state->subscribers) {
      if (s->expires_at_ms_ > 0 && now_ms >= s->expires_at_ms_) s->end_with("token_expired");
      else if (now_ms - s->last_write_ms_ >= options_.heartbeat_ms) s->send(heartbeat, 0, now_ms);
    }
  }
}

std::size_t Hub::subscribers(const std::string& app, const std::string& topic) {
  std::shared_ptr<TopicState> state;
  {
    std::lock_guard lock(mutex_);
    auto it = topics_.find(app + '\n' + topic);
    if (it == topics_.end()) return 0;
    state = it->second;
  }
  std::lock_guard lock(state->mutex);
  return state->subscribers.size();
}

std::size_t Hub::app_subscribers(const std::string& app) {
  std::lock_guard lock(apps_mutex_);
  auto it = per_app_.find(app);
  return it == per_app_.end() ? 0 : it->second;
}

std::size_t Hub::subscribers() {
  std::size_t n = 0;
  for (auto& state : snapshot()) {
    std::lock_guard lock(state->mutex);
    n += state->subscribers.size();
  }
  return n;
}

}  // namespace picloud::realtime
