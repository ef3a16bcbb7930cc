#include "files_script_api.hpp"

#include <chrono>

#include "file_response.hpp"
#include "picloud/sdk/admin_routes.hpp"
#include "picloud/sdk/collections.hpp"
#include "signed_urls.hpp"

namespace picloud::files {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::ScriptType;
using sdk::Value;
using Body = sdk::CollectionMethodBody;

}  // namespace

sdk::Result<void> declare_script_api(sdk::PluginContext& ctx, FilesStore& store_ref) {
  FilesStore* store = &store_ref;  // the plugin owns it for as long as the engine can call these
  sdk::PluginContext* context = &ctx;
  sdk::AccessControl& access = *ctx.access();
  auto method = [&access](std::string name, std::vector<sdk::ScriptParam> params, ScriptType result,
                          const char* capability, bool named, std::string doc, Body body) {
    return sdk::collection_method(access, std::move(name), std::move(params), result, capability,
                                  named ? &check_name : nullptr, std::move(doc), std::move(body));
  };
  const sdk::ScriptParam name{"name", ScriptType::string};

  sdk::ScriptHandleTypeDecl collection{"files", "Collection", {}, "a collection of the app's stored files"};
  auto& m = collection.methods;
  m.push_back(
      {"name",
       {},
       ScriptType::string,
       "",
       [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> { return self; },
       "the collection's name"});
  m.push_back(method(
      "put",
      {name,
       {"data", ScriptType::bytes},
       {"content_type", ScriptType::string, "", Value("")},
       {"metadata", ScriptType::json, "", Value()}},
      ScriptType::json, kWriteCapability, true,
      "stores the bytes as the file (created or replaced), with a content type (from the name's extension when "
      "empty) and a JSON object of metadata; returns its head",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        const std::string& file = a[0].as_string();
        auto type = content_type_for(a[2].as_string(), file);
        if (!type) return type.error();
        auto metadata = encode_metadata(a[3]);
        if (!metadata) return metadata.error();
        const sdk::Bytes& bytes = a[1].as_bytes();
        MemorySource source({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
        auto head = store->put(call, c, file, source, *type, *metadata);
        if (!head) return head.error();
        return head_json(*head);
      }));
  m.push_back(method(
      "get", {name}, ScriptType::bytes, kReadCapability, true,
      "the file's bytes, verified against their SHA-256, or null when there is no such file; at most [files] "
      "script_max_bytes (serve larger files with serve())",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto found = store->read_all(call.app_id, c, a[0].as_string(), store->limits().script_max_bytes);
        if (!found) return found.error();
        if (!*found) return Value();
        const std::string& bytes = (*found)->second;
        return Value(sdk::Bytes(bytes.begin(), bytes.end()));
      }));
  m.push_back(method(
      "head", {name}, ScriptType::json, kReadCapability, true,
      "{collection, name, size, content_type, sha256, version, created_at, updated_at, metadata} (times in ms since "
      "the epoch), or null",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto found = store->head(call.app_id, c, a[0].as_string());
        if (!found) return found.error();
        return *found ? head_json(**found) : Value();
      }));
  m.push_back(method(
      "delete", {name}, ScriptType::boolean, kWriteCapability, true, "deletes the file; whether it existed",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto removed = store->remove(call, c, a[0].as_string());
        if (!removed) return removed.error();
        return Value(removed->has_value());
      }));
  m.push_back(method(
      "list",
      {{"prefix", ScriptType::string, "", Value("")},
       {"cursor", ScriptType::string, "", Value("")},
       {"limit", ScriptType::integer, "", Value(kDefaultListLimit)}},
      ScriptType::json, kReadCapability, false,
      "{files, next_cursor}: heads of the files whose names start with prefix, in name order, a page at a time "
      "(limit 1-1000); pass next_cursor back for the next page",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        std::int64_t limit = a[2].as_int();
        if (limit < 1 || limit > kMaxListLimit)
          return make_error(ErrorKind::invalid_argument, "list: limit must be from 1 to " +
                                                             std::to_string(kMaxListLimit) + ", got " +
                                                             std::to_string(limit));
        if (a[0].as_string().size() > kMaxNameBytes)
          return make_error(ErrorKind::invalid_argument, "list: prefix is longer than a name can be");
        std::string after;
        if (!a[1].as_string().empty()) {
          auto decoded = sdk::decode_cursor(a[1].as_string());
          if (!decoded) return make_error(ErrorKind::invalid_argument, "list: malformed cursor (pass back next_cursor)");
          after = std::move(*decoded);
        }
        auto page = store->list(call.app_id, c, a[0].as_string(), after, limit);
        if (!page) return page.error();
        sdk::Array files;
        for (const auto& h : page->items) files.push_back(head_json(h));
        return Value::object({{"files", Value(std::move(files))},
                              {"next_cursor", page->next ? Value(sdk::encode_cursor(*page->next)) : Value()}});
      }));
  m.push_back(method(
      "signed_url", {name, {"ttl_seconds", ScriptType::integer, "", Value(3600)}}, ScriptType::string,
      kReadCapability, true,
      "a path on the app's host that serves the file to anyone holding it, until ttl_seconds from now (at most "
      "[files] signed_url_max_ttl_s)",
      [store, context](const sdk::CallContext& call, const std::string& c,
                       std::span<const Value> a) -> sdk::Result<Value> {
        std::int64_t ttl = a[1].as_int();
        if (ttl < 1 || ttl > store->limits().signed_url_max_ttl_s)
          return make_error(ErrorKind::invalid_argument,
                            "signed_url: ttl_seconds must be from 1 to " +
                                std::to_string(store->limits().signed_url_max_ttl_s) +
                                " ([files] signed_url_max_ttl_s), got " + std::to_string(ttl));
        sdk::Keyring* keyring = context->keyring();
        if (!keyring) return make_error(ErrorKind::unavailable, "the keyring is not available");
        std::int64_t now =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        auto path = signed_path(*keyring, call.app_id, c, a[0].as_string(), now + ttl);
        if (!path) return path.error();
        return Value(std::move(*path));
      }));
  // serve's name is its second argument: checked in the body.
  m.push_back(method(
      "serve", {{"res", ScriptType::response}, name}, ScriptType::boolean, kReadCapability, false,
      "answers the request with the file: its bytes (streamed, never through the script), Content-Type, ETag, "
      "Range and conditional requests; false, leaving res alone, when there is no such file",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        if (auto ok = check_name(a[1].as_string()); !ok) return ok.error();
        if (!call.http) return make_error(ErrorKind::internal, "serve: the kernel passed no response");
        auto answer = serve_file(*store, call.app_id, c, a[1].as_string(), call.http->request(), {});
        if (!answer) return answer.error();
        if (!*answer) return Value(false);
        if (auto r = call.http->respond(std::move(**answer)); !r) return r.error();
        return Value(true);
      }));
  if (auto r = ctx.script_api()->add_handle_type(std::move(collection)); !r) return r;

  return ctx.script_api()->add_function({"files",
                                         "collection",
                                         {{"name", ScriptType::string}},
                                         ScriptType::handle,
                                         "files::Collection",
                                         [](const sdk::CallContext&, std::span<const Value> a) -> sdk::Result<Value> {
                                           if (auto ok = check_collection(a[0].as_string()); !ok) return ok.error();
                                           return a[0];
                                         },
                                         "the app's collection of files of that name (1-128 of A-Z a-z 0-9 _ - . :)"});
}

}  // namespace picloud::files
