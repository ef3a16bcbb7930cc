// AngelScript for the scripting layer: the engine's headers (Debian builds the
// library with AS_USE_NAMESPACE, so its names live in AngelScript::), the
// generic-call wrapper and the exception type bindings throw.
#pragma once

#ifndef AS_USE_NAMESPACE
#define AS_USE_NAMESPACE
#endif
#include <angelscript.h>

#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>

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

namespace detail {

template <typename F>
struct ReturnOf;
template <typename R, typename... A>
struct ReturnOf<R (*)(A...)> {
  using type = R;
};

// The add-on's generic wrappers with one difference: a binding that returns
// an object by value (a string) and throws leaves a valid empty object in the
// return slot. AngelScript 2.35 destroys that slot while unwinding when the
// call's result was to be passed on as an argument (`res.text(f(...))`), so an
// exception left it destroying whatever the stack held there: the process
// ended with a double free or a segmentation fault. An empty string owns no
// memory, so the paths that do not destroy the slot lose nothing.
template <typename F, F fn, template <typename> class Wrap>
void guarded_generic(asIScriptGeneric* gen) {
  try {
    Wrap<F>::template f<fn>(gen);
  } catch (...) {
    using R = typename ReturnOf<F>::type;
    if constexpr (std::is_class_v<R> && std::is_default_constructible_v<R>)
      new (gen->GetAddressOfReturnLocation()) R();
    throw;
  }
}

}  // namespace detail

}  // namespace picloud::scripting

#undef WRAP_FN
#undef WRAP_OBJ_LAST
#define WRAP_FN(name) \
  asFUNCTION((::picloud::scripting::detail::guarded_generic<decltype(&name), &name, ::gw::Wrapper>))
#define WRAP_OBJ_LAST(name) \
  asFUNCTION((::picloud::scripting::detail::guarded_generic<decltype(&name), &name, ::gw::ObjLast>))
