// docs:: for scripts: docs::collection(name) returns a docs::Collection
// handle whose methods read and write that collection of the calling
// script's app. Reads return envelopes {id, data, created_at, updated_at}
// (times in ms since the epoch).
//
//   string name()
//   string create(json data, string id = "")     the new document's id
//   json   get(string id)                        envelope or null
//   json   find(json filter = null, json options = null)   [envelope, ...]
//   json   find_one(json filter = null, json options = null) envelope or null
//   json   find_page(json filter = null, json options = null)  {items, next_cursor}
//   int    count(json filter = null)
//   bool   update(string id, json data)          replaces; whether it existed
//   json   patch(string id, json ops)            the patched envelope, or null
//   bool   delete(string id)                     whether it existed
//   json   list(string cursor = "", int limit = 100)  {items, next_cursor}
//
// Reads need the run's user (if any) to hold docs.read, writes docs.write.
#pragma once

#include "docs_store.hpp"
#include "picloud/sdk/access.hpp"
#include "picloud/sdk/script.hpp"

namespace picloud::docs {

inline constexpr const char* kReadCapability = "docs.read";
inline constexpr const char* kWriteCapability = "docs.write";
inline constexpr const char* kIndexCapability = "docs.indexes";

sdk::Result<void> declare_script_api(sdk::ScriptApi& api, DocStore& store, sdk::AccessControl& access);

// A page of a find, from options {sort, limit, skip, cursor} (skip only
// without a cursor): find_page for scripts, the query route for the admin
// API. `default_limit` when the options give none.
sdk::Result<Page<Document>> find_page(DocStore& store, std::string_view app, std::string_view collection,
                                      const sdk::Value& filter, const sdk::Value& options, std::int64_t default_limit);

// The envelope scripts see: {id, data, created_at, updated_at}.
sdk::Value envelope(const Document& doc);

}  // namespace picloud::docs
