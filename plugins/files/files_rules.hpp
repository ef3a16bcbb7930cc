// The files plugin's rules for names, content types and metadata, its
// limits, and its trigger kind: everything checked before a byte is stored,
// with errors that say what is wrong and what is allowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/triggers.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::files {

inline constexpr std::size_t kMaxNameBytes = 1024;
inline constexpr std::size_t kMaxContentTypeBytes = 255;
inline constexpr std::size_t kMaxMetadataBytes = 8192;  // as JSON text
inline constexpr std::int64_t kDefaultListLimit = 100;
inline constexpr std::int64_t kMaxListLimit = 1000;
inline constexpr std::string_view kDefaultContentType = "application/octet-stream";

// What the operator allows ([files] in the config).
struct Limits {
  std::int64_t max_file_bytes = 100LL << 20;
  std::int64_t quota_bytes = 0;  // per app; 0: none
  std::int64_t quota_files = 0;  // per app; 0: none
  std::int64_t script_max_bytes = 16LL << 20;  // what get() hands a script
  std::int64_t signed_url_max_ttl_s = 7LL * 24 * 3600;
};

// The shared rule for collection names (sdk::check_collection_name).
sdk::Result<void> check_collection(std::string_view name);
// 1-1024 bytes of UTF-8 without control characters (U+0000-U+001F,
// U+007F-U+009F).
// Any other character is allowed, '/' included: names are not paths.
sdk::Result<void> check_name(std::string_view name);
// A media type "type/subtype" with optional parameters, as the Content-Type
// header carries it (at most 255 bytes, no control characters); an empty one
// becomes the type the name's extension suggests, or
// application/octet-stream.
sdk::Result<std::string> content_type_for(std::string_view given, std::string_view name);
// User metadata: a JSON object (null: {}) of at most 8 KiB as JSON text,
// without bytes or non-finite numbers. Returns its JSON text.
sdk::Result<std::string> encode_metadata(const sdk::Value& metadata);
// A size against the largest file allowed: invalid_argument, code
// file_too_large, naming both.
sdk::Result<void> check_size(std::int64_t size, const Limits& limits);

// The `files` trigger kind: filter {"collection": glob, "ops": [...]}.
sdk::TriggerKind trigger_kind();

}  // namespace picloud::files
