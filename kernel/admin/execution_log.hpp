// Execution logs: one row per script run, written off the request path.
//
// record() only appends to an in-memory queue; a writer thread inserts the
// queue in batches (one transaction per batch) every `flush_interval_ms` or
// as soon as `batch_size` rows wait. When the queue is full (the database
// cannot keep up), new records are dropped and counted — a request never
// waits for its log row. A sweeper deletes rows older than the retention.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kernel/metrics.hpp"
#include "kernel/db/database.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kernel::admin {

struct ExecutionRecord {
  std::string id;  // the run's execution id
  std::string app_id;
  std::string script_id;
  std::int64_t script_version = 0;
  std::string route_id;    // empty unless a route ran it
  std::string trigger_id;  // empty unless a trigger ran it
  std::string source;      // "route", "trigger", ...
  std::string request_id;  // the HTTP request it served, if any
  bool ok = true;
  int http_status = 200;
  std::string error_kind;  // empty on success
  std::string error_message;
  std::int64_t duration_us = 0;
  std::int64_t operations = 0;
  std::int64_t peak_memory_bytes = 0;
  // Each line: {"level", "time", "message"}; bounded by the engine's limits.
  sdk::Array logs;
  int dropped_logs = 0;
  std::int64_t started_at_ms = 0;
};

struct ExecutionLogSettings {
  int retention_days = 7;
  int batch_size = 1000;
  int flush_interval_ms = 250;
  int queue_capacity = 10'000;
  int sweep_interval_s = 3600;
};

class ExecutionLog {
 public:
  ExecutionLog(db::Database& db, ExecutionLogSettings settings, MetricsRegistry& metrics);
  ~ExecutionLog();
  ExecutionLog(const ExecutionLog&) = delete;
  ExecutionLog& operator=(const ExecutionLog&) = delete;

  // Starts the writer and sweeper thread.
  void start();
  // Writes what is queued, then stops the thread.
  void stop();

  // Queues a record; never blocks on the database.
  void record(ExecutionRecord record);
  // Blocks until every record queued before the call is written (or dropped
  // after a database error). For shutdown and tests.
  void flush();

  // Deletes rows older than the retention; returns how many.
  sdk::Result<std::int64_t> sweep();
  // Writes one record inside `tx` (for work whose record must be durable
  // together with another change, such as finishing an outbox row).
  static sdk::Result<void> insert(sdk::Transaction& tx, const ExecutionRecord& record);
  static sdk::Result<void> insert(sdk::Transaction& tx, std::span<const ExecutionRecord> records);

  // Deletes an app's rows (the app was deleted).
  sdk::Result<void> forget_app(const std::string& app_id);

 private:
  void run();
  void write_batch(std::vector<ExecutionRecord>& batch);

  db::Database& db_;
  ExecutionLogSettings settings_;
  CounterMetric& written_;
  CounterMetric& dropped_;
  CounterMetric& failed_;
  std::mutex mutex_;
  std::condition_variable wake_, written_cv_;
  std::deque<ExecutionRecord> queue_;
  std::uint64_t queued_total_ = 0, done_total_ = 0;
  bool stopping_ = false;
  bool flush_requested_ = false;
  std::thread thread_;
};

}  // namespace picloud::kernel::admin
