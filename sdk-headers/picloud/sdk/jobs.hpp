// Plugin jobs: work a plugin hands to the kernel's outbox, so that it is
// done even when the plugin's peer (an SMTP relay, a webhook receiver) is
// slow or down, and is never lost — queued in the same transaction as the
// change that asked for it, tried with backoff, dead-lettered when every
// attempt failed, replayable from the dead letters like a trigger run.
//
//   ctx.jobs()->declare({"email.send", "delivers a queued message", {.timeout_ms = 60000, .max_attempts = 8},
//                        [](const Job& job) -> Result<void> { ... }});   // in configure()
//   db.transaction([&](Transaction& tx) -> Result<void> {
//     ... write the message with tx ...
//     auto id = ctx.jobs()->enqueue(tx, app_id, "email.send", Value::object({{"message", id}}));
//     return id ? Result<void>() : id.error();
//   });
//
// A job runs at least once: an attempt whose node died is run again once
// its lease runs out, so make the handler idempotent (or able to tell it
// ran before). Its result decides what happens next: success deletes the
// job; unavailable or internal tries again after the backoff (dead letter
// after the last attempt); any other error is final (dead letter now).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::sdk {

// One attempt of a job, as its handler sees it.
struct Job {
  std::string id;  // the same for every attempt
  std::string app_id;
  std::string kind;
  Value payload;                      // as queued
  int attempt = 1;                    // 1 for the first
  std::int64_t first_attempt_ms = 0;  // Unix ms of the first attempt
  std::int64_t deadline_ms = 0;       // monotonic_ms() by which the attempt must end

  // Milliseconds the attempt has left (0 once it must end).
  std::int64_t remaining_ms() const {
    std::int64_t left = deadline_ms - monotonic_ms();
    return left > 0 ? left : 0;
  }
};

struct JobRetry {
  std::int64_t timeout_ms = 30000;    // one attempt's time: 1 ms to 10 minutes
  int max_attempts = 5;               // 1 to 100
  std::int64_t retry_base_ms = 1000;  // exponential backoff from this, ±20 % jitter
};

struct JobKind {
  std::string name;  // "<plugin>.<name>", at most 64 bytes
  std::string description;
  JobRetry retry;
  std::function<Result<void>(const Job& job)> run;
};

class Jobs {
 public:
  virtual ~Jobs() = default;
  // Only during configure(). A name taken (or not "<this plugin>.<name>")
  // is an error naming it.
  virtual Result<void> declare(JobKind kind) = 0;
  // Queues a job of `kind` (declared by this plugin) for `app_id` inside
  // `tx` (from ctx.database()); it runs after the commit, no sooner than
  // `delay_ms` later. Returns the job's id.
  virtual Result<std::string> enqueue(Transaction& tx, std::string_view app_id, std::string_view kind,
                                      const Value& payload, std::int64_t delay_ms = 0) = 0;
};

}  // namespace picloud::sdk
