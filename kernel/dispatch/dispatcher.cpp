#include "kernel/dispatch/dispatcher.hpp"

#include <chrono>
#include <random>

#include "kernel/admin/api_support.hpp"
#include "kernel/admin/secrets.hpp"
#include "kernel/db/deferred_acks.hpp"
#include "kernel/http/answer_hold.hpp"
#include "kernel/http/app_response.hpp"
#include "kernel/log.hpp"
#include "kernel/triggers/kernel_kinds.hpp"

namespace picloud::kernel::dispatch {
namespace {

// Set on a worker when a row it claimed could not be rescheduled, given back
// or marked done (the database went away): between batches a worker holds
// no row legitimately, so all rows still leased to it are given back once
// the database takes writes again, to run again now rather than when their
// lease ends.
thread_local bool t_rows_stranded = false;

using admin::error_body;

int default_running() { return static_cast<int>(std::max(2u, std::thread::hardware_concurrency() * 2)); }
constexpr int kClaimBatch = 32;
constexpr std::int64_t kMaxRetryDelayMs = 6 * 3600 * 1000;

// The wait after `failed_attempts` by `policy`, its jitter drawn here.
std::int64_t jittered_delay(const triggers::RetryPolicy& policy, int failed_attempts) {
  thread_local std::mt19937 random(std::random_device{}());
  return policy.delay_after(failed_attempts, std::uniform_real_distribution<double>(0.0, 1.0)(random)).count();
}

int default_workers() { return static_cast<int>(std::max(2u, std::thread::hardware_concurrency())); }

// A run's writes made durable at its end (db/deferred_acks.hpp), for the
// script engine (scripting/run_state.hpp); for a route's run, the hold its
// answer waits for in the server (http/answer_hold.hpp).
class RunWrites final : public scripting::DeferredWrites, public http::AnswerHold {
 public:
  // A held answer let go of unsent (the server stopped) still settles, and
  // still reports.
  ~RunWrites() override {
    if (finished_) (void)finish();
  }
  sdk::Result<void> settle() override { return acks_.settle(); }
  bool pending() const { return acks_.pending(); }
  void when_ready(std::function<void()> ready) override { acks_.when_durable(std::move(ready)); }
  sdk::Result<void> finish() override {
    auto settled = acks_.settle();
    if (auto report = std::exchange(finished_, {})) report(settled);
    return settled;
  }
  // Called once with finish()'s outcome.
  void when_finished(std::function<void(const sdk::Result<void>&)> report) { finished_ = std::move(report); }

