// How plugins talk to each other: through the kernel, never by linking.
//
// A plugin provides a named service (an interface of its own, versioned) and
// other plugins that declared it as a dependency look it up. The interface
// type is shared through a header the providing plugin publishes.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "picloud/sdk/error.hpp"

namespace picloud::sdk {

class ServiceRegistry {
 public:
  virtual ~ServiceRegistry() = default;
  // Publishes a service. The name must be one the plugin's descriptor lists in
  // `provides`; providing a name twice is a conflict.
  virtual Result<void> provide(std::string_view name, std::uint32_t version, std::shared_ptr<void> service) = 0;
  // A provided service whose version is at least `min_version`, or null.
  virtual std::shared_ptr<void> find(std::string_view name, std::uint32_t min_version) const = 0;

  template <typename T>
  std::shared_ptr<T> get(std::string_view name, std::uint32_t min_version) const {
    return std::static_pointer_cast<T>(find(name, min_version));
  }
};

}  // namespace picloud::sdk
