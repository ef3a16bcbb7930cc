#include "secrets_script_api.hpp"

#include "picloud/sdk/text.hpp"

namespace picloud::secrets {

using sdk::ScriptType;
using sdk::Value;

sdk::Result<void> declare_script_api(sdk::ScriptApi& api, SecretStore& store, sdk::AccessControl& access_ref) {
  SecretStore* s = &store;              // the plugin owns both for as long as scripts run
  sdk::AccessControl* access = &access_ref;
  auto add = [&](std::string name, std::vector<sdk::ScriptParam> params, ScriptType result, const char* capability,
                 std::string doc, std::function<sdk::Result<Value>(const sdk::CallContext&, std::span<const Value>)> body) {
    return api.add_function({"secrets", std::move(name), std::move(params), result, "",
                             [access, capability, body = std::move(body)](const sdk::CallContext& call,
                                                                          std::span<const Value> args) -> sdk::Result<Value> {
                               if (auto ok = access->require(call, capability); !ok) return ok.error();
                               return body(call, args);
                             },
                             std::move(doc)});
  };
  if (auto r = add("get", {{"name", ScriptType::string}}, ScriptType::json, "secrets.read",
                   "the app's secret of this name, or null",
                   [s](const sdk::CallContext& call, std::span<const Value> a) { return s->get(call.app_id, a[0].as_string()); });
      !r)
    return r;
  if (auto r = add("set", {{"name", ScriptType::string}, {"value", ScriptType::json}}, ScriptType::void_type,
                   "secrets.write", "stores a secret (any JSON value but null); fires no trigger",
                   [s](const sdk::CallContext& call, std::span<const Value> a) -> sdk::Result<Value> {
                     if (auto r = s->set(call.app_id, a[0].as_string(), a[1]); !r) return r.error();
                     return Value();
                   });
      !r)
    return r;
  if (auto r = add("delete", {{"name", ScriptType::string}}, ScriptType::boolean, "secrets.write",
                   "deletes a secret; whether it existed",
                   [s](const sdk::CallContext& call, std::span<const Value> a) -> sdk::Result<Value> {
                     auto existed = s->remove(call.app_id, a[0].as_string());
                     if (!existed) return existed.error();
                     return Value(*existed);
                   });
      !r)
    return r;
  return add("list", {}, ScriptType::json, "secrets.list",
             "the names of the app's secrets with updated_at, never their values",
             [s](const sdk::CallContext& call, std::span<const Value>) -> sdk::Result<Value> {
               sdk::Array out;
               std::string after;
               for (;;) {  // every name: an app holds a bounded number of secrets
                 auto page = s->list(call.app_id, after, 1000);
                 if (!page) return page.error();
                 for (const auto& e : *page)
                   out.push_back(Value::object({{"name", e.name}, {"updated_at", sdk::rfc3339(e.updated_at)}}));
                 if (page->size() < 1000) break;
                 after = page->back().name;
               }
               return Value(std::move(out));
             });
}

}  // namespace picloud::secrets
