#include "files_admin_routes.hpp"

#include "file_response.hpp"
#include "files_script_api.hpp"
#include "multipart.hpp"
#include "picloud/sdk/admin_routes.hpp"

namespace picloud::files {
namespace {

using sdk::admin_call;
using sdk::fail;
using sdk::json_reply;
using sdk::Value;

constexpr std::int64_t kDefaultPage = 100;
constexpr std::int64_t kMaxPage = 1000;
// Room for a multipart body's boundaries and part headers beyond the file.
constexpr std::int64_t kMultipartOverhead = 1 << 20;

const std::string& collection_of(const sdk::HttpRequest& req) {
  const std::string& name = req.params.at("collection");
  if (auto ok = check_collection(name); !ok) fail(400, "invalid_field", "collection: " + ok.error().message);
  return name;
}

std::string name_of(const std::map<std::string, std::string>& query) {
  auto it = query.find("name");
  if (it == query.end()) fail(400, "missing_field", "name is required (?name=...)");
  if (auto ok = check_name(it->second); !ok) fail(400, "invalid_field", "name: " + ok.error().message);
  return it->second;
}

std::string metadata_from_text(std::string_view text, std::string_view where) {
  auto parsed = sdk::parse_json(text, sdk::kMaxJsonDepth, sdk::JsonStrictness::request);
  if (!parsed) fail(400, "invalid_field", std::string(where) + ": " + parsed.error().message);
  auto encoded = encode_metadata(*parsed);
  if (!encoded) fail(400, "invalid_field", std::string(where) + ": " + encoded.error().message);
  return *encoded;
}

// What an uploader said a file's type is: "application/octet-stream" (what
// browsers and tools send when they do not know) counts as nothing said, so
// that the name's extension decides.
std::string_view uploaded_type(std::string_view given) {
  std::string_view essence = given.substr(0, given.find(';'));
  while (!essence.empty() && essence.back() == ' ') essence.remove_suffix(1);
  return essence == kDefaultContentType ? std::string_view() : given;
}

sdk::HttpResponse multipart_upload(FilesStore& store, const sdk::HttpRequest& req, const std::string& collection) {
  auto boundary = form_data_boundary(req.header("content-type"));
  if (!boundary)
    fail(415, "unsupported_media_type",
         "upload with multipart/form-data (and a boundary), or PUT the file to .../file?name=");
  if (req.body_fd < 0) fail(400, "bad_request", "the multipart body is empty");
  MultipartReader reader(req.body_fd, req.body_size, std::move(*boundary));
  // A body cut short would end its last part at its end: nothing is stored
  // unless the closing delimiter is there.
  if (!reader.closed()) fail(400, "bad_request", "the multipart body is cut short: it has no closing boundary");
  sdk::CallContext call = admin_call(req);
  std::string metadata = "{}";
  sdk::Array stored;
  for (;;) {
    auto part = unwrap_files(reader.next());
    if (!part) break;
    if (part->name == "metadata") {
      if (!stored.empty()) fail(400, "invalid_field", "metadata: the part must come before the files");
      if (part->size > static_cast<std::int64_t>(kMaxMetadataBytes) * 2) fail(400, "invalid_field", "metadata: too long");
      metadata = metadata_from_text(unwrap_files(reader.read(part->offset, part->size)), "metadata");
    } else if (part->name == "file") {
      if (part->filename.empty()) continue;  // a form's file input left empty
      if (auto ok = check_name(part->filename); !ok)
        fail(400, "invalid_field", "file's filename: " + ok.error().message);
      auto type = content_type_for(uploaded_type(part->content_type), part->filename);
      if (!type) fail(400, "invalid_field", "file '" + part->filename + "': " + type.error().message);
      SpoolSource source(req.body_fd, part->offset, part->size, false);
      stored.push_back(head_admin_json(unwrap_files(store.put(call, collection, part->filename, source, *type, metadata))));
    } else {
      fail(400, "unknown_field", "part '" + part->name + "': unknown (parts are file and metadata)");
    }
  }
  if (stored.empty()) fail(400, "missing_field", "no part named file in the upload");
  return json_reply(201, Value::object({{"files", Value(std::move(stored))}}));
}

}  // namespace

sdk::Result<void> add_admin_routes(sdk::PluginContext& ctx, FilesStore& store_ref) {
  if (auto r = ctx.add_capability({kReadCapability, sdk::Access::app_viewer, "app:read", "read an app's files"}); !r)
    return r;
  if (auto r = ctx.add_capability({kWriteCapability, sdk::Access::app_editor, "app:write", "change an app's files"});
      !r)
    return r;
  FilesStore* store = &store_ref;  // the plugin owns it for as long as routes are served
  const std::int64_t max_file = store->limits().max_file_bytes;
  const std::string base = "/api/v1/admin/apps/{app}/files";
  auto add = [&](const char* method, const std::string& path, const char* capability,
                 std::function<sdk::HttpResponse(const sdk::HttpRequest&)> handler, bool spool = false,
                 std::int64_t max_body = 0) {
    sdk::HttpRoute route{method, path, capability, sdk::with_error_replies(std::move(handler))};
    route.spool_body = spool;
    route.max_body_bytes = max_body;
    return ctx.add_route(std::move(route));
  };

  if (auto r = add("GET", base, kReadCapability,
                   [store](const sdk::HttpRequest& req) {
                     auto page = sdk::page_query(sdk::query_params(req.query), kDefaultPage, kMaxPage);
                     const std::string& app = req.params.at("app");
                     auto found = unwrap_files(store->collections(app, page.after, page.limit));
                     auto used = unwrap_files(store->usage(app));
                     sdk::Array items;
                     for (const auto& c : found.items)
                       items.push_back(Value::object({{"collection", c.name}, {"files", c.files}, {"bytes", c.bytes}}));
                     const Limits& limits = store->limits();
                     return json_reply(
                         200, Value::object(
                                  {{"items", Value(std::move(items))},
                                   {"next_cursor", sdk::next_cursor(found.next)},
                                   {"usage", Value::object({{"bytes", used.bytes},
                                                            {"files", used.files},
                                                            {"quota_bytes", limits.quota_bytes ? Value(limits.quota_bytes) : Value()},
                                                            {"quota_files", limits.quota_files ? Value(limits.quota_files) : Value()}})}}));
                   });
      !r)
    return r;

  if (auto r = add("GET", base + "/{collection}", kReadCapability,
                   [store](const sdk::HttpRequest& req) {
                     auto query = sdk::query_params(req.query);
                     auto page = sdk::page_query(query, kDefaultPage, kMaxPage);
                     std::string prefix = query.count("prefix") ? query.at("prefix") : "";
                     if (prefix.size() > kMaxNameBytes) fail(400, "invalid_field", "prefix: longer than a name can be");
                     auto found = unwrap_files(
                         store->list(req.params.at("app"), collection_of(req), prefix, page.after, page.limit));
                     sdk::Array items;
                     for (const auto& h : found.items) items.push_back(head_admin_json(h));
                     return json_reply(200, Value::object({{"items", Value(std::move(items))},
                                                           {"next_cursor", sdk::next_cursor(found.next)}}));
                   });
      !r)
    return r;

  if (auto r = add(
          "POST", base + "/{collection}", kWriteCapability,
          [store](const sdk::HttpRequest& req) { return multipart_upload(*store, req, collection_of(req)); }, true,
          max_file + kMultipartOverhead);
      !r)
    return r;

  const std::string file = base + "/{collection}/file";
  if (auto r = add(
          "PUT", file, kWriteCapability,
          [store](const sdk::HttpRequest& req) {
            const std::string& collection = collection_of(req);
            std::string name = name_of(sdk::query_params(req.query));
            auto type = content_type_for(uploaded_type(req.header("content-type")), name);
            if (!type) fail(400, "invalid_field", "Content-Type: " + type.error().message);
            std::string metadata = "{}";
            if (auto m = req.header("picloud-metadata"); !m.empty()) metadata = metadata_from_text(m, "PiCloud-Metadata");
            // An empty body may come without a spool file.
            MemorySource empty(req.body);
            SpoolSource spooled(req.body_fd, 0, req.body_size, true);
            ByteSource& source = req.body_fd >= 0 ? static_cast<ByteSource&>(spooled) : empty;
            auto head = unwrap_files(store->put(admin_call(req), collection, name, source, *type, metadata));
            return json_reply(head.version == 1 ? 201 : 200, head_admin_json(head));
          },
          true, max_file);
      !r)
    return r;

  if (auto r = add("GET", file, kReadCapability,
                   [store](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     std::string name = name_of(sdk::query_params(req.query));
                     // Saved, never shown: an HTML or SVG file must not run
                     // in the admin API's origin.
                     auto answer = unwrap_files(
                         serve_file(*store, req.params.at("app"), collection, name, req,
                                    {ServePolicy::Disposition::attachment, true, "private, no-store"}));
                     if (!answer) fail(404, "not_found", "no file '" + name + "' in collection '" + collection + "'");
                     return std::move(*answer);
                   });
      !r)
    return r;

  if (auto r = add("GET", base + "/{collection}/meta", kReadCapability,
                   [store](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     std::string name = name_of(sdk::query_params(req.query));
                     auto found = unwrap_files(store->head(req.params.at("app"), collection, name));
                     if (!found) fail(404, "not_found", "no file '" + name + "' in collection '" + collection + "'");
                     return json_reply(200, head_admin_json(*found));
                   });
      !r)
    return r;

  if (auto r = add("PATCH", file, kWriteCapability,
                   [store](const sdk::HttpRequest& req) {
                     const std::string& collection = collection_of(req);
                     std::string name = name_of(sdk::query_params(req.query));
                     Value body = sdk::json_object_body(req);
                     std::optional<std::string> type, metadata;
                     for (const auto& [field, v] : body.as_object()) {
                       if (field == "content_type") {
                         if (!v.is_string() || v.as_string().empty())
                           fail(400, "invalid_field", "content_type: must be a media type such as image/png");
                         auto t = content_type_for(v.as_string(), name);
                         if (!t) fail(400, "invalid_field", "content_type: " + t.error().message);
                         type = *t;
                       } else if (field == "metadata") {
                         auto m = encode_metadata(v);
                         if (!m) fail(400, "invalid_field", "metadata: " + m.error().message);
                         metadata = *m;
                       } else {
                         fail(400, "unknown_field", field + ": unknown field (content_type, metadata)");
                       }
                     }
                     if (!type && !metadata) fail(400, "missing_field", "give content_type, metadata or both");
                     auto patched = unwrap_files(store->patch(admin_call(req), collection, name, type, metadata));
                     if (!patched) fail(404, "not_found", "no file '" + name + "' in collection '" + collection + "'");
                     return json_reply(200, head_admin_json(*patched));
                   });
      !r)
    return r;

  return add("DELETE", file, kWriteCapability, [store](const sdk::HttpRequest& req) {
    const std::string& collection = collection_of(req);
    std::string name = name_of(sdk::query_params(req.query));
    auto removed = unwrap_files(store->remove(admin_call(req), collection, name));
    if (!removed) fail(404, "not_found", "no file '" + name + "' in collection '" + collection + "'");
    return sdk::HttpResponse{204, {}, ""};
  });
}

std::string_view admin_view_json() {
  return R"json({
  "id": "files", "title": "Files", "icon": "file", "scope": "app",
  "description": "Upload, download and delete an app's files.",
  "sections": [
    {"kind": "table", "id": "collections", "title": "Collections",
     "list": "GET /api/v1/admin/apps/{app}/files",
     "columns": [{"field": "collection", "title": "Collection"}, {"field": "files", "title": "Files"},
                 {"field": "bytes", "title": "Size", "format": "bytes"}]},
    {"kind": "table", "id": "files", "title": "Files",
     "params": {"type": "object", "required": ["collection"], "properties": {
       "collection": {"type": "string", "title": "Collection"},
       "prefix": {"type": "string", "title": "Name prefix"}}},
     "list": "GET /api/v1/admin/apps/{app}/files/{collection}",
     "columns": [{"field": "name", "title": "Name"}, {"field": "size", "title": "Size", "format": "bytes"},
                 {"field": "content_type", "title": "Type"}, {"field": "updated_at", "title": "Updated", "format": "time"}],
     "open": "GET /api/v1/admin/apps/{app}/files/{collection}/meta?name={name}",
     "row_actions": [
       {"id": "download", "title": "Download", "route": "GET /api/v1/admin/apps/{app}/files/{collection}/file?name={name}",
        "result": "download"},
       {"id": "delete", "title": "Delete", "route": "DELETE /api/v1/admin/apps/{app}/files/{collection}/file?name={name}",
        "confirm": "Delete the file {name}?", "danger": true}],
     "create": {"title": "Upload a file", "route": "PUT /api/v1/admin/apps/{app}/files/{collection}/file?name={name}",
        "schema": {"type": "object", "required": ["name", "file"], "properties": {
          "name": {"type": "string", "title": "Name", "minLength": 1},
          "file": {"type": "string", "title": "File", "format": "binary"}}}}}
  ]
})json";
}

}  // namespace picloud::files
