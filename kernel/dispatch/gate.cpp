#include "kernel/dispatch/gate.hpp"

namespace picloud::kernel::dispatch {

bool ExecutionGate::enter(std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mutex_);
  if (running_ < max_running_ && queued_ == 0) {
    ++running_;
    return true;
  }
  if (queued_ >= max_queued_) {
    ++rejected_;
    return false;
  }
  ++queued_;
  bool admitted = freed_.wait_for(lock, max_wait, [&] { return running_ < max_running_; });
  --queued_;
  if (!admitted) {
    ++rejected_;
    return false;
  }
  ++running_;
  return true;
}

void ExecutionGate::enter_blocking() {
  std::unique_lock lock(mutex_);
  ++queued_;
  freed_.wait(lock, [&] { return running_ < max_running_; });
  --queued_;
  ++running_;
}

void ExecutionGate::leave() {
  {
    std::lock_guard lock(mutex_);
    --running_;
  }
  freed_.notify_one();
}

int ExecutionGate::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

int ExecutionGate::queued() const {
  std::lock_guard lock(mutex_);
  return queued_;
}

std::uint64_t ExecutionGate::rejected() const {
  std::lock_guard lock(mutex_);
  return rejected_;
}

}  // namespace picloud::kernel::dispatch
