// The kv data: one table, kv_entries, keyed by (app, collection, key). Every
// read and write is scoped by an app id the caller got from the call context;
// a write and the event it emits share one transaction, so a rolled-back
// write fires nothing and a committed one fires exactly once.
//
// Expired keys are invisible at once (every read compares expires_at with
// now) and are deleted later by sweep_expired(); writing an expired key
// starts it afresh (an insert at version 1).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/triggers.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kv {

struct Entry {
  std::string key;
  sdk::Value value;
  std::int64_t version = 0;     // 1 when inserted, +1 on every write
  std::int64_t expires_at = 0;  // ms since the epoch; 0: never
  std::int64_t updated_at = 0;  // ms since the epoch
};

// A page of a listing: `next` is where the next page starts (the last item
// listed), absent when this page is the last.
template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next;
};

struct CollectionInfo {
  std::string name;
  std::int64_t keys = 0;  // live keys
};

// A value ready to write: the value (for the event) and its JSON text (from
// encode_value), with its expiry (0: never).
struct NewValue {
  sdk::Value value;
  std::string text;
  std::int64_t expires_at = 0;
};

using Clock = std::function<std::int64_t()>;  // ms since the epoch
std::int64_t system_now_ms();

class KvStore {
 public:
  KvStore(sdk::Database& db, sdk::EventSink& events, Clock now = system_now_ms);

  sdk::Result<std::optional<Entry>> get(std::string_view app, std::string_view collection, std::string_view key);
  sdk::Result<bool> has(std::string_view app, std::string_view collection, std::string_view key);
  // One value (or nothing) per key, in the order asked.
  sdk::Result<std::vector<std::optional<sdk::Value>>> get_many(std::string_view app, std::string_view collection,
                                                               const std::vector<std::string>& keys);
  // Live entries in key order after `after`, optionally only keys starting
  // with `prefix`; with_values false leaves values null (cheaper).
  sdk::Result<Page<Entry>> list(std::string_view app, std::string_view collection, std::string_view after,
                                std::int64_t limit, std::string_view prefix, bool with_values);
  sdk::Result<Page<CollectionInfo>> collections(std::string_view app, std::string_view after, std::int64_t limit);

  // Writes as call.app_id and emits the kv event in the same transaction.
  sdk::Result<Entry> set(const sdk::CallContext& call, std::string_view collection, std::string_view key,
                         const NewValue& value);
  // Writes only when the key's version is `expected` (0: the key must not
  // exist); nothing when it is not.
  sdk::Result<std::optional<Entry>> set_if_version(const sdk::CallContext& call, std::string_view collection,
                                                   std::string_view key, const NewValue& value, std::int64_t expected);
  // Adds `by` to an int value (a missing key counts as 0); keeps its expiry.
  sdk::Result<Entry> incr(const sdk::CallContext& call, std::string_view collection, std::string_view key,
                          std::int64_t by);
  // The entry deleted, or nothing when there was none.
  sdk::Result<std::optional<Entry>> remove(const sdk::CallContext& call, std::string_view collection,
                                           std::string_view key);

  // Deletes up to `batch` expired rows, in `tx` or in a transaction of its
  // own; returns how many.
  sdk::Result<std::int64_t> sweep_expired(sdk::Transaction& tx, std::int64_t batch);
  sdk::Result<std::int64_t> sweep_expired(std::int64_t batch);

 private:
  // What a write does once it has seen the key's live entry (if any): the new
  // value, nothing to leave the key alone, or an error to roll back.
  using Decide = std::function<sdk::Result<std::optional<NewValue>>(const std::optional<Entry>& live)>;
  sdk::Result<std::optional<Entry>> write(const sdk::CallContext& call, std::string_view collection,
                                          std::string_view key, const Decide& decide);
  sdk::Result<int> emit(sdk::Transaction& tx, const sdk::CallContext& call, std::string_view op,
                        std::string_view collection, std::string_view key, const sdk::Value& value,
                        const sdk::Value& previous, std::int64_t version);

  sdk::Database& db_;
  sdk::EventSink& events_;
  Clock now_;
  std::string lock_clause_;  // " FOR UPDATE" on PostgreSQL
};

}  // namespace picloud::kv
