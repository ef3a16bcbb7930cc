// The script API as scripts see it: every namespace, function, type and
// method the engine registered (the standard library and each enabled
// plugin's declarations), with the owner and the one-line doc of each. It is
// read from the engine itself, so it cannot drift from what compiles, and a
// disabled plugin's functions are simply not there.
//
//   sdk::Value all = describe_api(engine, docs, std::nullopt);
//   std::cout << format_api(describe_api(engine, docs, "json"));
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "picloud/sdk/value.hpp"
#include "scripting/as.hpp"

namespace picloud::scripting {

struct ApiDoc {
  std::string owner;  // "kernel" or the plugin's name
  std::string text;   // one line; empty when none was given
};

// Who registered each function and type, and its doc line. Filled while the
// engine is built, read-only afterwards.
class ApiDocs {
 public:
  void document(const asIScriptFunction* function, ApiDoc doc);
  void document(const asITypeInfo* type, ApiDoc doc);
  const ApiDoc* find(const asIScriptFunction* function) const;
  const ApiDoc* find(const asITypeInfo* type) const;

 private:
  std::unordered_map<const void*, ApiDoc> entries_;
};

// The name a script uses for a method: "body" for the accessor get_body.
std::string member_name(const asIScriptFunction* function);

// Gives the standard library's functions and types their doc lines (the
// table in api_reference.cpp); everything registered so far and not yet
// documented is the kernel's.
void document_builtins(asIScriptEngine* engine, ApiDocs& docs);

// {"namespaces": [{name, owner, functions: [...], types: [...]}]}, sorted by
// name; the global namespace is "". A function is {name, declaration,
// returns, params: [{name, type, default?}], doc}, and a method also
// operator: true when it is one (opAdd…); a type is {name, qualified_name,
// doc, constructors: [...], properties: [{name, type, writable, doc}],
// methods: [...]}. With `only`, just that namespace (none when it does not
// exist).
sdk::Value describe_api(const asIScriptEngine* engine, const ApiDocs& docs, std::optional<std::string_view> only);

// The reference as text for a terminal, one declaration per line, its doc
// indented beneath.
std::string format_api(const sdk::Value& reference);

}  // namespace picloud::scripting
