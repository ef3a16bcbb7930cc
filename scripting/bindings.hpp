// Registrations the engine makes beyond the standard library: the plugins'
// declared functions and handle types, and the request/response/event types
// of entry points.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "picloud/sdk/http.hpp"
#include "picloud/sdk/script.hpp"
#include "scripting/api_reference.hpp"
#include "scripting/as.hpp"
#include "scripting/declarations.hpp"

namespace picloud::scripting {

// One declared function or method as the generic call wrapper sees it.
struct BoundCall {
  std::string name;  // "ns::function" or "ns::Type::method", for messages
  std::vector<sdk::ScriptParam> params;
  sdk::ScriptType result = sdk::ScriptType::void_type;
  sdk::ScriptFunction function;
  sdk::ScriptMethod method;
  int response_param = -1;  // the ScriptType::response parameter's index, if any
  bool database_only = false;  // sdk::ScriptFunctionDecl::database_only
};

// Registers every declaration, recording each one's owner and doc line in
// `docs`; throws RegistrationError naming the first that fails. `calls` owns
// what the registrations point to.
void register_declarations(asIScriptEngine* engine, const Declarations& declarations, std::deque<BoundCall>& calls,
                           ApiDocs& docs);

// The AngelScript declaration generated for a declared function (for docs
// and error messages), e.g. "shelf::Shelf@ open(const string &in name)".
std::string script_signature(const sdk::ScriptFunctionDecl& decl);

// request, response and event.
void register_entry_types(asIScriptEngine* engine);

// Script-side objects for one run; the engine holds one reference each.
class ScriptRequest;
class ScriptResponse;
class ScriptEvent;
ScriptRequest* make_request(const sdk::HttpRequest& request);
ScriptResponse* make_response(const sdk::HttpRequest& request, std::int64_t max_body_bytes);
ScriptEvent* make_event(const sdk::Value& event);
void release(ScriptRequest* r);
void release(ScriptResponse* r);
void release(ScriptEvent* e);
// Moves what the script produced out of the response.
sdk::HttpResponse take_response(ScriptResponse& response);
// The response's exchange, which plugin functions taking the run's
// response answer through (sdk::CallContext::http).
sdk::HttpExchange& exchange_of(ScriptResponse& response);

class RegistrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace picloud::scripting
