// The standard library's doc lines, for the script API reference: keyed by
// "ns::function" ("function" in the global namespace), "Type" (its doc and
// its constructors'), "Type.method" (every overload shares one line) and
// "Type.property" (for its get_/set_ accessors).
#pragma once

#include <map>
#include <string_view>

namespace picloud::scripting {

const std::map<std::string_view, std::string_view>& builtin_docs();

}  // namespace picloud::scripting
