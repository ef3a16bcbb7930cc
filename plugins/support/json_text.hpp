// JSON text to SDK values, for plugins (sdk/json.hpp writes JSON; this reads
// it). Built on Poco's parser: integers stay int, numbers with a fraction or
// exponent become float, so values round-trip through sdk::to_json.
#pragma once

#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::plugin_support {

// The default matches the script engine's nesting limit.
inline constexpr int kMaxJsonDepth = 64;

// How much a parse tolerates: text PiCloud wrote itself, or a request body,
// where a field named twice or a field name holding U+0000 is refused (two
// parsers reading one body must never see two different objects).
enum class JsonStrictness { stored, request };

// invalid_argument naming what is wrong when `text` is not one JSON value
// nested at most `max_depth` levels.
sdk::Result<sdk::Value> parse_json(std::string_view text, int max_depth = kMaxJsonDepth,
                                   JsonStrictness strictness = JsonStrictness::stored);

// Whether `text` is well-formed UTF-8 (PostgreSQL refuses anything else).
bool is_utf8(std::string_view text);

// The first part of `value` that JSON text cannot hold, described for an
// error message with `label` as its root ("value.tags[2] is bytes, ..."),
// or empty when there is none: bytes, non-finite numbers, text that is not
// UTF-8, text or field names holding U+0000.
std::string unstorable_part(const sdk::Value& value, const std::string& label);

}  // namespace picloud::plugin_support
