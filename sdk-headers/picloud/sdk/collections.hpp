// Named collections, as data plugins use them (kv, docs; a files plugin's
// buckets alike): the rule for a collection's name, a trigger kind whose
// filter picks collections by name or glob and the ops to run on, and a
// script method bound to a collection handle.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "picloud/sdk/access.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/triggers.hpp"

namespace picloud::sdk {

inline constexpr std::size_t kMaxCollectionName = 128;

namespace collection_detail {

inline bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == ':';
}

inline std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

}  // namespace collection_detail

// 1–128 characters of A–Z a–z 0–9 _ - . : (no '*', which trigger filters use
// as a wildcard, and nothing that needs escaping in a URL path or in SQL).
inline Result<void> check_collection_name(std::string_view name) {
  if (name.empty()) return make_error(ErrorKind::invalid_argument, "collection name is empty");
  if (name.size() > kMaxCollectionName)
    return make_error(ErrorKind::invalid_argument,
                      "collection name is longer than " + std::to_string(kMaxCollectionName) + " characters");
  if (!std::all_of(name.begin(), name.end(), collection_detail::name_char))
    return make_error(ErrorKind::invalid_argument,
                      "collection name '" + std::string(name) + "' may hold only letters, digits and _ - . :");
  return {};
}

// "*" matches every collection, "prefix*" those starting with prefix, any
// other pattern the collection of that name.
inline bool collection_matches(std::string_view pattern, std::string_view collection) {
  if (pattern == "*") return true;
  if (!pattern.empty() && pattern.back() == '*')
    return collection.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return pattern == collection;
}

// A method of a collection handle (whose state is the collection's name):
// checks the run's `capability`, then the first argument with
// `check_first` when one is given, then runs `body` with the collection.
using CollectionMethodBody = std::function<Result<Value>(const CallContext& call, const std::string& collection,
                                                         std::span<const Value> args)>;
using ArgumentCheck = Result<void> (*)(std::string_view);
inline ScriptMethodDecl collection_method(AccessControl& access_ref, std::string name, std::vector<ScriptParam> params,
                                          ScriptType result, const char* capability, ArgumentCheck check_first,
                                          std::string doc, CollectionMethodBody body) {
  AccessControl* access = &access_ref;  // the plugin owns it for as long as the engine can call this
  return ScriptMethodDecl{
      std::move(name),
      std::move(params),
      result,
      "",
      [access, capability, check_first, body = std::move(body)](const CallContext& call, const Value& self,
                                                                std::span<const Value> args) -> Result<Value> {
        if (auto allowed = access->require(call, capability); !allowed) return allowed.error();
        if (check_first)
          if (auto ok = check_first(args[0].as_string()); !ok) return ok.error();
        return body(call, self.as_string(), args);
      },
      std::move(doc)};
}

// A trigger kind with the filter {"collection": name | "prefix*" | "*",
// "ops": [...]}: ops default to all of them and are stored in the kind's
// order; unknown fields and ops are errors naming them. Events must carry
// "collection" in their payload.
inline TriggerKind collection_trigger_kind(std::string name, std::string description, std::vector<std::string> ops,
                                           std::vector<std::pair<std::string, std::string>> event_fields) {
  TriggerKind kind;
  kind.name = name;
  kind.description = std::move(description);
  kind.ops = ops;
  kind.event_fields = std::move(event_fields);
  Array op_names;
  for (const auto& op : ops) op_names.push_back(op);
  kind.filter_schema = Value::object(
      {{"type", "object"},
       {"required", Value::array({"collection"})},
       {"properties",
        Value::object({{"collection", Value::object({{"type", "string"},
                                                     {"title", "Collection"},
                                                     {"description", "a collection's name, a prefix ending in '*', or '*'"}})},
                       {"ops", Value::object({{"type", "array"},
                                              {"title", "Operations"},
                                              {"description", "every one when none is chosen"},
                                              {"items", Value::object({{"type", "string"}, {"enum", Value(op_names)}})}})}})}});
  auto all_ops = std::make_shared<const std::vector<std::string>>(std::move(ops));
  kind.validate_filter = [name, all_ops](const Value& filter) -> Result<Value> {
    const std::string op_list = collection_detail::joined(*all_ops);
    if (!filter.is_object())
      return make_error(ErrorKind::invalid_argument,
                        R"(filter must be an object: {"collection": "users" | "user*" | "*", "ops": [...]})");
    for (const auto& [k, v] : filter.as_object())
      if (k != "collection" && k != "ops")
        return make_error(ErrorKind::invalid_argument,
                          "filter." + k + ": unknown field (a " + name + " filter has collection and ops)");
    const Value& collection = filter["collection"];
    if (!collection.is_string())
      return make_error(ErrorKind::invalid_argument,
                        "filter.collection is required: a collection name, a prefix ending in '*', or '*'");
    std::string pattern = collection.as_string();
    if (pattern != "*") {
      std::string_view fixed = pattern;
      if (!fixed.empty() && fixed.back() == '*') fixed.remove_suffix(1);
      if (auto r = check_collection_name(fixed); !r)
        return make_error(ErrorKind::invalid_argument, "filter.collection: " + r.error().message);
    }
    Array every;
    for (const auto& op : *all_ops) every.push_back(op);
    Value ops = filter["ops"].is_null() ? Value(every) : filter["ops"];
    if (!ops.is_array() || ops.size() == 0)
      return make_error(ErrorKind::invalid_argument, "filter.ops must be a non-empty list of " + op_list);
    for (const auto& given : ops.as_array())
      if (!given.is_string() || std::find(all_ops->begin(), all_ops->end(), given.as_string()) == all_ops->end())
        return make_error(ErrorKind::invalid_argument,
                          "filter.ops: " + to_json(given) + " is not one of " + op_list);
    Array normalised;  // in the kind's order, each once
    for (const auto& op : *all_ops)
      if (std::find(ops.as_array().begin(), ops.as_array().end(), Value(op)) != ops.as_array().end())
        normalised.push_back(op);
    return Value::object({{"collection", pattern}, {"ops", Value(std::move(normalised))}});
  };
  kind.matches = [](const Value& filter, const Event& event) {
    bool op = false;
    for (const auto& o : filter["ops"].as_array()) op = op || o.as_string() == event.op;
    return op && collection_matches(filter["collection"].as_string(), event.payload["collection"].string_or(""));
  };
  return kind;
}

}  // namespace picloud::sdk
