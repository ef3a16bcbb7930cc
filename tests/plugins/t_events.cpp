// A test plugin for the trigger machinery: a trigger kind ("t_events") whose
// items are written together with their event in one transaction, the way a
// real service plugin (kv, docs) does it, plus what the tests and the
// trigger benchmark need around it.
//
// Deleting an app deletes its items, unless one is in the collection
// "undeletable" (the hook then fails, for the rollback test).
//
// Script functions:
//   int  t_events::write(collection, key, op = "insert", fail = false)
//        writes an item and emits its event in one transaction; with fail the
//        transaction rolls back after the emit (nothing may fire). Returns
//        how many triggers matched.
//   int  t_events::write_many(collection, prefix, n)   n items + events, one transaction
//   void t_events::seen(key)             a handler records that it ran (duplicates kept)
//   void t_events::observe(emitted_us)   a handler records its start latency
//   int  t_events::now_us()              the clock observe() measures with
//                                        (for events another plugin emits)
//   int  t_events::depth()               the calling run's trigger depth
//   int  t_events::emit_raw(source, op, payload)   emits as given, nothing written
//                                        (for the sink's refusals)
//   int  t_events::emit_to(trigger, collection, key)   an insert event for that
//                                        trigger alone (Event::trigger_id)
//   string t_events::enqueue(key, mode, fail = false, delay_ms = 0)   writes an
//        item and queues a "t_events.job" in one transaction (fail: rolled
//        back); returns the job's id. Each attempt records
//        "job:<key>/<attempt>" (execution_id: the job's id; depth: 1 when it
//        was given a deadline within the kind's timeout). mode: ok; flaky
//        (unavailable on the first attempt); down (always unavailable); bad
//        (invalid_argument: final); throw.
//
// The t_events kind's created hook records "created:<trigger>" in the
// creating transaction and returns {"trigger": id, "collection": ...} as the
// setup; a filter on the collection "hook_fails" makes it fail (the creation
// must roll back). Its deleted hook records "deleted:<trigger>".
// Routes (test only, public):
//   POST /t_events/emit?app=&collection=&count=&rate=&batch=   emits `count`
//                         events at `rate`/s, `batch` per transaction, from
//                         this thread, then answers
//   GET  /t_events/latency                {count, p50_us, p99_us, max_us}; ?reset=1 clears
#include <picloud/sdk.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using namespace picloud::sdk;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool glob_match(const std::string& pattern, const std::string& name) {
  if (pattern == "*") return true;
  if (!pattern.empty() && pattern.back() == '*') return name.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0;
  return pattern == name;
}

