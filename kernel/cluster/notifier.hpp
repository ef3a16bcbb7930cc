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

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
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

  const std::string& node_id() const { return node_id_; }

 private:
  void enqueue(std::string channel, std::string payload);
  void deliver_loop();
  void listen_loop();

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
  CounterMetric& sent_;
  CounterMetric& received_;
  CounterMetric& reconnects_;
  CounterMetric& dropped_;
};

}  // namespace picloud::kernel::cluster
