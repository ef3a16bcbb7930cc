// Trigger kinds and event emission: what a plugin
// declares so that apps can run scripts when its data changes.
//
// A kind names itself ("kv"), checks the filters operators give its
// triggers through the admin API (POST /api/v1/admin/apps/{app}/triggers/kv),
// and decides whether one of its events matches a stored filter. Events are
// emitted inside the transaction of the change that caused them, and the
// kernel writes one outbox row per matching trigger there (EventSink, a later
// ABI minor). Kind names are unique across the kernel and all plugins; the
// kernel keeps "cron" and "dead_letter" for itself.
//
//   ctx.trigger_kinds()->declare({
//       "kv", "runs a script when keys of a collection change",
//       {"insert", "update", "delete"},
//       [](const Value& filter) -> Result<Value> { ... },    // normalised filter or a named error
//       [](const Value& filter, const Event& e) { ... },    // does the event match?
//       {{"collection", "the collection's name"}, {"key", "the key"}, ...}});
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::sdk {

// One change, as a kind's matcher and (later) its handlers see it.
struct Event {
  std::string source;  // the trigger kind that emitted it
  std::string op;      // one of the kind's ops
  Value payload;       // the kind's documented fields
  // Not empty: only this trigger of the app is considered (a webhook that
  // addresses one trigger); its filter must still match.
  std::string trigger_id = {};
};

struct TriggerKind {
  std::string name;  // [a-z][a-z0-9_]*, at most 32 characters
  std::string description;
  std::vector<std::string> ops;  // the ops its events carry
  // Checks a filter (any JSON the admin API received, null when none was
  // given) and returns it as it should be stored: defaults filled in,
  // spelling normalised. Errors are invalid_argument naming the field; they
  // answer 400.
  std::function<Result<Value>(const Value& filter)> validate_filter;
  // Whether an event matches a filter validate_filter returned. Called on
  // the emitting thread inside its transaction: keep it quick, no I/O.
  std::function<bool(const Value& filter, const Event& event)> matches;
  // The payload's fields and what they mean, for the documentation.
  std::vector<std::pair<std::string, std::string>> event_fields;
  // Optional. Runs inside the transaction that creates a trigger of this
  // kind (its filter validated): set up what the trigger needs (a webhook's
  // signing secret, sealed by the keyring) and return an object the
  // creating admin receives once, as the answer's "setup" field (null: no
  // field). An error rolls the creation back and is the answer.
  std::function<Result<Value>(Transaction& tx, std::string_view app_id, std::string_view trigger_id,
                              const Value& filter)>
      created = {};
  // Optional. Runs inside the transaction that deletes one trigger of this
  // kind (an app's deletion goes through PluginContext::on_app_deleted
  // instead); an error rolls it back.
  std::function<Result<void>(Transaction& tx, std::string_view app_id, std::string_view trigger_id)> deleted = {};
  // Optional. The filter as a JSON Schema (an object schema; null: none),
  // from which the dashboard makes the filter's form: properties with
  // type, title, description, default, enum, required; "format":
  // "timezone" gets a time-zone picker. validate_filter stays the judge.
  Value filter_schema = {};
};

class TriggerKinds {
 public:
  virtual ~TriggerKinds() = default;
  // Only during configure(). A name already declared (by the kernel or a
  // plugin) is a conflict naming its owner; a malformed declaration is
  // invalid_argument.
  virtual Result<void> declare(TriggerKind kind) = 0;
};

// How the deliveries of one trigger stand (EventSink::deliveries).
struct DeliveryCounts {
  std::int64_t queued = 0;        // in the outbox, not tried yet
  std::int64_t retrying = 0;      // waiting for another try after failing
  std::int64_t running = 0;       // a node is running it now
  std::int64_t dead_letters = 0;  // failed every attempt; not resolved
};

struct TriggerDeliveries {
  std::string id;
  std::string script_id;
  std::string script;  // the script's name
  Value filter;        // as the kind's validate_filter returned it
  bool enabled = true;
  DeliveryCounts counts;
  // With a group_by field: the counts per value of that field of the
  // events' payloads ("" for events without it).
  std::map<std::string, DeliveryCounts> by;
};

// Where a plugin's events go (ctx.events(), usable from start()):
//
//   db.transaction([&](Transaction& tx) -> Result<void> {
//     ... write the change with tx ...
//     return events->emit(tx, call, {"kv", "update", Value::object({{"collection", c}, {"key", k}, ...})});
//   });
//
// `call` says whose change it is: the app comes from call.app_id, and a
// handler the event starts runs one trigger level deeper than `call` (a
// script run by a trigger writing again). Past the depth limit the event is
// dropped with a log line and a metric (a trigger loop), which is not an
// error of emit(). The handlers see {source, op, app, ...payload}.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Writes one outbox row per enabled trigger of the app whose filter
  // matches, inside `tx` (which must come from ctx.database()); they run
  // once the transaction commits. Errors: invalid_argument when the source
  // is not a kind this plugin declared, the op is not one of the kind's, the
  // payload is not an object or uses the names source, op or app; the
  // database's error otherwise (return it, so the change rolls back).
  // Returns how many triggers matched: with event.trigger_id, 1 or 0 (no
  // enabled trigger of the app and kind with that id, or its filter does
  // not match).
  virtual Result<int> emit(Transaction& tx, const CallContext& call, const Event& event) = 0;

  // The app's triggers of `kind` (one this plugin declared) in creation
  // order, with how their deliveries stand; with `group_by` (a top-level
  // string field of the kind's payloads, [a-z_][a-z0-9_]*) also per value
  // of that field. For admin views: it reads the outbox and dead letters.
  // Errors: invalid_argument for a kind not declared by this plugin or a
  // malformed group_by; the database's otherwise.
  virtual Result<std::vector<TriggerDeliveries>> deliveries(std::string_view app_id, std::string_view kind,
                                                            std::string_view group_by = {}) {
    (void)app_id, (void)kind, (void)group_by;
    return make_error(ErrorKind::unavailable, "this event sink does not report deliveries");
  }
};

}  // namespace picloud::sdk