class EventsPlugin final : public Plugin {
 public:
  Result<void> configure(PluginContext& ctx) override {
    db_ = &ctx.database();
    // An app's items go with it, unless it has one in the collection
    // "undeletable": then the hook fails, and the deletion must roll back.
    if (auto r = ctx.on_app_deleted([](Transaction& tx, std::string_view app) -> Result<void> {
          auto held = tx.query("SELECT count(*) FROM t_events_items WHERE app_id = ? AND collection = 'undeletable'", {app});
          if (!held) return held.error();
          if (held->rows[0][0].as_int() > 0)
            return make_error(ErrorKind::conflict, "app_holds_undeletable", "the app holds an undeletable item");
          auto d = tx.execute("DELETE FROM t_events_items WHERE app_id = ?", {app});
          if (!d) return d.error();
          return {};
        });
        !r)
      return r;
    if (auto r = ctx.trigger_kinds()->declare(
            {"t_events", "runs a script when a test item changes", {"insert", "update", "delete"},
             [](const Value& filter) -> Result<Value> {
               if (!filter.is_object()) return make_error(ErrorKind::invalid_argument, "filter must be an object");
               for (const auto& [k, v] : filter.as_object())
                 if (k != "collection" && k != "ops")
                   return make_error(ErrorKind::invalid_argument, "filter: unknown field '" + k + "'");
               if (!filter["collection"].is_string() || filter["collection"].as_string().empty())
                 return make_error(ErrorKind::invalid_argument, "filter.collection must be a non-empty string");
               Value ops = filter["ops"].is_null() ? Value::array({"insert", "update", "delete"}) : filter["ops"];
               if (!ops.is_array() || ops.size() == 0)
                 return make_error(ErrorKind::invalid_argument, "filter.ops must be a non-empty list");
               for (const auto& op : ops.as_array())
                 if (op != Value("insert") && op != Value("update") && op != Value("delete"))
                   return make_error(ErrorKind::invalid_argument, "filter.ops may hold insert, update and delete");
               return Value::object({{"collection", filter["collection"]}, {"ops", ops}});
             },
             [](const Value& filter, const Event& e) {
               bool op = false;
               for (const auto& o : filter["ops"].as_array()) op = op || o.as_string() == e.op;
               return op && glob_match(filter["collection"].as_string(), e.payload["collection"].string_or(""));
             },
             {{"collection", "the item's collection"}, {"key", "the item's key"}, {"emitted_us", "when it was written"}},
             [](Transaction& tx, std::string_view, std::string_view trigger, const Value& filter) -> Result<Value> {
               if (filter["collection"].string_or("") == "hook_fails")
                 return make_error(ErrorKind::conflict, "hook_failed", "the created hook failed on purpose");
               auto w = tx.execute("INSERT INTO t_events_seen (item_key, execution_id, depth) VALUES (?, '', 0)",
                                   {"created:" + std::string(trigger)});
               if (!w) return w.error();
               return Value::object({{"trigger", std::string(trigger)}, {"collection", filter["collection"]}});
             },
             [](Transaction& tx, std::string_view, std::string_view trigger) -> Result<void> {
               auto w = tx.execute("INSERT INTO t_events_seen (item_key, execution_id, depth) VALUES (?, '', 0)",
                                   {"deleted:" + std::string(trigger)});
               if (!w) return w.error();
               return {};
             }});
        !r)
      return r;
    if (auto r = ctx.jobs()->declare({"t_events.job", "records its attempts; fails as its payload's mode says",
                                      {.timeout_ms = 2000, .max_attempts = 3, .retry_base_ms = 50},
                                      [this](const Job& job) { return run_job(job); }});
        !r)
      return r;

    auto* api = ctx.script_api();
    auto add = [&](ScriptFunctionDecl d) { return api->add_function(std::move(d)); };
    // write and seen only use the database: their commits are acknowledged
    // at the run's end (the crash tests cover that path with them);
    // write_many keeps a flush of its own per call.
    auto database_only = [](ScriptFunctionDecl d) {
      d.database_only = true;
      return d;
    };
    if (auto r = add(database_only({"t_events", "write",
                      {{"collection", ScriptType::string},
                       {"key", ScriptType::string},
                       {"op", ScriptType::string, "", Value("insert")},
                       {"fail", ScriptType::boolean, "", Value(false)}},
                      ScriptType::integer, "",
                      [this](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        int matched = 0;
                        auto done = db_->transaction([&](Transaction& tx) -> Result<void> {
                          auto m = write(tx, call, a[0].as_string(), a[1].as_string(), a[2].as_string());
                          if (!m) return m.error();
                          matched = *m;
                          if (a[3].as_bool()) return make_error(ErrorKind::invalid_argument, "failed on purpose after the emit");
                          return {};
                        });
                        if (!done) return done.error();
                        return Value(std::int64_t{matched});
                      }}));
        !r)
      return r;
    if (auto r = add({"t_events", "write_many",
                      {{"collection", ScriptType::string}, {"prefix", ScriptType::string}, {"n", ScriptType::integer}},
                      ScriptType::integer, "",
                      [this](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        std::int64_t matched = 0;
                        auto done = db_->transaction([&](Transaction& tx) -> Result<void> {
                          for (std::int64_t i = 0; i < a[2].as_int(); ++i) {
                            auto m = write(tx, call, a[0].as_string(), a[1].as_string() + std::to_string(i), "insert");
                            if (!m) return m.error();
                            matched += *m;
                          }
                          return {};
                        });
                        if (!done) return done.error();
                        return Value(matched);
                      }});
        !r)
      return r;
    if (auto r = add(database_only({"t_events", "seen", {{"key", ScriptType::string}}, ScriptType::void_type, "",
                      [this](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        auto done = db_->execute("INSERT INTO t_events_seen (item_key, execution_id, depth) VALUES (?, ?, ?)",
                                                 {a[0], std::string(call.execution_id), std::int64_t{call.trigger_depth}});
                        if (!done) return done.error();
                        return Value();
                      }}));
        !r)
      return r;
    if (auto r = add({"t_events", "observe", {{"emitted_us", ScriptType::integer}}, ScriptType::void_type, "",
                      [this](const CallContext&, std::span<const Value> a) -> Result<Value> {
                        std::lock_guard lock(mutex_);
                        latencies_.push_back(now_us() - a[0].as_int());
                        return Value();
                      }});
        !r)
      return r;
    if (auto r = add({"t_events", "now_us", {}, ScriptType::integer, "",
                      [](const CallContext&, std::span<const Value>) -> Result<Value> { return Value(now_us()); }});
        !r)
      return r;
    if (auto r = add({"t_events", "depth", {}, ScriptType::integer, "",
                      [](const CallContext& call, std::span<const Value>) -> Result<Value> {
                        return Value(std::int64_t{call.trigger_depth});
                      }});
        !r)
      return r;

    if (auto r = add({"t_events", "emit_raw",
                      {{"source", ScriptType::string}, {"op", ScriptType::string}, {"payload", ScriptType::json}},
                      ScriptType::integer, "",
                      [this](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        int matched = 0;
                        auto done = db_->transaction([&](Transaction& tx) -> Result<void> {
                          auto m = events_->emit(tx, call, {a[0].as_string(), a[1].as_string(), a[2]});
                          if (!m) return m.error();
                          matched = *m;
                          return {};
                        });
                        if (!done) return done.error();
                        return Value(std::int64_t{matched});
                      }});
        !r)
      return r;

    if (auto r = add({"t_events", "emit_to",
                      {{"trigger", ScriptType::string}, {"collection", ScriptType::string}, {"key", ScriptType::string}},
                      ScriptType::integer, "",
                      [this](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        int matched = 0;
                        auto done = db_->transaction([&](Transaction& tx) -> Result<void> {
                          Event e{"t_events", "insert",
                                  Value::object({{"collection", a[1]}, {"key", a[2]}, {"emitted_us", now_us()}}),
                                  a[0].as_string()};
                          auto m = events_->emit(tx, call, e);
                          if (!m) return m.error();
                          matched = *m;
                          return {};
                        });
                        if (!done) return done.error();
                        return Value(std::int64_t{matched});
                      }});
        !r)
      return r;
    if (auto r = add({"t_events", "enqueue",
                      {{"key", ScriptType::string},
                       {"mode", ScriptType::string},
                       {"fail", ScriptType::boolean, "", Value(false)},
                       {"delay_ms", ScriptType::integer, "", Value(std::int64_t{0})}},
                      ScriptType::string, "",
                      [this](const CallContext& call, std::span<const Value> a) -> Result<Value> {
                        std::string id;
                        auto done = db_->transaction([&](Transaction& tx) -> Result<void> {
                          auto w = tx.execute(
                              "INSERT INTO t_events_items (seq, app_id, collection, item_key, op) VALUES (?, ?, 'jobs', ?, 'insert')",
                              {seq_.fetch_add(1), std::string(call.app_id), a[0]});
                          if (!w) return w.error();
                          auto queued = jobs_->enqueue(tx, call.app_id, "t_events.job",
                                                       Value::object({{"key", a[0]}, {"mode", a[1]}}), a[3].as_int());
                          if (!queued) return queued.error();
                          id = *queued;
                          if (a[2].as_bool()) return make_error(ErrorKind::invalid_argument, "failed on purpose after the enqueue");
                          return {};
                        });
                        if (!done) return done.error();
                        return Value(id);
                      }});
        !r)
      return r;

    if (auto r = ctx.add_route({"POST", "/t_events/emit", std::string(kPublic),
                                [this](const HttpRequest& req) { return emit_steadily(req); }});
        !r)
      return r;
    return ctx.add_route({"GET", "/t_events/latency", std::string(kPublic), [this](const HttpRequest& req) {
                            std::vector<std::int64_t> l;
                            {
                              std::lock_guard lock(mutex_);
                              l = latencies_;
                              if (req.query.find("reset=1") != std::string::npos) latencies_.clear();
                            }
                            std::sort(l.begin(), l.end());
                            auto at = [&](double q) {
                              return l.empty() ? 0 : l[std::min(l.size() - 1, static_cast<std::size_t>(q * l.size()))];
                            };
                            return HttpResponse::json(
                                200, to_json(Value::object({{"count", static_cast<std::int64_t>(l.size())},
                                                            {"p50_us", at(0.50)},
                                                            {"p99_us", at(0.99)},
                                                            {"max_us", l.empty() ? 0 : l.back()}})));
                          }});
  }

