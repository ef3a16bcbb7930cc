// The standard library every script sees: log, json (see json.hpp), regex,
// random, time, base64, hex, url and crypto. Each register_* function adds
// one namespace; the names are reserved for the kernel.
#pragma once

#include <string_view>
#include <vector>

#include "scripting/as.hpp"

namespace picloud::scripting {

void register_log(asIScriptEngine* engine);
void register_string_utils(asIScriptEngine* engine);  // string.split, join
void register_codecs(asIScriptEngine* engine);  // base64, hex, url
void register_crypto(asIScriptEngine* engine);  // crypto, random
void register_time(asIScriptEngine* engine);
void register_regex(asIScriptEngine* engine);

// Namespaces no plugin or module may take.
const std::vector<std::string_view>& reserved_namespaces();

}  // namespace picloud::scripting
