// `bytes` in scripts is array<uint8>; these convert it to and from C++, and
// build the array<string> results of library functions.
#pragma once

#include <angelscript/scriptarray.h>

#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/value.hpp"
#include "scripting/as.hpp"

namespace picloud::scripting {

// A new array<uint8>@ holding `data` (the caller hands it to the engine).
CScriptArray* make_bytes(std::string_view data);
inline CScriptArray* make_bytes(const sdk::Bytes& data) {
  return make_bytes(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}
std::string_view bytes_view(const CScriptArray& array);

// A new array<string>@ holding `items`. Throws std::bad_alloc when the run's
// memory budget cannot hold it.
CScriptArray* make_string_array(const std::vector<std::string>& items);

// Looks up array<uint8> and array<string> once, while the engine is built:
// looking template instances up during runs would race with compiles.
void remember_array_types(asIScriptEngine* engine);
inline sdk::Bytes to_bytes(const CScriptArray& array) {
  auto view = bytes_view(array);
  return sdk::Bytes(view.begin(), view.end());
}

}  // namespace picloud::scripting