  Result<void> start(PluginContext& ctx) override {
    events_ = ctx.events();
    if (!events_) return make_error(ErrorKind::internal, "no event sink at ABI 1.4");
    jobs_ = ctx.jobs();
    return {};
  }
  void stop() override {}

 private:
  Result<int> write(Transaction& tx, const CallContext& call, const std::string& collection, const std::string& key,
                    const std::string& op) {
    auto r = tx.execute("INSERT INTO t_events_items (seq, app_id, collection, item_key, op) VALUES (?, ?, ?, ?, ?)",
                        {seq_.fetch_add(1), std::string(call.app_id), collection, key, op});
    if (!r) return r.error();
    return events_->emit(tx, call, {"t_events", op,
                                    Value::object({{"collection", collection}, {"key", key}, {"emitted_us", now_us()}})});
  }

  static std::string query_value(const std::string& query, const std::string& name, const std::string& fallback) {
    std::size_t at = 0;
    while (at <= query.size()) {
      std::size_t end = query.find('&', at);
      if (end == std::string::npos) end = query.size();
      std::string part = query.substr(at, end - at);
      if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
      at = end + 1;
    }
    return fallback;
  }

  HttpResponse emit_steadily(const HttpRequest& req) {
    const std::string app = query_value(req.query, "app", "");
    const std::string collection = query_value(req.query, "collection", "bench");
    const std::int64_t count = std::stoll(query_value(req.query, "count", "1000"));
    const double rate = std::stod(query_value(req.query, "rate", "1000"));
    const std::int64_t batch = std::max<std::int64_t>(1, std::stoll(query_value(req.query, "batch", "1")));
    if (app.empty() || count < 1 || rate <= 0) return HttpResponse::text(400, "app, count >= 1 and rate > 0 are needed");
    CallContext call{app, "", "", "", 0, nullptr};
    const auto start = std::chrono::steady_clock::now();
    std::int64_t sent = 0, failed = 0;
    while (sent < count) {
      // Steady pacing: batch k leaves at start + k × batch / rate.
      auto due = start + std::chrono::microseconds(static_cast<std::int64_t>(sent * 1e6 / rate));
      std::this_thread::sleep_until(due);
      std::int64_t n = std::min(batch, count - sent);
      auto r = db_->transaction([&](Transaction& tx) -> Result<void> {
        for (std::int64_t i = 0; i < n; ++i) {
          auto m = write(tx, call, collection, "k" + std::to_string(sent + i), "insert");
          if (!m) return m.error();
        }
        return {};
      });
      if (!r) failed += n;
      sent += n;
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return HttpResponse::json(200, to_json(Value::object({{"emitted", sent}, {"failed", failed}, {"seconds", seconds}})));
  }

  Result<void> run_job(const Job& job) {
    const std::string key = job.payload["key"].string_or("");
    const std::string mode = job.payload["mode"].string_or("");
    const std::int64_t left = job.remaining_ms();
    auto r = db_->execute("INSERT INTO t_events_seen (item_key, execution_id, depth) VALUES (?, ?, ?)",
                          {"job:" + key + "/" + std::to_string(job.attempt), job.id,
                           std::int64_t{left > 0 && left <= 2000 ? 1 : 0}});
    if (!r) return r.error();
    if (mode == "flaky" && job.attempt == 1) return make_error(ErrorKind::unavailable, "relay_down", "down on the first attempt");
    if (mode == "down") return make_error(ErrorKind::unavailable, "relay_down", "always down");
    if (mode == "bad") return make_error(ErrorKind::invalid_argument, "rejected", "refused for good");
    if (mode == "throw") throw std::runtime_error("thrown on purpose");
    return {};
  }

  Database* db_ = nullptr;
  EventSink* events_ = nullptr;
  Jobs* jobs_ = nullptr;
  std::atomic<std::int64_t> seq_{0};
  std::mutex mutex_;
  std::vector<std::int64_t> latencies_;
};

}  // namespace

PICLOUD_PLUGIN(EventsPlugin, "t_events", "1.0.0", "", "")
