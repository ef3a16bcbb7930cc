#include "docs_rules.hpp"

#include <algorithm>

#include "picloud/sdk/json.hpp"
#include "picloud/sdk/collections.hpp"
#include "picloud/sdk/ids.hpp"
#include "picloud/sdk/json_parse.hpp"

namespace picloud::docs {
namespace {

using sdk::ErrorKind;
using sdk::make_error;

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == ':';
}

// PostgreSQL's jsonb cannot hold U+0000, in values or field names.
bool holds_nul(const sdk::Value& v) {
  if (v.is_string()) return v.as_string().find('\0') != std::string::npos;
  if (v.is_array()) return std::any_of(v.as_array().begin(), v.as_array().end(), holds_nul);
  if (v.is_object())
    for (const auto& [k, child] : v.as_object())
      if (k.find('\0') != std::string::npos || holds_nul(child)) return true;
  return false;
}

}  // namespace

std::int64_t now_ms() { return sdk::wall_clock_ms(); }

sdk::Result<void> check_collection(std::string_view name) { return sdk::check_collection_name(name); }

sdk::Result<void> check_id(std::string_view id) {
  if (id.empty()) return make_error(ErrorKind::invalid_argument, "document id is empty");
  if (id.size() > kMaxIdLength)
    return make_error(ErrorKind::invalid_argument,
                      "document id is longer than " + std::to_string(kMaxIdLength) + " characters");
  if (!std::all_of(id.begin(), id.end(), id_char))
    return make_error(ErrorKind::invalid_argument,
                      "document id '" + std::string(id) + "' may hold only letters, digits and _ - . :");
  return {};
}

std::string new_id() { return sdk::time_ordered_id(now_ms()); }

namespace {

std::size_t members(const sdk::Value& v) {
  std::size_t n = 0;
  if (v.is_array())
    for (const auto& e : v.as_array()) n += 1 + members(e);
  else if (v.is_object())
    for (const auto& [k, e] : v.as_object()) n += 1 + members(e);
  return n;
}

}  // namespace

std::size_t indexed_size(const sdk::Value& value) { return sdk::to_json(value).size() + 16 * members(value); }

std::size_t indexed_size_bound(const sdk::Value& data, std::size_t text_bytes) {
  return text_bytes + 16 * members(data);
}

sdk::Result<std::string> encode_document(const sdk::Value& data, std::int64_t max_bytes) {
  if (!data.is_object())
    return make_error(ErrorKind::invalid_argument,
                      "a document is an object, got " + std::string(sdk::to_string(data.type())));
  if (auto bad = sdk::unstorable_part(data, "document"); !bad.empty())
    return make_error(ErrorKind::invalid_argument, bad);
  std::string text = sdk::to_json(data);
  if (static_cast<std::int64_t>(text.size()) > max_bytes)
    return make_error(ErrorKind::invalid_argument, "document is " + std::to_string(text.size()) +
                                                       " bytes of JSON; at most " + std::to_string(max_bytes) +
                                                       " ([docs] max_document_bytes)");
  if (holds_nul(data))
    return make_error(ErrorKind::invalid_argument, "document holds a NUL character, which PostgreSQL cannot store");
  return text;
}

sdk::TriggerKind trigger_kind() {
  return sdk::collection_trigger_kind(
      "docs", "runs a script when documents of a collection are created, updated or deleted",
      {"create", "update", "delete"},
      {{"collection", "the collection's name"},
       {"id", "the document's id"},
       {"data", "the document after the change (null for delete)"},
       {"prev_data", "the document before the change, read in the change's transaction (null for create)"}});
}

}  // namespace picloud::docs
