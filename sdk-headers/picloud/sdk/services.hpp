// How plugins talk to each other: through the kernel, never by linking.
//
// A plugin provides a named, versioned service: a C table of its own (a
// struct of function pointers and data, published in a header of the
// providing plugin), which it keeps alive for the process's life. Plugins
// that declared the provider as a dependency look it up by name, version and
// the size of the table they were built against, so a provider may append
// members in a later version without breaking older users.
//
//   struct GreeterV1 { std::uint32_t size; const char* (*greeting)(); };
//   static const GreeterV1 table{sizeof(GreeterV1), &greeting};
//   ctx.services().provide("greeter", 1, table);            // provider
//   const GreeterV1* g = ctx.services().get<GreeterV1>("greeter", 1);  // user
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "picloud/sdk/error.hpp"

namespace picloud::sdk {

class ServiceRegistry {
 public:
  virtual ~ServiceRegistry() = default;
  // Publishes a service. The name must be one the plugin's descriptor lists in
  // `provides`; providing a name twice is a conflict.
  virtual Result<void> provide(std::string_view name, std::uint32_t version, std::size_t table_size,
                               const void* table) = 0;
  // A provided service whose version is at least `min_version` and whose
  // table has at least `min_size` bytes, or null.
  virtual const void* find(std::string_view name, std::uint32_t min_version, std::size_t min_size) const = 0;

  template <typename T>
  Result<void> provide(std::string_view name, std::uint32_t version, const T& table) {
    static_assert(std::is_standard_layout_v<T> && std::is_trivially_copyable_v<T>,
                  "a service is a C table: standard layout, trivially copyable");
    return provide(name, version, sizeof(T), &table);
  }
  // A temporary table would be gone when the call returns.
  template <typename T>
  Result<void> provide(std::string_view name, std::uint32_t version, const T&& table) = delete;
  template <typename T>
  const T* get(std::string_view name, std::uint32_t min_version) const {
    static_assert(std::is_standard_layout_v<T> && std::is_trivially_copyable_v<T>,
                  "a service is a C table: standard layout, trivially copyable");
    return static_cast<const T*>(find(name, min_version, sizeof(T)));
  }
};

}  // namespace picloud::sdk
