// The service t_good provides and t_dependent uses: a C table, as every
// service between plugins is (sdk/services.hpp).
#pragma once

#include <cstdint>

struct GreeterV1 {
  std::uint32_t size;
  const char* greeting;  // NUL-terminated, alive while the provider is
};
