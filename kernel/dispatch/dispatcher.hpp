// The data plane: every request that no kernel or plugin route claims comes
// here, is matched by Host to an app and by method and path to one of its
// routes, and runs that route's script through the one dispatch path.
//
//   sync route   gate (bounded running + queued; full → 503) → engine on the
//                accepting thread → the script's response. Nothing is written
//                to the database on this path; the execution record is queued
//                for the batched log.
//   async route  outbox row committed → 202 {"execution_id"}; a worker claims
//                it (woken at once by the local insert, polling only for
//                other nodes' rows), runs it through the same gate, and
//                deletes the row together with its execution record.
//
//   trigger     outbox row written by an event's transaction, a cron tick or a
//               replay; run through `on_event(event@ e)` at the row's trigger
//               depth, the same way.
//
//   plugin job  outbox row written by a plugin (jobs.hpp); its kind's handler
//               runs through the same gate, as the app's work.
//
// Failed async runs are tried again with backoff: async requests per
// `max_attempts`/`retry_base_ms`, trigger runs per their trigger's retry
// policy, jobs per their kind's. The last failure ends the row with an error record and a dead
// letter, in one transaction. A dead_letter handler runs once: its failure
// marks the dead letter handler_failed and nothing more.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kernel/admin/admin_api.hpp"
#include "kernel/admin/execution_log.hpp"
#include "kernel/admin/script_source.hpp"
#include "kernel/dispatch/gate.hpp"
#include "kernel/dispatch/jobs.hpp"
#include "kernel/dispatch/outbox.hpp"
#include "kernel/dispatch/outbox_signal.hpp"
#include "kernel/dispatch/route_table.hpp"
#include "kernel/metrics.hpp"
#include "kernel/triggers/dead_letters.hpp"
#include "kernel/triggers/retry_policy.hpp"
#include "picloud/sdk/http.hpp"
#include "scripting/engine.hpp"

namespace picloud::kernel::dispatch {

struct DispatchSettings {
  int max_running = 0;        // 0: 2 × cores
  int max_queued = 256;
  int max_running_per_app = 0;  // 0: three quarters of max_running (see gate.hpp)
  int max_queued_per_app = 0;   // 0: three quarters of max_queued
  int queue_timeout_ms = 2000;  // how long a sync request may wait for a slot
  int workers = 0;            // async workers; 0: max(2, cores)
  bool run_queued = true;     // false: this node runs no queued work (the other nodes do)
  int poll_interval_ms = 1000;  // for other nodes' outbox rows and routing changes
  int max_attempts = 3;
  int retry_base_ms = 1000;   // backoff: base × 4^(attempt-1)
  // A claimed row's lease: the script's wall-clock limit plus this. When a
  // node dies mid-run, its rows run again once their lease is over.
  int lease_grace_ms = 30000;
  // Trigger runs without retry overrides ([triggers] retry_*).
  triggers::RetryPolicy trigger_retry;
};

// What the dispatcher needs besides the database: the wake-up other writers
// of outbox rows notify, and where failed runs end up.
struct Delivery {
  OutboxSignal& signal;
  triggers::DeadLetterStore& dead_letters;
  const JobKindRegistry* jobs = nullptr;  // the plugins' job kinds; null: none
  std::string node_id;                    // this node's (leases name it); empty: a random one
};

// Also where the server finds an app's allowed origins (http/cors.hpp):
// they travel with the route table, so a change applies as routing does.
class Dispatcher : public http::CorsLookup {
 public:
  Dispatcher(sdk::Database& db, scripting::Engine& engine, admin::ExecutionLog& executions, MetricsRegistry& metrics,
             DispatchSettings settings, Delivery delivery);
  ~Dispatcher() override;

  // Loads the route table and starts the async workers.
  sdk::Result<void> start();
  void stop();

  // The data-plane handler (the kernel's catch-all route).
  sdk::HttpResponse serve(const sdk::HttpRequest& request);
  // The plugins' app-host routes (under /_picloud/<plugin>/), served for the
  // app of the Host header. Set before start(); lives as long as this.
  void set_plugin_routes(const http::Router* routes) { plugin_routes_ = routes; }

  // A run asked for through the admin API, as its user, through the same
  // gate, limits and execution log as a route's (source "admin").
  admin::ManualRunResult run_manual(const admin::ManualRun& run);

