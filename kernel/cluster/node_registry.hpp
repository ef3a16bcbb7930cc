// The nodes serving one database, each seen by the others.
//
// A node writes its row (id, address, version, start time) when it starts,
// beats every `heartbeat_ms`, and deletes the row when it stops cleanly.
// A node whose last beat is older than `timeout_ms` is dead: the first live
// node to notice (one at a time, behind an advisory lock) gives its outbox
// leases back, so its claimed runs are taken over within about
// timeout + heartbeat instead of at the lease's end, and pokes the other
// nodes to claim them. The rows of nodes dead for an hour are deleted.
//
// Beats and their ages are measured on the database's clock, so nodes whose
// clocks disagree still agree on who is alive. A node that was only cut off
// (its beats failed, it kept running) finds its leases given back: whatever
// it was running may run again elsewhere, as at-least-once delivery allows,
// and its finish is ignored; its next beat makes it alive again.
//
// The registry also tells the notifier whether another node is alive, so a
// lone node sends no pokes.
//
// On SQLite there is one node (SqliteServeLock makes sure of it): at start
// the registry gives back at once what earlier processes (killed ones) had
// claimed, then writes nothing more (no beats: an idle server on an SD card
// stays idle).
//
// A node gives another's leases back only once its own beats have gone
// through without a break for a whole timeout: after an outage every node's
// beat is old, and the first back must not take the others' running work.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kernel/db/database.hpp"
#include "kernel/metrics.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::kernel::dispatch {
class OutboxSignal;
}

namespace picloud::kernel::cluster {

class Notifier;

// One serving process per SQLite database: a lock beside the file (flock,
// released when the process ends, however it ends). Taken before a server
// touches the database (migrations included).
class SqliteServeLock {
 public:
  // An error of kind conflict: another process serves it.
  static sdk::Result<std::unique_ptr<SqliteServeLock>> take(const std::string& sqlite_path);
  ~SqliteServeLock();
  SqliteServeLock(const SqliteServeLock&) = delete;
  SqliteServeLock& operator=(const SqliteServeLock&) = delete;

 private:
  explicit SqliteServeLock(int fd) : fd_(fd) {}
  int fd_;
};

struct NodeSettings {
  int heartbeat_ms = 2000;  // [cluster] heartbeat_interval_ms
  int timeout_ms = 10000;   // [cluster] node_timeout_ms: dead after this long without a beat
  bool pokes = true;        // [cluster] pokes: false, the nodes only poll for each other's work
};

struct NodeInfo {
  std::string id;
  std::string address;    // where it listens, host:port as configured
  std::string host_name;  // the machine's name
  std::string version;
  std::int64_t pid = 0;
  std::int64_t started_at_ms = 0;
  std::int64_t heartbeat_at_ms = 0;
  std::int64_t released_at_ms = 0;  // when its leases were given back; 0: never
  std::int64_t age_ms = 0;          // since its last beat, on the database's clock
  bool beats = true;                // false on SQLite, whose one node does not beat
  bool alive = false;
};

class NodeRegistry {
 public:
  NodeRegistry(db::Database& db, Notifier& notifier, dispatch::OutboxSignal& outbox, MetricsRegistry& metrics,
               NodeSettings settings);
  ~NodeRegistry();
  NodeRegistry(const NodeRegistry&) = delete;
  NodeRegistry& operator=(const NodeRegistry&) = delete;

  // This node's id: 16 hex digits, new for every process.
  const std::string& id() const { return id_; }
  const NodeSettings& settings() const { return settings_; }

  // Writes this node's row and (PostgreSQL) beats from a thread of its own.
  // `address` is where the server listens. An error: the row could not be
  // written.
  sdk::Result<void> start(const std::string& address);
  // The address once the server knows its port.
  void set_address(const std::string& address);
  // Stops beating and deletes this node's row.
  void stop();

  // Every node the database knows, this one first, then by start time.
  sdk::Result<std::vector<NodeInfo>> list() const;

 private:
  void beat_loop();
  sdk::Result<void> write_row();
  sdk::Result<void> count_peers();
  sdk::Result<void> release_dead_nodes();

  db::Database& db_;
  Notifier& notifier_;
  dispatch::OutboxSignal& outbox_;
  NodeSettings settings_;
  std::string id_;
  std::string address_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool stopped_ = false;
  bool registered_ = false;  // its row was written
  std::thread thread_;
  std::chrono::steady_clock::time_point beating_since_{};  // since when beats went through without a break
  CounterMetric& released_;
  CounterMetric& beat_failures_;
};

}  // namespace picloud::kernel::cluster
