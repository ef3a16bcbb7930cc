// A plugin's own config section: `[<plugin name>]` in the config file, each
// key overridable by the environment variable PICLOUD_<PLUGIN>_<KEY>.
//
// A plugin reads its keys during configure(). Every key it reads is known;
// keys in its section that it never reads are warned about by name. A value
// that does not parse is an invalid_argument error naming the key and what is
// allowed; return it from configure() and the kernel refuses to start.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"

namespace picloud::sdk {

class ConfigSection {
 public:
  virtual ~ConfigSection() = default;
  virtual std::string_view name() const = 0;
  virtual bool has(std::string_view key) const = 0;
  virtual Result<std::string> get_string(std::string_view key, std::string_view fallback) = 0;
  virtual Result<std::int64_t> get_int(std::string_view key, std::int64_t fallback, std::int64_t min,
                                       std::int64_t max) = 0;
  virtual Result<bool> get_bool(std::string_view key, bool fallback) = 0;
};

}  // namespace picloud::sdk
