#include "docs_script_api.hpp"

#include "docs_rules.hpp"
#include "picloud/sdk/admin_routes.hpp"
#include "picloud/sdk/collections.hpp"

namespace picloud::docs {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::ScriptType;
using sdk::Value;

using Body = sdk::CollectionMethodBody;

}  // namespace

sdk::Result<Page<Document>> find_page(DocStore& store, std::string_view app, std::string_view collection,
                                      const Value& filter, const Value& options, std::int64_t default_limit) {
  // The options of find, and the cursor.
  sdk::Object rest;
  std::string cursor;
  if (!options.is_null()) {
    if (!options.is_object())
      return make_error(ErrorKind::invalid_argument, "options: must be an object {sort, limit, cursor}");
    for (const auto& [key, v] : options.as_object()) {
      if (key == "cursor") {
        if (!v.is_null() && !v.is_string())
          return make_error(ErrorKind::invalid_argument,
                            "options: cursor is the next_cursor of the page before (a string), or null for the first");
        cursor = v.string_or("");
      } else if (key == "sort" || key == "limit" || key == "skip") {
        rest.emplace(key, v);
      } else {
        return make_error(ErrorKind::invalid_argument, "options: unknown option '" + key + "' (sort, limit, skip, cursor)");
      }
    }
  }
  auto parsed = parse_find_options(Value(std::move(rest)));
  if (!parsed) return parsed.error();
  if (!options.has("limit")) parsed->limit = default_limit;
  return store.find_page(app, collection, filter, *parsed, cursor);
}

Value envelope(const Document& doc) {
  return Value::object(
      {{"id", doc.id}, {"data", doc.data}, {"created_at", doc.created_at}, {"updated_at", doc.updated_at}});
}