 private:
  std::function<void(const sdk::Result<void>&)> finished_;
  void enter_database_only_call() override { acks_.open_window(); }
  void leave_database_only_call() override { acks_.close_window(); }
  db::DeferredAcks acks_;
};

std::string unsettled(const sdk::Error& error) { return "the run's writes could not be made durable: " + error.message; }

// A run whose writes could not be made durable: whatever it produced is
// not sent, as for a write that failed within the run.
void fail_unsettled(scripting::RunResult& result, const sdk::Error& error) {
  result.error = scripting::RunError::internal;
  result.message = unsettled(error);
  result.response = {};
}

// 405 with the methods the path does take.
sdk::HttpResponse method_not_allowed(const sdk::HttpRequest& request, const std::vector<std::string>& allowed) {
  auto r = error_body(405, "method_not_allowed", "method " + request.method + " is not allowed on " + request.path);
  std::string allow;
  for (const auto& a : allowed) allow += (allow.empty() ? "" : ", ") + a;
  r.headers.emplace_back("Allow", allow);
  return r;
}

// 503 when the execution gate stayed full.
sdk::HttpResponse overloaded(std::string_view message) {
  auto r = error_body(503, "overloaded", message);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

sdk::Array log_lines(const scripting::RunResult& r) {
  sdk::Array out;
  for (const auto& line : r.logs)
    out.push_back(sdk::Value::object({{"level", std::string(scripting::to_string(line.level))},
                                      {"time", admin::format_time(line.time_ms)},
                                      {"message", line.message}}));
  return out;
}

admin::ExecutionRecord record_of(const std::string& id, const std::string& app_id, const AppRoute* route,
                                 const std::string& script_id, std::int64_t version, const scripting::RunResult& r,
                                 std::int64_t started_ms) {
  admin::ExecutionRecord rec;
  rec.id = id;
  rec.app_id = app_id;
  rec.script_id = script_id;
  rec.script_version = version;
  rec.route_id = route ? route->id : "";
  rec.source = "route";
  rec.ok = r.ok();
  rec.http_status = r.status();
  if (!r.ok()) {
    rec.error_kind = std::string(scripting::to_string(r.error));
    rec.error_message = r.message;
  }
  rec.duration_us = r.duration.count();
  rec.operations = r.operations;
  rec.peak_memory_bytes = r.peak_memory_bytes;
  rec.logs = log_lines(r);
  rec.dropped_logs = r.dropped_logs;
  rec.started_at_ms = started_ms;
  return rec;
}

// A failed run as the caller sees it: the status of its kind and the one
// error shape, with the execution id to look the run up by.
sdk::HttpResponse failure(const scripting::RunResult& r, const std::string& execution_id) {
  auto res = error_body(r.status(), scripting::to_string(r.error), r.message,
                        sdk::Value::object({{"execution_id", execution_id}}));
  res.headers.emplace_back("X-Execution-Id", execution_id);
  return res;
}

sdk::Value request_payload(const sdk::HttpRequest& req, const std::map<std::string, std::string>& params) {
  sdk::Array headers;
  for (const auto& [k, v] : req.headers) headers.push_back(sdk::Value::array({k, v}));
  sdk::Object p;
  for (const auto& [k, v] : params) p.emplace(k, v);
  return sdk::Value::object({{"method", req.method},
                             {"path", req.path},
                             {"query", req.query},
                             {"headers", std::move(headers)},
                             {"params", std::move(p)},
                             {"body", admin::base64url_encode(req.body)},
                             {"remote_address", req.remote_address},
                             {"request_id", req.request_id}});
}

sdk::HttpRequest request_from(const sdk::Value& p) {
  sdk::HttpRequest req;
  req.method = p["method"].string_or("GET");
  req.path = p["path"].string_or("/");
  req.query = p["query"].string_or("");
  if (p["headers"].is_array())
    for (const auto& h : p["headers"].as_array()) req.headers.emplace_back(h[std::size_t{0}].string_or(""), h[std::size_t{1}].string_or(""));
  if (p["params"].is_object())
    for (const auto& [k, v] : p["params"].as_object()) req.params.emplace(k, v.string_or(""));
  admin::base64url_decode(p["body"].string_or(""), req.body);
  req.remote_address = p["remote_address"].string_or("");
  req.request_id = p["request_id"].string_or("");
  return req;
}

}  // namespace

Dispatcher::Dispatcher(sdk::Database& db, scripting::Engine& engine, admin::ExecutionLog& executions,
                       MetricsRegistry& metrics, DispatchSettings settings, Delivery delivery)
    : db_(db),
      engine_(engine),
      executions_(executions),
      settings_([&] {
        if (settings.max_running <= 0) settings.max_running = default_running();
        if (settings.workers <= 0) settings.workers = default_workers();
        return settings;
      }()),
      delivery_(delivery),
      scripts_(db),
      outbox_(db),
      gate_(GateLimits{settings_.max_running, settings_.max_queued, settings_.max_running_per_app,
                       settings_.max_queued_per_app}),
      node_id_(delivery.node_id.empty() ? admin::random_hex(8) : delivery.node_id),
      runs_ok_(metrics.counter("picloud_script_runs_total", "script runs, by outcome", {{"outcome", "ok"}})),
      runs_failed_(metrics.counter("picloud_script_runs_total", "script runs, by outcome", {{"outcome", "error"}})),
      rejected_(metrics.counter("picloud_dispatch_rejected_total",
                                "requests turned away because the execution gate was full (503)")),
      accepted_async_(metrics.counter("picloud_dispatch_async_accepted_total", "async requests committed to the outbox")),
      not_found_(metrics.counter("picloud_http_not_found_total", "HTTP requests that matched no route")),
      run_seconds_(metrics.histogram("picloud_script_run_duration_seconds", "script run time")),
      retries_(metrics.counter("picloud_dispatch_retries_total", "failed queued runs scheduled to be tried again")),
      jobs_ok_(metrics.counter("picloud_jobs_succeeded_total", "plugin job attempts that succeeded")),
      jobs_failed_(metrics.counter("picloud_jobs_failed_total", "plugin job attempts that failed")),
      job_seconds_(metrics.histogram("picloud_job_seconds", "plugin job attempts' duration")) {
  metrics.gauge("picloud_dispatch_running", "script runs in progress", [this] { return gate_.running(); });
  metrics.gauge("picloud_dispatch_queued", "script runs waiting for a slot", [this] { return gate_.queued(); });
  metrics.scraped_gauges("picloud_app_runs_running", "script runs in progress, per app", [this] {
    MetricsRegistry::ScrapedSeries out;
    for (const auto& u : gate_.usage()) out.push_back({{{"app", u.app}}, static_cast<double>(u.running)});
    return out;
  });
  metrics.scraped_counters("picloud_app_runs_rejected_total",
                           "runs of an app turned away by the execution gate (its share or the queue was full)", [this] {
                             MetricsRegistry::ScrapedSeries out;
                             for (const auto& u : gate_.usage())
                               out.push_back({{{"app", u.app}}, static_cast<double>(u.rejected)});
                             return out;
                           });
  metrics.gauge("picloud_dispatch_routes", "routes in the route table", [this] {
    auto t = table();
    return t ? static_cast<double>(t->route_count()) : 0.0;
  });
}

Dispatcher::~Dispatcher() { stop(); }

std::shared_ptr<const RouteTable> Dispatcher::table() const {
  std::lock_guard lock(table_mutex_);
  return table_;
}

std::shared_ptr<const http::CorsOrigins> Dispatcher::cors_origins(std::string_view host_header) const {
  auto t = table();
  return t ? t->cors_origins(host_header) : nullptr;
}

sdk::Result<void> Dispatcher::reload(std::int64_t version) {
  auto loaded = RouteTable::load(db_, version);
  if (!loaded) return loaded.error();
  std::lock_guard lock(table_mutex_);
  // Two reloads can overlap (an admin change and the watcher): the one that
  // read an older version must not replace a newer table.
  if (!table_ || (*loaded)->version() >= table_->version()) table_ = std::move(*loaded);
  return {};
}

void Dispatcher::routing_changed() {
  auto rows = db_.query("SELECT value FROM kernel_state WHERE name = 'routing_version'");
  std::int64_t version = rows && !rows->empty() ? rows->rows[0][0].as_int() : 0;
  if (auto r = reload(version); !r)
    write_log(LogLevel::error, "dispatch", "route table could not be reloaded", {{"error", r.error().message}});
}

void Dispatcher::check_routing() {
  auto rows = db_.query("SELECT value FROM kernel_state WHERE name = 'routing_version'");
  if (!rows || rows->empty()) return;
  auto current = table();
  if (current && current->version() == rows->rows[0][0].as_int()) return;
  if (auto r = reload(rows->rows[0][0].as_int()); !r)
    write_log(LogLevel::warn, "dispatch", "route table could not be reloaded", {{"error", r.error().message}});
}

sdk::Result<void> Dispatcher::start() {
  auto rows = db_.query("SELECT value FROM kernel_state WHERE name = 'routing_version'");
  if (!rows) return rows.error();
  if (auto r = reload(rows->empty() ? 0 : rows->rows[0][0].as_int()); !r) return r;
  stopping_ = false;
  const int workers = settings_.run_queued ? settings_.workers : 0;
  for (int i = 0; i < workers; ++i)
    workers_.emplace_back([this, owner = node_id_ + "-" + std::to_string(i)] { worker_loop(owner); });
  watcher_ = std::thread([this] { watch_routing(); });
  return {};
}

void Dispatcher::stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(stop_mutex_);
  }
  stop_.notify_all();
  delivery_.signal.wake();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
  if (watcher_.joinable()) watcher_.join();
}

