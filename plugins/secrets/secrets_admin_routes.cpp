#include "secrets_admin_routes.hpp"

#include "picloud/sdk/admin_routes.hpp"

namespace picloud::secrets {

using sdk::fail;
using sdk::json_reply;
using sdk::unwrap;
using sdk::Value;

namespace {

constexpr std::int64_t kDefaultPage = 100, kMaxPage = 1000;

const std::string& name_of(const sdk::HttpRequest& req) {
  const std::string& name = req.params.at("name");
  if (auto ok = check_name(name); !ok) fail(400, "invalid_field", "name: " + ok.error().message);
  return name;
}

}  // namespace

sdk::Result<void> add_admin_routes(sdk::PluginContext& ctx, SecretStore& store) {
  if (auto r = ctx.add_capability({kListCapability, sdk::Access::app_viewer, "app:read", "list an app's secret names"}); !r)
    return r;
  if (auto r = ctx.add_capability({kWriteCapability, sdk::Access::app_editor, "app:write", "change an app's secrets"}); !r)
    return r;
  if (auto r = ctx.add_capability({kReadCapability, sdk::Access::app_admin, "app:admin", "read an app's secret values"}); !r)
    return r;
  SecretStore* s = &store;
  sdk::Logger* log = &ctx.logger();
  const std::string base = "/api/v1/admin/apps/{app}/secrets";
  auto add = [&](const char* method, const std::string& path, const char* capability,
                 std::function<sdk::HttpResponse(const sdk::HttpRequest&)> handler) {
    return ctx.add_route({method, path, capability, sdk::with_error_replies(std::move(handler))});
  };
  if (auto r = add("GET", base, kListCapability,
                   [s](const sdk::HttpRequest& req) {
                     auto page = sdk::page_query(sdk::query_params(req.query), kDefaultPage, kMaxPage);
                     auto entries = unwrap(s->list(req.params.at("app"), page.after, page.limit));
                     sdk::Array items;
                     for (const auto& e : entries)
                       items.push_back(Value::object({{"name", e.name}, {"updated_at", sdk::rfc3339(e.updated_at)}}));
                     std::optional<std::string> last;
                     if (static_cast<std::int64_t>(entries.size()) == page.limit) last = entries.back().name;
                     return json_reply(200, Value::object({{"items", Value(std::move(items))},
                                                           {"next_cursor", sdk::next_cursor(last)}}));
                   });
      !r)
    return r;
  if (auto r = add("PUT", base + "/{name}", kWriteCapability,
                   [s](const sdk::HttpRequest& req) {
                     const std::string& name = name_of(req);
                     Value body = sdk::json_object_body(req);
                     for (const auto& [field, v] : body.as_object())
                       if (field != "value") fail(400, "invalid_field", field + ": unknown field (a secret has value)");
                     if (!body.has("value")) fail(400, "missing_field", "value is required");
                     unwrap(s->set(req.params.at("app"), name, body["value"]));
                     return sdk::HttpResponse{204, {}, ""};
                   });
      !r)
    return r;
  if (auto r = add("DELETE", base + "/{name}", kWriteCapability,
                   [s](const sdk::HttpRequest& req) {
                     const std::string& name = name_of(req);
                     if (!unwrap(s->remove(req.params.at("app"), name)))
                       fail(404, "not_found", "secret '" + name + "' not found");
                     return sdk::HttpResponse{204, {}, ""};
                   });
      !r)
    return r;
  return add("GET", base + "/{name}", kReadCapability, [s, log](const sdk::HttpRequest& req) {
    const std::string& name = name_of(req);
    Value value = unwrap(s->get(req.params.at("app"), name));
    if (value.is_null()) fail(404, "not_found", "secret '" + name + "' not found");
    // Who read which secret: an audit line at warn, so it stays at every
    // log level but error; never the value.
    log->warn("audit: secret value read through the admin API",
              {{"app", req.params.at("app")}, {"name", name}, {"user", req.principal}, {"request", req.request_id}});
    auto reply = json_reply(200, Value::object({{"name", name}, {"value", std::move(value)}}));
    reply.headers.emplace_back("cache-control", "no-store");
    return reply;
  });
}

std::string_view admin_view_json() {
  return R"json({
  "id": "secrets", "title": "Secrets", "icon": "lock", "scope": "app",
  "description": "An app's secrets by name. Values are never listed; revealing one is an app admin's act, and logged.",
  "sections": [
    {"kind": "table", "id": "secrets", "title": "Secrets",
     "list": "GET /api/v1/admin/apps/{app}/secrets",
     "columns": [{"field": "name", "title": "Name"}, {"field": "updated_at", "title": "Updated", "format": "time"}],
     "row_actions": [
       {"id": "reveal", "title": "Reveal", "route": "GET /api/v1/admin/apps/{app}/secrets/{name}",
        "confirm": "Show the value of {name}? The read is logged with your name.", "result": "show"},
       {"id": "replace", "title": "Replace", "route": "PUT /api/v1/admin/apps/{app}/secrets/{name}",
        "schema": {"type": "object", "required": ["value"], "properties": {
          "value": {"type": "string", "title": "New value", "format": "password"}}}},
       {"id": "delete", "title": "Delete", "route": "DELETE /api/v1/admin/apps/{app}/secrets/{name}",
        "confirm": "Delete the secret {name}? Scripts reading it get nothing from then on.", "danger": true}],
     "create": {"title": "Add a secret", "route": "PUT /api/v1/admin/apps/{app}/secrets/{name}",
        "schema": {"type": "object", "required": ["name", "value"], "properties": {
          "name": {"type": "string", "title": "Name", "minLength": 1},
          "value": {"type": "string", "title": "Value", "format": "password"}}}}}
  ]
})json";
}

}  // namespace picloud::secrets
