#include "kernel/cluster/notifier.hpp"

#include <pthread.h>

#include <chrono>

#include "kernel/admin/secrets.hpp"
#include "kernel/db/notification_listener.hpp"
#include "kernel/log.hpp"

namespace picloud::kernel::cluster {
namespace {

using sdk::ErrorKind;

// The one PostgreSQL channel every node listens on; messages name their own.
constexpr std::string_view kPgChannel = "picloud";

bool valid_channel(std::string_view channel) {
  if (channel.empty() || channel.size() > 100) return false;
  for (char c : channel)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  return true;
}

}  // namespace

Notifier::Notifier(db::Database& db, MetricsRegistry& metrics)
    : db_(db),
      node_id_(admin::random_hex(8)),
      sent_(metrics.counter("picloud_cluster_messages_sent_total", "messages sent to the nodes (notify)")),
      received_(metrics.counter("picloud_cluster_messages_received_total",
                                "messages received from other nodes (PostgreSQL NOTIFY)")),
      reconnects_(metrics.counter("picloud_cluster_listen_reconnects_total",
                                  "times the listening connection to PostgreSQL was opened again")),
      dropped_(metrics.counter("picloud_cluster_messages_dropped_total",
                               "messages dropped because the listeners fell 100,000 behind")),
      pokes_(metrics.counter("picloud_cluster_pokes_sent_total",
                             "pokes sent to the other nodes (new outbox rows, routing or access changed)")) {}

Notifier::~Notifier() { stop(); }

sdk::Result<void> Notifier::listen(const std::string& channel, Listener listener) {
  if (!valid_channel(channel)) return sdk::make_error(ErrorKind::invalid_argument, "'" + channel + "' is not a channel name");
  std::lock_guard lock(mutex_);
  if (started_) return sdk::make_error(ErrorKind::invalid_argument, "listeners are added before the server starts");
  listeners_[channel].push_back(std::move(listener));
  return {};
}

bool Notifier::is_poke_channel(std::string_view channel) const {
  for (const auto& c : poke_channels_)
    if (c == channel) return true;
  return false;
}

sdk::Result<void> Notifier::listen_for_pokes(const std::string& channel, std::function<void()> listener) {
  if (auto r = listen(channel, [listener](std::string_view) { listener(); }); !r) return r;
  std::lock_guard lock(mutex_);
  poke_channels_.push_back(channel);
  return {};
}

void Notifier::poke(std::string_view channel) {
  if (!pokes_enabled_ || db_.dialect() != sdk::Dialect::postgres || !peers_alive()) return;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || !started_) return;
    for (const auto& due : pokes_due_)
      if (due == channel) return;  // one is due already: it tells of this too
    pokes_due_.emplace_back(channel);
    if (!poking_.joinable()) poking_ = std::thread([this] { poke_loop(); });
  }
  poke_ready_.notify_one();
}

void Notifier::poke_loop() {
  pthread_setname_np(pthread_self(), "picloud-poke");
  std::unique_lock lock(mutex_);
  for (;;) {
    poke_ready_.wait(lock, [&] { return stopping_ || !pokes_due_.empty(); });
    if (pokes_due_.empty()) return;  // stopping, with nothing left to tell
    // The oldest channel whose last poke is kMinPokeGap old; stopping: the
    // oldest at once.
    const auto now = std::chrono::steady_clock::now();
    auto next = pokes_due_.end();
    auto soonest = now + kMinPokeGap;
    for (auto it = pokes_due_.begin(); it != pokes_due_.end(); ++it) {
      auto last = poked_at_.find(*it);
      auto ready_at = last == poked_at_.end() ? now : last->second + kMinPokeGap;
      if (stopping_ || ready_at <= now) {
        next = it;
        break;
      }
      soonest = std::min(soonest, ready_at);
    }
    if (next == pokes_due_.end()) {
      poke_ready_.wait_until(lock, soonest, [&] { return stopping_; });
      continue;
    }
    // Taken off before sending: a poke asked for while this one is on its
    // way is sent after it, so no change goes untold.
    std::string channel = std::move(*next);
    pokes_due_.erase(next);
    poked_at_[channel] = now;
    lock.unlock();
    std::string wire = node_id_ + "\n" + channel + "\n";
    auto r = db_.query("SELECT 1 FROM (SELECT pg_notify(?, ?)) AS sent", {std::string(kPgChannel), wire});
    if (r)
      pokes_.inc();
    else
      write_log(LogLevel::debug, "cluster", "a poke could not be sent; the other nodes will poll",
                {{"channel", channel}, {"error", r.error().message}});
    lock.lock();
    // Stopping with the database out of reach: the rest would each wait for
    // a connection in vain; the other nodes poll.
    if (!r && stopping_) pokes_due_.clear();
  }
}

