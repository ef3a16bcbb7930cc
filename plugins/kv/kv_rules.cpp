#include "kv_rules.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "picloud/sdk/json.hpp"
#include "support/json_text.hpp"

namespace picloud::kv {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;

const char* const kOps[] = {"insert", "update", "delete"};

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == ':';
}

// The first part of a value kv cannot store, or empty.
std::string unstorable(const Value& v, const std::string& path) {
  switch (v.type()) {
    case sdk::ValueType::bytes:
      return path + " is bytes, which JSON cannot hold (store base64::encode of them)";
    case sdk::ValueType::number:
      return std::isfinite(v.as_float()) ? "" : path + " is not a finite number";
    case sdk::ValueType::array:
      for (std::size_t i = 0; i < v.size(); ++i)
        if (auto bad = unstorable(v[i], path + "[" + std::to_string(i) + "]"); !bad.empty()) return bad;
      return "";
    case sdk::ValueType::object:
      for (const auto& [k, child] : v.as_object())
        if (auto bad = unstorable(child, path + "." + k); !bad.empty()) return bad;
      return "";
    default:
      return "";
  }
}

}  // namespace

sdk::Result<void> check_collection(std::string_view name) {
  if (name.empty()) return make_error(ErrorKind::invalid_argument, "collection name is empty");
  if (name.size() > kMaxCollectionName)
    return make_error(ErrorKind::invalid_argument,
                      "collection name is longer than " + std::to_string(kMaxCollectionName) + " characters");
  for (char c : name)
    if (!name_char(c))
      return make_error(ErrorKind::invalid_argument,
                        "collection name '" + std::string(name) + "' may hold only letters, digits and _ - . :");
  return {};
}

sdk::Result<void> check_key(std::string_view key) {
  if (key.empty()) return make_error(ErrorKind::invalid_argument, "key is empty");
  if (key.size() > kMaxKeyBytes)
    return make_error(ErrorKind::invalid_argument,
                      "key is " + std::to_string(key.size()) + " bytes; at most " + std::to_string(kMaxKeyBytes));
  if (key.find('\0') != std::string_view::npos)
    return make_error(ErrorKind::invalid_argument, "key contains a NUL character");
  if (!plugin_support::is_utf8(key)) return make_error(ErrorKind::invalid_argument, "key is not valid UTF-8");
  return {};
}

sdk::Result<std::string> encode_value(const sdk::Value& value, std::int64_t max_bytes) {
  if (value.is_null()) return make_error(ErrorKind::invalid_argument, "value is null; delete the key instead");
  if (auto bad = unstorable(value, "value"); !bad.empty()) return make_error(ErrorKind::invalid_argument, bad);
  std::string text = sdk::to_json(value);
  if (static_cast<std::int64_t>(text.size()) > max_bytes)
    return make_error(ErrorKind::invalid_argument, "value is " + std::to_string(text.size()) +
                                                       " bytes of JSON; at most " + std::to_string(max_bytes) +
                                                       " ([kv] max_value_bytes)");
  if (!plugin_support::is_utf8(text))
    return make_error(ErrorKind::invalid_argument, "value holds text that is not valid UTF-8");
  return text;
}

sdk::Result<std::int64_t> expiry_from_ttl(std::int64_t ttl_seconds, std::int64_t now_ms) {
  if (ttl_seconds < 0) return make_error(ErrorKind::invalid_argument, "ttl_seconds is negative");
  if (ttl_seconds > kMaxTtlSeconds)
    return make_error(ErrorKind::invalid_argument,
                      "ttl_seconds is more than ten years (" + std::to_string(kMaxTtlSeconds) + "); is it in seconds?");
  return ttl_seconds == 0 ? 0 : now_ms + ttl_seconds * 1000;
}

bool collection_matches(std::string_view pattern, std::string_view collection) {
  if (pattern == "*") return true;
  if (!pattern.empty() && pattern.back() == '*')
    return collection.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return pattern == collection;
}

sdk::TriggerKind trigger_kind() {
  sdk::TriggerKind kind;
  kind.name = "kv";
  kind.description =
      "runs a script when keys of a collection are inserted, "
      "updated or deleted";
  kind.ops = {"insert", "update", "delete"};
  kind.validate_filter = [](const Value& filter) -> sdk::Result<Value> {
    if (!filter.is_object())
      return make_error(ErrorKind::invalid_argument,
                        R"(filter must be an object: {"collection": "users" | "user*" | "*", "ops": [...]})");
    for (const auto& [k, v] : filter.as_object())
      if (k != "collection" && k != "ops")
        return make_error(ErrorKind::invalid_argument,
                          "filter." + k + ": unknown field (a kv filter has collection and ops)");
    const Value& collection = filter["collection"];
    if (!collection.is_string())
      return make_error(ErrorKind::invalid_argument,
                        "filter.collection is required: a collection name, a "
                        "prefix ending in '*', or '*'");
    std::string pattern = collection.as_string();
    if (pattern != "*") {
      std::string_view fixed = pattern;
      if (!fixed.empty() && fixed.back() == '*') fixed.remove_suffix(1);
      if (auto r = check_collection(fixed); !r)
        return make_error(ErrorKind::invalid_argument, "filter.collection: " + r.error().message);
    }
    Value ops = filter["ops"].is_null() ? Value::array({"insert", "update", "delete"}) : filter["ops"];
    if (!ops.is_array() || ops.size() == 0)
      return make_error(ErrorKind::invalid_argument, "filter.ops must be a non-empty list of insert, update, delete");
    for (const auto& given : ops.as_array())
      if (!given.is_string() || std::find(std::begin(kOps), std::end(kOps), given.as_string()) == std::end(kOps))
        return make_error(ErrorKind::invalid_argument,
                          "filter.ops: " + sdk::to_json(given) + " is not one of insert, update, delete");
    sdk::Array normalised;  // in a fixed order, each once
    for (const char* op : kOps)
      if (std::find(ops.as_array().begin(), ops.as_array().end(), Value(op)) != ops.as_array().end())
        normalised.push_back(op);
    return Value::object({{"collection", pattern}, {"ops", Value(std::move(normalised))}});
  };
  kind.matches = [](const Value& filter, const sdk::Event& event) {
    bool op = false;
    for (const auto& o : filter["ops"].as_array()) op = op || o.as_string() == event.op;
    return op && collection_matches(filter["collection"].as_string(), event.payload["collection"].string_or(""));
  };
  kind.event_fields = {{"collection", "the collection's name"},
                       {"key", "the key"},
                       {"value", "the value after the change (null for delete)"},
                       {"previous", "the value before the change (null for insert)"},
                       {"version", "the key's version after the change (for delete: the deleted one's)"}};
  return kind;
}

}  // namespace picloud::kv
