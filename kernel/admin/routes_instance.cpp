// What runs on this instance, for the dashboard: the loaded plugins with
// their versions and views, the trigger kinds with their filters' schemas,
// and the current metrics as JSON (the Prometheus text stays at /metrics
// for scrapers).
#include "kernel/admin/handlers.hpp"
#include "kernel/admin/secrets.hpp"
#include "kernel/cluster/node_registry.hpp"
#include "kernel/triggers/trigger_kinds.hpp"
#include "kernel/version.hpp"
#include "picloud/picloud.h"

namespace picloud::kernel::admin {

namespace {

sdk::Value string_array(const std::vector<std::string>& items) {
  sdk::Value out = sdk::Value::array();
  for (const auto& s : items) out.as_array().push_back(s);
  return out;
}

}  // namespace

void add_instance_routes(AdminContext& ctx, Registrar& r) {
  r.add("GET", "/plugins", "instance.plugins", [&ctx](const sdk::HttpRequest& req) {
    query_params(req, {});
    sdk::Value items = sdk::Value::array();
    for (const auto& p : ctx.plugins) {
      items.as_array().push_back(sdk::Value::object({{"name", p.name},
                                                     {"version", p.version},
                                                     {"sdk_version", p.sdk_version},
                                                     {"provides", string_array(p.provides)},
                                                     {"depends", string_array(p.depends)},
                                                     {"views", ctx.views ? ctx.views->views_of(p.name) : sdk::Value::array()}}));
    }
    sdk::Value kernel = sdk::Value::object(
        {{"version", std::string(PICLOUD_VERSION)},
         {"abi", std::to_string(PC_ABI_MAJOR) + "." + std::to_string(PC_ABI_MINOR)}});
    return json_response(200, sdk::Value::object({{"kernel", std::move(kernel)}, {"items", std::move(items)}}));
  });

  r.add("GET", "/trigger-kinds", "instance.trigger_kinds", [&ctx](const sdk::HttpRequest& req) {
    query_params(req, {});
    sdk::Value items = sdk::Value::array();
    if (ctx.trigger_kinds)
      for (const auto& name : ctx.trigger_kinds->names()) {
        const auto* k = ctx.trigger_kinds->find(name);
        if (!k) continue;
        sdk::Value fields = sdk::Value::array();
        for (const auto& [field, meaning] : k->kind.event_fields)
          fields.as_array().push_back(sdk::Value::object({{"name", field}, {"meaning", meaning}}));
        items.as_array().push_back(sdk::Value::object(
            {{"name", k->kind.name},
             {"plugin", k->owner == "kernel" ? sdk::Value() : sdk::Value(k->owner)},
             {"description", k->kind.description},
             {"ops", string_array(k->kind.ops)},
             {"event_fields", std::move(fields)},
             {"filter_schema", k->kind.filter_schema}}));
      }
    return json_response(200, sdk::Value::object({{"items", std::move(items)}}));
  });

  r.add("GET", "/nodes", "instance.nodes", [&ctx](const sdk::HttpRequest& req) {
    query_params(req, {});
    if (!ctx.nodes) fail(503, "unavailable", "this server does not serve requests (no node registry)");
    auto nodes = unwrap(ctx.nodes->list());
    sdk::Value items = sdk::Value::array();
    for (const auto& n : nodes)
      items.as_array().push_back(sdk::Value::object({{"id", n.id},
                                                     {"address", n.address},
                                                     {"host_name", n.host_name},
                                                     {"version", n.version},
                                                     {"pid", n.pid},
                                                     {"started_at", format_time(n.started_at_ms)},
                                                     // null on SQLite: its one node does not beat
                                                     {"heartbeat_at", n.beats ? sdk::Value(format_time(n.heartbeat_at_ms))
                                                                              : sdk::Value()},
                                                     {"heartbeat_age_ms", n.beats ? sdk::Value(n.age_ms) : sdk::Value()},
                                                     {"alive", n.alive},
                                                     {"released_at", n.released_at_ms ? sdk::Value(format_time(n.released_at_ms))
                                                                                      : sdk::Value()},
                                                     {"this_node", n.id == ctx.nodes->id()}}));
    return json_response(
        200, sdk::Value::object({{"items", std::move(items)},
                                 {"heartbeat_interval_ms", ctx.nodes->settings().heartbeat_ms},
                                 {"node_timeout_ms", ctx.nodes->settings().timeout_ms}}));
  });

  r.add("GET", "/metrics", "instance.metrics", [&ctx](const sdk::HttpRequest& req) {
    query_params(req, {});
    return json_response(200, ctx.metrics.snapshot());
  });
}

}  // namespace picloud::kernel::admin
