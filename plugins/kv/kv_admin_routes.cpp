#include "kv_admin_routes.hpp"

#include "kv_rules.hpp"
#include "picloud/sdk/admin_routes.hpp"

namespace picloud::kv {
namespace {

using sdk::admin_call;
using sdk::fail;
using sdk::json_reply;
using sdk::next_cursor;
using sdk::PageQuery;
using sdk::rfc3339;
using sdk::unwrap;
using sdk::Value;

constexpr std::int64_t kDefaultPage = 50;
constexpr std::int64_t kMaxPage = 200;  // values can be large: admin pages stay small

Value entry_json(const Entry& e) {
  return Value::object({{"key", e.key},
                        {"value", e.value},
                        {"version", e.version},
                        {"expires_at", e.expires_at ? Value(rfc3339(e.expires_at)) : Value()},
                        {"updated_at", rfc3339(e.updated_at)}});
}

PageQuery page_query(const std::map<std::string, std::string>& query) {
  return sdk::page_query(query, kDefaultPage, kMaxPage);
}

const std::string& collection_of(const sdk::HttpRequest& req) {
  const std::string& name = req.params.at("collection");
  if (auto ok = check_collection(name); !ok) fail(400, "invalid_field", "collection: " + ok.error().message);
  return name;
}

std::string key_of(const std::map<std::string, std::string>& query) {
  auto it = query.find("key");
  if (it == query.end()) fail(400, "missing_field", "key is required (?key=...)");
  if (auto ok = check_key(it->second); !ok) fail(400, "invalid_field", "key: " + ok.error().message);
  return it->second;
}

}  // namespace

sdk::Result<void> add_admin_routes(sdk::PluginContext& ctx, KvStore& store, std::int64_t max_value_bytes) {
  if (auto r =
          ctx.add_capability({kReadCapability, sdk::Access::app_viewer, "app:read", "read an app's key-value data"});
      !r)
    return r;
  if (auto r = ctx.add_capability(
          {kWriteCapability, sdk::Access::app_editor, "app:write", "change an app's key-value data"});
      !r)
    return r;
  KvStore* kv = &store;  // the plugin owns it for as long as routes are served
  const std::string base = "/api/v1/admin/apps/{app}/kv";
  auto add = [&](const char* method, const std::string& path, const char* capability,
                 std::function<sdk::HttpResponse(const sdk::HttpRequest&)> handler) {
    return ctx.add_route({method, path, capability, sdk::with_error_replies(std::move(handler))});
  };

  if (auto r = add("GET", base, kReadCapability,
                   [kv](const sdk::HttpRequest& req) {
                     auto page = page_query(sdk::query_params(req.query));
                     auto found = unwrap(kv->collections(req.params.at("app"), page.after, page.limit));
                     sdk::Array items;
                     for (const auto& c : found.items)
                       items.push_back(Value::object({{"collection", c.name}, {"keys", c.keys}}));
                     return json_reply(200, Value::object({{"items", Value(std::move(items))},
                                                           {"next_cursor", next_cursor(found.next)}}));
                   });
      !r)
    return r;

  if (auto r =
          add("GET", base + "/{collection}", kReadCapability,
              [kv](const sdk::HttpRequest& req) {
                auto query = sdk::query_params(req.query);
                auto page = page_query(query);
                std::string prefix = query.count("prefix") ? query.at("prefix") : "";
                if (prefix.size() > kMaxKeyBytes) fail(400, "invalid_field", "prefix: longer than a key can be");
                auto found =
                    unwrap(kv->list(req.params.at("app"), collection_of(req), page.after, page.limit, prefix, true));
                sdk::Array items;
                for (const auto& e : found.items) items.push_back(entry_json(e));
                return json_reply(
                    200, Value::object({{"items", Value(std::move(items))}, {"next_cursor", next_cursor(found.next)}}));
              });
      !r)
    return r;

  const std::string entry = base + "/{collection}/entry";
  if (auto r = add("GET", entry, kReadCapability,
                   [kv](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     std::string key = key_of(sdk::query_params(req.query));
                     auto found = unwrap(kv->get(req.params.at("app"), collection, key));
                     if (!found) fail(404, "not_found", "no key '" + key + "' in collection '" + collection + "'");
                     return json_reply(200, entry_json(*found));
                   });
      !r)
    return r;

  if (auto r = add("PUT", entry, kWriteCapability,
                   [kv, max_value_bytes](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     std::string key = key_of(sdk::query_params(req.query));
                     Value body = sdk::json_object_body(req);
                     for (const auto& [field, v] : body.as_object())
                       if (field != "value" && field != "ttl_seconds" && field != "version")
                         fail(400, "unknown_field", field + ": unknown field (value, ttl_seconds, version)");
                     if (!body.has("value")) fail(400, "missing_field", "value is required");
                     auto text = encode_value(body["value"], max_value_bytes);
                     if (!text) fail(400, "invalid_field", text.error().message);
                     std::int64_t ttl = 0;
                     if (body.has("ttl_seconds")) {
                       if (!body["ttl_seconds"].is_int())
                         fail(400, "invalid_field", "ttl_seconds: must be a whole number of seconds");
                       ttl = body["ttl_seconds"].as_int();
                     }
                     auto expires = expiry_from_ttl(ttl, system_now_ms());
                     if (!expires) fail(400, "invalid_field", expires.error().message);
                     NewValue value{body["value"], std::move(*text), *expires};
                     sdk::CallContext call = admin_call(req);
                     if (body.has("version")) {
                       if (!body["version"].is_int() || body["version"].as_int() < 0)
                         fail(400, "invalid_field",
                              "version: must be a whole number, 0 for a key that must "
                              "not exist yet");
                       auto written =
                           unwrap(kv->set_if_version(call, collection, key, value, body["version"].as_int()));
                       if (!written)
                         fail(409, "conflict",
                              "key '" + key + "' is not at version " + std::to_string(body["version"].as_int()) +
                                  (body["version"].as_int() == 0 ? " (it exists)" : ""));
                       return json_reply(written->version == 1 ? 201 : 200, entry_json(*written));
                     }
                     auto written = unwrap(kv->set(call, collection, key, value));
                     return json_reply(written.version == 1 ? 201 : 200, entry_json(written));
                   });
      !r)
    return r;

  return add("DELETE", entry, kWriteCapability, [kv](const sdk::HttpRequest& req) {
    const std::string& collection = collection_of(req);
    std::string key = key_of(sdk::query_params(req.query));
    auto removed = unwrap(kv->remove(admin_call(req), collection, key));
    if (!removed) fail(404, "not_found", "no key '" + key + "' in collection '" + collection + "'");
    return sdk::HttpResponse{204, {}, ""};
  });
}

std::string_view admin_view_json() {
  return R"json({
  "id": "keys", "title": "Key-value", "icon": "key", "scope": "app",
  "description": "Browse, set and delete an app's keys, collection by collection.",
  "sections": [
    {"kind": "table", "id": "collections", "title": "Collections",
     "list": "GET /api/v1/admin/apps/{app}/kv",
     "columns": [{"field": "collection", "title": "Collection"}, {"field": "keys", "title": "Keys"}]},
    {"kind": "table", "id": "entries", "title": "Entries",
     "params": {"type": "object", "required": ["collection"], "properties": {
       "collection": {"type": "string", "title": "Collection"},
       "prefix": {"type": "string", "title": "Key prefix"}}},
     "list": "GET /api/v1/admin/apps/{app}/kv/{collection}",
     "columns": [{"field": "key", "title": "Key"}, {"field": "value", "title": "Value", "format": "json"},
                 {"field": "version", "title": "Version"}, {"field": "expires_at", "title": "Expires", "format": "time"},
                 {"field": "updated_at", "title": "Updated", "format": "time"}],
     "open": "GET /api/v1/admin/apps/{app}/kv/{collection}/entry?key={key}",
     "row_actions": [
       {"id": "edit", "title": "Edit", "route": "PUT /api/v1/admin/apps/{app}/kv/{collection}/entry?key={key}",
        "schema": {"type": "object", "required": ["value"], "properties": {
          "value": {"title": "Value (JSON)", "format": "json"},
          "ttl_seconds": {"type": "integer", "title": "Expires after (seconds)", "minimum": 1}}}},
       {"id": "delete", "title": "Delete", "route": "DELETE /api/v1/admin/apps/{app}/kv/{collection}/entry?key={key}",
        "confirm": "Delete the key {key}?", "danger": true}],
     "create": {"title": "Set a key", "route": "PUT /api/v1/admin/apps/{app}/kv/{collection}/entry?key={key}",
        "schema": {"type": "object", "required": ["key", "value"], "properties": {
          "key": {"type": "string", "title": "Key", "minLength": 1},
          "value": {"title": "Value (JSON)", "format": "json"},
          "ttl_seconds": {"type": "integer", "title": "Expires after (seconds)", "minimum": 1}}}}}
  ]
})json";
}

}  // namespace picloud::kv
