#include "kernel/triggers/event_router.hpp"

#include <algorithm>
#include <vector>

#include "kernel/admin/api_support.hpp"
#include "kernel/admin/secrets.hpp"
#include "kernel/db/database.hpp"
#include "kernel/dispatch/outbox.hpp"
#include "kernel/log.hpp"
#include "picloud/sdk/json.hpp"
#include "kernel/triggers/delivery_report.hpp"

namespace picloud::kernel::triggers {
namespace {

constexpr std::string_view kReservedFields[] = {"source", "op", "app"};

class PluginEventSink final : public sdk::EventSink {
 public:
  PluginEventSink(EventRouter& router, const TriggerKindRegistry& kinds, std::string owner, sdk::Database& db)
      : router_(router), kinds_(kinds), owner_(std::move(owner)), db_(db) {}

  sdk::Result<int> emit(sdk::Transaction& tx, const sdk::CallContext& call, const sdk::Event& event) override {
    auto bad = [&](const std::string& why) {
      return sdk::make_error(sdk::ErrorKind::invalid_argument, "plugin '" + owner_ + "' emitted an event: " + why);
    };
    const RegisteredKind* kind = kinds_.find(event.source);
    if (!kind || kind->owner != owner_) return bad("'" + event.source + "' is not a trigger kind it declared");
    if (std::find(kind->kind.ops.begin(), kind->kind.ops.end(), event.op) == kind->kind.ops.end())
      return bad("'" + event.op + "' is not an op of the kind '" + event.source + "'");
    if (!event.payload.is_object()) return bad("the payload must be an object");
    for (auto name : kReservedFields)
      if (event.payload.as_object().count(std::string(name)))
        return bad("the payload may not have a field '" + std::string(name) + "' (the kernel sets it)");
    if (call.app_id.empty()) return bad("the call context has no app");
    return router_.fan_out(tx, call.app_id, call.trigger_depth + 1, event);
  }

  sdk::Result<std::vector<sdk::TriggerDeliveries>> deliveries(std::string_view app_id, std::string_view kind,
                                                              std::string_view group_by) override {
    const RegisteredKind* k = kinds_.find(std::string(kind));
    if (!k || k->owner != owner_)
      return sdk::make_error(sdk::ErrorKind::invalid_argument, "plugin '" + owner_ + "' asked for the deliveries of '" +
                                                                   std::string(kind) + "', not a trigger kind it declared");
    return delivery_report(db_, app_id, kind, group_by, admin::now_ms());
  }

 private:
  EventRouter& router_;
  const TriggerKindRegistry& kinds_;
  std::string owner_;
  sdk::Database& db_;
};

}  // namespace

EventRouter::EventRouter(const TriggerKindRegistry& kinds, dispatch::OutboxSignal& signal, MetricsRegistry& metrics,
                         int max_depth)
    : kinds_(kinds),
      signal_(signal),
      max_depth_(max_depth),
      emitted_(metrics.counter("picloud_trigger_events_total", "events emitted by trigger kinds")),
      queued_(metrics.counter("picloud_trigger_runs_queued_total", "handler runs queued for matching triggers")),
      depth_exceeded_(metrics.counter("picloud_trigger_depth_exceeded_total",
                                      "events dropped because their handlers would run deeper than the depth limit")) {}

sdk::Value EventRouter::handler_event(std::string_view app_id, const sdk::Event& event) {
  sdk::Object fields = event.payload.is_object() ? event.payload.as_object() : sdk::Object{};
  fields["source"] = event.source;
  fields["op"] = event.op;
  fields["app"] = std::string(app_id);
  return sdk::Value(std::move(fields));
}

void EventRouter::observe(std::string source, std::string owner, Observer observer) {
  observers_.push_back({std::move(source), std::move(owner), std::move(observer)});
}

sdk::Result<int> EventRouter::fan_out(sdk::Transaction& tx, std::string_view app_id, int depth,
                                      const sdk::Event& event) {
  emitted_.inc();
  for (const auto& o : observers_) {
    if (o.source != event.source) continue;
    auto heard = o.observer(tx, app_id, event);
    if (!heard)
      return sdk::make_error(heard.error().kind, heard.error().code,
                             "plugin '" + o.owner + "', hearing a " + event.source + " event: " + heard.error().message);
  }
  const RegisteredKind* kind = kinds_.find(event.source);
  if (!kind) return sdk::make_error(sdk::ErrorKind::invalid_argument, "no trigger kind '" + event.source + "'");
  std::string sql = "SELECT id, script_id, filter FROM triggers WHERE app_id = ? AND kind = ? AND enabled = 1";
  sdk::Params params{std::string(app_id), event.source};
  if (!event.trigger_id.empty()) {
    sql += " AND id = ?";
    params.push_back(event.trigger_id);
  }
  auto triggers = tx.query(sql, params);
  if (!triggers) return triggers.error();
  if (triggers->empty()) return 0;
  std::vector<const std::vector<sdk::Value>*> matching;
  for (const auto& row : triggers->rows) {
    sdk::Value filter = admin::parse_stored_json(row[2].as_string());
    bool match = false;
    try {
      match = kind->kind.matches(filter, event);
    } catch (const std::exception& e) {
      // The change rolls back rather than firing some triggers and not others.
      return sdk::make_error(sdk::ErrorKind::internal,
                             "trigger kind '" + event.source + "' (" + kind->owner + "): the matcher threw: " + e.what());
    } catch (...) {
      return sdk::make_error(sdk::ErrorKind::internal,
                             "trigger kind '" + event.source + "' (" + kind->owner + "): the matcher threw");
    }
    if (match) matching.push_back(&row);
  }
  if (matching.empty()) return 0;
  if (depth > max_depth_) {
    depth_exceeded_.inc();
    write_log(LogLevel::warn, "triggers", "event dropped: its handlers would run past the trigger depth limit",
              {{"app", std::string(app_id)}, {"source", event.source}, {"op", event.op},
               {"depth", std::to_string(depth)}, {"max_depth", std::to_string(max_depth_)}});
    return 0;
  }
  const std::int64_t now = admin::now_ms();
  const std::string payload = sdk::to_json(handler_event(app_id, event));
  std::vector<dispatch::OutboxItem> items(matching.size());
  for (std::size_t i = 0; i < matching.size(); ++i) {
    auto& item = items[i];
    item.id = admin::new_id();
    item.app_id = std::string(app_id);
    item.script_id = (*matching[i])[1].as_string();
    item.trigger_id = (*matching[i])[0].as_string();
    item.source = event.source;
    item.depth = depth;
  }
  if (auto r = dispatch::Outbox::insert_many(tx, items, now, payload); !r) return r.error();
  queued_.inc(matching.size());
  db::Database::after_commit(tx, [this] { signal_.notify(); });
  return static_cast<int>(matching.size());
}

std::unique_ptr<sdk::EventSink> EventRouter::sink_for(const std::string& owner, sdk::Database& db) {
  return std::make_unique<PluginEventSink>(*this, kinds_, owner, db);
}

}  // namespace picloud::kernel::triggers
