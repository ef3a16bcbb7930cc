// The kv plugin's rules for names, keys and values, and its trigger filter:
// everything checked before the database is touched, with errors that say
// what is wrong and what is allowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/triggers.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kv {

inline constexpr std::size_t kMaxKeyBytes = 512;
inline constexpr std::int64_t kDefaultListLimit = 100;
inline constexpr std::int64_t kMaxListLimit = 1000;
inline constexpr std::size_t kMaxGetMany = 1000;
// Ten years: a longer TTL is almost certainly a unit mistake (ms for s).
inline constexpr std::int64_t kMaxTtlSeconds = 10LL * 366 * 24 * 3600;

// The shared rule for collection names (sdk::check_collection_name).
sdk::Result<void> check_collection(std::string_view name);
// 1–512 bytes of UTF-8 without NUL.
sdk::Result<void> check_key(std::string_view key);
// A value kv can store, as its JSON text: any JSON value but null (delete the
// key instead), with no bytes (JSON has none) and only finite numbers,
// `max_bytes` of JSON text at most.
sdk::Result<std::string> encode_value(const sdk::Value& value, std::int64_t max_bytes);
// A TTL in seconds (0: none) as an expiry time in ms since the epoch.
sdk::Result<std::int64_t> expiry_from_ttl(std::int64_t ttl_seconds, std::int64_t now_ms);

// The `kv` trigger kind: filter {"collection": glob, "ops": [...]}.
sdk::TriggerKind trigger_kind();

}  // namespace picloud::kv
