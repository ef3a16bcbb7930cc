#include "scripting/scope_hint.hpp"

#include <string_view>
#include <vector>

namespace picloud::scripting {
namespace {

void add_first_segment(std::set<std::string, std::less<>>& out, const char* ns) {
  if (!ns || !*ns) return;
  std::string_view text(ns);
  out.emplace(text.substr(0, text.find("::")));
}

}  // namespace

std::set<std::string, std::less<>> registered_scopes(const asIScriptEngine* engine) {
  std::set<std::string, std::less<>> out;
  for (asUINT i = 0; i < engine->GetGlobalFunctionCount(); ++i)
    add_first_segment(out, engine->GetGlobalFunctionByIndex(i)->GetNamespace());
  for (asUINT i = 0; i < engine->GetObjectTypeCount(); ++i) {
    const asITypeInfo* type = engine->GetObjectTypeByIndex(i);
    add_first_segment(out, type->GetNamespace());
    out.emplace(type->GetName());
  }
  for (asUINT i = 0; i < engine->GetEnumCount(); ++i) {
    const asITypeInfo* type = engine->GetEnumByIndex(i);
    add_first_segment(out, type->GetNamespace());
    out.emplace(type->GetName());
  }
  for (asUINT i = 0; i < engine->GetGlobalPropertyCount(); ++i) {
    const char* ns = nullptr;
    engine->GetGlobalPropertyByIndex(i, nullptr, &ns);
    add_first_segment(out, ns);
  }
  return out;
}

std::optional<Diagnostic> unknown_scope(const asIScriptEngine* engine, const std::vector<SourceSection>& sections,
                                        const std::set<std::string, std::less<>>& known) {
  struct Token {
    std::string_view text;
    asETokenClass cls;
    std::string_view section;
    int line, column;
  };
  std::vector<Token> tokens;
  for (const auto& [section, code] : sections) {
    int line = 1, column = 1;
    for (std::size_t pos = 0; pos < code.size();) {
      asUINT length = 0;
      asETokenClass cls = engine->ParseToken(code.data() + pos, code.size() - pos, &length);
      if (length == 0) length = 1;
      std::string_view text(code.data() + pos, length);
      if (cls != asTC_WHITESPACE && cls != asTC_COMMENT) tokens.push_back({text, cls, section, line, column});
      for (char c : text) {
        if (c == '\n')
          ++line, column = 1;
        else
          ++column;
      }
      pos += length;
    }
  }
  std::set<std::string_view> declared;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    auto t = tokens[i].text;
    if ((t == "namespace" || t == "class" || t == "interface" || t == "enum" || t == "mixin") &&
        tokens[i + 1].cls == asTC_IDENTIFIER)
      declared.insert(tokens[i + 1].text);
  }
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.cls != asTC_IDENTIFIER || tokens[i + 1].text != "::") continue;
    if (i > 0 && tokens[i - 1].text == "::") continue;  // a later segment of a qualified name
    if (known.count(t.text) || declared.count(t.text)) continue;
    std::string name(t.text);
    return Diagnostic{std::string(t.section), t.line, t.column,
                      name + "::" + " is unknown: no enabled plugin declares the namespace '" + name +
                          "' and the script declares nothing by that name (is the plugin "
                          "that provides " +
                          name + ":: enabled on this server?)"};
  }
  return std::nullopt;
}

}  // namespace picloud::scripting
