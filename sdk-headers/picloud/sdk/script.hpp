// What a plugin offers to scripts: namespaces of functions and opaque handle
// types with methods, declared in SDK terms. The kernel's scripting layer turns
// each declaration into the script language's registration; a plugin never
// sees the script engine.
//
//   api.add_handle_type({"kv", "Collection", {
//       {"get", {{"key", ScriptType::string}}, ScriptType::json, "", get_impl}}});
//   api.add_function({"kv", "collection", {{"name", ScriptType::string}},
//                     ScriptType::handle, "kv::Collection", collection_impl});
//
// lets a script write `kv::collection("users").get("alice")`.
//
// Declarations are accepted only during configure(); the engine is built once
// afterwards, and nothing is registered later.
#pragma once

#include <time.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::sdk {

// The vocabulary of parameter and result types.
//   string  text              int    64-bit integer    float  double
//   bool                      json   any Value (objects, arrays, scalars)
//   bytes   a byte buffer     handle an opaque object of a declared handle type
//   void    no result (results only)
//   response  the run's HTTP response (`response@ res`; parameters only, at
//           most one): the argument arrives as null and the function
//           answers through CallContext::http
enum class ScriptType : std::uint8_t { void_type, boolean, integer, number, string, bytes, json, handle, response };

class HttpExchange;  // http.hpp

// CLOCK_MONOTONIC in milliseconds: the clock of CallContext::deadline_ms.
inline std::int64_t monotonic_ms() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return std::int64_t{now.tv_sec} * 1000 + now.tv_nsec / 1'000'000;
}

// Who is calling: set by the kernel for every script run, never by the script.
// Every service call must scope what it touches by `app_id`.
struct CallContext {
  std::string_view app_id;
  std::string_view principal;     // the authenticated caller, or empty when anonymous
  std::string_view script_id;
  std::string_view execution_id;
  int trigger_depth = 0;          // 0 for a run not caused by a trigger
  const Value* event = nullptr;   // the triggering event, or null
  // When the script run must end (monotonic_ms()); 0 outside a run (admin
  // routes). A call must not outlive its run, nor the outbox lease an async
  // run holds: bound every wait by remaining_ms().
  std::int64_t deadline_ms = 0;
  // For a function with a ScriptType::response parameter: the exchange of
  // the response the script passed (http.hpp), usable during this call;
  // null for every other call.
  HttpExchange* http = nullptr;

  // Milliseconds the run has left: INT64_MAX outside a run, 0 once it must end.
  std::int64_t remaining_ms() const {
    if (deadline_ms == 0) return INT64_MAX;
    std::int64_t left = deadline_ms - monotonic_ms();
    return left > 0 ? left : 0;
  }
};

struct ScriptParam {
  std::string name;
  ScriptType type = ScriptType::string;
  // For ScriptType::handle: the qualified handle type name ("kv::Collection").
  std::string handle_type = {};
  // Makes the parameter optional (it and every later one). Must have the
  // parameter's type; for json any Value; for bytes, handle: null only.
  std::optional<Value> default_value = std::nullopt;
};

// Arguments arrive in declaration order with defaults filled in: string as a
// string Value, int as int, float as float, bool, json as any Value, bytes as
// bytes, handle as the handle's state (see below).
//
// The result must have the declared type (void: ignored; json: any Value;
// handle: the new handle's state); a bytes or handle result may be null,
// which the script sees as a null handle. A returned Error becomes a script
// exception "<kind>: <message>" that the script can catch.
using ScriptFunction = std::function<Result<Value>(const CallContext& call, std::span<const Value> args)>;

// A handle's state is a Value the plugin chose when it returned the handle
// (for example the collection's name). Scripts can hold and pass handles but
// never see or change their state; methods receive it as `self`.
using ScriptMethod =
    std::function<Result<Value>(const CallContext& call, const Value& self, std::span<const Value> args)>;

struct ScriptFunctionDecl {
  std::string ns;    // namespace, an identifier owned by the declaring plugin
  std::string name;  // an identifier, unique within the namespace
  std::vector<ScriptParam> params = {};
  ScriptType result = ScriptType::void_type;
  std::string result_handle = {};  // for ScriptType::handle results
  ScriptFunction call = {};
  std::string doc = {};
  // The function only reads and writes through ctx.db() (PC_SCRIPT_DATABASE_ONLY
  // in picloud.h): its commits are acknowledged at the run's end, together,
  // instead of each waiting for its own flush to disk. Never for a function
  // with any other effect.
  bool database_only = false;
};

struct ScriptMethodDecl {
  std::string name;
  std::vector<ScriptParam> params = {};
  ScriptType result = ScriptType::void_type;
  std::string result_handle = {};
  ScriptMethod call = {};
  std::string doc = {};
  // Read as a property (`res.status`) rather than called (`res.status()`):
  // only for a method with no parameters and a result.
  bool property = false;
  // For a handle whose state is an object: the members this method reads.
  // When given, `self` arrives with those members only, and the others
  // (a response's body, say) are not copied across the boundary for it.
  std::vector<std::string> self_fields = {};
  // As ScriptFunctionDecl::database_only.
  bool database_only = false;
};

struct ScriptHandleTypeDecl {
  std::string ns;
  std::string name;  // an identifier; scripts name the type ns::name
  std::vector<ScriptMethodDecl> methods = {};
  std::string doc = {};
};

class ScriptApi {
 public:
  virtual ~ScriptApi() = default;
  // Each refuses bad names, namespaces owned by another plugin or reserved by
  // the kernel (the standard library), duplicates, and defaults of the wrong
  // type. References to handle types are resolved when the engine is built
  // (a missing one stops start-up naming the declaration).
  virtual Result<void> add_function(ScriptFunctionDecl decl) = 0;
  virtual Result<void> add_handle_type(ScriptHandleTypeDecl decl) = 0;
};

}  // namespace picloud::sdk
