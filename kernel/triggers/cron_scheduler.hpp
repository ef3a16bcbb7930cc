// The cron scheduler: queues a tick into the outbox for every enabled cron
// trigger whose time has come. One pass:
//
//   - reads the triggers and their state (cron_schedules) without writing
//     unless something is due or new, so an idle scheduler costs one read;
//   - in a write transaction holding the cron leader lock (PostgreSQL: one
//     node schedules; the others skip), queues each due tick and moves the
//     trigger's next fire time past now, together — a tick is queued once.
//
// A trigger that missed several windows (the server was down) fires once on
// catch-up, for the latest missed window, with `missed` counting the others.
// A new, edited or re-enabled trigger is scheduled from its last change.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>

#include "kernel/dispatch/outbox_signal.hpp"
#include "kernel/metrics.hpp"
#include "kernel/triggers/cron.hpp"
#include "picloud/sdk/database.hpp"

namespace picloud::kernel::triggers {

class CronScheduler {
 public:
  // `poll_ms`: how often it looks for new or changed triggers (and, on
  // PostgreSQL, takes over from a node that stopped) when nothing is due sooner.
  CronScheduler(sdk::Database& db, dispatch::OutboxSignal& signal, MetricsRegistry& metrics, int poll_ms);
  ~CronScheduler();

  void start();
  void stop();

  // One pass at `now_ms`; returns when the next tick is due (or 0 when no
  // trigger is scheduled). Public for tests.
  sdk::Result<std::int64_t> pass(std::int64_t now_ms);

 private:
  void run();
  // The schedule of a trigger's stored filter (parsed once per filter text).
  const CronSchedule* schedule_of(const std::string& filter_text);

  sdk::Database& db_;
  dispatch::OutboxSignal& signal_;
  int poll_ms_;
  std::map<std::string, CronSchedule> schedules_;  // by filter text; only the scheduler thread
  CounterMetric& ticks_;
  CounterMetric& missed_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace picloud::kernel::triggers