void Dispatcher::watch_routing() {
  // Other nodes' route changes arrive by a poke (check_routing()) or, when
  // one was missed, here; local ones reload at once.
  while (!stopping_) {
    {
      std::unique_lock lock(stop_mutex_);
      stop_.wait_for(lock, std::chrono::milliseconds(settings_.poll_interval_ms), [&] { return stopping_.load(); });
    }
    if (stopping_) return;
    check_routing();
  }
}

sdk::HttpResponse Dispatcher::serve_plugin_route(const sdk::HttpRequest& request) {
  auto t = table();
  if (!t) return error_body(503, "unavailable", "the route table is not loaded yet");
  std::string app_id = t->app_of(request.header("host"));
  if (app_id.empty()) {
    not_found_.inc();
    return error_body(404, "not_found", "no app serves the host '" + admin::host_of(request.header("host")) + "'");
  }
  auto m = plugin_routes_ ? plugin_routes_->match(request.method, request.path) : http::RouteMatch{};
  if (!m.route) {
    if (!m.allowed_methods.empty()) return method_not_allowed(request, m.allowed_methods);
    not_found_.inc();
    return error_body(404, "not_found", "no plugin route for " + request.method + " " + request.path);
  }
  sdk::HttpRequest for_plugin = request;
  for_plugin.params = std::move(m.params);
  for_plugin.app_id = std::move(app_id);
  // Through the app's share of the gate, as its scripts are: a visitor
  // keeping a slow plugin route busy holds that app's slots, not every
  // server thread.
  if (!gate_.enter(for_plugin.app_id, std::chrono::milliseconds(settings_.queue_timeout_ms))) {
    rejected_.inc();
    return overloaded("too many requests at once; try again shortly");
  }
  ExecutionGate::Slot slot(gate_, for_plugin.app_id, ExecutionGate::Lending::allowed);
  return m.route->handler(for_plugin);
}

