#include "kernel/triggers/cron_scheduler.hpp"

#include <pthread.h>

#include <algorithm>

#include "kernel/admin/api_support.hpp"
#include "kernel/admin/secrets.hpp"
#include "kernel/db/database.hpp"
#include "kernel/db/leader.hpp"
#include "kernel/dispatch/outbox.hpp"
#include "kernel/log.hpp"
#include "kernel/triggers/event_router.hpp"
#include "kernel/triggers/kernel_kinds.hpp"

namespace picloud::kernel::triggers {
namespace {

using std::chrono::milliseconds;

constexpr const char* kSelect =
    "SELECT t.id, t.app_id, t.script_id, t.filter, t.updated_at, s.trigger_updated_at, s.next_fire_at "
    "FROM triggers t LEFT JOIN cron_schedules s ON s.trigger_id = t.id WHERE t.kind = 'cron' AND t.enabled = 1";

// Catching up after a long outage counts missed windows only this far.
constexpr int kMaxMissedCount = 100000;

Seconds to_seconds(std::int64_t ms) { return Seconds(std::chrono::seconds(ms / 1000)); }
std::int64_t to_ms(Seconds s) { return std::chrono::duration_cast<milliseconds>(s.time_since_epoch()).count(); }

}  // namespace

CronScheduler::CronScheduler(sdk::Database& db, dispatch::OutboxSignal& signal, MetricsRegistry& metrics, int poll_ms)
    : db_(db),
      signal_(signal),
      poll_ms_(poll_ms),
      ticks_(metrics.counter("picloud_cron_ticks_total", "cron ticks queued")),
      missed_(metrics.counter("picloud_cron_missed_windows_total",
                              "cron windows skipped while nothing ran (each trigger catches up with one tick)")) {}

CronScheduler::~CronScheduler() { stop(); }

void CronScheduler::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void CronScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

const CronSchedule* CronScheduler::schedule_of(const std::string& filter_text) {
  if (auto it = schedules_.find(filter_text); it != schedules_.end()) return &it->second;
  sdk::Value filter = admin::parse_stored_json(filter_text);
  auto parsed = CronSchedule::parse(filter["schedule"].string_or(""), filter["timezone"].string_or("UTC"));
  if (!parsed) return nullptr;  // validated when stored; a bad one never fires
  if (schedules_.size() > 4096) schedules_.clear();
  return &schedules_.emplace(filter_text, std::move(*parsed)).first->second;
}

sdk::Result<std::int64_t> CronScheduler::pass(std::int64_t now_ms) {
  // A read first: most passes find nothing to do and write nothing.
  auto seen = db_.query(kSelect);
  if (!seen) return seen.error();
  bool work = false;
  std::int64_t next_due = 0;
  for (const auto& row : seen->rows) {
    bool fresh = row[5].is_null() || row[5].as_int() != row[4].as_int();
    if (fresh || row[6].as_int() <= now_ms) {
      work = true;
    } else {
      next_due = next_due == 0 ? row[6].as_int() : std::min(next_due, row[6].as_int());
    }
  }
  if (!work) return next_due;

  int queued = 0;
  auto done = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    queued = 0;
    next_due = 0;
    auto leading = db::lead(tx, db_.dialect(), db::LeaderJob::cron);
    if (!leading) return leading.error();
    if (!*leading) return {};  // another node schedules
    auto rows = tx.query(kSelect);
    if (!rows) return rows.error();
    const Seconds now = to_seconds(now_ms);
    for (const auto& row : rows->rows) {
      const std::string trigger_id = row[0].as_string();
      const CronSchedule* schedule = schedule_of(row[3].as_string());
      if (!schedule) continue;
      const std::int64_t updated = row[4].as_int();
      const bool fresh = row[5].is_null() || row[5].as_int() != updated;
      // A new or changed trigger counts its windows from its last change.
      std::int64_t due = fresh ? to_ms(schedule->next_after(to_seconds(updated))) : row[6].as_int();
      std::int64_t next = due;
      if (due <= now_ms) {
        // Catch-up: one tick for the latest window that has passed.
        Seconds window = to_seconds(due);
        int missed = 0;
        for (Seconds n = schedule->next_after(window); n <= now && missed < kMaxMissedCount; n = schedule->next_after(window)) {
          window = n;
          ++missed;
        }
        dispatch::OutboxItem item;
        item.id = admin::new_id();
        item.app_id = row[1].as_string();
        item.script_id = row[2].as_string();
        item.trigger_id = trigger_id;
        item.source = kCronKind;
        item.depth = 1;  // caused by no run: as deep as an event from a request
        item.payload = EventRouter::handler_event(
            item.app_id, sdk::Event{kCronKind, "tick",
                                    sdk::Value::object({{"trigger_id", trigger_id},
                                                        {"schedule", schedule->expression()},
                                                        {"timezone", schedule->time_zone()},
                                                        {"scheduled_at", admin::format_time(to_ms(window))},
                                                        {"fired_at", admin::format_time(now_ms)},
                                                        {"missed", missed}})});
        // Due at once, by the wall clock (a test may drive `now_ms` ahead).
        if (auto r = dispatch::Outbox::insert(tx, item, std::min(now_ms, admin::now_ms())); !r) return r;
        ++queued;
        missed_.inc(static_cast<std::uint64_t>(missed));
        next = to_ms(schedule->next_after(now));
      }
      auto saved = tx.execute(
          "INSERT INTO cron_schedules (trigger_id, trigger_updated_at, next_fire_at, last_fired_at) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (trigger_id) DO UPDATE SET trigger_updated_at = excluded.trigger_updated_at, "
          "next_fire_at = excluded.next_fire_at, "
          "last_fired_at = COALESCE(excluded.last_fired_at, cron_schedules.last_fired_at)",
          {trigger_id, updated, next, next != due ? sdk::Value(now_ms) : sdk::Value()});
      if (!saved) return saved.error();
      next_due = next_due == 0 ? next : std::min(next_due, next);
    }
    if (queued > 0) db::Database::after_commit(tx, [this] { signal_.notify(); });
    return {};
  });
  if (!done) return done.error();
  ticks_.inc(static_cast<std::uint64_t>(queued));
  return next_due;
}

void CronScheduler::run() {
  pthread_setname_np(pthread_self(), "picloud-cron");
  while (!stopping_) {
    const std::int64_t now = admin::now_ms();
    std::int64_t wait_ms = poll_ms_;
    auto next = pass(now);
    if (!next) {
      write_log(LogLevel::warn, "cron", "scheduling pass failed; trying again", {{"error", next.error().message}});
    } else if (*next > 0) {
      wait_ms = std::clamp<std::int64_t>(*next - admin::now_ms(), 0, poll_ms_);
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, milliseconds(wait_ms), [&] { return stopping_.load(); });
  }
}

}  // namespace picloud::kernel::triggers
