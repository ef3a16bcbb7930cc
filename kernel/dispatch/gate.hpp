// The execution gate: at most `max_running` script runs at once, at most
// `max_queued` waiting for a slot. A sync request that finds the queue full,
// or waits longer than it may, is turned away (503) rather than left hanging.
//
// The gate is shared by every app, so it is also where one app is kept from
// starving the others: an app holds at most `max_running_per_app` slots and
// `max_queued_per_app` places in the queue. With the defaults (three
// quarters of each) an app whose scripts loop until their timeout still
// leaves a quarter of the slots free, so another app's request starts at
// once instead of waiting out the hostile app's runs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kernel/blocking_wait.hpp"

namespace picloud::kernel::dispatch {

struct GateLimits {
  int max_running = 4;
  int max_queued = 256;
  int max_running_per_app = 0;  // 0: three quarters of max_running, at least 1
  int max_queued_per_app = 0;   // 0: three quarters of max_queued, at least 1

  // The same limits with the per-app defaults filled in.
  GateLimits resolved() const;
};

class ExecutionGate {
 public:
  explicit ExecutionGate(GateLimits limits);

  // Takes a slot for a run of `app`, waiting up to `max_wait`; false when
  // the queue (or the app's part of it) is full or the wait ran out.
  bool enter(std::string_view app, std::chrono::milliseconds max_wait);
  // Takes a slot, however long that takes (background work, not a caller).
  // Still held to the app's share.
  void enter_blocking(std::string_view app);
  void leave(std::string_view app);
  // Called, outside the gate's lock, whenever a run leaves and no run is in
  // progress any more. Set before the gate is used.
  void when_idle(std::function<void()> idle) { when_idle_ = std::move(idle); }

  // A run sleeping on I/O (a BlockingWait) lends its slot while it sleeps
  // when another app's run waits for one, which may then start in it. Its
  // place in its app's share stays taken, so no app ever has more runs in
  // progress than its share, and at most max_running slots are lent at once
  // (runs in progress, each bounded in memory, stay within twice
  // max_running). False otherwise: the run keeps its slot.
  bool lend(std::string_view app);
  // The run is awake: it takes a slot again (its app's share it kept),
  // ahead of runs not yet started.
  // It waits at most `max_wait`, then goes on over the limit: a run may
  // sleep holding a lock that the slots' holders wait for, and must then not
  // wait for them in turn.
  void take_back(std::chrono::milliseconds max_wait);
  int lent() const;       // slots lent by sleeping runs
  int returning() const;  // runs awake and waiting to take a slot back

  int running() const;
  int queued() const;
  std::uint64_t rejected() const;
  // Runs of one app in progress, and how many of its runs were turned away.
  int running(std::string_view app) const;
  std::uint64_t rejected(std::string_view app) const;
  // Every app the gate has seen, for per-app metrics.
  struct AppUsage {
    std::string app;
    int running = 0;
    std::uint64_t rejected = 0;
  };
  std::vector<AppUsage> usage() const;
  const GateLimits& limits() const { return limits_; }

  // Whether a run's slot may be lent while it sleeps. Runs from the outbox
  // may not: their lease assumes a run lasts no longer than its timeout
  // once it started, and waiting for a slot again in the middle could
  // outlast it (another node would then run the item a second time).
  enum class Lending { allowed, never };

  // Holds a slot for a scope, on the thread that entered. `app` must
  // outlive the slot (it is the run's own app id: no copy on the request
  // path). With Lending::allowed, while the run sleeps in a BlockingWait (a
  // flush of the database's log) the slot is lent (lend() above).
  class Slot final : public LendablePlace {
   public:
    Slot(ExecutionGate& gate, std::string_view app, Lending lending)
        : gate_(&gate), app_(app), held_(lending == Lending::allowed ? std::optional<HeldPlace>(std::in_place, *this)
                                                                     : std::nullopt) {}
    ~Slot() { gate_->leave(app_); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    bool lend() noexcept override { return lent_ = gate_->lend(app_); }
    void take_back() noexcept override {
      if (lent_) gate_->take_back(kTakeBackWait);
      lent_ = false;
    }

   private:
    static constexpr std::chrono::milliseconds kTakeBackWait{1000};
    ExecutionGate* gate_;
    std::string_view app_;
    bool lent_ = false;
    std::optional<HeldPlace> held_;
  };

 private:
  struct AppLoad {
    int running = 0;
    int queued = 0;
    std::uint64_t rejected = 0;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  AppLoad& load_of(std::string_view app);  // with mutex_ held
  // A run not yet started: runs taking their lent slot back come first.
  bool may_start(const AppLoad& app) const {
    return running_ + returning_ < limits_.max_running && app.running < limits_.max_running_per_app;
  }

  const GateLimits limits_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  int running_ = 0;
  int queued_ = 0;
  int lent_ = 0;
  int returning_ = 0;
  std::uint64_t rejected_ = 0;
  std::function<void()> when_idle_;
  // Entries stay once made: one small struct per app that ever ran.
  std::unordered_map<std::string, AppLoad, Hash, std::equal_to<>> apps_;
};

}  // namespace picloud::kernel::dispatch
