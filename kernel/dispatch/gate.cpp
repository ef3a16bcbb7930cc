#include "kernel/dispatch/gate.hpp"

#include <algorithm>

namespace picloud::kernel::dispatch {

GateLimits GateLimits::resolved() const {
  GateLimits out = *this;
  out.max_running = std::max(1, max_running);
  out.max_queued = std::max(0, max_queued);
  if (out.max_running_per_app <= 0) out.max_running_per_app = std::max(1, out.max_running * 3 / 4);
  if (out.max_queued_per_app <= 0) out.max_queued_per_app = std::max(1, out.max_queued * 3 / 4);
  out.max_running_per_app = std::min(out.max_running_per_app, out.max_running);
  out.max_queued_per_app = std::min(out.max_queued_per_app, std::max(1, out.max_queued));
  return out;
}

ExecutionGate::ExecutionGate(GateLimits limits) : limits_(limits.resolved()) {}

ExecutionGate::AppLoad& ExecutionGate::load_of(std::string_view app) {
  auto it = apps_.find(app);
  if (it == apps_.end()) it = apps_.emplace(std::string(app), AppLoad{}).first;
  return it->second;
}

bool ExecutionGate::enter(std::string_view app, std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mutex_);
  AppLoad& load = load_of(app);
  // No waiting runs of this app ahead: first come, first served within an
  // app; an app held back by its share does not hold the others back.
  if (may_start(load) && load.queued == 0) {
    ++running_;
    ++load.running;
    return true;
  }
  if (queued_ >= limits_.max_queued || load.queued >= limits_.max_queued_per_app) {
    ++rejected_;
    ++load.rejected;
    return false;
  }
  ++queued_;
  ++load.queued;
  bool admitted = freed_.wait_for(lock, max_wait, [&] { return may_start(load); });
  --queued_;
  --load.queued;
  if (!admitted) {
    ++rejected_;
    ++load.rejected;
    return false;
  }
  ++running_;
  ++load.running;
  return true;
}

void ExecutionGate::enter_blocking(std::string_view app) {
  std::unique_lock lock(mutex_);
  AppLoad& load = load_of(app);
  ++queued_;
  ++load.queued;
  freed_.wait(lock, [&] { return may_start(load); });
  --queued_;
  --load.queued;
  ++running_;
  ++load.running;
}

void ExecutionGate::leave(std::string_view app) {
  bool waiters, idle;
  {
    std::lock_guard lock(mutex_);
    --running_;
    --load_of(app).running;
    waiters = queued_ > 0 || returning_ > 0;
    idle = running_ == 0 && !waiters;
  }
  // Every waiter looks: the first one in line may be of an app that is at
  // its share, and waking only it would leave the slot unused.
  if (waiters) freed_.notify_all();
  if (idle && when_idle_) when_idle_();
}

bool ExecutionGate::lend(std::string_view app) {
  {
    std::lock_guard lock(mutex_);
    // The app's share stays taken: only the global slot is lent, and only
    // to a run of another app that waits for one now.
    if (lent_ >= limits_.max_running || queued_ <= load_of(app).queued) return false;
    ++lent_;
    --running_;
    if (queued_ == 0 && returning_ == 0) return true;
  }
  freed_.notify_all();
  return true;
}

void ExecutionGate::take_back(std::chrono::milliseconds max_wait) {
  bool waiters;
  {
    std::unique_lock lock(mutex_);
    ++returning_;
    (void)freed_.wait_for(lock, max_wait, [&] { return running_ < limits_.max_running; });
    --returning_;
    --lent_;
    ++running_;
    // New runs waited while this one was returning: one may start now if
    // another slot is free.
    waiters = queued_ > 0;
  }
  if (waiters) freed_.notify_all();
}

int ExecutionGate::lent() const {
  std::lock_guard lock(mutex_);
  return lent_;
}

int ExecutionGate::returning() const {
  std::lock_guard lock(mutex_);
  return returning_;
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

int ExecutionGate::running(std::string_view app) const {
  std::lock_guard lock(mutex_);
  auto it = apps_.find(app);
  return it == apps_.end() ? 0 : it->second.running;
}

std::uint64_t ExecutionGate::rejected(std::string_view app) const {
  std::lock_guard lock(mutex_);
  auto it = apps_.find(app);
  return it == apps_.end() ? 0 : it->second.rejected;
}

std::vector<ExecutionGate::AppUsage> ExecutionGate::usage() const {
  std::vector<AppUsage> out;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, load] : apps_) out.push_back({name, load.running, load.rejected});
  }
  std::sort(out.begin(), out.end(), [](const AppUsage& a, const AppUsage& b) { return a.app < b.app; });
  return out;
}

}  // namespace picloud::kernel::dispatch
