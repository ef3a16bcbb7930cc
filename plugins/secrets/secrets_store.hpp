// An app's secrets: named JSON values sealed by the kernel's keyring. This is
// where names and values are checked, before anything is stored: a value is
// its JSON text, at most `max_value_bytes`. Secret writes emit no trigger
// events, and no value is ever logged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/keyring.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::secrets {

inline constexpr std::size_t kMaxName = 128;

// 1–128 characters of A–Z a–z 0–9 _ - . (like an environment variable's
// name, with '.' and '-').
sdk::Result<void> check_name(std::string_view name);

class SecretStore {
 public:
  SecretStore(sdk::Keyring& keyring, std::int64_t max_value_bytes) : keyring_(keyring), max_value_(max_value_bytes) {}

  // Creates or replaces; null is refused (delete it instead).
  sdk::Result<void> set(std::string_view app, std::string_view name, const sdk::Value& value);
  // The value, or null when there is none.
  sdk::Result<sdk::Value> get(std::string_view app, std::string_view name);
  sdk::Result<bool> remove(std::string_view app, std::string_view name);
  // Names and when they changed, in name order after `after`.
  sdk::Result<std::vector<sdk::Keyring::Entry>> list(std::string_view app, std::string_view after, std::int64_t limit);

  std::int64_t max_value_bytes() const { return max_value_; }

 private:
  sdk::Keyring& keyring_;
  std::int64_t max_value_;
};

}  // namespace picloud::secrets
