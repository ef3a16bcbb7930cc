#include "kernel/triggers/kernel_kinds.hpp"

#include "kernel/triggers/cron.hpp"

namespace picloud::kernel::triggers {
namespace {

sdk::Error bad_filter(const std::string& why) { return sdk::make_error(sdk::ErrorKind::invalid_argument, why); }

sdk::Result<sdk::Value> validate_cron(const sdk::Value& given) {
  const sdk::Value filter = given.is_null() ? sdk::Value::object({}) : given;
  if (!filter.is_object()) return bad_filter("filter must be an object: {\"schedule\": \"0 */5 * * * *\", \"timezone\": \"UTC\"}");
  for (const auto& [k, v] : filter.as_object())
    if (k != "schedule" && k != "timezone") return bad_filter("filter: unknown field '" + k + "' (schedule, timezone)");
  if (!filter["schedule"].is_string()) return bad_filter("filter.schedule is required: a 6-field cron expression");
  if (!filter["timezone"].is_null() && !filter["timezone"].is_string())
    return bad_filter("filter.timezone must be an IANA time zone name, such as Europe/Berlin");
  std::string zone = filter["timezone"].string_or("UTC");
  auto schedule = CronSchedule::parse(filter["schedule"].as_string(), zone);
  if (!schedule) return bad_filter("filter: " + schedule.error().message);
  return sdk::Value::object({{"schedule", schedule->expression()}, {"timezone", schedule->time_zone()}});
}

sdk::Result<sdk::Value> validate_dead_letter(const sdk::Value& filter) {
  if (filter.is_null()) return sdk::Value::object({});
  if (!filter.is_object()) return bad_filter("filter must be an object: {\"source\", \"trigger\", \"script\"}, each optional");
  sdk::Object out;
  for (const auto& [k, v] : filter.as_object()) {
    if (k != "source" && k != "trigger" && k != "script")
      return bad_filter("filter: unknown field '" + k + "' (source, trigger, script)");
    if (v.is_null()) continue;
    if (!v.is_string() || v.as_string().empty()) return bad_filter("filter." + k + " must be a non-empty string");
    out.emplace(k, v);
  }
  return sdk::Value(std::move(out));
}

bool dead_letter_matches(const sdk::Value& filter, const sdk::Event& event) {
  const sdk::Value& dl = event.payload["dead_letter"];
  auto same = [&](const char* field, const char* event_field) {
    return filter[field].is_null() || filter[field] == dl[event_field];
  };
  return same("source", "source") && same("trigger", "trigger_id") && same("script", "script_id");
}

// The filters' forms in the dashboard.
sdk::Value cron_filter_schema() {
  using sdk::Value;
  return Value::object(
      {{"type", "object"},
       {"required", Value::array({"schedule"})},
       {"properties",
        Value::object({{"schedule", Value::object({{"type", "string"},
                                                   {"title", "Schedule"},
                                                   {"description", "six fields with seconds (\"0 */5 * * * *\"), "
                                                                   "or @hourly, @daily, @weekly, @monthly, @yearly"}})},
                       {"timezone", Value::object({{"type", "string"},
                                                   {"title", "Time zone"},
                                                   {"format", "timezone"},
                                                   {"default", "UTC"}})}})}});
}

sdk::Value dead_letter_filter_schema() {
  using sdk::Value;
  auto id = [](const char* title, const char* description) {
    return Value::object({{"type", "string"}, {"title", title}, {"description", description}});
  };
  return Value::object(
      {{"type", "object"},
       {"properties", Value::object({{"source", id("Source", "only dead letters of this source: route, cron or a trigger kind")},
                                     {"trigger", id("Trigger", "only those of this trigger (its id)")},
                                     {"script", id("Script", "only those of this script (its id)")}})}});
}

}  // namespace

sdk::Result<void> declare_kernel_kinds(TriggerKindRegistry& registry) {
  sdk::TriggerKind cron{kCronKind,
                                 "runs a script on a schedule (6-field cron with seconds, in a time zone)",
                                 {"tick"},
                                 validate_cron,
                                 // Ticks are queued per trigger by the scheduler, never fanned out.
                                 [](const sdk::Value&, const sdk::Event&) { return false; },
                                 {{"schedule", "the trigger's cron expression"},
                                  {"timezone", "the zone it is evaluated in"},
                                  {"scheduled_at", "the window this tick is for (the latest one when catching up)"},
                                  {"fired_at", "when the scheduler queued it"},
                                  {"missed", "windows skipped before this one while nothing ran (0 when on time)"}}};
  cron.filter_schema = cron_filter_schema();
  if (auto r = registry.declare(std::move(cron), "kernel"); !r) return r;
  sdk::TriggerKind dead_letter{kDeadLetterKind,
                           "runs a script once for each new dead letter (never retried, never dead-lettered)",
                           {"created"},
                           validate_dead_letter,
                           dead_letter_matches,
                           {{"dead_letter", "the dead letter: id, source, op, trigger_id, route_id, script_id, "
                                            "attempts, last_error, first_attempt_at, last_attempt_at, event"}}};
  dead_letter.filter_schema = dead_letter_filter_schema();
  return registry.declare(std::move(dead_letter), "kernel");
}

}  // namespace picloud::kernel::triggers
