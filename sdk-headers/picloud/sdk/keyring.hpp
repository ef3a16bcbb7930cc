// The kernel's keyring as a plugin sees it: values sealed under the master
// key for this plugin and an app, and signatures with a key derived for them.
//
// The kernel seals with AES-256-GCM under a key derived from the master key
// for (plugin, app), binding each value to its app, plugin and name: a value
// copied to another app or name does not open, and no plugin opens another
// plugin's values. `picloud keys rotate` re-seals every value under a new
// master key; signatures made before a rotation still verify while the old
// key is kept. The plaintext never reaches the database, the logs or
// /metrics through the kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::sdk {

class Keyring {
 public:
  virtual ~Keyring() = default;

  // Seals `value` and stores it as the app's `name` (created or replaced),
  // in `tx` (one of ctx.database()'s) or, when null, in a transaction of its
  // own. Names: 1 to 256 bytes, no U+0000.
  virtual Result<void> put(Transaction* tx, std::string_view app_id, std::string_view name, std::string_view value) = 0;
  // The value, or nothing when there is none. An error when it cannot be
  // opened (code "corrupted": altered or moved; "keyring_key_missing").
  virtual Result<std::optional<std::string>> get(Transaction* tx, std::string_view app_id, std::string_view name) = 0;
  // Whether there was one.
  virtual Result<bool> remove(Transaction* tx, std::string_view app_id, std::string_view name) = 0;
  struct Entry {
    std::string name;
    std::int64_t updated_at = 0;  // Unix milliseconds
  };
  // Names after `after`, in order, at most `limit` (1 to 1000).
  virtual Result<std::vector<Entry>> list(std::string_view app_id, std::string_view after, std::int64_t limit) = 0;

  // HMAC-SHA256 of `data` under a key derived for (plugin, app): 40 bytes
  // (the master key's id, then the MAC). verify() compares in constant time.
  virtual Result<std::string> sign(std::string_view app_id, std::string_view data) = 0;
  virtual bool verify(std::string_view app_id, std::string_view data, std::string_view signature) = 0;
};

}  // namespace picloud::sdk
