#include "kv_rules.hpp"

#include "picloud/sdk/json.hpp"
#include "picloud/sdk/collections.hpp"
#include "picloud/sdk/json_parse.hpp"

namespace picloud::kv {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;

}  // namespace

sdk::Result<void> check_collection(std::string_view name) { return sdk::check_collection_name(name); }

sdk::Result<void> check_key(std::string_view key) {
  if (key.empty()) return make_error(ErrorKind::invalid_argument, "key is empty");
  if (key.size() > kMaxKeyBytes)
    return make_error(ErrorKind::invalid_argument,
                      "key is " + std::to_string(key.size()) + " bytes; at most " + std::to_string(kMaxKeyBytes));
  if (key.find('\0') != std::string_view::npos)
    return make_error(ErrorKind::invalid_argument, "key contains a NUL character");
  if (!sdk::is_utf8(key)) return make_error(ErrorKind::invalid_argument, "key is not valid UTF-8");
  return {};
}

sdk::Result<std::string> encode_value(const sdk::Value& value, std::int64_t max_bytes) {
  if (value.is_null()) return make_error(ErrorKind::invalid_argument, "value is null; delete the key instead");
  if (auto bad = sdk::unstorable_part(value, "value"); !bad.empty())
    return make_error(ErrorKind::invalid_argument, bad);
  std::string text = sdk::to_json(value);
  if (static_cast<std::int64_t>(text.size()) > max_bytes)
    return make_error(ErrorKind::invalid_argument, "value is " + std::to_string(text.size()) +
                                                       " bytes of JSON; at most " + std::to_string(max_bytes) +
                                                       " ([kv] max_value_bytes)");
  if (!sdk::is_utf8(text))
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

sdk::TriggerKind trigger_kind() {
  return sdk::collection_trigger_kind(
      "kv", "runs a script when keys of a collection are inserted, updated or deleted", {"insert", "update", "delete"},
      {{"collection", "the collection's name"},
       {"key", "the key"},
       {"value", "the value after the change (null for delete)"},
       {"previous", "the value before the change (null for insert)"},
       {"version", "the key's version after the change (for delete: the deleted one's)"}});
}

}  // namespace picloud::kv
