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
  // Like every(), but across all nodes: about once per interval, never
  // twice at once. Each tick runs in a write transaction that first takes a
  // lock named by the plugin and `name` (on PostgreSQL an advisory lock,
  // not waited for) and then checks when the task last ran on any node; a
  // node that does not get the lock, or finds the task ran less than an
  // interval ago, skips its tick. An error (or throw) rolls the tick back
  // (it is then due again) and is logged. For sweeps, digests and other
  // work that must not run on every node.
  virtual void every_on_one_node(std::string name, std::int64_t interval_ms,
                                 std::function<Result<void>(Transaction&)> tick) = 0;
};

}  // namespace picloud::sdk
