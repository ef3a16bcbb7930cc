// A clearer first error for a script that names a namespace nobody declares
// (`store::open(...)` on a server without the plugin that provides store::).
// AngelScript reports such code with errors about the names after `store::`
// ("Identifier 'Box' is not a data type"), never about `store` itself.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "scripting/as.hpp"
#include "scripting/engine.hpp"

namespace picloud::scripting {

// Every name a script may qualify with `name::` because the engine registered
// it: namespaces (first segments) and type names (json::, enum values).
std::set<std::string, std::less<>> registered_scopes(const asIScriptEngine* engine);

struct SourceSection {
  std::string_view name;
  std::string_view code;
};

// The first `name::` in the sections (outside comments and strings) that is
// neither in `known` nor declared by any of them (namespace, class,
// interface, enum, mixin: modules are namespaces), as an error pointing at it.
std::optional<Diagnostic> unknown_scope(const asIScriptEngine* engine, const std::vector<SourceSection>& sections,
                                        const std::set<std::string, std::less<>>& known);

}  // namespace picloud::scripting
