#include "docs_admin_routes.hpp"

#include "docs_rules.hpp"
#include "docs_script_api.hpp"
#include "picloud/sdk/admin_routes.hpp"

namespace picloud::docs {
namespace {

using sdk::admin_call;
using sdk::fail;
using sdk::json_reply;
using sdk::rfc3339;
using sdk::unwrap;
using sdk::Value;

constexpr std::int64_t kDefaultPage = 50;
constexpr std::int64_t kMaxPage = 200;  // documents can be large: admin pages stay small

Value document_json(const Document& d) {
  return Value::object(
      {{"id", d.id}, {"data", d.data}, {"created_at", rfc3339(d.created_at)}, {"updated_at", rfc3339(d.updated_at)}});
}

const std::string& collection_of(const sdk::HttpRequest& req) {
  const std::string& name = req.params.at("collection");
  if (auto ok = check_collection(name); !ok) fail(400, "invalid_field", "collection: " + ok.error().message);
  return name;
}

const std::string& id_of(const sdk::HttpRequest& req) {
  const std::string& id = req.params.at("id");
  if (auto ok = check_id(id); !ok) fail(400, "invalid_field", "id: " + ok.error().message);
  return id;
}

// The body's fields, refusing any not in `allowed`.
Value body_with(const sdk::HttpRequest& req, std::initializer_list<std::string_view> allowed) {
  Value body = sdk::json_object_body(req);
  for (const auto& [field, v] : body.as_object())
    if (std::find(allowed.begin(), allowed.end(), field) == allowed.end()) {
      std::string names;
      for (auto a : allowed) names += std::string(names.empty() ? "" : ", ") + std::string(a);
      fail(400, "unknown_field", field + ": unknown field (" + names + ")");
    }
  return body;
}

Value index_json(const IndexInfo& i) {
  return Value::object({{"path", i.path}, {"unique", i.unique}, {"created_at", rfc3339(i.created_at)}});
}

}  // namespace

sdk::Result<void> add_admin_routes(sdk::PluginContext& ctx, DocStore& store) {
  for (const auto& cap :
       {sdk::Capability{kReadCapability, sdk::Access::app_viewer, "app:read", "read an app's documents"},
        sdk::Capability{kWriteCapability, sdk::Access::app_editor, "app:write", "change an app's documents"},
        sdk::Capability{kIndexCapability, sdk::Access::app_admin, "app:admin",
                        "create and drop indexes on an app's document collections"}})
    if (auto r = ctx.add_capability(cap); !r) return r;
  DocStore* docs = &store;  // the plugin owns it for as long as routes are served
  const std::string base = "/api/v1/admin/apps/{app}/docs";
  auto add = [&](const char* method, const std::string& path, const char* capability,
                 std::function<sdk::HttpResponse(const sdk::HttpRequest&)> handler) {
    return ctx.add_route({method, path, capability, sdk::with_error_replies(std::move(handler))});
  };
  auto page_of = [](const sdk::HttpRequest& req) {
    return sdk::page_query(sdk::query_params(req.query), kDefaultPage, kMaxPage);
  };

  if (auto r = add("GET", base, kReadCapability,
                   [docs, page_of](const sdk::HttpRequest& req) {
                     auto page = page_of(req);
                     auto found = unwrap(docs->collections(req.params.at("app"), page.after, page.limit));
                     sdk::Array items;
                     for (const auto& c : found.items)
                       items.push_back(Value::object({{"collection", c.name}, {"documents", c.documents}}));
                     return json_reply(200, Value::object({{"items", Value(std::move(items))},
                                                           {"next_cursor", sdk::next_cursor(found.next)}}));
                   });
      !r)
    return r;

  const std::string documents = base + "/{collection}/documents";
  if (auto r = add("GET", documents, kReadCapability,
                   [docs, page_of](const sdk::HttpRequest& req) {
                     auto page = page_of(req);
                     auto found = unwrap(docs->list(req.params.at("app"), collection_of(req), page.after, page.limit));
                     sdk::Array items;
                     for (const auto& d : found.items) items.push_back(document_json(d));
                     return json_reply(200, Value::object({{"items", Value(std::move(items))},
                                                           {"next_cursor", sdk::next_cursor(found.next)}}));
                   });
      !r)
    return r;

  if (auto r = add("POST", documents, kWriteCapability,
                   [docs](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     Value body = body_with(req, {"data", "id"});
                     if (!body.has("data")) fail(400, "missing_field", "data is required (the document, an object)");
                     std::string id;
                     if (body.has("id")) {
                       if (!body["id"].is_string()) fail(400, "invalid_field", "id: must be a string");
                       id = body["id"].as_string();
                       if (auto ok = check_id(id); !ok) fail(400, "invalid_field", "id: " + ok.error().message);
                     }
                     auto doc = unwrap(docs->create(admin_call(req), collection, id, body["data"]));
                     return json_reply(201, document_json(doc));
                   });
      !r)
    return r;

  const std::string one = documents + "/{id}";
  if (auto r = add("GET", one, kReadCapability,
                   [docs](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     const std::string& id = id_of(req);
                     auto found = unwrap(docs->get(req.params.at("app"), collection, id));
                     if (!found) fail(404, "not_found", "no document '" + id + "' in collection '" + collection + "'");
                     return json_reply(200, document_json(*found));
                   });
      !r)
    return r;

  if (auto r = add("PUT", one, kWriteCapability,
                   [docs](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     const std::string& id = id_of(req);
                     Value body = body_with(req, {"data"});
                     if (!body.has("data")) fail(400, "missing_field", "data is required (the document, an object)");
                     auto done = unwrap(docs->replace(admin_call(req), collection, id, body["data"], true));
                     return json_reply(done->created ? 201 : 200, document_json(done->document));
                   });
      !r)
    return r;

  if (auto r = add("DELETE", one, kWriteCapability,
                   [docs](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     const std::string& id = id_of(req);
                     auto removed = unwrap(docs->remove(admin_call(req), collection, id));
                     if (!removed)
                       fail(404, "not_found", "no document '" + id + "' in collection '" + collection + "'");
                     return sdk::HttpResponse{204, {}, ""};
                   });
      !r)
    return r;

  if (auto r = add("POST", base + "/{collection}/query", kReadCapability,
                   [docs](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     Value body = body_with(req, {"filter", "sort", "limit", "skip", "cursor"});
                     sdk::Object options;
                     for (const char* k : {"sort", "limit", "skip", "cursor"})
                       if (body.has(k)) options.emplace(k, body[k]);
                     auto page = find_page(*docs, req.params.at("app"), collection, body["filter"],
                                           Value(std::move(options)), kDefaultPage);
                     // The options' and the cursor's faults name the field; the filter's
                     // are the compiler's own messages.
                     if (!page && page.error().kind == sdk::ErrorKind::invalid_argument &&
                         (page.error().message.rfind("options:", 0) == 0 ||
                          page.error().message.find("cursor") != std::string::npos))
                       fail(400, "invalid_field", page.error().message);
                     auto found = unwrap(std::move(page));
                     sdk::Array items;
                     for (const auto& d : found.items) items.push_back(document_json(d));
                     return json_reply(200, Value::object({{"items", Value(std::move(items))},
                                                           {"next_cursor", sdk::next_cursor(found.next)}}));
                   });
      !r)
    return r;

  const std::string indexes = base + "/{collection}/indexes";
  if (auto r = add("GET", indexes, kReadCapability,
                   [docs](const sdk::HttpRequest& req) {
                     auto found = unwrap(docs->indexes(req.params.at("app"), collection_of(req)));
                     sdk::Array items;
                     for (const auto& i : found) items.push_back(index_json(i));
                     return json_reply(200, Value::object({{"items", Value(std::move(items))}}));
                   });
      !r)
    return r;

  if (auto r = add("POST", indexes, kIndexCapability,
                   [docs](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     Value body = body_with(req, {"path", "unique"});
                     if (!body["path"].is_string()) fail(400, "missing_field", "path is required: a dotted path");
                     auto path = parse_path(body["path"].as_string());
                     if (!path) fail(400, "invalid_field", path.error().message);
                     if (body.has("unique") && !body["unique"].is_bool())
                       fail(400, "invalid_field", "unique: must be true or false");
                     bool unique = body.has("unique") && body["unique"].as_bool();
                     auto made = unwrap(docs->create_index(req.params.at("app"), collection, *path, unique));
                     return json_reply(201, index_json(made));
                   });
      !r)
    return r;

  return add("DELETE", indexes, kIndexCapability, [docs](const sdk::HttpRequest& req) {
    const std::string& collection = collection_of(req);
    auto query = sdk::query_params(req.query);
    auto it = query.find("path");
    if (it == query.end()) fail(400, "missing_field", "path is required (?path=...)");
    auto path = parse_path(it->second);
    if (!path) fail(400, "invalid_field", path.error().message);
    if (!unwrap(docs->drop_index(req.params.at("app"), collection, *path)))
      fail(404, "not_found", "collection '" + collection + "' has no index on '" + it->second + "'");
    return sdk::HttpResponse{204, {}, ""};
  });
}

std::string_view admin_view_json() {
  return R"json({
  "id": "collections", "title": "Documents", "icon": "database", "scope": "app",
  "description": "Browse, query and edit an app's documents and indexes.",
  "sections": [
    {"kind": "table", "id": "collections", "title": "Collections",
     "list": "GET /api/v1/admin/apps/{app}/docs",
     "columns": [{"field": "collection", "title": "Collection"}, {"field": "documents", "title": "Documents"}]},
    {"kind": "table", "id": "documents", "title": "Documents",
     "params": {"type": "object", "required": ["collection"], "properties": {
       "collection": {"type": "string", "title": "Collection"}}},
     "list": "GET /api/v1/admin/apps/{app}/docs/{collection}/documents",
     "columns": [{"field": "id", "title": "Id"}, {"field": "data", "title": "Data", "format": "json"},
                 {"field": "updated_at", "title": "Updated", "format": "time"}],
     "open": "GET /api/v1/admin/apps/{app}/docs/{collection}/documents/{id}",
     "row_actions": [
       {"id": "replace", "title": "Replace", "route": "PUT /api/v1/admin/apps/{app}/docs/{collection}/documents/{id}",
        "schema": {"type": "object", "required": ["data"], "properties": {"data": {"title": "Data (a JSON object)", "format": "json"}}}},
       {"id": "delete", "title": "Delete", "route": "DELETE /api/v1/admin/apps/{app}/docs/{collection}/documents/{id}",
        "confirm": "Delete the document {id}?", "danger": true}],
     "create": {"title": "Add a document", "route": "POST /api/v1/admin/apps/{app}/docs/{collection}/documents",
        "schema": {"type": "object", "required": ["data"], "properties": {
          "id": {"type": "string", "title": "Id (optional)"},
          "data": {"title": "Data (a JSON object)", "format": "json"}}}}},
    {"kind": "form", "id": "query", "title": "Query", "submit": "Run query", "result": "show",
     "route": "POST /api/v1/admin/apps/{app}/docs/{collection}/query",
     "schema": {"type": "object", "required": ["collection"], "properties": {
       "collection": {"type": "string", "title": "Collection"},
       "filter": {"title": "Filter (JSON, e.g. {\"status\": \"open\"})", "format": "json"},
       "sort": {"title": "Sort (JSON, e.g. [{\"created\": -1}])", "format": "json"},
       "limit": {"type": "integer", "title": "Limit", "minimum": 1, "maximum": 1000, "default": 50}}}},
    {"kind": "table", "id": "indexes", "title": "Indexes",
     "params": {"type": "object", "required": ["collection"], "properties": {
       "collection": {"type": "string", "title": "Collection"}}},
     "list": "GET /api/v1/admin/apps/{app}/docs/{collection}/indexes",
     "columns": [{"field": "path", "title": "Path"}, {"field": "unique", "title": "Unique", "format": "bool"},
                 {"field": "created_at", "title": "Created", "format": "time"}],
     "row_actions": [
       {"id": "drop", "title": "Drop", "route": "DELETE /api/v1/admin/apps/{app}/docs/{collection}/indexes?path={path}",
        "confirm": "Drop the index on {path}?", "danger": true}],
     "create": {"title": "Add an index", "route": "POST /api/v1/admin/apps/{app}/docs/{collection}/indexes",
        "schema": {"type": "object", "required": ["path"], "properties": {
          "path": {"type": "string", "title": "Field path"},
          "unique": {"type": "boolean", "title": "Unique", "default": false}}}}}
  ]
})json";
}

}  // namespace picloud::docs
