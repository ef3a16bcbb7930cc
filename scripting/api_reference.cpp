#include "scripting/api_reference.hpp"

#include <algorithm>
#include <map>
#include <vector>

#include "scripting/api_builtin_docs.hpp"

namespace picloud::scripting {
namespace {

using sdk::Value;

}  // namespace

// The name a script uses for a method: a property's for an accessor.
std::string member_name(const asIScriptFunction* fn) {
  std::string name = fn->GetName();
  if (fn->IsProperty() && (name.rfind("get_", 0) == 0 || name.rfind("set_", 0) == 0)) return name.substr(4);
  return name;
}

namespace {

// "const string &in", "json@", "int64 &out": a parameter's or result's type
// as a declaration writes it.
std::string type_text(const asIScriptEngine* engine, int type_id, asDWORD flags) {
  std::string text = engine->GetTypeDeclaration(type_id, true);
  if (flags & asTM_CONST) text = "const " + text;
  if ((flags & asTM_INOUTREF) == asTM_INOUTREF) text += " &";
  else if (flags & asTM_INREF) text += " &in";
  else if (flags & asTM_OUTREF) text += " &out";
  return text;
}

Value function_json(const asIScriptEngine* engine, const asIScriptFunction* fn, const ApiDocs& docs,
                    bool qualified) {
  asDWORD return_flags = 0;
  int return_type = fn->GetReturnTypeId(&return_flags);
  sdk::Array params;
  for (asUINT i = 0; i < fn->GetParamCount(); ++i) {
    int type_id = 0;
    asDWORD flags = 0;
    const char* name = nullptr;
    const char* default_arg = nullptr;
    fn->GetParam(i, &type_id, &flags, &name, &default_arg);
    sdk::Object param{{"name", Value(name ? name : "")}, {"type", Value(type_text(engine, type_id, flags))}};
    if (default_arg) param.emplace("default", Value(default_arg));
    params.push_back(Value(std::move(param)));
  }
  const ApiDoc* doc = docs.find(fn);
  return Value::object({{"name", fn->GetName()},
                        {"declaration", fn->GetDeclaration(false, qualified, true)},
                        {"returns", type_text(engine, return_type, return_flags)},
                        {"params", Value(std::move(params))},
                        {"doc", doc ? doc->text : ""}});
}

// A property accessor (`string get_body() const` is `req.body`).
bool is_accessor(const asIScriptFunction* fn) {
  std::string_view name = fn->GetName();
  return fn->IsProperty() && (name.rfind("get_", 0) == 0 || name.rfind("set_", 0) == 0);
}

// Operators (opAdd, opIndex…) are listed, but flagged: editors complete
// names, not operators.
bool is_operator(const asIScriptFunction* fn) {
  std::string_view name = fn->GetName();
  return name.size() > 2 && name.rfind("op", 0) == 0 && name[2] >= 'A' && name[2] <= 'Z';
}

struct NamespaceEntry {
  std::string owner;
  std::vector<std::pair<std::string, Value>> functions;  // sort key, json
  std::vector<std::pair<std::string, Value>> types;
};

sdk::Array sorted_values(std::vector<std::pair<std::string, Value>>& items) {
  std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  sdk::Array out;
  for (auto& [_, v] : items) out.push_back(std::move(v));
  return out;
}

// The owner of a namespace: its plugin's, when a plugin documented anything
// in it; otherwise the kernel.
void claim(NamespaceEntry& entry, const ApiDoc* doc) {
  if (doc && doc->owner != "kernel") entry.owner = doc->owner;
  else if (entry.owner.empty()) entry.owner = "kernel";
}

}  // namespace

void ApiDocs::document(const asIScriptFunction* function, ApiDoc doc) { entries_[function] = std::move(doc); }
void ApiDocs::document(const asITypeInfo* type, ApiDoc doc) { entries_[type] = std::move(doc); }

const ApiDoc* ApiDocs::find(const asIScriptFunction* function) const {
  auto it = entries_.find(function);
  return it == entries_.end() ? nullptr : &it->second;
}
const ApiDoc* ApiDocs::find(const asITypeInfo* type) const {
  auto it = entries_.find(type);
  return it == entries_.end() ? nullptr : &it->second;
}

void document_builtins(asIScriptEngine* engine, ApiDocs& docs) {
  auto doc_for = [](const std::string& key) -> std::string {
    const auto& table = builtin_docs();
    auto it = table.find(key);
    return it == table.end() ? std::string() : std::string(it->second);
  };
  for (asUINT i = 0; i < engine->GetGlobalFunctionCount(); ++i) {
    asIScriptFunction* fn = engine->GetGlobalFunctionByIndex(i);
    if (docs.find(fn)) continue;
    std::string ns = fn->GetNamespace();
    docs.document(fn, {"kernel", doc_for((ns.empty() ? "" : ns + "::") + fn->GetName())});
  }
  for (asUINT i = 0; i < engine->GetObjectTypeCount(); ++i) {
    asITypeInfo* type = engine->GetObjectTypeByIndex(i);
    if (docs.find(type)) continue;
    std::string name = type->GetName();
    docs.document(type, {"kernel", doc_for(name)});
    for (asUINT m = 0; m < type->GetMethodCount(); ++m) {
      asIScriptFunction* fn = type->GetMethodByIndex(m, false);
      docs.document(fn, {"kernel", doc_for(name + "." + member_name(fn))});
    }
    for (asUINT f = 0; f < type->GetFactoryCount(); ++f) docs.document(type->GetFactoryByIndex(f), {"kernel", doc_for(name)});
  }
}

Value describe_api(const asIScriptEngine* engine, const ApiDocs& docs, std::optional<std::string_view> only) {
  std::map<std::string, NamespaceEntry> spaces;
  auto wanted = [&](const std::string& ns) { return !only || *only == ns; };
  for (asUINT i = 0; i < engine->GetGlobalFunctionCount(); ++i) {
    const asIScriptFunction* fn = engine->GetGlobalFunctionByIndex(i);
    std::string ns = fn->GetNamespace();
    if (!wanted(ns)) continue;
    auto& entry = spaces[ns];
    claim(entry, docs.find(fn));
    entry.functions.emplace_back(fn->GetName(), function_json(engine, fn, docs, true));
  }
  for (asUINT i = 0; i < engine->GetObjectTypeCount(); ++i) {
    const asITypeInfo* type = engine->GetObjectTypeByIndex(i);
    std::string ns = type->GetNamespace();
    if (!wanted(ns)) continue;
    auto& entry = spaces[ns];
    const ApiDoc* doc = docs.find(type);
    claim(entry, doc);
    std::string qualified = ns.empty() ? type->GetName() : ns + "::" + type->GetName();
    std::vector<std::pair<std::string, Value>> methods, constructors;
    std::map<std::string, sdk::Object> properties;
    for (asUINT m = 0; m < type->GetMethodCount(); ++m) {
      const asIScriptFunction* fn = type->GetMethodByIndex(m, false);
      if (is_accessor(fn)) {
        // A getter gives the type; a setter makes it writable.
        auto& p = properties[member_name(fn)];
        bool getter = std::string_view(fn->GetName()).rfind("get_", 0) == 0;
        if (getter || !p.count("type")) {
          int type_id = 0;
          asDWORD flags = 0;
          if (getter) type_id = fn->GetReturnTypeId(&flags);
          else fn->GetParam(0, &type_id, &flags);
          p["name"] = Value(member_name(fn));
          p["type"] = Value(type_text(engine, type_id, flags & asTM_CONST));
          const ApiDoc* doc = docs.find(fn);
          p["doc"] = Value(doc ? doc->text : "");
        }
        p["writable"] = Value(!getter || p["writable"].bool_or(false));
        continue;
      }
      Value method = function_json(engine, fn, docs, false);
      if (is_operator(fn)) method.as_object()["operator"] = Value(true);
      methods.emplace_back(fn->GetName(), std::move(method));
    }
    sdk::Array property_list;
    for (auto& [_, p] : properties) property_list.push_back(Value(std::move(p)));
    for (asUINT f = 0; f < type->GetFactoryCount(); ++f) {
      const asIScriptFunction* fn = type->GetFactoryByIndex(f);
      constructors.emplace_back("", function_json(engine, fn, docs, false));
    }
    entry.types.emplace_back(type->GetName(), Value::object({{"name", type->GetName()},
                                                             {"qualified_name", qualified},
                                                             {"doc", doc ? doc->text : ""},
                                                             {"constructors", Value(sorted_values(constructors))},
                                                             {"properties", Value(std::move(property_list))},
                                                             {"methods", Value(sorted_values(methods))}}));
  }
  sdk::Array out;
  for (auto& [name, entry] : spaces)
    out.push_back(Value::object({{"name", name},
                                 {"owner", entry.owner},
                                 {"functions", Value(sorted_values(entry.functions))},
                                 {"types", Value(sorted_values(entry.types))}}));
  return Value::object({{"namespaces", Value(std::move(out))}});
}

std::string format_api(const Value& reference) {
  std::string out;
  auto doc_line = [&](const Value& item, const char* indent) {
    const std::string& doc = item["doc"].as_string();
    if (!doc.empty()) out += std::string(indent) + doc + "\n";
  };
  for (const auto& ns : reference["namespaces"].as_array()) {
    const std::string& name = ns["name"].as_string();
    out += (name.empty() ? std::string("global namespace") : "namespace " + name) + " (" +
           ns["owner"].as_string() + ")\n";
    for (const auto& fn : ns["functions"].as_array()) {
      out += "  " + fn["declaration"].as_string() + "\n";
      doc_line(fn, "      ");
    }
    for (const auto& type : ns["types"].as_array()) {
      out += "  type " + type["qualified_name"].as_string() + "\n";
      doc_line(type, "      ");
      for (const auto& c : type["constructors"].as_array()) out += "    " + c["declaration"].as_string() + "\n";
      for (const auto& p : type["properties"].as_array()) {
        out += "    " + p["type"].as_string() + " " + p["name"].as_string() +
               (p["writable"].as_bool() ? "" : " (read-only)") + "\n";
        doc_line(p, "        ");
      }
      for (const auto& m : type["methods"].as_array()) {
        if (m["operator"].bool_or(false)) continue;  // in the JSON form
        out += "    " + m["declaration"].as_string() + "\n";
        doc_line(m, "        ");
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace picloud::scripting
