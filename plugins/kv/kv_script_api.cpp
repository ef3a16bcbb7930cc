#include "kv_script_api.hpp"

#include "kv_rules.hpp"
#include "picloud/sdk/admin_routes.hpp"
#include "picloud/sdk/collections.hpp"

namespace picloud::kv {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::ScriptType;
using sdk::Value;

constexpr const char* kRead = "kv.read";
constexpr const char* kWrite = "kv.write";

Value entry_json(const Entry& e) {
  return Value::object({{"key", e.key},
                        {"value", e.value},
                        {"version", e.version},
                        {"expires_at", e.expires_at ? Value(e.expires_at) : Value()},
                        {"updated_at", e.updated_at}});
}

using Body = sdk::CollectionMethodBody;

}  // namespace

sdk::Result<void> declare_script_api(sdk::ScriptApi& api, KvStore& store_ref, sdk::AccessControl& access,
                                     ScriptLimits limits) {
  KvStore* store = &store_ref;  // the plugin owns it for as long as the engine can call these
  // Every method checks the run's capability, then the key (the first
  // argument, for all but list and get_many), then does its work.
  auto method = [&access](std::string name, std::vector<sdk::ScriptParam> params, ScriptType result,
                          const char* capability, bool keyed, std::string doc, Body body) {
    return sdk::collection_method(access, std::move(name), std::move(params), result, capability,
                                             keyed ? &check_key : nullptr, std::move(doc), std::move(body));
  };
  auto new_value = [limits](const Value& value, std::int64_t ttl) -> sdk::Result<NewValue> {
    auto text = encode_value(value, limits.max_value_bytes);
    if (!text) return text.error();
    auto expires = expiry_from_ttl(ttl, system_now_ms());
    if (!expires) return expires.error();
    return NewValue{value, std::move(*text), *expires};
  };
  const sdk::ScriptParam key{"key", ScriptType::string};

  sdk::ScriptHandleTypeDecl collection{"kv", "Collection", {}, "a collection of keys in the app's key-value store"};
  auto& m = collection.methods;
  m.push_back(
      {"name",
       {},
       ScriptType::string,
       "",
       [](const sdk::CallContext&, const Value& self, std::span<const Value>) -> sdk::Result<Value> { return self; },
       "the collection's name"});
  m.push_back(method(
      "get", {key}, ScriptType::json, kRead, true, "the key's value, or null",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto e = store->get(call.app_id, c, a[0].as_string());
        if (!e) return e.error();
        return *e ? (*e)->value : Value();
      }));
  m.push_back(method(
      "get_entry", {key}, ScriptType::json, kRead, true,
      "{key, value, version, expires_at, updated_at} (times in "
      "ms since the epoch), or null",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto e = store->get(call.app_id, c, a[0].as_string());
        if (!e) return e.error();
        return *e ? entry_json(**e) : Value();
      }));
  m.push_back(method(
      "has", {key}, ScriptType::boolean, kRead, true, "whether the key exists",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto has = store->has(call.app_id, c, a[0].as_string());
        if (!has) return has.error();
        return Value(*has);
      }));
  m.push_back(method(
      "get_many", {{"keys", ScriptType::json}}, ScriptType::json, kRead, false,
      "the values of the keys (an array of strings, at most 1000), null for a "
      "missing one, in the order asked",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        if (!a[0].is_array()) return make_error(ErrorKind::invalid_argument, "get_many takes an array of keys");
        if (a[0].size() > kMaxGetMany)
          return make_error(ErrorKind::invalid_argument, "get_many takes at most " + std::to_string(kMaxGetMany) +
                                                             " keys, got " + std::to_string(a[0].size()));
        std::vector<std::string> keys;
        for (const auto& k : a[0].as_array()) {
          if (!k.is_string())
            return make_error(ErrorKind::invalid_argument,
                              "get_many: keys must be strings, got " + std::string(sdk::to_string(k.type())));
          if (auto ok = check_key(k.as_string()); !ok) return ok.error();
          keys.push_back(k.as_string());
        }
        auto values = store->get_many(call.app_id, c, keys);
        if (!values) return values.error();
        sdk::Array out;
        for (auto& v : *values) out.push_back(v ? std::move(*v) : Value());
        return Value(std::move(out));
      }));
  m.push_back(method(
      "list",
      {{"cursor", ScriptType::string, "", Value("")},
       {"limit", ScriptType::integer, "", Value(kDefaultListLimit)},
       {"prefix", ScriptType::string, "", Value("")}},
      ScriptType::json, kRead, false,
      "{keys, next_cursor}: keys in order, a page at a time (limit 1-1000); "
      "pass next_cursor back for the next page",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        std::int64_t limit = a[1].as_int();
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
        if (a[2].as_string().size() > kMaxKeyBytes)
          return make_error(ErrorKind::invalid_argument, "list: prefix is longer than a key can be");
        auto page = store->list(call.app_id, c, after, limit, a[2].as_string(), false);
        if (!page) return page.error();
        sdk::Array keys;
        for (auto& e : page->items) keys.push_back(std::move(e.key));
        return Value::object(
            {{"keys", Value(std::move(keys))},
             {"next_cursor", page->next ? Value(sdk::encode_cursor(*page->next)) : Value()}});
      }));
  m.push_back(method("set", {key, {"value", ScriptType::json}, {"ttl_seconds", ScriptType::integer, "", Value(0)}},
                     ScriptType::integer, kWrite, true,
                     "stores the value (expiring after ttl_seconds when not 0); returns the "
                     "key's new version",
                     [store, new_value](const sdk::CallContext& call, const std::string& c,
                                        std::span<const Value> a) -> sdk::Result<Value> {
                       auto v = new_value(a[1], a[2].as_int());
                       if (!v) return v.error();
                       auto e = store->set(call, c, a[0].as_string(), *v);
                       if (!e) return e.error();
                       return Value(e->version);
                     }));
  m.push_back(method("set_if_version",
                     {key,
                      {"value", ScriptType::json},
                      {"version", ScriptType::integer},
                      {"ttl_seconds", ScriptType::integer, "", Value(0)}},
                     ScriptType::boolean, kWrite, true,
                     "stores the value only if the key is at that version (0: only if the key "
                     "does not exist); whether it did",
                     [store, new_value](const sdk::CallContext& call, const std::string& c,
                                        std::span<const Value> a) -> sdk::Result<Value> {
                       if (a[2].as_int() < 0)
                         return make_error(ErrorKind::invalid_argument, "set_if_version: version is negative");
                       auto v = new_value(a[1], a[3].as_int());
                       if (!v) return v.error();
                       auto e = store->set_if_version(call, c, a[0].as_string(), *v, a[2].as_int());
                       if (!e) return e.error();
                       return Value(e->has_value());
                     }));
  m.push_back(method(
      "incr", {key, {"by", ScriptType::integer, "", Value(1)}}, ScriptType::integer, kWrite, true,
      "adds to the key's int value atomically (a missing key "
      "counts as 0); returns the new value",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto e = store->incr(call, c, a[0].as_string(), a[1].as_int());
        if (!e) return e.error();
        return e->value;
      }));
  m.push_back(method(
      "delete", {key}, ScriptType::boolean, kWrite, true, "deletes the key; whether it existed",
      [store](const sdk::CallContext& call, const std::string& c, std::span<const Value> a) -> sdk::Result<Value> {
        auto e = store->remove(call, c, a[0].as_string());
        if (!e) return e.error();
        return Value(e->has_value());
      }));
  // Every method only reads and writes the database: a run's writes are
  // acknowledged together at its end instead of one flush each.
  for (auto& each : collection.methods) each.database_only = true;
  if (auto r = api.add_handle_type(std::move(collection)); !r) return r;

  sdk::ScriptFunctionDecl open{"kv",
                               "collection",
                               {{"name", ScriptType::string}},
                               ScriptType::handle,
                               "kv::Collection",
                               [](const sdk::CallContext&, std::span<const Value> a) -> sdk::Result<Value> {
                                 if (auto ok = check_collection(a[0].as_string()); !ok) return ok.error();
                                 return a[0];
                               },
                               "the app's collection of that name (1-128 of A-Z a-z 0-9 _ - . :)"};
  open.database_only = true;
  return api.add_function(std::move(open));
}

}  // namespace picloud::kv
