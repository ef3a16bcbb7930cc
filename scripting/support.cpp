// Small shared pieces: error names and statuses, the run lookup, bytes.
#include <angelscript/scriptarray.h>

#include <cstring>

#include "scripting/bindings.hpp"
#include "scripting/bytes.hpp"
#include "scripting/limits.hpp"
#include "scripting/run_state.hpp"

namespace picloud::scripting {

std::string_view to_string(RunError error) {
  switch (error) {
    case RunError::none: return "none";
    case RunError::compile_error: return "compile_error";
    case RunError::no_entry_point: return "no_entry_point";
    case RunError::script_error: return "script_error";
    case RunError::timeout: return "timeout";
    case RunError::operation_limit: return "operation_limit";
    case RunError::memory_limit: return "memory_limit";
    case RunError::stack_limit: return "stack_limit";
    case RunError::output_limit: return "output_limit";
    case RunError::internal: return "internal";
  }
  return "internal";
}

int http_status(RunError error) {
  switch (error) {
    case RunError::none: return 200;
    case RunError::compile_error:
    case RunError::no_entry_point: return 422;
    case RunError::script_error: return 502;
    case RunError::timeout: return 504;
    case RunError::operation_limit:
    case RunError::memory_limit:
    case RunError::stack_limit:
    case RunError::output_limit: return 507;
    case RunError::internal: return 500;
  }
  return 500;
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

RunState* RunState::current() {
  asIScriptContext* ctx = asGetActiveContext();
  return ctx ? static_cast<RunState*>(ctx->GetUserData(kRunStateSlot)) : nullptr;
}

void RunState::fail(RunError error, std::string message) {
  if (failure == RunError::none) {
    memory::Unaccounted keep;
    failure = error;
    failure_message = std::move(message);
  }
  if (asIScriptContext* ctx = asGetActiveContext()) ctx->Abort();
}

void check_registration(int result, const char* what) {
  if (result < 0)
    throw RegistrationError(std::string("cannot register ") + what + " (AngelScript error " + std::to_string(result) + ")");
}

namespace {
constexpr asPWORD kBytesTypeSlot = 0x42595445;    // "BYTE"
constexpr asPWORD kStringsTypeSlot = 0x53545253;  // "STRS"

asITypeInfo* cached_type(asPWORD slot) {
  return static_cast<asITypeInfo*>(asGetActiveContext()->GetEngine()->GetUserData(slot));
}
}  // namespace

void remember_array_types(asIScriptEngine* engine) {
  engine->SetUserData(engine->GetTypeInfoByDecl("array<uint8>"), kBytesTypeSlot);
  engine->SetUserData(engine->GetTypeInfoByDecl("array<string>"), kStringsTypeSlot);
}

CScriptArray* make_string_array(const std::vector<std::string>& items) {
  CScriptArray* out = CScriptArray::Create(cached_type(kStringsTypeSlot), static_cast<asUINT>(items.size()));
  if (!out) throw std::bad_alloc();
  if (out->GetSize() != items.size()) {  // the buffer could not be allocated
    out->Release();
    throw std::bad_alloc();
  }
  try {
    for (asUINT i = 0; i < items.size(); ++i) *static_cast<std::string*>(out->At(i)) = items[i];
  } catch (...) {  // a copy the run's memory refused: the array goes with the exception
    out->Release();
    throw;
  }
  return out;
}

CScriptArray* make_bytes(std::string_view data) {
  CScriptArray* out = CScriptArray::Create(cached_type(kBytesTypeSlot), static_cast<asUINT>(data.size()));
  if (!out) throw std::bad_alloc();
  if (out->GetSize() != data.size()) {  // the buffer could not be allocated
    out->Release();
    throw std::bad_alloc();
  }
  if (!data.empty()) std::memcpy(out->GetBuffer(), data.data(), data.size());
  return out;
}

std::string_view bytes_view(const CScriptArray& array) {
  return {static_cast<const char*>(const_cast<CScriptArray&>(array).GetBuffer()), array.GetSize()};
}

}  // namespace picloud::scripting
