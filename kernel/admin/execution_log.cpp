#include "kernel/admin/execution_log.hpp"

#include <pthread.h>

#include <chrono>

#include "kernel/admin/secrets.hpp"
#include "kernel/db/leader.hpp"
#include "kernel/log.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::admin {

ExecutionLog::ExecutionLog(db::Database& db, ExecutionLogSettings settings, MetricsRegistry& metrics)
    : db_(db),
      settings_(settings),
      written_(metrics.counter("picloud_execution_logs_written_total", "execution log rows written")),
      dropped_(metrics.counter("picloud_execution_logs_dropped_total",
                               "execution log rows dropped because the queue was full")),
      failed_(metrics.counter("picloud_execution_logs_failed_total",
                              "execution log rows lost to a database error")) {}

ExecutionLog::~ExecutionLog() { stop(); }

void ExecutionLog::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ExecutionLog::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ExecutionLog::record(ExecutionRecord record) {
  {
    std::lock_guard lock(mutex_);
    if (static_cast<int>(queue_.size()) >= settings_.queue_capacity) {
      dropped_.inc();
      return;
    }
    queue_.push_back(std::move(record));
    ++queued_total_;
    if (static_cast<int>(queue_.size()) < settings_.batch_size) return;
  }
  wake_.notify_one();
}

void ExecutionLog::flush() {
  std::unique_lock lock(mutex_);
  std::uint64_t target = queued_total_;
  if (!thread_.joinable()) {
    // No writer thread (a tool, or after stop): write here.
    std::vector<ExecutionRecord> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    lock.unlock();
    write_batch(batch);
    lock.lock();
    done_total_ += batch.size();
    return;
  }
  flush_requested_ = true;
  wake_.notify_one();
  written_cv_.wait(lock, [&] { return done_total_ >= target; });
}

void ExecutionLog::run() {
  pthread_setname_np(pthread_self(), "picloud-execlog");
  // A batch is background work: it should not preempt a request's worker
  // when it wakes. SCHED_BATCH does that and still gets its fair share of
  // the CPU (a lower priority made it fall behind and drop rows when busy).
  sched_param normal{};
  pthread_setschedparam(pthread_self(), SCHED_BATCH, &normal);
  auto next_sweep = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::milliseconds(settings_.flush_interval_ms),
                   [&] { return stopping_ || flush_requested_ || static_cast<int>(queue_.size()) >= settings_.batch_size; });
    flush_requested_ = false;
    while (!queue_.empty()) {
      std::vector<ExecutionRecord> batch;
      while (!queue_.empty() && static_cast<int>(batch.size()) < settings_.batch_size) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      lock.unlock();
      write_batch(batch);
      lock.lock();
      done_total_ += batch.size();
      written_cv_.notify_all();
    }
    if (stopping_) return;
    if (std::chrono::steady_clock::now() >= next_sweep) {
      lock.unlock();
      if (auto r = sweep(); !r)
        write_log(LogLevel::warn, "executions", "retention sweep failed", {{"error", r.error().message}});
      else if (*r > 0)
        write_log(LogLevel::info, "executions", "old execution logs deleted", {{"rows", std::to_string(*r)}});
      lock.lock();
      next_sweep = std::chrono::steady_clock::now() + std::chrono::seconds(settings_.sweep_interval_s);
    }
  }
}

void ExecutionLog::write_batch(std::vector<ExecutionRecord>& batch) {
  if (batch.empty()) return;
  // Relaxed: a batch survives a crash of the process; only a power cut can
  // take the last moments' rows — an fsync per batch cost the data plane
  // about a tenth of its throughput.
  auto r = db_.transaction(
      [&](sdk::Transaction& tx) -> sdk::Result<void> {
        return insert(tx, std::span<const ExecutionRecord>(batch));
      },
      db::Durability::relaxed);
  if (r) {
    written_.inc(batch.size());
  } else {
    failed_.inc(batch.size());
    write_log(LogLevel::warn, "executions", "execution logs could not be written",
              {{"rows", std::to_string(batch.size())}, {"error", r.error().message}});
  }
}

