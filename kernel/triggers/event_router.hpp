// Event fan-out: an event of a kind, emitted inside the transaction of the
// change that caused it, becomes one outbox row per enabled trigger of the
// app whose filter matches — in that same transaction, so a rolled-back
// change fires nothing. Workers on this node are woken once it commits.
//
// The trigger depth stops loops: a run started by an event is one level
// deeper than the run that caused it; past `max_depth` the event is dropped
// with a log line and picloud_trigger_depth_exceeded_total, never retried
// or dead-lettered.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/dispatch/outbox_signal.hpp"
#include "kernel/metrics.hpp"
#include "kernel/triggers/trigger_kinds.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/triggers.hpp"

namespace picloud::kernel::triggers {

class EventRouter {
 public:
  EventRouter(const TriggerKindRegistry& kinds, dispatch::OutboxSignal& signal, MetricsRegistry& metrics,
              int max_depth);

  // Writes the outbox rows for `event` of `app_id` at trigger depth `depth`
  // (the depth the handlers run at); returns how many triggers matched.
  sdk::Result<int> fan_out(sdk::Transaction& tx, std::string_view app_id, int depth, const sdk::Event& event);

  // Plugins that hear every event of a kind inside its transaction
  // (PluginContext::observe_events); added before the server serves.
  using Observer = std::function<sdk::Result<void>(sdk::Transaction& tx, std::string_view app_id, const sdk::Event& event)>;
  void observe(std::string source, std::string owner, Observer observer);

  // What a handler receives: {source, op, app, ...payload}.
  static sdk::Value handler_event(std::string_view app_id, const sdk::Event& event);

  // The EventSink handed to plugin `owner`: it may emit only the kinds it
  // declared, with their ops, and checks the payload's shape; it reports
  // their deliveries from `db`.
  std::unique_ptr<sdk::EventSink> sink_for(const std::string& owner, sdk::Database& db);

 private:
  const TriggerKindRegistry& kinds_;
  dispatch::OutboxSignal& signal_;
  int max_depth_;
  CounterMetric& emitted_;
  CounterMetric& queued_;
  CounterMetric& depth_exceeded_;
  struct Observing {
    std::string source, owner;
    Observer observer;
  };
  std::vector<Observing> observers_;  // fixed once serving
};

}  // namespace picloud::kernel::triggers
