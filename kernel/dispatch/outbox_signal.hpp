// The wake-up for outbox workers on this node. Whoever commits outbox rows
// here (async routes, trigger events, cron ticks, replays) notifies after the
// commit, so a worker claims them at once instead of at its next poll; other
// nodes' rows are found by polling.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace picloud::kernel::dispatch {

class OutboxSignal {
 public:
  // The current generation; pass it to wait() to sleep until the next notify.
  std::uint64_t generation() {
    std::lock_guard lock(mutex_);
    return generation_;
  }
  void notify() {
    {
      std::lock_guard lock(mutex_);
      ++generation_;
    }
    changed_.notify_all();
  }
  // Sleeps until a notify after generation `seen`, `stop` turns true (with a
  // notify), or `timeout` passes.
  void wait(std::uint64_t seen, std::chrono::milliseconds timeout, const std::atomic<bool>& stop) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return stop.load() || generation_ != seen; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t generation_ = 0;
};

}  // namespace picloud::kernel::dispatch
