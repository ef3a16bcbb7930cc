// Plugin jobs (sdk/jobs.hpp): the job kinds plugins declared, and the
// queue that writes their jobs into the outbox. A job is an outbox row whose
// `job` column names its kind: the dispatcher claims it like any row, runs
// the kind's handler through the gate instead of a script, and applies the
// kind's retries and dead letters (dispatcher.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/dispatch/outbox_signal.hpp"
#include "kernel/metrics.hpp"
#include "kernel/triggers/retry_policy.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/jobs.hpp"

namespace picloud::kernel::dispatch {

struct RegisteredJobKind {
  sdk::JobKind kind;
  std::string owner;  // the plugin
  triggers::RetryPolicy retry;  // exponential from the kind's base
};

// Filled while plugins configure (one thread), read-only afterwards.
class JobKindRegistry {
 public:
  // Checks the name ("<owner>.<name>"), the handler and the limits, and
  // that the name is free.
  sdk::Result<void> declare(sdk::JobKind kind, const std::string& owner);
  const RegisteredJobKind* find(std::string_view name) const;
  // The longest attempt any kind allows (0 with none): the outbox lease
  // must cover it.
  std::int64_t longest_timeout_ms() const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, RegisteredJobKind, std::less<>> kinds_;
};

class JobQueue {
 public:
  JobQueue(const JobKindRegistry& kinds, OutboxSignal& signal, MetricsRegistry& metrics);

  // Writes a job of `kind` (declared by `owner`) for the existing app
  // `app_id` inside `tx`; workers here are woken once it commits. Returns
  // its id. Refusals are invalid_argument (not_found for a missing app).
  sdk::Result<std::string> enqueue(sdk::Transaction& tx, const std::string& owner, std::string_view app_id,
                                   std::string_view kind, const sdk::Value& payload, std::int64_t delay_ms);

  static constexpr std::size_t kMaxPayloadBytes = 16u << 20;
  static constexpr std::int64_t kMaxDelayMs = 30LL * 24 * 3600 * 1000;

 private:
  const JobKindRegistry& kinds_;
  OutboxSignal& signal_;
  CounterMetric& queued_;
};

}  // namespace picloud::kernel::dispatch