sdk::HttpResponse Dispatcher::serve(const sdk::HttpRequest& request) {
  // The kernel's paths never reach a script, on any host: not even an
  // unregistered /api/v1/admin/... (the admin session cookie's path).
  if (!http::kernel_path(request.path).empty()) {
    not_found_.inc();
    return error_body(404, "not_found", "no route for " + request.method + " " + request.path);
  }
  if (http::plugin_path(request.path)) return serve_plugin_route(request);
  auto t = table();
  if (!t) return error_body(503, "unavailable", "the route table is not loaded yet");
  RouteMatch m = t->match(request.header("host"), request.method, request.path);
  switch (m.outcome) {
    case RouteMatch::Outcome::no_app:
      not_found_.inc();
      return error_body(404, "not_found", "no app serves the host '" + admin::host_of(request.header("host")) + "'");
    case RouteMatch::Outcome::no_route:
      not_found_.inc();
      return error_body(404, "not_found", "no route for " + request.method + " " + request.path);
    case RouteMatch::Outcome::wrong_method: return method_not_allowed(request, m.allowed_methods);
    case RouteMatch::Outcome::matched: break;
  }
  // `t` keeps the matched route alive while it runs.
  return m.route->async ? enqueue(m, request) : run_sync(m, request);
}

std::optional<Dispatcher::GatedRun> Dispatcher::run_gated(const scripting::ScriptRef& script,
                                                          const std::string& principal,
                                                          const sdk::HttpRequest& request, const AppRoute* route,
                                                          const char* source) {
  if (!gate_.enter(script.app_id, std::chrono::milliseconds(settings_.queue_timeout_ms))) {
    rejected_.inc();
    return std::nullopt;
  }
  std::string id = admin::new_id();
  std::int64_t started = admin::now_ms();
  GatedRun ran;
  auto writes = std::make_unique<RunWrites>();
  {
    ExecutionGate::Slot slot(gate_, script.app_id, ExecutionGate::Lending::allowed);
    ran.result = engine_.run_http(script, scripts_, {principal, id, 0, writes.get()}, request);
  }
  // The slot is free for the next run while this one's writes reach the
  // disk; its answer waits for them, in the server without a thread when
  // it goes back through the server, here otherwise.
  const bool held = writes->pending() && http::answers_can_wait();
  if (!held)
    if (auto settled = writes->settle(); !settled) fail_unsettled(ran.result, settled.error());
  run_seconds_.observe(std::chrono::duration<double>(ran.result.duration).count());
  ran.record = record_of(id, script.app_id, route, script.script_id, script.version, ran.result, started);
  ran.record.source = source;
  ran.record.request_id = request.request_id;
  // Counted and recorded once the outcome is known: a held run's, when its
  // writes turned out durable or not.
  auto account = [this](admin::ExecutionRecord& record, const sdk::Result<void>& settled) {
    if (!settled && record.ok) {
      record.ok = false;
      record.http_status = 500;
      record.error_kind = std::string(scripting::to_string(scripting::RunError::internal));
      record.error_message = unsettled(settled.error());
    }
    (record.ok ? runs_ok_ : runs_failed_).inc();
    executions_.record(record);
  };
  if (held) {
    // The record is copied only for held runs (the caller keeps its own).
    writes->when_finished(
        [account, record = ran.record](const sdk::Result<void>& settled) mutable { account(record, settled); });
    http::hold_answer(std::move(writes));
  } else {
    account(ran.record, {});  // settled above: fail_unsettled already said how
  }
  return ran;
}

