// Messages between nodes (the SDK's Cluster, picloud.h notify/listen).
//
// A message is sent once the transaction that caused it commits. Every
// node's listeners get it — this node's through an in-process queue, the
// others' through PostgreSQL's NOTIFY on one channel ("picloud"), whose
// payload carries the sending node's id (so a node skips its own echo) and
// the message's channel. One delivery thread calls the listeners, one
// message at a time, so a slow listener delays the others but never the
// committing thread. On SQLite there is one node and no listening
// connection.
//
// Delivery is best effort: a node whose listening connection is down (the
// database restarted) misses what was sent meanwhile; it reconnects with
// backoff and logs the gap. Listeners that need every message read what
// they missed from the database (realtime's event ids show the gap).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kernel/db/database.hpp"
#include "kernel/metrics.hpp"
#include "picloud/sdk/database.hpp"

namespace picloud::kernel::cluster {

class Notifier {
 public:
  using Listener = std::function<void(std::string_view payload)>;
  static constexpr std::size_t kMaxPayload = 7000;
  static constexpr std::size_t kMaxQueued = 100000;  // past it messages are dropped (and counted)

  Notifier(db::Database& db, MetricsRegistry& metrics);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Before start(). `channel` is the full name ("<plugin>.<name>").
  sdk::Result<void> listen(const std::string& channel, Listener listener);
  // Sends `payload` on `channel` once `tx` (a transaction of `db`) commits;
  // nullptr: now.
  sdk::Result<void> notify(sdk::Transaction* tx, std::string_view channel, std::string_view payload);

  // Starts delivering (its thread comes with the first message) and, on
  // PostgreSQL when anything listens, listening. Messages sent before
  // start() wait for it.
  sdk::Result<void> start();
  // Stops; what is still queued, and later messages, are dropped.
  void stop();

  // A change the other nodes should act on at once (outbox rows to run,
  // routing, access): an empty message on `channel` to every other node.
  // Sent after this returns, from a thread of the notifier's own (the caller
  // has committed and waits for nothing), and coalesced: while a channel's
  // poke waits to be sent, new ones of it add nothing; channels take turns
  // in the order they were poked, and one channel is poked at most every
  // kMinPokeGap (each poke is a PostgreSQL commit). A receiving node also
  // runs a channel's listener once for any number of its pokes queued.
  // Nothing is sent on SQLite, nor while no other node is alive. Best
  // effort, like every message: the nodes also poll for what a poke would
  // have told them. Pokes due when the notifier stops are still sent.
  static constexpr std::chrono::milliseconds kMinPokeGap{5};
  void poke(std::string_view channel);
  // Before start(): `listener` runs (on the delivery thread) for each poke
  // of `channel` from another node, and once each time the listening
  // connection is opened, since pokes sent while it was down are lost.
  sdk::Result<void> listen_for_pokes(const std::string& channel, std::function<void()> listener);
  // Pokes off ([cluster] pokes = false): the nodes find each other's work
  // and changes by polling only. Before start().
  void set_pokes(bool enabled) { pokes_enabled_ = enabled; }
  // Whether another node is alive (the node registry's view).
  void set_peers_alive(bool alive) { peers_alive_.store(alive, std::memory_order_relaxed); }
  bool peers_alive() const { return peers_alive_.load(std::memory_order_relaxed); }

  // The node's id; set_node_id() before start() (the node registry's).
  const std::string& node_id() const { return node_id_; }
  void set_node_id(std::string id) { node_id_ = std::move(id); }

 private:
  void enqueue(std::string channel, std::string payload);
  void deliver_loop();
  void listen_loop();
  void poke_loop();
  bool is_poke_channel(std::string_view channel) const;  // under mutex_

  db::Database& db_;
  std::string node_id_;
  std::map<std::string, std::vector<Listener>, std::less<>> listeners_;  // fixed once started
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::pair<std::string, std::string>> queue_;
  bool stopping_ = false;
  bool started_ = false;
  std::thread delivery_;
  std::thread listening_;
  std::vector<std::string> poke_channels_;  // fixed once started
  std::atomic<bool> peers_alive_{true};
  bool pokes_enabled_ = true;
  // Under mutex_: channels to poke, oldest first; when each was last sent;
  // received pokes queued for delivery (one per channel at most).
  std::deque<std::string> pokes_due_;
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> poked_at_;
  std::set<std::string, std::less<>> pokes_queued_;
  std::condition_variable poke_ready_;
  std::thread poking_;
  CounterMetric& sent_;
  CounterMetric& received_;
  CounterMetric& reconnects_;
  CounterMetric& dropped_;
  CounterMetric& pokes_;
};

}  // namespace picloud::kernel::cluster
