// AngelScript for the scripting layer: the engine's headers (Debian builds the
// library with AS_USE_NAMESPACE, so its names live in AngelScript::), the
// generic-call wrapper and the exception type bindings throw.
#pragma once

#ifndef AS_USE_NAMESPACE
#define AS_USE_NAMESPACE
#endif
#include <angelscript.h>

#include <stdexcept>
#include <string>

// aswrappedcall.h names the engine's types unqualified inside namespace gw.
namespace gw {
using namespace AngelScript;
}
#include <angelscript/aswrappedcall.h>

namespace picloud::scripting {
using namespace AngelScript;

// Thrown by a binding to raise a script exception with this message. The
// script can catch it (try/catch) and read it with getExceptionInfo().
class ScriptException : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Ends the start-up: a registration failed (one failure poisons the engine).
void check_registration(int result, const char* what);

}  // namespace picloud::scripting
