// `bytes` in scripts is array<uint8>; these convert it to and from C++.
#pragma once

#include <angelscript/scriptarray.h>

#include <string_view>

#include "picloud/sdk/value.hpp"
#include "scripting/as.hpp"

namespace picloud::scripting {

// A new array<uint8>@ holding `data` (the caller hands it to the engine).
CScriptArray* make_bytes(std::string_view data);
inline CScriptArray* make_bytes(const sdk::Bytes& data) {
  return make_bytes(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}
std::string_view bytes_view(const CScriptArray& array);
inline sdk::Bytes to_bytes(const CScriptArray& array) {
  auto view = bytes_view(array);
  return sdk::Bytes(view.begin(), view.end());
}

}  // namespace picloud::scripting