sdk::Result<void> Notifier::notify(sdk::Transaction* tx, std::string_view channel, std::string_view payload) {
  if (!valid_channel(channel))
    return sdk::make_error(ErrorKind::invalid_argument, "'" + std::string(channel) + "' is not a channel name");
  if (payload.size() > kMaxPayload)
    return sdk::make_error(ErrorKind::invalid_argument, "a cluster message holds at most " + std::to_string(kMaxPayload) +
                                                            " bytes; this one has " + std::to_string(payload.size()));
  if (payload.find('\0') != std::string_view::npos)
    return sdk::make_error(ErrorKind::invalid_argument, "a cluster message cannot hold U+0000");
  const bool postgres = db_.dialect() == sdk::Dialect::postgres;
  std::string wire;
  if (postgres) {
    wire.reserve(node_id_.size() + channel.size() + payload.size() + 2);
    wire.append(node_id_).append(1, '\n').append(channel).append(1, '\n').append(payload);
  }
  auto send = [&](sdk::Transaction& t) -> sdk::Result<void> {
    if (postgres) {
      auto r = t.query("SELECT 1 FROM (SELECT pg_notify(?, ?)) AS sent", {std::string(kPgChannel), wire});
      if (!r) return r.error();
    }
    db::Database::after_commit(t, [this, c = std::string(channel), p = std::string(payload)]() mutable {
      enqueue(std::move(c), std::move(p));
    });
    return {};
  };
  sdk::Result<void> r = tx ? send(*tx) : db_.transaction(send);
  if (r) sent_.inc();
  return r;
}

void Notifier::enqueue(std::string channel, std::string payload) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    const bool poke = payload.empty() && is_poke_channel(channel);
    // A poke already waiting for its listeners tells of this one too.
    if (poke && pokes_queued_.count(channel)) return;
    if (queue_.size() >= kMaxQueued) {
      // Listeners slower than the messages: drop rather than grow (a
      // listener that needs every message reads the gap from its tables).
      dropped_.inc();
      return;
    }
    if (poke) pokes_queued_.insert(channel);
    queue_.emplace_back(std::move(channel), std::move(payload));
    // The delivery thread comes with the first message (an idle server,
    // or one whose plugins send none, has none).
    if (started_ && !delivery_.joinable()) delivery_ = std::thread([this] { deliver_loop(); });
  }
  ready_.notify_one();
}

sdk::Result<void> Notifier::start() {
  {
    std::lock_guard lock(mutex_);
    if (started_) return {};
    started_ = true;
    if (!queue_.empty()) delivery_ = std::thread([this] { deliver_loop(); });
  }
  // Other nodes' messages come whether or not this one sends any.
  if (db_.dialect() == sdk::Dialect::postgres && !listeners_.empty()) listening_ = std::thread([this] { listen_loop(); });
  return {};
}

void Notifier::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  ready_.notify_all();
  poke_ready_.notify_all();
  if (listening_.joinable()) listening_.join();
  if (poking_.joinable()) poking_.join();
  std::thread delivery;
  {
    std::lock_guard lock(mutex_);  // no message starts it any more
    delivery = std::move(delivery_);
  }
  if (delivery.joinable()) delivery.join();
}

void Notifier::deliver_loop() {
  pthread_setname_np(pthread_self(), "picloud-notify");
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;  // what is queued is dropped: the plugins are stopping
    auto [channel, payload] = std::move(queue_.front());
    queue_.pop_front();
    if (payload.empty()) pokes_queued_.erase(channel);  // from now on, a new poke is news
    lock.unlock();
    if (auto it = listeners_.find(channel); it != listeners_.end()) {
      for (const auto& listener : it->second) {
        try {
          listener(payload);
        } catch (const std::exception& e) {
          write_log(LogLevel::error, "cluster", "a message's listener failed", {{"channel", channel}, {"error", e.what()}});
        } catch (...) {
          write_log(LogLevel::error, "cluster", "a message's listener failed", {{"channel", channel}});
        }
      }
    }
    lock.lock();
  }
}

void Notifier::listen_loop() {
  pthread_setname_np(pthread_self(), "picloud-listen");
  auto stopping = [&] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };
  int backoff_ms = 100;
  bool was_connected = false;
  std::vector<std::string> payloads;
  while (!stopping()) {
    auto listener = db::open_notification_listener(db_.url(), kPgChannel);
    if (!listener) {
      write_log(LogLevel::warn, "cluster", "cannot listen for other nodes' messages; trying again",
                {{"error", listener.error().message}, {"retry_ms", std::to_string(backoff_ms)}});
      std::unique_lock lock(mutex_);
      ready_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
      backoff_ms = std::min(backoff_ms * 2, 10000);
      continue;
    }
    if (was_connected) {
      reconnects_.inc();
      write_log(LogLevel::warn, "cluster",
                "listening for other nodes' messages again; messages sent while the connection was down were missed");
    }
    was_connected = true;
    backoff_ms = 100;
    // What pokes say is re-read now: any sent before this connection
    // listened were missed.
    for (const auto& channel : poke_channels_) enqueue(channel, "");
    while (!stopping()) {
      payloads.clear();
      auto r = (*listener)->wait(250, payloads);
      for (auto& wire : payloads) {
        // <node id>\n<channel>\n<payload>; this node's own were delivered in process.
        auto first = wire.find('\n');
        auto second = first == std::string::npos ? std::string::npos : wire.find('\n', first + 1);
        if (second == std::string::npos) continue;
        if (std::string_view(wire).substr(0, first) == node_id_) continue;
        received_.inc();
        // Another node is alive: it spoke (sooner than the registry's next
        // beat would tell).
        peers_alive_.store(true, std::memory_order_relaxed);
        enqueue(wire.substr(first + 1, second - first - 1), wire.substr(second + 1));
      }
      if (!r) {
        write_log(LogLevel::warn, "cluster", "the connection listening for other nodes' messages broke",
                  {{"error", r.error().message}});
        break;
      }
    }
  }
}

}  // namespace picloud::kernel::cluster
