// JSON text to SDK values: the kernel's one JSON reader, for admin request
// bodies, text the kernel stored, and plugins (through the host table's
// json_parse). Integers stay int and numbers with a fraction or exponent
// become float, so values round-trip through sdk::to_json; an integer past
// INT64_MAX becomes a float.
#pragma once

#include <string_view>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kernel {

// How much a parse tolerates: text PiCloud wrote itself, or a request body,
// where a field named twice or a field name holding U+0000 is refused (two
// parsers reading one body must never see two different objects).
enum class JsonStrictness { stored, request };

// invalid_argument ("malformed JSON: ...") when `text` is not exactly one
// JSON value nested at most `max_depth` levels.
sdk::Result<sdk::Value> parse_json(std::string_view text, int max_depth, JsonStrictness strictness);

}  // namespace picloud::kernel
