// Dead letters: queued runs (trigger events, async requests, cron ticks) that
// failed every attempt their retry policy allowed. Each keeps the original
// event, so it can be replayed, and waits to be resolved. Recording one fires
// the app's matching `dead_letter` triggers in the same transaction.
//
// The admin API (routes_dead_letters.cpp) and the script functions
// (dead_letters::list/get/count/replay/resolve) both go through this class,
// always scoped to one app: another app's dead letter does not exist.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernel/dispatch/outbox_signal.hpp"
#include "kernel/metrics.hpp"
#include "kernel/triggers/event_router.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kernel::triggers {

struct DeadLetter {
  std::string id, app_id, execution_id, source, op, trigger_id, route_id, script_id;
  std::string job;  // a plugin job's kind (script_id is then empty), or empty
  sdk::Value payload;  // the event (or request) as it was queued
  int depth = 0;
  int attempts = 0;
  std::int64_t first_attempt_ms = 0, last_attempt_ms = 0, created_ms = 0;
  std::string last_error;
  std::int64_t resolved_ms = 0;  // 0 while unresolved
  std::string resolution, reason, resolved_by;
  std::string handler;  // "", "ok" or "handler_failed"

  // The API shape; `event` included only when `with_event`.
  sdk::Value to_json(bool with_event) const;
};

struct DeadLetterQuery {
  enum class State { unresolved, resolved, all };
  State state = State::unresolved;
  std::string source, trigger_id, script_id;  // empty: any
  // Only letters whose event has this top-level field with this text value
  // (pubsub's topic, kv's collection); empty field: any.
  std::string event_field, event_value;
  int limit = 50;                              // 1..500
  std::string cursor;                          // from the previous page's `next_cursor`
};

struct DeadLetterPage {
  std::vector<DeadLetter> items;
  std::string next_cursor;  // empty on the last page
};

class DeadLetterStore {
 public:
  DeadLetterStore(sdk::Database& db, EventRouter& router, dispatch::OutboxSignal& signal, MetricsRegistry& metrics);

  // Inside the transaction that ends the failed run: the row, then the
  // app's dead_letter triggers (at the failed run's depth + 1).
  sdk::Result<void> record(sdk::Transaction& tx, const DeadLetter& letter);
  // A dead_letter handler's outcome, inside the transaction that ends its
  // run. A failure marks the letter handler_failed for good.
  sdk::Result<void> handler_finished(sdk::Transaction& tx, const std::string& letter_id, bool ok);

  sdk::Result<std::int64_t> count_unresolved(const std::string& app_id);
  // Newest first. A malformed cursor is invalid_argument.
  sdk::Result<DeadLetterPage> list(const std::string& app_id, const DeadLetterQuery& query);
  // not_found when the app has no such dead letter.
  sdk::Result<DeadLetter> get(const std::string& app_id, const std::string& id);
  // Queues the original event again as a new run (its id returned) and
  // marks the letter replayed, in one transaction. A resolved letter is a
  // conflict.
  sdk::Result<std::string> replay(const std::string& app_id, const std::string& id, const std::string& by);
  // Marks it resolved with a reason; a resolved letter is a conflict.
  sdk::Result<DeadLetter> resolve(const std::string& app_id, const std::string& id, const std::string& reason,
                                  const std::string& by);
  // Deletes letters created before `cutoff_ms`, in small batches; returns how many.
  sdk::Result<std::int64_t> sweep(std::int64_t cutoff_ms);

 private:
  sdk::Database& db_;
  EventRouter& router_;
  dispatch::OutboxSignal& signal_;
  CounterMetric& recorded_;
  CounterMetric& replayed_;
  CounterMetric& handler_failures_;
};

}  // namespace picloud::kernel::triggers
