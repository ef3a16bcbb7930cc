#include "kernel/plugins/tasks.hpp"

#include <chrono>
#include <exception>

#include "kernel/admin/secrets.hpp"
#include "kernel/db/leader.hpp"
#include "kernel/log.hpp"

namespace picloud::kernel::plugins {

bool TaskGroup::Signal::stop_requested() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

bool TaskGroup::Signal::wait_for(std::int64_t ms) const {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopped_; });
}

void TaskGroup::Signal::request_stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  cv_.notify_all();
}

void TaskGroup::spawn(std::string name, std::function<void(const sdk::StopSignal&)> body) {
  std::lock_guard lock(mutex_);
  threads_.emplace_back([this, name = std::move(name), body = std::move(body)] {
    try {
      body(signal_);
    } catch (const std::exception& e) {
      write_log(LogLevel::error, owner_, "background task failed", {{"task", name}, {"error", e.what()}});
    } catch (...) {
      write_log(LogLevel::error, owner_, "background task failed", {{"task", name}});
    }
  });
}

void TaskGroup::every(std::string name, std::int64_t interval_ms, std::function<void()> tick) {
  if (interval_ms < 1) {
    write_log(LogLevel::error, owner_, "periodic task refused: its interval must be at least 1 ms",
              {{"task", name}, {"interval_ms", std::to_string(interval_ms)}});
    return;
  }
  spawn(name, [name, interval_ms, tick = std::move(tick), this](const sdk::StopSignal& stop) {
    while (!stop.wait_for(interval_ms)) {
      try {
        tick();
      } catch (const std::exception& e) {
        write_log(LogLevel::error, owner_, "periodic task failed", {{"task", name}, {"error", e.what()}});
      }
    }
  });
}

void TaskGroup::every_on_one_node(std::string name, std::int64_t interval_ms,
                                  std::function<sdk::Result<void>(sdk::Transaction&)> tick) {
  if (!database_) {
    write_log(LogLevel::error, owner_, "one-node task refused: no database", {{"task", name}});
    return;
  }
  if (interval_ms < 1) {
    write_log(LogLevel::error, owner_, "one-node task refused: its interval must be at least 1 ms",
              {{"task", name}, {"interval_ms", std::to_string(interval_ms)}});
    return;
  }
  const std::int64_t key = db::plugin_task_key(owner_, name);
  every(name, interval_ms, [this, name, key, interval_ms, tick = std::move(tick)] {
    bool skipped = false;
    auto r = database_->transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
      // The lock keeps two nodes from ticking at once; the recorded last run
      // keeps them from each ticking every interval.
      auto leading = db::lead(tx, database_->dialect(), key);
      if (!leading) return leading.error();
      const std::int64_t now = admin::now_ms();
      bool due = *leading;
      if (due) {
        auto last = tx.query("SELECT last_run_ms FROM plugin_task_runs WHERE plugin = ? AND task = ?", {owner_, name});
        if (!last) return last.error();
        // A timer may fire a little early: within a tenth of the interval counts as due.
        if (!last->empty() && now - last->rows[0][0].as_int() < interval_ms - interval_ms / 10) due = false;
      }
      if (!due) {
        skipped = true;
        return {};
      }
      auto recorded = tx.execute(
          "INSERT INTO plugin_task_runs (plugin, task, last_run_ms) VALUES (?, ?, ?) "
          "ON CONFLICT (plugin, task) DO UPDATE SET last_run_ms = excluded.last_run_ms",
          {owner_, name, now});
      if (!recorded) return recorded.error();
      return tick(tx);
    });
    if (!r)
      write_log(LogLevel::warn, owner_, "one-node task failed; its tick was rolled back",
                {{"task", name}, {"error", r.error().message}});
    else if (skipped)
      write_log(LogLevel::debug, owner_, "one-node task skipped: another node runs it or ran it lately",
                {{"task", name}});
  });
}

void TaskGroup::stop_and_join() {
  signal_.request_stop();
  std::list<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& t : threads)
    if (t.joinable()) t.join();
}

}  // namespace picloud::kernel::plugins
