// Background work owned by a plugin. The kernel runs each task on its own
// thread and, at shutdown, signals stop and joins every task before it calls
// the plugin's stop(). A task that throws is logged; it does not take the
// process down.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::sdk {

class StopSignal {
 public:
  virtual ~StopSignal() = default;
  virtual bool stop_requested() const = 0;
  // Sleeps up to `ms` milliseconds; returns true at once when stop is requested.
  virtual bool wait_for(std::int64_t ms) const = 0;
};

class BackgroundTasks {
 public:
  virtual ~BackgroundTasks() = default;
  // A long-running loop; it should return soon after stop is requested.
  virtual void spawn(std::string name, std::function<void(const StopSignal&)> body) = 0;
  // Calls `tick` every `interval_ms` until shutdown (first call after one interval).
  virtual void every(std::string name, std::int64_t interval_ms, std::function<void()> tick) = 0;
  // Like every(), on one node at a time: each tick runs in a write
  // transaction that first takes a lock named by the plugin and `name`.
  // With several nodes on PostgreSQL, a node that does not get the lock at
  // once skips that tick. An error (or throw) rolls the tick back and is
  // logged. For sweeps and other work that must not run twice at once.
  virtual void every_on_one_node(std::string name, std::int64_t interval_ms,
                                 std::function<Result<void>(Transaction&)> tick) = 0;
};

}  // namespace picloud::sdk
