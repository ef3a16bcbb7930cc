// JSON text to SDK values, for plugins (sdk/json.hpp writes JSON; this reads
// it). The kernel parses, through the host table: a plugin carries no JSON
// parser, and plugins and the kernel read JSON alike. Usable from init() on.
#pragma once

#include <string_view>

#include "picloud/sdk/bridge.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/text.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::sdk {

// The script engine's nesting limit.
inline constexpr int kMaxJsonDepth = 64;

// How much a parse tolerates: text PiCloud wrote itself, or a request body,
// where a field named twice or a field name holding U+0000 is refused (two
// parsers reading one body must never see two different objects).
enum class JsonStrictness { stored, request };

// invalid_argument ("malformed JSON: ...") unless `text` is exactly one JSON
// value nested at most `max_depth` (1 to 512) levels. Integers stay int
// (past INT64_MAX: float); numbers with a fraction or exponent are float.
inline Result<Value> parse_json(std::string_view text, int max_depth = kMaxJsonDepth,
                                JsonStrictness strictness = JsonStrictness::stored) {
  const bridge::Host& host = bridge::plugin_host();
  if (!host.api) return make_error(ErrorKind::unavailable, "JSON is parsed by the kernel: call parse_json after init");
  c::Answer a;
  return a.take_value(host.api->json_parse(host.plugin, c::str(text), static_cast<std::uint32_t>(max_depth),
                                           strictness == JsonStrictness::request ? PC_JSON_STRICT : 0u, a.out()));
}

}  // namespace picloud::sdk
