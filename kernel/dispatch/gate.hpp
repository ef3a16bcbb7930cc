// The execution gate: at most `max_running` script runs at once, at most
// `max_queued` waiting for a slot. A sync request that finds the queue full,
// or waits longer than it may, is turned away (503) rather than left hanging.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace picloud::kernel::dispatch {

class ExecutionGate {
 public:
  ExecutionGate(int max_running, int max_queued) : max_running_(max_running), max_queued_(max_queued) {}

  // Takes a slot, waiting up to `max_wait`; false when the queue is full or
  // the wait ran out.
  bool enter(std::chrono::milliseconds max_wait);
  // Takes a slot, however long that takes (background work, not a caller).
  void enter_blocking();
  void leave();

  int running() const;
  int queued() const;
  std::uint64_t rejected() const;

  // Holds a slot for a scope.
  class Slot {
   public:
    explicit Slot(ExecutionGate& gate) : gate_(&gate) {}
    ~Slot() {
      if (gate_) gate_->leave();
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    ExecutionGate* gate_;
  };

 private:
  const int max_running_;
  const int max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  int running_ = 0;
  int queued_ = 0;
  std::uint64_t rejected_ = 0;
};

}  // namespace picloud::kernel::dispatch
