// Background tasks of plugins: one thread each, stopped and joined per owner.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "picloud/sdk/tasks.hpp"

namespace picloud::kernel::plugins {

class TaskGroup final : public sdk::BackgroundTasks {
 public:
  // `database`: where every_on_one_node() ticks run (none: they are refused).
  explicit TaskGroup(std::string owner, sdk::Database* database = nullptr)
      : owner_(std::move(owner)), database_(database) {}
  ~TaskGroup() override { stop_and_join(); }

  void spawn(std::string name, std::function<void(const sdk::StopSignal&)> body) override;
  void every(std::string name, std::int64_t interval_ms, std::function<void()> tick) override;
  void every_on_one_node(std::string name, std::int64_t interval_ms,
                         std::function<sdk::Result<void>(sdk::Transaction&)> tick) override;

  // Signals every task to stop and waits for all of them.
  void stop_and_join();

 private:
  class Signal final : public sdk::StopSignal {
   public:
    bool stop_requested() const override;
    bool wait_for(std::int64_t ms) const override;
    void request_stop();

   private:
    mutable std::mutex mutex_;
    mutable std::condition_variable cv_;
    bool stopped_ = false;
  };

  std::string owner_;
  sdk::Database* database_;
  Signal signal_;
  std::mutex mutex_;
  std::list<std::thread> threads_;
};

}  // namespace picloud::kernel::plugins
