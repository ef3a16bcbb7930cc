#include "scripting/declarations.hpp"

#include <algorithm>

#include "scripting/stdlib/stdlib.hpp"

namespace picloud::scripting {
using sdk::ErrorKind;
using sdk::ScriptType;

namespace {

// Words the script language keeps for itself; a name among them would make
// the generated registration fail.
constexpr std::string_view kKeywords[] = {
    "and",    "auto",     "bool",     "break",   "case",   "cast",   "catch",    "class",     "const",
    "continue", "default", "do",      "double",  "else",   "enum",   "false",    "float",     "for",
    "funcdef", "if",      "import",   "in",      "inout",  "int",    "interface", "int8",     "int16",
    "int32",  "int64",    "is",       "mixin",   "namespace", "not", "null",     "or",        "out",
    "private", "protected", "return", "switch",  "true",   "try",    "typedef",  "uint",      "uint8",
    "uint16", "uint32",   "uint64",   "void",    "while",  "xor",    "this",     "super"};

// Types every script has: not names of namespaces, handle types or
// parameters, but fine for a function, always reached through its namespace
// (http::request), and for a method, always reached through its object (as
// the request's own json() is).
constexpr std::string_view kScriptTypes[] = {"json", "string", "array", "request", "response", "event"};

bool is_language_keyword(std::string_view name) {
  return std::find(std::begin(kKeywords), std::end(kKeywords), name) != std::end(kKeywords);
}

bool is_keyword(std::string_view name) {
  return is_language_keyword(name) ||
         std::find(std::begin(kScriptTypes), std::end(kScriptTypes), name) != std::end(kScriptTypes);
}

bool default_fits(const sdk::ScriptParam& p) {
  const sdk::Value& v = *p.default_value;
  switch (p.type) {
    case ScriptType::string: return v.is_string();
    case ScriptType::integer: return v.is_int();
    case ScriptType::number: return v.is_number();
    case ScriptType::boolean: return v.is_bool();
    case ScriptType::json: return true;
    case ScriptType::bytes:
    case ScriptType::handle: return v.is_null();
    case ScriptType::void_type:
    case ScriptType::response: return false;
  }
  return false;
}

sdk::Result<void> check_result(const std::string& where, ScriptType result, const std::string& handle) {
  if (result == ScriptType::handle && handle.empty())
    return sdk::make_error(ErrorKind::invalid_argument, where + ": a handle result needs result_handle");
  if (result == ScriptType::response)
    return sdk::make_error(ErrorKind::invalid_argument, where + ": a response is a parameter type, not a result");
  return {};
}

sdk::Error invalid(std::string message) { return sdk::make_error(ErrorKind::invalid_argument, std::move(message)); }

// A doc is one line for listings and error messages: no line breaks or
// other control characters, and short.
constexpr std::size_t kMaxDocBytes = 300;
sdk::Result<void> check_doc(const std::string& where, const std::string& doc) {
  if (doc.size() > kMaxDocBytes)
    return invalid(where + ": doc is longer than " + std::to_string(kMaxDocBytes) + " bytes (it is one line)");
  for (unsigned char c : doc)
    if (c < 0x20 || c == 0x7f) return invalid(where + ": doc must be one line, without control characters");
  return {};
}

}  // namespace

bool is_identifier(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

// A database-only function promises no effect but on the database; the
// run's response is the client's, so it cannot take one.
sdk::Result<void> check_database_only(const std::string& where, bool database_only,
                                      const std::vector<sdk::ScriptParam>& params) {
  if (!database_only) return {};
  for (const auto& p : params)
    if (p.type == ScriptType::response)
      return invalid(where + ": a database-only function cannot take the response (it would answer the client "
                             "before the run's writes are durable)");
  return {};
}

sdk::Result<void> check_params(const std::string& where, const std::vector<sdk::ScriptParam>& params) {
  if (params.size() > 16) return invalid(where + ": more than 16 parameters");
  bool optional = false;
  int responses = 0;
  for (const auto& p : params) {
    std::string at = where + " parameter '" + p.name + "'";
    if (!is_identifier(p.name) || is_keyword(p.name)) return invalid(at + ": not a usable identifier");
    if (p.type == ScriptType::void_type) return invalid(at + ": void is only a result type");
    if (p.type == ScriptType::response && ++responses > 1) return invalid(at + ": a function takes one response at most");
    if (p.type == ScriptType::response && p.default_value) return invalid(at + ": a response parameter has no default");
    if (p.type == ScriptType::handle && p.handle_type.empty()) return invalid(at + ": a handle parameter needs handle_type");
    if (p.default_value) {
      if (!default_fits(p)) return invalid(at + ": default value does not have the parameter's type");
      optional = true;
    } else if (optional) {
      return invalid(at + ": follows an optional parameter but has no default");
    }
  }
  return {};
}

class Declarations::PluginApi final : public sdk::ScriptApi {
 public:
  PluginApi(Declarations& owner, std::string plugin) : owner_(owner), plugin_(std::move(plugin)) {}
  sdk::Result<void> add_function(sdk::ScriptFunctionDecl decl) override {
    return owner_.add_function(plugin_, std::move(decl));
  }
  sdk::Result<void> add_handle_type(sdk::ScriptHandleTypeDecl decl) override {
    return owner_.add_handle_type(plugin_, std::move(decl));
  }

 private:
  Declarations& owner_;
  std::string plugin_;
};

Declarations::Declarations() = default;
Declarations::~Declarations() = default;

sdk::ScriptApi& Declarations::api_for(const std::string& owner) {
  std::lock_guard lock(mutex_);
  auto& api = apis_[owner];
  if (!api) api = std::make_unique<PluginApi>(*this, owner);
  return *api;
}

void Declarations::seal() {
  std::lock_guard lock(mutex_);
  sealed_ = true;
}

std::string Declarations::namespace_owner(std::string_view ns) const {
  std::lock_guard lock(mutex_);
  auto it = namespace_owners_.find(ns);
  return it == namespace_owners_.end() ? std::string() : it->second;
}

sdk::Result<void> Declarations::claim_namespace(const std::string& owner, const std::string& ns) {
  if (sealed_) return invalid("plugin '" + owner + "' declared script API after configure()");
  for (auto reserved : reserved_namespaces())
    if (ns == reserved) return sdk::make_error(ErrorKind::conflict, "script namespace '" + ns + "' is reserved by the kernel");
  if (!is_identifier(ns) || is_keyword(ns)) return invalid("script namespace '" + ns + "' is not a usable identifier");
  auto [it, inserted] = namespace_owners_.try_emplace(ns, owner);
  if (!inserted && it->second != owner)
    return sdk::make_error(ErrorKind::conflict, "script namespace '" + ns + "' is already owned by plugin '" + it->second + "'");
  return {};
}

bool Declarations::name_taken(const std::string& ns, const std::string& name) const {
  for (const auto& f : functions_)
    if (f.decl.ns == ns && f.decl.name == name) return true;
  for (const auto& t : handle_types_)
    if (t.decl.ns == ns && t.decl.name == name) return true;
  return false;
}

sdk::Result<void> Declarations::add_function(const std::string& owner, sdk::ScriptFunctionDecl decl) {
  std::lock_guard lock(mutex_);
  std::string where = "script function " + decl.ns + "::" + decl.name;
  if (auto r = claim_namespace(owner, decl.ns); !r) return r;
  if (!is_identifier(decl.name) || is_language_keyword(decl.name)) return invalid(where + ": name is not a usable identifier");
  if (!decl.call) return invalid(where + ": no implementation");
  if (auto r = check_doc(where, decl.doc); !r) return r;
  if (auto r = check_params(where, decl.params); !r) return r;
  if (auto r = check_database_only(where, decl.database_only, decl.params); !r) return r;
  if (auto r = check_result(where, decl.result, decl.result_handle); !r) return r;
  if (name_taken(decl.ns, decl.name)) return sdk::make_error(ErrorKind::conflict, where + " is declared twice");
  functions_.push_back({owner, std::move(decl)});
  return {};
}

sdk::Result<void> Declarations::add_handle_type(const std::string& owner, sdk::ScriptHandleTypeDecl decl) {
  std::lock_guard lock(mutex_);
  std::string where = "script handle type " + decl.ns + "::" + decl.name;
  if (auto r = claim_namespace(owner, decl.ns); !r) return r;
  if (!is_identifier(decl.name) || is_keyword(decl.name)) return invalid(where + ": name is not a usable identifier");
  if (name_taken(decl.ns, decl.name)) return sdk::make_error(ErrorKind::conflict, where + " is declared twice");
  if (auto r = check_doc(where, decl.doc); !r) return r;
  std::vector<std::string> seen;
  for (const auto& m : decl.methods) {
    std::string at = where + " method " + m.name;
    if (!is_identifier(m.name) || is_language_keyword(m.name))
      return invalid(at + ": name is not a usable identifier");
    if (std::find(seen.begin(), seen.end(), m.name) != seen.end())
      return sdk::make_error(ErrorKind::conflict, at + " is declared twice");
    seen.push_back(m.name);
    if (!m.call) return invalid(at + ": no implementation");
    if (auto r = check_doc(at, m.doc); !r) return r;
    if (auto r = check_params(at, m.params); !r) return r;
    if (auto r = check_database_only(at, m.database_only, m.params); !r) return r;
    if (auto r = check_result(at, m.result, m.result_handle); !r) return r;
    if (m.property && (!m.params.empty() || m.result == sdk::ScriptType::void_type))
      return invalid(at + ": a property takes no parameters and has a result");
  }
  handle_types_.push_back({owner, std::move(decl)});
  return {};
}

std::vector<std::string> Declarations::undocumented(const std::string& owner) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& f : functions_)
    if (f.owner == owner && f.decl.doc.empty()) out.push_back(f.decl.ns + "::" + f.decl.name);
  for (const auto& t : handle_types_) {
    if (t.owner != owner) continue;
    if (t.decl.doc.empty()) out.push_back(t.decl.ns + "::" + t.decl.name);
    for (const auto& m : t.decl.methods)
      if (m.doc.empty()) out.push_back(t.decl.ns + "::" + t.decl.name + "::" + m.name);
  }
  return out;
}

}  // namespace picloud::scripting
