// Turns plugin declarations (sdk::ScriptFunctionDecl, ScriptHandleTypeDecl)
// into AngelScript registrations. Every function goes through one generic
// wrapper that converts arguments to SDK values, calls the plugin with the
// run's call context, and converts the result back; an Error becomes a
// catchable script exception "<kind>: <message>".
#include <angelscript/scriptarray.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <optional>

#include "picloud/sdk/json.hpp"
#include "scripting/bindings.hpp"
#include "scripting/bytes.hpp"
#include "scripting/json.hpp"
#include "scripting/memory.hpp"
#include "scripting/run_state.hpp"

namespace picloud::scripting {
using sdk::ScriptType;

namespace {

// A handle object: reference counted, its state invisible to scripts.
struct ScriptHandle {
  explicit ScriptHandle(sdk::Value s) : state(std::move(s)) {}
  sdk::Value state;
  std::atomic<int> refs{1};
};

void handle_add_ref(asIScriptGeneric* gen) {
  static_cast<ScriptHandle*>(gen->GetObject())->refs.fetch_add(1, std::memory_order_relaxed);
}
void handle_release(asIScriptGeneric* gen) {
  auto* h = static_cast<ScriptHandle*>(gen->GetObject());
  if (h->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete h;
}

std::string qualified(const std::string& ns, const std::string& name) { return ns + "::" + name; }

// An AngelScript string literal (its escapes differ from JSON's: no \b or \f).
std::string escape_string_literal(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

std::string default_text(const sdk::ScriptParam& p) {
  const sdk::Value& v = *p.default_value;
  switch (p.type) {
    case ScriptType::string: return escape_string_literal(v.as_string());
    case ScriptType::integer:
      if (v.as_int() == INT64_MIN) return "(-9223372036854775807 - 1)";
      return std::to_string(v.as_int());
    case ScriptType::number: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", v.as_number());
      std::string text = buf;
      if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
      return text;
    }
    case ScriptType::boolean: return v.as_bool() ? "true" : "false";
    case ScriptType::json: return v.is_null() ? "json()" : "json::parse(" + escape_string_literal(sdk::to_json(v)) + ")";
    case ScriptType::bytes: return "array<uint8>()";
    case ScriptType::handle: return "null";
    case ScriptType::void_type:
    case ScriptType::response: break;
  }
  return "";
}

std::string type_text(ScriptType type, const std::string& handle, bool parameter) {
  switch (type) {
    case ScriptType::void_type: return "void";
    case ScriptType::boolean: return "bool";
    case ScriptType::integer: return "int64";
    case ScriptType::number: return "double";
    case ScriptType::string: return parameter ? "const string &in" : "string";
    case ScriptType::bytes: return parameter ? "const array<uint8> &in" : "array<uint8>@";
    case ScriptType::json: return parameter ? "const json &in" : "json@";
    case ScriptType::handle: return handle + "@";
    case ScriptType::response: return "response@";
  }
  return "void";
}

std::string params_text(const std::vector<sdk::ScriptParam>& params) {
  std::string out;
  for (const auto& p : params) {
    if (!out.empty()) out += ", ";
    out += type_text(p.type, p.handle_type, true) + " " + p.name;
    if (p.default_value) out += " = " + default_text(p);
  }
  return out;
}

std::string signature(const std::string& name, const std::vector<sdk::ScriptParam>& params, ScriptType result,
                      const std::string& result_handle) {
  return type_text(result, result_handle, false) + " " + name + "(" + params_text(params) + ")";
}

sdk::Value read_arg(asIScriptGeneric* gen, asUINT i, const sdk::ScriptParam& p) {
  switch (p.type) {
    case ScriptType::string: return sdk::Value(*static_cast<std::string*>(gen->GetArgObject(i)));
    case ScriptType::integer: return sdk::Value(static_cast<std::int64_t>(gen->GetArgQWord(i)));
    case ScriptType::number: return sdk::Value(gen->GetArgDouble(i));
    case ScriptType::boolean: return sdk::Value(gen->GetArgByte(i) != 0);
    case ScriptType::json: return json_to_value(*static_cast<JsonNode*>(gen->GetArgObject(i)));
    case ScriptType::bytes: return sdk::Value(to_bytes(*static_cast<CScriptArray*>(gen->GetArgObject(i))));
    case ScriptType::handle: {
      auto* h = static_cast<ScriptHandle*>(gen->GetArgObject(i));
      if (!h) throw ScriptException("invalid_argument: parameter '" + p.name + "' is a null handle");
      return h->state;
    }
    case ScriptType::response:  // the exchange travels in the call context
    case ScriptType::void_type: break;
  }
  return {};
}

[[noreturn]] void wrong_result(const BoundCall& call, const sdk::Value& v) {
  throw ScriptException("internal: " + call.name + " returned " + std::string(sdk::to_string(v.type())) +
                        " where its declaration promises " + type_text(call.result, "", false));
}

// Hands a new reference (+1, owned by the engine from now on) back as a
// handle result.
void return_handle(asIScriptGeneric* gen, void* object) { *static_cast<void**>(gen->GetAddressOfReturnLocation()) = object; }

void write_result(asIScriptGeneric* gen, const BoundCall& call, sdk::Value&& v) {
  switch (call.result) {
    case ScriptType::void_type: return;
    case ScriptType::string:
      if (!v.is_string()) wrong_result(call, v);
      gen->SetReturnObject(const_cast<std::string*>(&v.as_string()));
      return;
    case ScriptType::integer:
      if (!v.is_int()) wrong_result(call, v);
      gen->SetReturnQWord(static_cast<asQWORD>(v.as_int()));
      return;
    case ScriptType::number:
      if (!v.is_number()) wrong_result(call, v);
      gen->SetReturnDouble(v.as_number());
      return;
    case ScriptType::boolean:
      if (!v.is_bool()) wrong_result(call, v);
      gen->SetReturnByte(v.as_bool() ? 1 : 0);
      return;
    case ScriptType::json: return_handle(gen, json_from_value(v).detach()); return;
    case ScriptType::bytes:
      if (v.is_null()) return return_handle(gen, nullptr);  // "no such thing"
      if (!v.is_bytes()) wrong_result(call, v);
      return_handle(gen, make_bytes(v.as_bytes()));
      return;
    case ScriptType::handle:
      // The state is the script's to hold (a response body, say): copied
      // here, on the run's budget, not kept as the plugin call made it.
      return_handle(gen, v.is_null() ? nullptr : new ScriptHandle(sdk::Value(v)));
      return;
    case ScriptType::response: return;  // refused as a result when declared
  }
}

void call_declared_unguarded(asIScriptGeneric* gen) {
  const auto& call = *static_cast<const BoundCall*>(gen->GetAuxiliary());
  RunState* run = RunState::current();
  if (!run || !run->services_allowed)
    throw ScriptException("unavailable: " + call.name + " cannot be called while global variables are initialised");
  // A handle argument arrives with a reference the callee owns: give it
  // back once its state is copied (a response's once the call is over),
  // whatever happens after.
  struct ReleaseHandles {
    asIScriptGeneric* gen;
    const BoundCall& call;
    ~ReleaseHandles() {
      for (asUINT i = 0; i < call.params.size(); ++i) {
        if (call.params[i].type == ScriptType::handle) {
          if (auto* h = static_cast<ScriptHandle*>(gen->GetArgObject(i));
              h && h->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete h;
        } else if (call.params[i].type == ScriptType::response) {
          if (auto* r = static_cast<ScriptResponse*>(gen->GetArgObject(i))) release(r);
        }
      }
    }
  } release_handles{gen, call};
  // A function taking the run's response answers through its exchange.
  const sdk::CallContext* context = &run->call;
  sdk::CallContext with_exchange;
  if (call.response_param >= 0) {
    auto* response = static_cast<ScriptResponse*>(gen->GetArgObject(static_cast<asUINT>(call.response_param)));
    if (!response)
      throw ScriptException("invalid_argument: parameter '" + call.params[call.response_param].name +
                            "' is a null response");
    with_exchange = run->call;
    with_exchange.http = &exchange_of(*response);
    context = &with_exchange;
  }
  std::array<sdk::Value, 16> args;
  for (asUINT i = 0; i < call.params.size(); ++i) args[i] = read_arg(gen, i, call.params[i]);
  std::span<const sdk::Value> view(args.data(), call.params.size());

  // A call that may reach the outside world comes after the run's writes
  // are durable; one that only uses the database may leave its own to the
  // run's end (DeferredWrites).
  std::optional<DeferredWrites::DatabaseOnlyCall> database_only_call;
  if (run->deferred_writes) {
    if (call.database_only) {
      database_only_call.emplace(*run->deferred_writes);
    } else {
      auto settled = [&] {
        memory::Unaccounted after_commit_work;  // the kernel's and plugins', not the script's
        return run->deferred_writes->settle();
      }();
      if (!settled) {
        run->last_error_kind = std::string(sdk::to_string(settled.error().kind));
        throw ScriptException(run->last_error_kind + ": " + settled.error().message);
      }
    }
  }

  std::optional<sdk::Result<sdk::Value>> result;
  // What the plugin returns is made off the budget, and what the script
  // keeps of it is copied onto the budget: freeing the original, on every
  // way out (errors included), must not be credited to the run, or a script
  // could hold plugin results beyond its budget.
  struct FreedOffBudget {
    std::optional<sdk::Result<sdk::Value>>& result;
    ~FreedOffBudget() {
      memory::Unaccounted off_budget;
      result.reset();
    }
  } freed_off_budget{result};
  try {
    // The plugin's own work is not the script's memory: a script that has
    // filled its budget must not make allocations fail inside plugin or
    // database code. Arguments and results are converted on the budget.
    memory::Unaccounted plugin_work;
    if (call.method) {
      auto* self = static_cast<ScriptHandle*>(gen->GetObject());
      result.emplace(call.method(*context, self->state, view));
    } else {
      result.emplace(call.function(*context, view));
    }
  } catch (const std::bad_alloc&) {
    throw;  // the run's memory budget; ends the run
  } catch (const std::exception& e) {
    result.emplace(sdk::make_error(sdk::ErrorKind::internal, call.name + " failed: " + e.what()));
  } catch (...) {
    result.emplace(sdk::make_error(sdk::ErrorKind::internal, call.name + " failed"));
  }
  if (!result->ok()) {
    const auto& error = result->error();
    run->last_error_kind = std::string(sdk::to_string(error.kind));
    throw ScriptException(run->last_error_kind + ": " + error.message);
  }
  write_result(gen, call, std::move(result->value()));
}

// Every plugin call. A call returning a string that fails leaves an empty
// string in the return slot, as the guarded wrappers of as.hpp do: the
// engine destroys that slot while unwinding when the result was to be passed
// on as an argument. write_result constructs the string last, so the slot is
// never filled twice.
void call_declared(asIScriptGeneric* gen) {
  try {
    call_declared_unguarded(gen);
  } catch (...) {
    if (static_cast<const BoundCall*>(gen->GetAuxiliary())->result == ScriptType::string)
      new (gen->GetAddressOfReturnLocation()) std::string();
    throw;
  }
}

int response_param(const std::vector<sdk::ScriptParam>& params) {
  for (std::size_t i = 0; i < params.size(); ++i)
    if (params[i].type == ScriptType::response) return static_cast<int>(i);
  return -1;
}

void fail(int result, const std::string& what) {
  if (result < 0)
    throw RegistrationError("cannot register " + what + " (AngelScript error " + std::to_string(result) + ")");
}

}  // namespace

std::string script_signature(const sdk::ScriptFunctionDecl& decl) {
  return signature(qualified(decl.ns, decl.name), decl.params, decl.result, decl.result_handle);
}

void register_declarations(asIScriptEngine* engine, const Declarations& declarations, std::deque<BoundCall>& calls,
                           ApiDocs& docs) {
  auto check_handle = [&](const std::string& where, ScriptType type, const std::string& name) {
    if (type != ScriptType::handle) return;
    for (const auto& t : declarations.handle_types())
      if (qualified(t.decl.ns, t.decl.name) == name) return;
    throw RegistrationError(where + " names handle type '" + name + "', which no plugin declares");
  };

  // Types first, so any declaration can name any type.
  for (const auto& [owner, type] : declarations.handle_types()) {
    std::string where = "plugin '" + owner + "': handle type " + qualified(type.ns, type.name);
    fail(engine->SetDefaultNamespace(type.ns.c_str()), where);
    fail(engine->RegisterObjectType(type.name.c_str(), 0, asOBJ_REF), where);
    fail(engine->RegisterObjectBehaviour(type.name.c_str(), asBEHAVE_ADDREF, "void f()", asFUNCTION(handle_add_ref),
                                         asCALL_GENERIC),
         where);
    fail(engine->RegisterObjectBehaviour(type.name.c_str(), asBEHAVE_RELEASE, "void f()", asFUNCTION(handle_release),
                                         asCALL_GENERIC),
         where);
    docs.document(engine->GetTypeInfoByName(type.name.c_str()), {owner, type.doc});
  }
  for (const auto& [owner, type] : declarations.handle_types()) {
    for (const auto& m : type.methods) {
      std::string name = qualified(type.ns, type.name) + "::" + m.name;
      std::string where = "plugin '" + owner + "': method " + name;
      for (const auto& p : m.params) check_handle(where, p.type, p.handle_type);
      check_handle(where, m.result, m.result_handle);
      auto& bound = calls.emplace_back(
          BoundCall{name, m.params, m.result, {}, m.call, response_param(m.params), m.database_only});
      std::string decl = m.property ? type_text(m.result, m.result_handle, false) + " get_" + m.name + "() const property"
                                    : signature(m.name, m.params, m.result, m.result_handle);
      fail(engine->SetDefaultNamespace(type.ns.c_str()), where);
      int id = engine->RegisterObjectMethod(type.name.c_str(), decl.c_str(), asFUNCTION(call_declared), asCALL_GENERIC,
                                            &bound);
      fail(id, where + " as \"" + decl + "\"");
      docs.document(engine->GetFunctionById(id), {owner, m.doc});
    }
  }
  for (const auto& [owner, f] : declarations.functions()) {
    std::string where = "plugin '" + owner + "': function " + qualified(f.ns, f.name);
    for (const auto& p : f.params) check_handle(where, p.type, p.handle_type);
    check_handle(where, f.result, f.result_handle);
    auto& bound =
        calls.emplace_back(BoundCall{qualified(f.ns, f.name), f.params, f.result, f.call, {}, response_param(f.params),
                                     f.database_only});
    std::string decl = signature(f.name, f.params, f.result, f.result_handle);
    fail(engine->SetDefaultNamespace(f.ns.c_str()), where);
    int id = engine->RegisterGlobalFunction(decl.c_str(), asFUNCTION(call_declared), asCALL_GENERIC, &bound);
    fail(id, where + " as \"" + decl + "\"");
    docs.document(engine->GetFunctionById(id), {owner, f.doc});
  }
  fail(engine->SetDefaultNamespace(""), "the global namespace");
}

}  // namespace picloud::scripting
