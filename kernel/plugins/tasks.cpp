#include "kernel/plugins/tasks.hpp"

#include <chrono>
#include <exception>

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