sdk::HttpResponse Dispatcher::run_sync(const RouteMatch& m, const sdk::HttpRequest& request) {
  const AppRoute& route = *m.route;
  sdk::HttpRequest req = request;
  req.params = m.params;
  auto ran = run_gated({route.app_id, route.script_id, route.script_version}, "", req, &route, "route");
  if (!ran) return overloaded("too many script runs at once; try again shortly");
  if (ran->result.ok()) return http::app_response(std::move(ran->result.response));
  write_log(LogLevel::warn, "dispatch", "script run failed",
            {{"app", route.app_id}, {"script", route.script_id}, {"execution", ran->record.id},
             {"error", std::string(scripting::to_string(ran->result.error))}, {"message", ran->result.message}});
  return failure(ran->result, ran->record.id);
}

admin::ManualRunResult Dispatcher::run_manual(const admin::ManualRun& run) {
  admin::ManualRunResult out;
  auto ran = run_gated(run.script, run.principal, run.request, nullptr, "admin");
  if (!ran) return out;
  out.admitted = true;
  out.record = std::move(ran->record);
  out.response = std::move(ran->result.response);
  return out;
}

sdk::HttpResponse Dispatcher::enqueue(const RouteMatch& m, const sdk::HttpRequest& request) {
  OutboxItem item;
  item.id = admin::new_id();
  item.app_id = m.route->app_id;
  item.script_id = m.route->script_id;
  item.route_id = m.route->id;
  item.source = "route";
  item.payload = request_payload(request, m.params);
  if (auto r = outbox_.add(item, admin::now_ms()); !r) {
    write_log(LogLevel::error, "dispatch", "async request could not be queued", {{"error", r.error().message}});
    return error_body(503, "unavailable", "the request could not be queued: the database is unavailable");
  }
  accepted_async_.inc();
  delivery_.signal.notify();
  auto r = admin::json_response(202, sdk::Value::object({{"execution_id", item.id}}));
  r.headers.emplace_back("X-Execution-Id", item.id);
  return r;
}