sdk::Result<void> ExecutionLog::insert(sdk::Transaction& tx, const ExecutionRecord& record) {
  return insert(tx, std::span<const ExecutionRecord>(&record, 1));
}

sdk::Result<void> ExecutionLog::insert(sdk::Transaction& tx, std::span<const ExecutionRecord> records) {
  // Several rows per statement: a statement's fixed cost (reset, bind,
  // program start) was most of a row's cost when each row had its own.
  constexpr std::size_t kColumns = 18, kRowsPerStatement = 50;
  // Literals, not static strings: the writer thread may still be inserting
  // while the process exits and destroys function-local statics.
  constexpr std::string_view kHead =
      "INSERT INTO executions (id, app_id, script_id, script_version, route_id, trigger_id, source, status, "
      "http_status, error_kind, error_message, duration_us, operations, peak_memory_bytes, logs, dropped_logs, "
      "started_at, request_id) VALUES ";
  constexpr std::string_view kRow = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  auto opt = [](const std::string& s) { return s.empty() ? sdk::Value() : sdk::Value(s); };
  sdk::Params params;
  std::string sql;
  while (!records.empty()) {
    auto chunk = records.first(std::min(records.size(), kRowsPerStatement));
    records = records.subspan(chunk.size());
    params.clear();
    params.reserve(chunk.size() * kColumns);
    sql = kHead;
    for (const auto& e : chunk) {
      if (&e != chunk.data()) sql += ", ";
      sql += kRow;
      for (sdk::Value v : {sdk::Value(e.id), sdk::Value(e.app_id), sdk::Value(e.script_id), sdk::Value(e.script_version),
                           opt(e.route_id), opt(e.trigger_id), sdk::Value(e.source), sdk::Value(e.ok ? "ok" : "error"),
                           sdk::Value(e.http_status), opt(e.error_kind), opt(e.error_message),
                           sdk::Value(e.duration_us), sdk::Value(e.operations), sdk::Value(e.peak_memory_bytes),
                           sdk::Value(e.logs.empty() ? std::string("[]") : sdk::to_json(sdk::Value(e.logs))),
                           sdk::Value(e.dropped_logs), sdk::Value(e.started_at_ms), opt(e.request_id)})
        params.push_back(std::move(v));
    }
    sql += " ON CONFLICT (id) DO NOTHING";
    if (auto r = tx.execute(sql, params); !r) return r.error();
  }
  return {};
}

sdk::Result<std::int64_t> ExecutionLog::sweep() {
  // In chunks, each its own short write, so the sweep never holds SQLite's
  // write lock for long. There is no index on started_at (it would cost every
  // run an insert); the scan finds the old rows first because the table
  // holds them roughly in insertion order, and the last, empty scan is a read.
  constexpr int kChunk = 500;
  std::int64_t cutoff = now_ms() - std::int64_t{settings_.retention_days} * 24 * 3600 * 1000;
  std::int64_t deleted = 0;
  for (;;) {
    auto old = db_.query("SELECT id FROM executions WHERE started_at < ? LIMIT " + std::to_string(kChunk), {cutoff});
    if (!old) return old.error();
    if (old->empty()) return deleted;
    std::string sql = "DELETE FROM executions WHERE id IN (";
    sdk::Params ids;
    for (const auto& row : old->rows) {
      sql += ids.empty() ? "?" : ", ?";
      ids.push_back(row.at(0));
    }
    sql += ")";
    // On PostgreSQL one node sweeps: the others skip while it holds the lock.
    bool skipped = false;
    std::int64_t n = 0;
    auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      auto leading = db::lead(tx, db_.dialect(), db::LeaderJob::execution_sweep);
      if (!leading) return leading.error();
      if (!*leading) {
        skipped = true;
        return {};
      }
      auto d = tx.execute(sql, ids);
      if (!d) return d.error();
      n = *d;
      return {};
    });
    if (!r) return r.error();
    if (skipped) return deleted;
    deleted += n;
  }
}

sdk::Result<void> ExecutionLog::forget_app(const std::string& app_id) {
  auto r = db_.execute("DELETE FROM executions WHERE app_id = ?", {app_id});
  if (!r) return r.error();
  return {};
}

}  // namespace picloud::kernel::admin
