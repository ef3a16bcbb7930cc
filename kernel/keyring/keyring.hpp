// The keyring: the master keys, the values sealed under them, and signatures.
//
// Master keys are 32 random bytes, named by an id derived from the key (a
// verifier, not a secret): 8 bytes of HKDF-SHA256(key, salt "picloud keyring
// v1", info "key id"), as 16 hex digits. They come from:
//   - the environment, PICLOUD_KEYRING_KEY (or [keyring] key): one key,
//     base64 of 32 bytes;
//   - else a key file ([keyring] key_file, default <data_dir>/keyring.keys),
//     which may hold several keys (for rotation), one of them active. It must
//     not be readable by others (mode 0600).
// On SQLite with neither, the kernel creates the key file on first start and
// says where it is and that it must be backed up. On PostgreSQL, where
// several nodes share the database, a key must be given: no node mints its
// own. There is no built-in key and no unencrypted mode.
//
// The database records the active key's id. A node whose keys do not include
// it (or the key of any value still sealed) refuses to start, naming the ids.
//
// The master key never encrypts or signs anything itself: each use derives
// its own key with HKDF-SHA256, the purpose (the plugin) and the app in the
// info. A sealed value is AES-256-GCM with a random 96-bit nonce, laid out as
//   0x01 | key id (8 bytes) | nonce (12) | ciphertext | tag (16)
// with the app, purpose and name as associated data, so a value copied to
// another app or name does not open.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::kernel::keyring {

struct KeyringSettings {
  std::string key;             // base64 of 32 bytes ([keyring] key, PICLOUD_KEYRING_KEY); empty: none
  std::string key_file;        // where the key file is (default <data_dir>/keyring.keys)
  bool key_file_explicit = false;  // the operator named it: it must exist
};

// The master keys this node holds.
struct KeySet {
  std::map<std::string, std::string> keys;  // id (16 hex digits) -> 32 bytes
  std::string active;                       // the id the key file marks active
  std::string source;                       // "the environment" or the key file's path
  bool from_file = false;
};

// The id of a master key.
std::string key_id(std::string_view key);

// Reads the keys. On SQLite with no key and no key file it creates the key
// file — unless the database already names its key (`database_key`, the
// id in keyring_state, or empty): then the key file is missing, which is
// an error naming the key to restore.
sdk::Result<KeySet> load_keys(const KeyringSettings& settings, sdk::Dialect dialect,
                              const std::string& database_key = "");
// Reads a key file: a regular file owned by this user, not readable by
// others, at most 64 KiB, opened without following a symbolic link.
sdk::Result<KeySet> read_key_file(const std::string& path);
// Writes a key file atomically (a unique temporary file, fsync, rename,
// the directory fsync'd), mode 0600, keeping the owner of the file it
// replaces. With `must_be_new` it never replaces one: it fails with
// conflict when the file appeared meanwhile.
sdk::Result<void> write_key_file(const std::string& path, const KeySet& keys, bool must_be_new = false);
// Parses one base64 key (standard or URL alphabet, padding optional).
sdk::Result<std::string> decode_key(std::string_view base64, std::string_view origin);

class Keyring {
 public:
  // Checks the keys against the database and records the active key's id
  // when the database has none yet.
  static sdk::Result<std::unique_ptr<Keyring>> open(KeySet keys, sdk::Database& db);

  // A copy of the keys held now (a key file is read again when a value
  // names a key this node does not hold yet: after `picloud keys rotate`).
  KeySet keys() const;
  // The key id new values are sealed with: the database's active key.
  sdk::Result<std::string> active_id(sdk::Transaction* tx = nullptr);

  // Seals `plaintext` for (app, purpose, name) under the active key.
  sdk::Result<std::string> seal(std::string_view app, std::string_view purpose, std::string_view name,
                                std::string_view plaintext, sdk::Transaction* tx = nullptr);
  sdk::Result<std::string> seal_with(const std::string& id, std::string_view app, std::string_view purpose,
                                     std::string_view name, std::string_view plaintext) const;
  // Opens a sealed value; an error says whether the key is missing or the
  // value was not sealed for this app and name (or was altered).
  sdk::Result<std::string> open_sealed(std::string_view app, std::string_view purpose, std::string_view name,
                                       std::string_view envelope) const;
  // The key id a sealed value names, or empty when it is not an envelope.
  static std::string envelope_key_id(std::string_view envelope);
  // The database's active key id, read in its own statement.
  static sdk::Result<std::string> database_active_id(sdk::Database& db);

  // HMAC-SHA256 with a key derived for (app, purpose): key id (8 bytes) and
  // the 32-byte MAC. verify() compares in constant time and accepts any key
  // this node holds, so signatures outlive a rotation.
  sdk::Result<std::string> sign(std::string_view app, std::string_view purpose, std::string_view data,
                                sdk::Transaction* tx = nullptr);
  bool verify(std::string_view app, std::string_view purpose, std::string_view data, std::string_view signature) const;

 private:
  Keyring(KeySet keys, sdk::Database& db) : keys_(std::move(keys)), db_(db) {}
  // The key of this id; a key file is read again when it lacks it and the
  // file changed since it was last read.
  std::optional<std::string> key(const std::string& id) const;

  // What tells a key file's versions apart: device, inode, size, and the
  // change time (which, unlike mtime, no one can set back).
  using FileStamp = std::tuple<std::uint64_t, std::uint64_t, std::int64_t, std::int64_t, std::int64_t>;
  static std::optional<FileStamp> stamp_of(const std::string& path);

  mutable std::shared_mutex mutex_;  // guards keys_ (a reload adds keys) and read_stamp_
  mutable KeySet keys_;
  mutable std::optional<FileStamp> read_stamp_;  // the key file as last read again
  mutable std::optional<std::chrono::steady_clock::time_point> read_failed_at_;  // when that read failed
  sdk::Database& db_;
};

// Values sealed by the keyring on behalf of plugins, one row per (app,
// owner, name) in sealed_values; the owner is the plugin, which is also the
// purpose its values are sealed for, so no plugin opens another's values.
class Vault {
 public:
  Vault(Keyring& keyring, sdk::Database& db) : keyring_(keyring), db_(db) {}

  sdk::Result<void> put(sdk::Transaction* tx, std::string_view owner, std::string_view app, std::string_view name,
                        std::string_view value);
  // The value, or nothing when there is none.
  sdk::Result<std::optional<std::string>> get(sdk::Transaction* tx, std::string_view owner, std::string_view app,
                                              std::string_view name);
  // Whether there was one.
  sdk::Result<bool> remove(sdk::Transaction* tx, std::string_view owner, std::string_view app, std::string_view name);
  struct Entry {
    std::string name;
    std::int64_t updated_at = 0;
  };
  // Names after `after` in order, at most `limit`.
  sdk::Result<std::vector<Entry>> list(std::string_view owner, std::string_view app, std::string_view after,
                                       std::int64_t limit);

  // Rotation: re-seals up to `batch` values not under `active` that come
  // after `position` (app, owner, name), in one transaction; `position`
  // moves past them. A value that does not open is left as it is and named
  // in `unopened`. Returns how many values were looked at (0: none left).
  struct Position {
    std::string app, owner, name;
  };
  sdk::Result<std::int64_t> reseal_batch(const std::string& active, std::int64_t batch, Position& position,
                                         std::vector<std::string>& unopened, std::int64_t& resealed);
  // How many values are sealed with another key than `active`.
  sdk::Result<std::int64_t> count_not_under(const std::string& active);

 private:
  Keyring& keyring_;
  sdk::Database& db_;
};

}  // namespace picloud::kernel::keyring