void Dispatcher::worker_loop(const std::string& owner) {
  // The lease covers the longest run a row may need: a script's, or a job
  // kind's attempt.
  const std::int64_t longest_job = delivery_.jobs ? delivery_.jobs->longest_timeout_ms() : 0;
  const std::int64_t lease_ms =
      std::max<std::int64_t>(engine_.config().limits.timeout_ms, longest_job) + settings_.lease_grace_ms;
  const std::vector<std::string> job_kinds = delivery_.jobs ? delivery_.jobs->names() : std::vector<std::string>{};
  while (!stopping_) {
    std::uint64_t seen = delivery_.signal.generation();
    if (t_rows_stranded && outbox_.release_all(owner)) t_rows_stranded = false;
    std::int64_t now = admin::now_ms();
    // A few rows per claim, finished together: one write transaction per
    // batch instead of two per row.
    auto items = outbox_.claim(owner, kClaimBatch, now, now + lease_ms, job_kinds);
    if (items && !items->empty()) {
      std::vector<Completion> done;
      // An item may start only while its lease still covers a whole run;
      // the rest are given back unrun.
      const std::int64_t run_by = now + settings_.lease_grace_ms;
      // The batch's runs make their writes durable together (one flush
      // covers them all), before any is marked done. Each run keeps its own
      // (a run calling out to the world settles its own writes first, not
      // another app's).
      std::vector<std::unique_ptr<RunWrites>> writes;
      for (auto& item : *items) {
        writes.push_back(std::make_unique<RunWrites>());
        if (auto completion = run_item(item, owner, stopping_ ? 0 : run_by, *writes.back()))
          done.push_back(std::move(*completion));
      }
      sdk::Result<void> settled;
      for (auto& w : writes)
        if (settled) settled = w->settle();
      if (!settled) {
        t_rows_stranded = true;
        write_log(LogLevel::warn, "dispatch", "queued runs' writes could not be made durable; they run again once the "
                                              "database takes writes",
                  {{"rows", std::to_string(done.size())}, {"error", settled.error().message}});
        continue;
      }
      // The records move out; `also` reads only the rest of each completion.
      std::vector<Outbox::Finished> rows;
      for (auto& c : done) rows.push_back({c.id, std::move(c.record)});
      auto also = [&](sdk::Transaction& tx, std::size_t i) -> sdk::Result<void> {
        const Completion& c = done[i];
        if (c.dead_letter)
          if (auto r = delivery_.dead_letters.record(tx, *c.dead_letter); !r) return r;
        if (!c.handled_letter.empty())
          if (auto r = delivery_.dead_letters.handler_finished(tx, c.handled_letter, c.handler_ok); !r) return r;
        return {};
      };
      if (auto r = outbox_.finish(owner, rows, also); !r) {
        t_rows_stranded = true;
        write_log(LogLevel::warn, "dispatch", "outbox rows could not be finished; they run again once the database "
                                              "takes writes",
                  {{"rows", std::to_string(done.size())}, {"error", r.error().message}});
      }
      continue;
    }
    if (!items)
      write_log(LogLevel::warn, "dispatch", "outbox could not be read", {{"error", items.error().message}});
    delivery_.signal.wait(seen, std::chrono::milliseconds(settings_.poll_interval_ms), stopping_);
  }
}

triggers::RetryPolicy Dispatcher::trigger_policy(const std::string& trigger_id) {
  auto rows = db_.query("SELECT retry FROM triggers WHERE id = ?", {trigger_id});
  if (!rows || rows->empty() || rows->rows[0][0].is_null()) return settings_.trigger_retry;
  // Overrides were validated when stored; a bad one falls back to the defaults.
  auto policy = triggers::RetryPolicy::with_overrides(settings_.trigger_retry,
                                                      admin::parse_stored_json(rows->rows[0][0].as_string()));
  return policy ? *policy : settings_.trigger_retry;
}

std::nullopt_t Dispatcher::give_back(const OutboxItem& item, const std::string& owner) {
  if (auto r = outbox_.release(owner, item.id); !r) {
    t_rows_stranded = true;
    write_log(LogLevel::warn, "dispatch", "outbox row could not be given back", {{"execution", item.id}, {"error", r.error().message}});
  }
  return std::nullopt;
}

