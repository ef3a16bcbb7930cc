// The wake-up for outbox workers. Whoever commits outbox rows here (async
// routes, trigger events, cron ticks, replays, plugin jobs) notifies after
// the commit, so a worker claims them at once instead of at its next poll;
// the other nodes hear of it through the broadcast (a cluster poke) and
// wake theirs. Polling stays the fallback for what a poke misses.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace picloud::kernel::dispatch {

class OutboxSignal {
 public:
  // The current generation; pass it to wait() to sleep until the next notify.
  std::uint64_t generation() {
    std::lock_guard lock(mutex_);
    return generation_;
  }
  // New rows committed on this node: wakes this node's workers and tells
  // the others.
  void notify() {
    wake();
    if (broadcast_) broadcast_();
  }
  // Wakes this node's workers only (another node's rows, or stopping).
  void wake() {
    {
      std::lock_guard lock(mutex_);
      ++generation_;
    }
    changed_.notify_all();
  }
  // Set once, before anything notifies.
  void set_broadcast(std::function<void()> broadcast) { broadcast_ = std::move(broadcast); }
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
  std::function<void()> broadcast_;
};

}  // namespace picloud::kernel::dispatch