  std::shared_ptr<const http::CorsOrigins> cors_origins(std::string_view host_header) const override;

  // Routing changed on this node: bump the shared version and reload now.
  void routing_changed();
  // Routing may have changed on another node (a poke): reloads if the
  // shared version moved.
  void check_routing();

  const DispatchSettings& settings() const { return settings_; }

  // Script runs in progress now (holding a gate slot), and what to call
  // whenever the last one left (set before start()). Group commit paces its
  // flushes only while runs are in progress (db/group_commit.hpp).
  int runs_in_progress() const { return gate_.running(); }
  void when_runs_pause(std::function<void()> paused) { gate_.when_idle(std::move(paused)); }

 private:
  sdk::HttpResponse serve_plugin_route(const sdk::HttpRequest& request);
  const http::Router* plugin_routes_ = nullptr;

  // A run of handle() through the gate, counted and with its execution
  // record queued; nothing when the gate stayed full. Sync routes and admin
  // runs share it.
  struct GatedRun {
    scripting::RunResult result;
    admin::ExecutionRecord record;
  };
  // Runs a script in a gate slot. Its answer waits for its writes to be
  // durable in the HTTP server, holding no thread, when this thread runs a
  // handler for it (http/answer_hold.hpp); here otherwise.
  std::optional<GatedRun> run_gated(const scripting::ScriptRef& script, const std::string& principal,
                                    const sdk::HttpRequest& request, const AppRoute* route, const char* source);
  sdk::HttpResponse run_sync(const RouteMatch& match, const sdk::HttpRequest& request);
  sdk::HttpResponse enqueue(const RouteMatch& match, const sdk::HttpRequest& request);
  void worker_loop(const std::string& owner);
  // How a row ended for good: its record, and a dead letter to write or a
  // dead_letter handler's outcome to note, all in the transaction that
  // deletes the row.
  struct Completion {
    std::string id;                               // the outbox row's
    std::optional<admin::ExecutionRecord> record;  // none for a plugin job
    std::optional<triggers::DeadLetter> dead_letter;
    std::string handled_letter;  // for a dead_letter handler's run
    bool handler_ok = false;
  };
  // Runs one claimed item; returns how it ended when the row is done
  // (success, or the last attempt), nothing when it was rescheduled.
  // `run_by_ms`: the last moment the run may start and still end within its
  // lease; later, the row is given back unrun. The run's writes are left in
  // `writes`, to be made durable with the batch's.
  std::optional<Completion> run_item(OutboxItem& item, const std::string& owner, std::int64_t run_by_ms,
                                     scripting::DeferredWrites& writes);
  // The same for a plugin job: its kind's handler instead of a script, its
  // kind's retry policy; no execution record (the plugin keeps what the
  // job did). An error of class unavailable or internal is tried again,
  // any other is final.
  std::optional<Completion> run_job(OutboxItem& item, const std::string& owner, std::int64_t run_by_ms);
  // A row given back unrun (its lease no longer covers a run).
  std::nullopt_t give_back(const OutboxItem& item, const std::string& owner);
  // The retry policy of a trigger's runs (defaults when it has no overrides
  // or is gone).
  triggers::RetryPolicy trigger_policy(const std::string& trigger_id);
  sdk::Result<void> reload(std::int64_t version);
  void watch_routing();
  std::shared_ptr<const RouteTable> table() const;

  sdk::Database& db_;
  scripting::Engine& engine_;
  admin::ExecutionLog& executions_;
  DispatchSettings settings_;
  Delivery delivery_;
  admin::DatabaseScriptSource scripts_;
  Outbox outbox_;
  ExecutionGate gate_;
  std::string node_id_;

  mutable std::mutex table_mutex_;
  std::shared_ptr<const RouteTable> table_;

  std::mutex stop_mutex_;  // the routing watcher sleeps on it
  std::condition_variable stop_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  std::thread watcher_;

  CounterMetric& runs_ok_;
  CounterMetric& runs_failed_;
  CounterMetric& rejected_;
  CounterMetric& accepted_async_;
  CounterMetric& not_found_;
  HistogramMetric& run_seconds_;
  CounterMetric& retries_;
  CounterMetric& jobs_ok_;
  CounterMetric& jobs_failed_;
  HistogramMetric& job_seconds_;
};

}  // namespace picloud::kernel::dispatch
