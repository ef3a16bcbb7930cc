// The docs plugin's rules for ids and documents, and its trigger kind:
// checked before the database is touched, with errors that say what is
// wrong and what is allowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/triggers.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::docs {

inline constexpr std::size_t kMaxIdLength = 128;
inline constexpr std::int64_t kDefaultListLimit = 100;
inline constexpr std::int64_t kMaxListLimit = 1000;

// The shared rule for collection names (sdk::check_collection_name).
sdk::Result<void> check_collection(std::string_view name);
// 1–128 characters of A–Z a–z 0–9 _ - . :
sdk::Result<void> check_id(std::string_view id);
// A new id: a UUID whose first 48 bits are the time in ms, so ids sort in
// creation order (within a process strictly, across nodes by the ms).
std::string new_id();

// A document as its JSON text: an object JSON can hold, at most `max_bytes`
// of text ([docs] max_document_bytes).
sdk::Result<std::string> encode_document(const sdk::Value& data, std::int64_t max_bytes);

// A value at an indexed path takes at most this many bytes, counted as its
// JSON text plus 16 for each array element and object member in it (about
// what PostgreSQL's btree entry takes, whose limit is 2,704 bytes). SQLite
// has no such limit; the rule is the same there, so an app moves between
// the databases unchanged.
inline constexpr std::size_t kMaxIndexedValueBytes = 2000;
// What `value` counts for that limit.
std::size_t indexed_size(const sdk::Value& value);
// No value in the document `data` (`text_bytes` of JSON) counts more than
// this, found without writing each out: within the limit, no index of the
// collection can refuse the document.
std::size_t indexed_size_bound(const sdk::Value& data, std::size_t text_bytes);

// The `docs` trigger kind: filter {"collection": glob, "ops": [create,
// update, delete]}; events {collection, id, data, prev_data}.
sdk::TriggerKind trigger_kind();

std::int64_t now_ms();

}  // namespace picloud::docs