sdk::Result<void> declare_script_api(sdk::ScriptApi& api, DocStore& store_ref, sdk::AccessControl& access) {
  DocStore* store = &store_ref;  // the plugin owns it for as long as the engine can call these
  // Every method checks the run's capability, then the id when its first
  // argument is one, then does its work.
  auto method = [&access](std::string name, std::vector<sdk::ScriptParam> params, ScriptType result,
                          const char* capability, bool by_id, std::string doc, Body body) {
    return sdk::collection_method(access, std::move(name), std::move(params), result, capability,
                                             by_id ? &check_id : nullptr, std::move(doc), std::move(body));
  };
  const sdk::ScriptParam id{"id", ScriptType::string};
  const sdk::ScriptParam filter{"filter", ScriptType::json, "", Value()};
  const sdk::ScriptParam options{"options", ScriptType::json, "", Value()};

  sdk::ScriptHandleTypeDecl collection{"docs", "Collection", {}, "a collection of JSON documents of the app"};
  auto& m = collection.methods;
  m.push_back(
      {"name",
       {},
       ScriptType::string,
       "",
       [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> { return self; },
       "the collection's name"});
  m.push_back(method(
      "create", {{"data", ScriptType::json}, {"id", ScriptType::string, "", Value("")}}, ScriptType::string,
      kWriteCapability, false, "stores a new document (an object); returns its id, new unless one is given",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        if (!a[1].as_string().empty())
          if (auto ok = check_id(a[1].as_string()); !ok) return ok.error();
        auto doc = store->create(call, c, a[1].as_string(), a[0]);
        if (!doc) return doc.error();
        return Value(doc->id);
      }));
  m.push_back(method(
      "get", {id}, ScriptType::json, kReadCapability, true,
      "the document's envelope {id, data, created_at, updated_at}, or null",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto doc = store->get(call.app_id, c, a[0].as_string());
        if (!doc) return doc.error();
        return *doc ? envelope(**doc) : Value();
      }));
  auto find = [store](const sdk::CallContext& call, const std::string& c, const Value& filter, const Value& options,
                      bool one) -> sdk::Result<std::vector<Document>> {
    auto parsed = parse_find_options(options);
    if (!parsed) return parsed.error();
    if (one) parsed->limit = 1;
    return store->find(call.app_id, c, filter, *parsed);
  };
  m.push_back(method(
      "find", {filter, options}, ScriptType::json, kReadCapability, false,
      "the envelopes of the documents matching the filter; options {sort, limit (100, at most 1000), skip}",
      [find](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto docs = find(call, c, a[0], a[1], false);
        if (!docs) return docs.error();
        sdk::Array out;
        for (const auto& d : *docs) out.push_back(envelope(d));
        return Value(std::move(out));
      }));
  m.push_back(method(
      "find_one", {filter, options}, ScriptType::json, kReadCapability, false,
      "the first matching document's envelope (in the options' sort order), or null",
      [find](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto docs = find(call, c, a[0], a[1], true);
        if (!docs) return docs.error();
        return docs->empty() ? Value() : envelope(docs->front());
      }));
  m.push_back(method(
      "find_page", {filter, options}, ScriptType::json, kReadCapability, false,
      "{items, next_cursor}: a page of the documents matching the filter; options {sort, limit (100, at most "
      "1000), cursor (the next_cursor of the page before)}",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto page = find_page(*store, call.app_id, c, a[0], a[1], kDefaultFindLimit);
        if (!page) return page.error();
        sdk::Array items;
        for (const auto& d : page->items) items.push_back(envelope(d));
        return Value::object({{"items", Value(std::move(items))}, {"next_cursor", sdk::next_cursor(page->next)}});
      }));
  m.push_back(method(
      "count", {filter}, ScriptType::integer, kReadCapability, false, "how many documents match the filter",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto n = store->count(call.app_id, c, a[0]);
        if (!n) return n.error();
        return Value(*n);
      }));
  m.push_back(method(
      "update", {id, {"data", ScriptType::json}}, ScriptType::boolean, kWriteCapability, true,
      "replaces the document's data; whether the document existed (nothing is created)",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto done = store->replace(call, c, a[0].as_string(), a[1], false);
        if (!done) return done.error();
        return Value(done->has_value());
      }));
  m.push_back(method(
      "patch", {id, {"ops", ScriptType::json}}, ScriptType::json, kWriteCapability, true,
      "applies {$set, $unset, $inc, $push} to the document atomically; its new envelope, or null when there is "
      "no such document",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto patch = parse_patch(a[1]);
        if (!patch) return patch.error();
        auto doc = store->patch(call, c, a[0].as_string(), *patch);
        if (!doc) return doc.error();
        return *doc ? envelope(**doc) : Value();
      }));
  m.push_back(method(
      "delete", {id}, ScriptType::boolean, kWriteCapability, true, "deletes the document; whether it existed",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto doc = store->remove(call, c, a[0].as_string());
        if (!doc) return doc.error();
        return Value(doc->has_value());
      }));
  m.push_back(method(
      "list",
      {{"cursor", ScriptType::string, "", Value("")}, {"limit", ScriptType::integer, "", Value(kDefaultListLimit)}},
      ScriptType::json, kReadCapability, false,
      "{items, next_cursor}: envelopes in id order, a page at a time (limit 1-1000); pass next_cursor back for "
      "the next page",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        const std::int64_t limit = a[1].as_int();
        if (limit < 1 || limit > kMaxListLimit)
          return make_error(
              ErrorKind::invalid_argument,
              "list: limit must be from 1 to " + std::to_string(kMaxListLimit) + ", got " + std::to_string(limit));
        std::string after;
        if (!a[0].as_string().empty()) {
          auto decoded = sdk::decode_cursor(a[0].as_string());
          if (!decoded)
            return make_error(ErrorKind::invalid_argument, "list: malformed cursor (pass back next_cursor)");
          after = std::move(*decoded);
        }
        auto page = store->list(call.app_id, c, after, limit);
        if (!page) return page.error();
        sdk::Array items;
        for (const auto& d : page->items) items.push_back(envelope(d));
        return Value::object(
            {{"items", Value(std::move(items))}, {"next_cursor", sdk::next_cursor(page->next)}});
      }));
  // Every method only reads and writes the database: a run's writes are
  // acknowledged together at its end instead of one flush each.
  for (auto& each : collection.methods) each.database_only = true;
  if (auto r = api.add_handle_type(std::move(collection)); !r) return r;

  sdk::ScriptFunctionDecl open{"docs",
                               "collection",
                               {{"name", ScriptType::string}},
                               ScriptType::handle,
                               "docs::Collection",
                               [](const sdk::CallContext&, std::span<const Value> a) -> sdk::Result<Value> {
                                 if (auto ok = check_collection(a[0].as_string()); !ok) return ok.error();
                                 return a[0];
                               },
                               "the app's collection of that name (1-128 of A-Z a-z 0-9 _ - . :)"};
  open.database_only = true;
  return api.add_function(std::move(open));
}

}  // namespace picloud::docs