std::optional<Dispatcher::Completion> Dispatcher::run_item(OutboxItem& item, const std::string& owner,
                                                           std::int64_t run_by_ms, scripting::DeferredWrites& writes) {
  if (!item.job.empty()) return run_job(item, owner, run_by_ms);
  if (admin::now_ms() > run_by_ms) return give_back(item, owner);
  gate_.enter_blocking(item.app_id);
  ExecutionGate::Slot slot(gate_, item.app_id, ExecutionGate::Lending::never);
  // The wait for a slot may have eaten the lease's margin.
  if (admin::now_ms() > run_by_ms) return give_back(item, owner);
  std::int64_t started = admin::now_ms();
  auto version = db_.query("SELECT version FROM scripts WHERE id = ? AND app_id = ?", {item.script_id, item.app_id});
  if (!version) {
    t_rows_stranded = true;  // given back once the database answers again
    return std::nullopt;
  }
  const bool request = item.source == "route";
  scripting::RunResult result;
  std::int64_t script_version = 0;
  std::string request_id;
  const bool deleted = version->empty();
  if (deleted) {
    result.error = scripting::RunError::internal;
    result.message = "the script was deleted before the run";
  } else {
    script_version = version->rows[0][0].as_int();
    scripting::ScriptRef ref{item.app_id, item.script_id, script_version};
    if (request) {
      sdk::HttpRequest req = request_from(item.payload);
      request_id = req.request_id;
      result = engine_.run_http(ref, scripts_, {"", item.id, item.depth, &writes}, req);
    } else {
      result = engine_.run_event(ref, scripts_, {"", item.id, item.depth, &writes}, item.payload);
    }
  }
  (result.ok() ? runs_ok_ : runs_failed_).inc();
  run_seconds_.observe(std::chrono::duration<double>(result.duration).count());
  Completion done;
  done.id = item.id;
  admin::ExecutionRecord& record = done.record.emplace(
      record_of(item.id, item.app_id, nullptr, item.script_id, script_version, result, started));
  record.route_id = item.route_id;
  record.trigger_id = item.trigger_id;
  record.source = item.source;
  record.request_id = request_id;
  const std::string error = std::string(scripting::to_string(result.error)) + ": " + result.message;

  // The recursion stop: a dead_letter handler runs once, and its failure is
  // noted on the letter, never retried or dead-lettered.
  if (item.source == triggers::kDeadLetterKind) {
    done.handled_letter = item.payload["dead_letter"]["id"].string_or("");
    done.handler_ok = result.ok();
    if (!result.ok())
      write_log(LogLevel::error, "dispatch", "dead_letter handler failed (not retried)",
                {{"app", item.app_id}, {"execution", item.id}, {"dead_letter", done.handled_letter},
                 {"trigger", item.trigger_id}, {"error", error}});
    return done;
  }
  if (result.ok()) return done;

  bool last = deleted;
  std::int64_t delay = 0;
  if (!last && request) {
    last = item.attempts >= settings_.max_attempts;
    delay = settings_.retry_base_ms;
    for (int i = 1; i < item.attempts && delay < kMaxRetryDelayMs; ++i) delay *= 4;
    delay = std::min(delay, kMaxRetryDelayMs);
  } else if (!last) {
    auto policy = trigger_policy(item.trigger_id);
    last = policy.exhausted(item.attempts);
    delay = jittered_delay(policy, item.attempts);
  }
  if (last) {
    triggers::DeadLetter& d = done.dead_letter.emplace();
    d.id = admin::new_id();
    d.app_id = item.app_id;
    d.execution_id = item.id;
    d.source = item.source;
    d.op = request ? "request" : item.payload["op"].string_or("");
    d.trigger_id = item.trigger_id;
    d.route_id = item.route_id;
    d.script_id = item.script_id;
    d.payload = item.payload;
    d.depth = item.depth;
    d.attempts = item.attempts;
    d.first_attempt_ms = item.first_attempt_ms ? item.first_attempt_ms : started;
    d.last_attempt_ms = started;
    d.last_error = error;
    d.created_ms = admin::now_ms();
    write_log(LogLevel::warn, "dispatch", "queued run failed for good; dead-lettered",
              {{"app", item.app_id}, {"execution", item.id}, {"source", item.source},
               {"attempts", std::to_string(item.attempts)}, {"dead_letter", d.id}, {"error", error}});
    return done;
  }
  // Try again later; this attempt is logged under an id of its own.
  retries_.inc();
  write_log(LogLevel::warn, "dispatch", "queued run failed; will retry",
            {{"execution", item.id}, {"source", item.source}, {"attempt", std::to_string(item.attempts)},
             {"retry_in_ms", std::to_string(delay)}, {"message", result.message}});
  record.id = admin::new_id();
  executions_.record(record);
  if (auto r = outbox_.retry_later(owner, item.id, admin::now_ms() + delay); !r) {
    t_rows_stranded = true;
    write_log(LogLevel::warn, "dispatch", "outbox row could not be rescheduled", {{"execution", item.id}, {"error", r.error().message}});
  }
  return std::nullopt;
}

