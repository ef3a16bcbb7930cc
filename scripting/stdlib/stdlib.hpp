// The standard library every script sees: log, json (see json.hpp), regex,
// random, time, base64, hex, url and crypto. Each register_* function adds
// one namespace; the names are reserved for the kernel.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scripting/as.hpp"

namespace picloud::scripting {

void register_string(asIScriptEngine* engine);  // the string type, formatInt, parseInt, …
void register_log(asIScriptEngine* engine);
void register_string_utils(asIScriptEngine* engine);  // string.split, join
void register_codecs(asIScriptEngine* engine);  // base64, hex, url
void register_crypto(asIScriptEngine* engine);  // crypto, random
void register_time(asIScriptEngine* engine);
void register_regex(asIScriptEngine* engine);

// Lower-case hex of `data` (hex::encode, crypto digests).
std::string hex_text(std::string_view data);
// A random (version 4) UUID from the CSPRNG (random::uuid, execution ids).
std::string random_uuid();

// Namespaces no plugin or module may take.
const std::vector<std::string_view>& reserved_namespaces();

}  // namespace picloud::scripting
