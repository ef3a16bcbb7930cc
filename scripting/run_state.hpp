// The state of one script run, reachable from every binding through the
// running context's user data.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/script.hpp"
#include "scripting/limits.hpp"
#include "scripting/memory.hpp"

namespace picloud::scripting {

enum class LogLevel { debug, info, warn, error };
std::string_view to_string(LogLevel level);

struct LogLine {
  LogLevel level;
  std::int64_t time_ms;  // Unix milliseconds
  std::string message;
};

// How a run's database writes are acknowledged, given to the engine by the
// kernel (which owns the database). A plugin function declared
// database_only may return before its commits are flushed to disk; the
// kernel then makes them durable, together, before the run's answer leaves
// or before the run calls any other plugin function: nothing outside the
// process can learn of a write a power cut could still undo. Meanwhile the
// run computes on instead of sleeping through a flush of its own.
class DeferredWrites {
 public:
  // While alive, the thread is inside a database_only call: its commits
  // may be acknowledged later.
  class DatabaseOnlyCall {
   public:
    explicit DatabaseOnlyCall(DeferredWrites& writes) : writes_(writes) { writes_.enter_database_only_call(); }
    ~DatabaseOnlyCall() { writes_.leave_database_only_call(); }
    DatabaseOnlyCall(const DatabaseOnlyCall&) = delete;
    DatabaseOnlyCall& operator=(const DatabaseOnlyCall&) = delete;

   private:
    DeferredWrites& writes_;
  };

  // Makes every write the run committed so far durable (cheap when there
  // is none). An error means their outcome is unknown.
  virtual sdk::Result<void> settle() = 0;

 protected:
  ~DeferredWrites() = default;
  virtual void enter_database_only_call() = 0;
  virtual void leave_database_only_call() = 0;
};

// The context user-data slot holding the RunState.
inline constexpr unsigned long kRunStateSlot = 0x52554e;  // "RUN"

struct RunState {
  sdk::CallContext call;
  const Limits* limits = nullptr;
  memory::Budget budget;
  std::int64_t operations = 0;
  std::chrono::steady_clock::time_point deadline;
  // False while a module's global variables are initialised: no call context.
  bool services_allowed = true;
  // The kernel's, for a run that may defer its writes' durability; null:
  // every commit is acknowledged when it returns.
  DeferredWrites* deferred_writes = nullptr;

  // Set by a limit check before aborting the context.
  RunError failure = RunError::none;
  std::string failure_message;

  // The kind of the last service error raised as a script exception, for
  // exception_kind(); "script" for an exception the script threw itself.
  std::string last_error_kind;
  // Whether this run raised an exception (caught or not). Contexts are reused
  // by the next run, of any app, and keep the last exception's text: only a
  // run that raised one may read it back.
  bool raised_exception = false;

  std::vector<LogLine> logs;
  int dropped_logs = 0;

  // The current run on this thread's active script context, or null (for
  // example while a module's globals are initialised).
  static RunState* current();

  // Ends the run with `error` at the next check (and aborts the context now
  // if one is active).
  void fail(RunError error, std::string message);
};

}  // namespace picloud::scripting