std::optional<Dispatcher::Completion> Dispatcher::run_job(OutboxItem& item, const std::string& owner,
                                                          std::int64_t run_by_ms) {
  if (admin::now_ms() > run_by_ms) return give_back(item, owner);
  gate_.enter_blocking(item.app_id);
  ExecutionGate::Slot slot(gate_, item.app_id, ExecutionGate::Lending::never);
  if (admin::now_ms() > run_by_ms) return give_back(item, owner);
  const std::int64_t started = admin::now_ms();
  const RegisteredJobKind* kind = delivery_.jobs ? delivery_.jobs->find(item.job) : nullptr;
  sdk::Result<void> result;
  if (!kind) {
    // Not claimed unless its kind is declared here (Outbox::claim): only a
    // registry without it reaches this. Final, so it waits as a dead letter.
    result = sdk::make_error(sdk::ErrorKind::not_found, "job_kind_missing",
                             "no plugin on this node declares the job kind '" + item.job + "'");
  } else {
    sdk::Job job;
    job.id = item.id;
    job.app_id = item.app_id;
    job.kind = item.job;
    job.payload = item.payload;
    job.attempt = item.attempts;
    job.first_attempt_ms = item.first_attempt_ms ? item.first_attempt_ms : started;
    job.deadline_ms = sdk::monotonic_ms() + kind->kind.retry.timeout_ms;
    try {
      result = kind->kind.run(job);
    } catch (const std::exception& e) {
      result = sdk::make_error(sdk::ErrorKind::internal, std::string("the job's handler threw: ") + e.what());
    } catch (...) {
      result = sdk::make_error(sdk::ErrorKind::internal, "the job's handler threw");
    }
  }
  (result ? jobs_ok_ : jobs_failed_).inc();
  job_seconds_.observe(static_cast<double>(admin::now_ms() - started) / 1000.0);
  Completion done;
  done.id = item.id;
  if (result) return done;

  const sdk::Error& error = result.error();
  const bool retryable = kind && (error.kind == sdk::ErrorKind::unavailable || error.kind == sdk::ErrorKind::internal);
  const std::string message = (error.code.empty() ? "" : error.code + ": ") + error.message;
  if (!retryable || kind->retry.exhausted(item.attempts)) {
    triggers::DeadLetter& d = done.dead_letter.emplace();
    d.id = admin::new_id();
    d.app_id = item.app_id;
    d.execution_id = item.id;
    d.source = item.job;
    d.job = item.job;
    d.op = "job";
    d.payload = item.payload;
    d.attempts = item.attempts;
    d.first_attempt_ms = item.first_attempt_ms ? item.first_attempt_ms : started;
    d.last_attempt_ms = started;
    d.last_error = message;
    d.created_ms = admin::now_ms();
    write_log(LogLevel::warn, "dispatch", retryable ? "job failed every attempt; dead-lettered" : "job failed for good; dead-lettered",
              {{"app", item.app_id}, {"job", item.id}, {"kind", item.job}, {"attempts", std::to_string(item.attempts)},
               {"dead_letter", d.id}, {"error", message}});
    return done;
  }
  retries_.inc();
  const std::int64_t delay = jittered_delay(kind->retry, item.attempts);
  write_log(LogLevel::warn, "dispatch", "job failed; will retry",
            {{"app", item.app_id}, {"job", item.id}, {"kind", item.job}, {"attempt", std::to_string(item.attempts)},
             {"retry_in_ms", std::to_string(delay)}, {"error", message}});
  if (auto r = outbox_.retry_later(owner, item.id, admin::now_ms() + delay); !r) {
    t_rows_stranded = true;
    write_log(LogLevel::warn, "dispatch", "outbox row could not be rescheduled", {{"job", item.id}, {"error", r.error().message}});
  }
  return std::nullopt;
}

}  // namespace picloud::kernel::dispatch
